"""The enclave's own reader of an EVM chain (Neo X) over JSON-RPC, for what it must not take from the host.

``crosschain_sign`` learns a message (a ``MessageSent`` event) or a delivery outcome (a
``MessageExecuted`` event) from the node(s) of the enclave's own configuration (``NSL_EVM_RPC_URLS``,
``NSL_EVM_CHAIN_ID``, see ``settings``), never from an operation argument: the host names only the
transaction. Every node's ``eth_chainId`` must be the configured chain id before anything it says is
used (a node of another chain is skipped like an unreachable one).

What this does not protect against: whoever runs that node can make it answer anything, e.g. a receipt
with a ``MessageSent`` that was never emitted; the enclave then signs a message that was never sent (the
destination gateway accepts it: it trusts the enclave's signature). Verifying the receipt against a
block header signed by the chain's validators (dBFT on Neo X) would close this; it is not done.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

import httpx

from neo_service_layer.enclave.wire.native_oracle import NodeUnavailable

_TIMEOUT = 10.0


class EvmReader(Protocol):
    """What the enclave reads from an EVM node."""

    @property
    def chain_id(self) -> int | None:
        """The configured chain id (``None``: no EVM chain configured)."""
        ...

    async def block_number(self) -> int:
        """The number of the node's latest block."""
        ...

    async def receipt(self, tx_hash: str) -> dict[str, Any] | None:
        """``eth_getTransactionReceipt``: ``None`` while the node does not know the transaction."""
        ...


class EvmRpcError(NodeUnavailable):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(f"EVM node answered error {code}: {message[:200]}")
        self.rpc_code = code


class EvmJsonRpcReader:
    """``EvmReader`` over JSON-RPC: the URLs in order, the next one when a node cannot be reached or is
    of another chain. ``node`` (the URLs and the chain id) is asked at every call: a local chain's node may
    start after the enclave.
    """

    def __init__(
        self,
        node: Callable[[], tuple[Sequence[str], int | None]],
        *,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._node = node
        self._transport = transport
        self._checked: set[str] = set()  # URLs whose eth_chainId was the configured one
        self._client: httpx.AsyncClient | None = None

    @property
    def chain_id(self) -> int | None:
        return self._node()[1]

    async def _call(self, url: str, method: str, params: list[Any]) -> Any:
        if self._client is None:
            self._client = httpx.AsyncClient(transport=self._transport, trust_env=False, timeout=_TIMEOUT)
        response = await self._client.post(
            url, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": params}
        )
        answer = response.json()
        if not isinstance(answer, dict):
            raise ValueError("not a JSON-RPC answer")
        error = answer.get("error")
        if isinstance(error, dict):
            raise EvmRpcError(int(error.get("code", 0)), str(error.get("message", "")))
        return answer.get("result")

    async def _post(self, method: str, params: list[Any]) -> Any:
        urls, chain_id = self._node()
        if chain_id is None:
            raise NodeUnavailable("the enclave has no EVM chain configured (NSL_EVM_CHAIN_ID)")
        if not urls:
            raise NodeUnavailable("the enclave has no EVM node configured (NSL_EVM_RPC_URLS)")
        failures = []
        for url in urls:
            try:
                if url not in self._checked:
                    answered = int(str(await self._call(url, "eth_chainId", [])), 16)
                    if answered != chain_id:
                        failures.append(f"chain id {answered}")
                        continue
                    self._checked.add(url)
                return await self._call(url, method, params)
            except (httpx.HTTPError, ValueError, TypeError) as exc:
                failures.append(type(exc).__name__)
        raise NodeUnavailable(f"no EVM node of chain {chain_id} answered {method}: {', '.join(failures)}")

    async def block_number(self) -> int:
        return int(str(await self._post("eth_blockNumber", [])), 16)

    async def receipt(self, tx_hash: str) -> dict[str, Any] | None:
        result = await self._post("eth_getTransactionReceipt", [tx_hash])
        if result is None:
            return None
        if not isinstance(result, dict):
            raise NodeUnavailable("the EVM node's receipt is not an object")
        return result


def evm_node(configured: Sequence[str], chain_id: int | None, data_dir: Path) -> tuple[list[str], int | None]:
    """The enclave's EVM node URLs and chain id: the configured ones (``NSL_EVM_RPC_URLS`` with
    ``NSL_EVM_CHAIN_ID``), else the local Neo X of ``nsl run`` (the ``neox`` entry of ``network.json``)."""
    if configured:
        return list(configured), chain_id
    try:
        neox = json.loads((data_dir / "network.json").read_text()).get("neox") or {}
        url, local_id = neox.get("rpc_url"), neox.get("chain_id")
    except (OSError, ValueError, AttributeError):
        return [], chain_id
    if not isinstance(url, str) or not url or not isinstance(local_id, int):
        return [], chain_id
    return [url], local_id
