"""The enclave's own reader of a Neo N3 node (JSON-RPC), for what it must not take from the host.

``native_oracle_respond`` learns a request (URL, filter, ``gasForResponse``), the designated oracle nodes,
the height, the fee per byte and the network fee of the response it built from the node(s) of the
enclave's own configuration (``NSL_NEO_RPC_URLS``, see ``settings``), never from an operation argument.

What this does not protect against: whoever runs that node (root on the host, in the usual deployment)
can make it answer anything: a request with another URL or filter, other designated nodes, another
height. The enclave then signs a response to a request that does not exist as told (the chain refuses a
response whose request or signers differ from its own state, but for a real pending request id a lying
node can make the enclave fetch another URL). Checking state proofs (``getproof`` against a state root
signed by the designated state validators) would close this; it is not done.
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

import httpx

from neo_service_layer.enclave.wire.native_oracle import NodeUnavailable

#: JSON-RPC errors of ``getstorage`` for a missing item (neo-go ``ErrUnknownStorageItem``, older -100)
_NO_STORAGE = {-104, -100}
_TIMEOUT = 10.0


class NeoReader(Protocol):
    """What the enclave reads from a Neo node."""

    async def version(self) -> tuple[int, int]:
        """(network magic, ``MaxValidUntilBlockIncrement``)."""
        ...

    async def height(self) -> int:
        """The index of the node's latest block."""
        ...

    async def storage(self, contract: str, key: bytes) -> bytes | None:
        """A contract's storage item, ``None`` when there is none."""
        ...

    async def storage_many(self, contract: str, keys: Sequence[bytes]) -> list[bytes | None]:
        """Several storage items of one contract, in order (one round trip where the node allows)."""
        ...

    async def invoke(self, contract: str, method: str, args: Sequence[int]) -> list[Any]:
        """The result stack of a read-only call with integer arguments (``NodeUnavailable`` unless HALT)."""
        ...

    async def network_fee(self, raw_tx: bytes) -> int:
        """``calculatenetworkfee`` of a transaction (witnesses with verification scripts, no signatures)."""
        ...

    async def transaction_height(self, tx_hash: str) -> int | None:
        """The block of a transaction, ``None`` while the node does not know it."""
        ...


class RpcError(NodeUnavailable):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(f"node answered error {code}: {message[:200]}")
        self.rpc_code = code


