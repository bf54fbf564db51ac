"""Settings of the chains: Neo N3 (adapter, watcher, transactions, local chain, contract owner), Neo X
and other EVM chains, and cross-chain messages. A part of :class:`~neo_service_layer.kernel.config.Settings`
(same ``NSL_`` variables), kept apart so that each settings module stays readable."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field
from pydantic_settings import NoDecode


class ChainSettings(BaseModel):
    # Neo N3 (chain adapter, watcher, randomness service)
    #: ``local``: the embedded privnet of ``nsl chain up`` / ``nsl run`` (RPC URL, magic and contract
    #: hashes from <data_dir>/network.json); ``mainnet``/``testnet``/``private``: from the settings below
    neo_network: Literal["local", "mainnet", "testnet", "private"] = "local"
    #: RPC endpoints in order of preference (failover with health tracking)
    neo_rpc_urls: Annotated[list[str], NoDecode] = Field(default_factory=list)
    #: expected network magic; checked against the node's ``getversion`` when set
    neo_network_magic: int | None = Field(default=None, ge=0, le=0xFFFFFFFF)
    #: script hash (0x...) of the deployed randomness service contract
    neo_randomness_contract: str | None = None
    #: contract hash by service contract name, e.g. ``{"randomness": "0x..."}`` (JSON); a service's own
    #: variable (``NSL_NEO_RANDOMNESS_CONTRACT``...) wins over its entry here
    neo_contracts: dict[str, str] = Field(default_factory=dict)
    #: first block to scan when a watcher has no cursor yet (default: the current height)
    neo_start_block: int | None = Field(default=None, ge=0)
    #: block time of the local chain, and the pace the watcher polls at (a tenth of it)
    neo_block_time_seconds: float = Field(default=1.0, gt=0)
    neo_poll_interval_seconds: float | None = Field(default=None, gt=0)
    #: validUntilBlock = height + this, for the service's transactions
    neo_valid_until_blocks: int = Field(default=20, ge=2, le=5760)
    #: the enclave's bounds on each transaction the sender key signs (``sign_transaction``): system and
    #: network fee in GAS fractions, and validUntilBlock at most this many blocks after the height
    tx_max_system_fee: int = Field(default=50 * 10**8, ge=0)
    tx_max_network_fee: int = Field(default=10**8, ge=0)
    tx_valid_until_window: int = Field(default=5760, ge=1, le=5760)
    #: the enclave's bounds on each transaction the EVM sender key signs (``evm_sign_transaction``): gas
    #: limit, and ``maxFeePerGas`` in wei (defaults: 2 000 000 gas, 500 gwei)
    evm_tx_max_gas: int = Field(default=2_000_000, ge=21_000)
    evm_tx_max_fee_per_gas: int = Field(default=500 * 10**9, ge=1)
    #: requests answered per transaction (a burst in one block shares transactions)
    neo_fulfilments_per_transaction: int = Field(default=20, ge=1, le=100)
    #: GAS a consumer callback may burn per request before it is delivered separately / marked failed
    neo_max_callback_gas: float = Field(default=20.0, gt=0)
    #: a worker's claim on a request expires after this (another worker may take it over)
    neo_lease_seconds: float = Field(default=30.0, gt=0)
    #: readiness reports a warning when the sender account holds less GAS than this
    neo_sender_low_balance_gas: float = Field(default=10.0, ge=0)
    #: local chain: RPC port (0: a free one, kept across restarts while it stays free)
    neo_local_rpc_port: int = Field(default=0, ge=0, le=65535)
    #: local chain: GAS given to the service's sender account at deployment
    neo_local_sender_gas: int = Field(default=100_000, ge=1)
    #: owner of the service contracts (Neo address): a committee or multisig account on real networks,
    #: never the sender; unset: a development key of its own in the enclave (``cli`` client only)
    neo_contract_owner: str | None = None
    #: blocks between announcing a contract update (or destroy) and applying it; refund timeout of an
    #: unanswered request (both fixed at deploy, within the contracts' bounds 1..172800)
    neo_update_delay_blocks: int = Field(default=5760, ge=1, le=172_800)
    neo_refund_blocks: int = Field(default=5760, ge=1, le=172_800)
    # Neo X / EVM chains (see docs/neox.md). Unset RPC URLs: the local Neo X of ``nsl run`` (the
    # ``neox`` entry of network.json), when there is one
    evm_rpc_urls: Annotated[list[str], NoDecode] = Field(default_factory=list)
    #: the EIP-155 chain id every endpoint must serve (required with ``NSL_EVM_RPC_URLS``)
    evm_chain_id: int | None = Field(default=None, ge=1)
    #: service contract address by name (JSON), e.g. ``{"randomness": "0x..."}``
    evm_contracts: dict[str, str] = Field(default_factory=dict)
    #: first block to scan when an EVM watcher has no cursor yet (default: the deployment height, else
    #: the head)
    evm_start_block: int | None = Field(default=None, ge=0)
    #: a block is applied once this many blocks (itself included) are on top of the chain: 1 on Neo X
    #: (dBFT: a block is final when made); more on chains that reorganise
    evm_confirmations: int = Field(default=1, ge=1, le=1000)
    #: how often the EVM watcher asks for the head
    evm_poll_interval_seconds: float = Field(default=0.25, gt=0)
    #: a fulfilment not included after this many sends (``evm_resend_seconds`` apart) is replaced: same
    #: nonce, fees raised by at least 12.5 % (what nodes require to replace a pending transaction)
    evm_resend_seconds: float = Field(default=5.0, gt=0)
    evm_replace_after_sends: int = Field(default=3, ge=1, le=100)
    #: the highest ``maxFeePerGas`` (gwei) the service signs, first send or replacement; unset: no cap
    evm_max_fee_gwei: float | None = Field(default=None, gt=0)
    #: cross-chain messages (read by the enclave, ``enclave/crosschain.py``): blocks an N3 source event
    #: needs before it is signed (dBFT: 1), and the message gateways signed for (``0x`` + 40 hex digits;
    #: on N3 the contract's script hash); a chain without one is neither source nor destination
    xmsg_n3_confirmations: int = Field(default=1, ge=1, le=1000)
    xmsg_evm_gateway: str | None = None
    xmsg_n3_gateway: str | None = None
