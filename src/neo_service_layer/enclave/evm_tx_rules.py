"""Which EVM (Neo X) transactions the EVM sender key signs: the fixed function table and the bounds.

``evm_sign_transaction`` (``evm_tx_signing.py``) builds the EIP-1559 transaction from its structured
fields and signs it only if ``check_evm_transaction`` accepts it:

- the chain id is one the ``cli`` client registered contracts for (``allow_evm_contracts``, at
  deployment);
- ``to`` is set (never a contract creation) and is a contract registered for that chain id, under a
  service name;
- the call's 4-byte selector is a function of ``SERVICE_FUNCTIONS`` for that service: what the running
  services send, never an owner operation (``OWNER_FUNCTIONS``, by function name);
- ``value`` is zero (the sender pays gas, it moves no ether);
- ``gas`` and ``maxFeePerGas`` within ``EvmTxLimits``.

The table names functions by their Solidity signature; the selector (the first four bytes of the
signature's Keccak-256) is computed by the caller (``evm_tx_signing.selector_table``), since Keccak is
not in the standard library. Standard library and the wire protocol only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from neo_service_layer.enclave.wire.evm_tx import Eip1559Transaction
from neo_service_layer.enclave.wire.keys import PolicyDenied

GWEI = 10**9
SELECTOR_BYTES = 4

#: the cross-chain gateway's ``Message`` and ``Receipt`` structs as ABI tuples
_MESSAGE = "(uint64,bytes,uint64,bytes,address,uint64,bytes)"
_RECEIPT = "(uint64,bytes,uint64,bytes,address,uint64,bool,bytes)"

#: per service (the name its contract is registered under): the functions the EVM sender key may call,
#: as Solidity signatures (every one carries an answer the contract checks against its own signer, or,
#: ``retry``, re-runs a delivery the contract already accepted). ``randomness``:
#: ``contracts/evm/RandomnessService.sol``; ``oracle``: ``OracleService.sol``; ``crosschain``:
#: ``MessageGateway.sol``.
SERVICE_FUNCTIONS: Mapping[str, frozenset[str]] = {
    "randomness": frozenset({"fulfill(uint256,bytes32,bytes)"}),
    "oracle": frozenset({"fulfill(uint256,uint8,bytes,uint64,bytes)"}),
    "crosschain": frozenset(
        {f"deliver({_MESSAGE},bytes)", f"retry({_MESSAGE})", f"deliverReceipt({_RECEIPT},bytes)"}
    ),
}

#: administration (the owner's), money movement and consumers' own calls: never signed with the sender
#: key, whatever the table says (by function name, any argument types)
OWNER_FUNCTIONS = frozenset(
    {
        "setSigner",
        "setCallbackGasLimit",
        "setFee",
        "setOperator",
        "setRefundBlocks",
        "setRoute",
        "setPaused",
        "setLimits",
        "setGuard",
        "transferOwnership",
        "acceptOwnership",
        "renounceOwnership",
        "pause",
        "unpause",
        "upgradeTo",
        "upgradeToAndCall",
        "withdraw",
        "withdrawFees",
        "transfer",
        "transferFrom",
        "approve",
        "request",
        "refund",
        "send",
        "selfdestruct",
    }
)


def function_name(signature: str) -> str:
    """``fulfill`` of ``fulfill(uint256,bytes32,bytes)``."""
    return signature.split("(", 1)[0]


_NAMED = {function_name(s) for signatures in SERVICE_FUNCTIONS.values() for s in signatures}
if _NAMED & OWNER_FUNCTIONS:  # pragma: no cover
    raise RuntimeError("SERVICE_FUNCTIONS names an owner function")


class EvmTransactionRefused(PolicyDenied):
    """The transaction is not one the EVM sender key signs (wire code ``policy_denied``)."""


@dataclass(frozen=True, slots=True)
class EvmTxLimits:
    """Bounds on what one signed EVM transaction may cost (enclave settings ``NSL_EVM_TX_MAX_*``)."""

    #: gas limit of one transaction (a randomness fulfilment with its 200 000-gas callback needs ~300 000)
    max_gas: int = 2_000_000
    #: ``maxFeePerGas`` in wei; with ``max_gas`` this bounds what one transaction can cost (1 GAS here)
    max_fee_per_gas: int = 500 * GWEI

    def __post_init__(self) -> None:
        if self.max_gas < 21_000 or self.max_fee_per_gas < 1:
            raise ValueError("the EVM gas bound must be at least 21000 and the fee bound at least 1 wei")


def check_evm_transaction(
    tx: Eip1559Transaction,
    *,
    contracts: Mapping[bytes, str] | None,
    functions: Mapping[bytes, str],
    limits: EvmTxLimits,
) -> tuple[str, str]:
    """``(service, function signature)`` of ``tx`` if the EVM sender key may sign it;
    ``EvmTransactionRefused`` saying why otherwise.

    ``contracts`` maps each contract address (20 bytes) registered for ``tx.chain_id`` to its service,
    None when nothing is registered for that chain id; ``functions`` maps a selector to its signature
    (every signature of ``SERVICE_FUNCTIONS``).
    """
    if contracts is None:
        raise EvmTransactionRefused(f"chain id {tx.chain_id} has no registered contracts")
    if tx.to is None:
        raise EvmTransactionRefused("the EVM sender creates no contracts")
    if tx.value != 0:
        raise EvmTransactionRefused("the EVM sender sends no value")
    if tx.gas > limits.max_gas:
        raise EvmTransactionRefused(f"gas above the bound of {limits.max_gas}")
    if tx.max_fee_per_gas > limits.max_fee_per_gas:
        raise EvmTransactionRefused(f"maxFeePerGas above the bound of {limits.max_fee_per_gas} wei")
    service = contracts.get(tx.to)
    if service is None:
        raise EvmTransactionRefused(f"contract 0x{tx.to.hex()} is not registered for chain id {tx.chain_id}")
    signature = functions.get(tx.data[:SELECTOR_BYTES]) if len(tx.data) >= SELECTOR_BYTES else None
    if (
        signature is None
        or function_name(signature) in OWNER_FUNCTIONS
        or signature not in SERVICE_FUNCTIONS.get(service, frozenset())
    ):
        selector = tx.data[:SELECTOR_BYTES].hex()
        raise EvmTransactionRefused(f"selector 0x{selector} is not allowed on the {service} contract")
    return service, signature