class JsonRpcReader:
    """``NeoReader`` over JSON-RPC: the URLs in order, the next one when a node cannot be reached.

    ``urls`` is asked at every call: a local chain's node may start after the enclave.
    """

    def __init__(
        self, urls: Callable[[], Sequence[str]], *, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        self._urls = urls
        self._transport = transport
        self._version: tuple[int, int] | None = None
        self._client: httpx.AsyncClient | None = None  # kept: a call reads many items concurrently

    async def _post(self, method: str, params: list[Any]) -> Any:
        urls = self._urls()
        if not urls:
            raise NodeUnavailable("the enclave has no Neo node configured (NSL_NEO_RPC_URLS)")
        body = {"jsonrpc": "2.0", "id": 1, "method": method, "params": params}
        failures = []
        if self._client is None:
            self._client = httpx.AsyncClient(transport=self._transport, trust_env=False, timeout=_TIMEOUT)
        for url in urls:
            try:
                response = await self._client.post(url, json=body)
                answer = response.json()
            except (httpx.HTTPError, ValueError) as exc:
                failures.append(type(exc).__name__)
                continue
            if not isinstance(answer, dict):
                failures.append("not a JSON-RPC answer")
                continue
            error = answer.get("error")
            if isinstance(error, dict):
                raise RpcError(int(error.get("code", 0)), str(error.get("message", "")))
            return answer.get("result")
        raise NodeUnavailable(f"no Neo node answered {method}: {', '.join(failures)}")

    async def version(self) -> tuple[int, int]:
        if self._version is None:
            protocol = (await self._post("getversion", []))["protocol"]
            self._version = (int(protocol["network"]), int(protocol["maxvaliduntilblockincrement"]))
        return self._version

    async def height(self) -> int:
        return int(await self._post("getblockcount", [])) - 1

    async def storage(self, contract: str, key: bytes) -> bytes | None:
        try:
            value = await self._post("getstorage", [contract, base64.b64encode(key).decode()])
        except RpcError as exc:
            if exc.rpc_code in _NO_STORAGE:
                return None
            raise
        return base64.b64decode(value) if value else None

    async def storage_many(self, contract: str, keys: Sequence[bytes]) -> list[bytes | None]:
        """One JSON-RPC batch of ``getstorage`` calls; one call per key if the node answers no batch."""
        calls = [
            {
                "jsonrpc": "2.0",
                "id": i,
                "method": "getstorage",
                "params": [contract, base64.b64encode(k).decode()],
            }
            for i, k in enumerate(keys)
        ]
        answers = await self._batch(calls)
        if answers is None:
            return list(await asyncio.gather(*(self.storage(contract, k) for k in keys)))
        values: list[bytes | None] = []
        for i in range(len(keys)):
            answer = answers.get(i)
            if answer is None:
                raise NodeUnavailable("the node's batch answer misses an item")
            error = answer.get("error")
            if isinstance(error, dict):
                code = int(error.get("code", 0))
                if code not in _NO_STORAGE:
                    raise RpcError(code, str(error.get("message", "")))
                values.append(None)
            else:
                result = answer.get("result")
                values.append(base64.b64decode(result) if result else None)
        return values

    async def _batch(self, calls: list[dict[str, Any]]) -> dict[int, dict[str, Any]] | None:
        """The answers of a JSON-RPC batch by id, ``None`` when the first reachable node takes no batch."""
        urls = self._urls()
        if not urls:
            raise NodeUnavailable("the enclave has no Neo node configured (NSL_NEO_RPC_URLS)")
        if self._client is None:
            self._client = httpx.AsyncClient(transport=self._transport, trust_env=False, timeout=_TIMEOUT)
        failures = []
        for url in urls:
            try:
                answer = (await self._client.post(url, json=calls)).json()
            except (httpx.HTTPError, ValueError) as exc:
                failures.append(type(exc).__name__)
                continue
            if not isinstance(answer, list):
                return None
            return {
                item["id"]: item
                for item in answer
                if isinstance(item, dict) and isinstance(item.get("id"), int)
            }
        raise NodeUnavailable(f"no Neo node answered a batch: {', '.join(failures)}")

    async def invoke(self, contract: str, method: str, args: Sequence[int]) -> list[Any]:
        params = [{"type": "Integer", "value": str(a)} for a in args]
        result = await self._post("invokefunction", [contract, method, params])
        if not isinstance(result, dict) or result.get("state") != "HALT":
            raise NodeUnavailable(f"{method} did not HALT on the node")
        return [stack_value(item) for item in result.get("stack", [])]

    async def network_fee(self, raw_tx: bytes) -> int:
        result = await self._post("calculatenetworkfee", [base64.b64encode(raw_tx).decode()])
        return int(result["networkfee"])

    async def transaction_height(self, tx_hash: str) -> int | None:
        try:
            return int(await self._post("gettransactionheight", [tx_hash]))
        except RpcError:
            return None

    async def application_log(self, tx_hash: str) -> dict[str, Any] | None:
        """``getapplicationlog`` of a transaction (its executions and notifications), ``None`` while the
        node does not know it (``crosschain_sign`` reads a gateway's events with it)."""
        try:
            result = await self._post("getapplicationlog", [tx_hash])
        except RpcError:
            return None
        return result if isinstance(result, dict) else None


def stack_value(item: dict[str, Any]) -> Any:
    """A stack item as Python: ints, bytes, lists (arrays and structs), None, bool."""
    kind, value = item.get("type"), item.get("value")
    if kind == "Integer":
        return int(value)  # type: ignore[arg-type]
    if kind in ("ByteString", "Buffer"):
        return base64.b64decode(value or "")
    if kind in ("Array", "Struct"):
        return [stack_value(v) for v in value or []]
    if kind == "Boolean":
        return bool(value)
    return None


def node_urls(configured: Sequence[str], local_port: int, data_dir: Path) -> list[str]:
    """The enclave's node URLs: configured ones, else the local chain's (port, or ``network.json``)."""
    if configured:
        return list(configured)
    if local_port:
        return [f"http://127.0.0.1:{local_port}"]
    try:
        url = json.loads((data_dir / "network.json").read_text()).get("rpc_url")
    except (OSError, ValueError, AttributeError):
        return []
    return [url] if isinstance(url, str) and url else []
