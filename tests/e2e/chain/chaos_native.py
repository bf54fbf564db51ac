"""Neo's native Oracle in the chaos run: a plain Neo contract (``native_oracle_consumer``) calls the native
``Oracle.request`` for a loopback https URL (a test CA the stack trusts: the protocol fetches https only),
and our node in the worker answers, whatever was killed.

The chain's count per request id (one ``OracleResponse`` per ``OracleRequest``, recorded delivered) is in
``chaos_checks`` with the other services; this adds the consumer's side: the response transaction of
each request ran its callback exactly once (one ``Answered``, with the fetched result), and no request
(each sent with its own tag) was answered twice.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field

from neo3.core import types

from neo_service_layer.kernel.chain.adapters import privnet_deploy as deploy
from neo_service_layer.kernel.chain.adapters.local_chain import artifact
from neo_service_layer.kernel.chain.adapters.neo_chain import NeoRpcEndpoint
from neo_service_layer.services.native_oracle.rules import ORACLE_CONTRACT, NeoResponseCode
from tests.e2e.chain.stack import Stack, call
from tests.e2e.chain.tls_support import HttpsServer

PATH = "/native"
#: the callback writes storage three times: 1 GAS covers it
GAS_FOR_RESPONSE = deploy.GAS


@dataclass
class NativeReport:
    requests: int = 0  # OracleRequest events of the native contract on chain (HALTed)
    called_once: int = 0  # ... whose response ran the consumer's callback exactly once, as fetched
    not_called: list[int] = field(default_factory=list)  # no callback (no response, or it did not HALT)
    called_twice: list[str] = field(default_factory=list)  # more than one callback for one request
    wrong: list[str] = field(default_factory=list)  # a callback with another code or result
    tags_twice: list[int] = field(default_factory=list)  # a request (by its tag) answered twice
    fetches: int = 0  # requests the loopback server saw

    @property
    def ok(self) -> bool:
        return not (self.not_called or self.called_twice or self.wrong or self.tags_twice)


class NativeMix:
    """The consumer, its requests (each with a tag of its own) and what the chain says of them."""

    def __init__(self, stack: Stack, web: HttpsServer, price: int = 42) -> None:
        self.stack = stack
        self.web = web
        self.expected = f"[{price}]".encode()  # ``$.price`` of the body: a JSON array, as Neo filters
        self.web.routes[PATH] = {"price": price}
        self.consumer: types.UInt160 | None = None
        self.tags = 0

    async def setup(self) -> None:
        nef, manifest = artifact("native_oracle_consumer")
        self.consumer = await deploy.deploy_contract(self.stack.committee, nef, manifest)

    async def request(self) -> None:
        """One ``Oracle.request`` (a send the node died under may have landed: the next has another tag)."""
        assert self.consumer is not None
        self.tags += 1
        await self.stack.committee.invoke(
            call(self.consumer, "request", self.web.url(PATH), "$.price", self.tags, GAS_FOR_RESPONSE),
            append_system_fee=deploy.GAS // 20,
        )

    async def read(self, first_block: int) -> NativeReport:
        """Requests and responses of the native contract against the consumer's ``Answered`` events."""
        assert self.consumer is not None
        requested: set[int] = set()
        responses: dict[int, list[str]] = defaultdict(list)  # request id -> its response transactions
        answered: dict[str, list[tuple[int, int, bytes]]] = defaultdict(list)  # tx -> (tag, code, result)
        endpoint = NeoRpcEndpoint(self.stack.net.rpc_url)
        try:
            head = int(await endpoint.client.get_block_count()) - 1
            for index in range(first_block, head + 1):
                native, _ = await endpoint.block_events(index, ORACLE_CONTRACT)
                for event in native:
                    if event.name == "OracleRequest" and event.halted:
                        requested.add(int(event.values[0]))
                    elif event.name == "OracleResponse" and event.halted:
                        responses[int(event.values[0])].append(event.tx_hash)
                mine, _ = await endpoint.block_events(index, "0x" + str(self.consumer))
                for event in mine:
                    if event.name == "Answered" and event.halted:
                        tag, code, result = event.values
                        answered[event.tx_hash].append((int(tag), int(code), bytes(result or b"")))
        finally:
            await endpoint.close()
        report = NativeReport(requests=len(requested), fetches=self.web.hits.get(PATH, 0))
        for rid in sorted(requested):
            callbacks = [a for tx in responses.get(rid, []) for a in answered.get(tx, [])]
            if not callbacks:
                report.not_called.append(rid)
            elif len(callbacks) > 1:
                report.called_twice.append(f"#{rid} x{len(callbacks)}")
            else:
                report.called_once += 1
            report.wrong += [
                f"#{rid} tag {tag}: code {code}, result {result!r}"
                for tag, code, result in callbacks
                if (code, result) != (NeoResponseCode.SUCCESS, self.expected)
            ]
        tags = Counter(tag for found in answered.values() for tag, _, _ in found)
        report.tags_twice = sorted(tag for tag, n in tags.items() if n > 1)
        return report
