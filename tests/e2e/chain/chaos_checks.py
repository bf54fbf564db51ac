"""What a chaos run left, read from the chain (the truth) and the database, and the verdict on it.

- ``ChainEvents``: the request, "fulfilled" and "delivered" events of the randomness and oracle
  contracts, and Neo's native Oracle's ``OracleRequest`` / ``OracleResponse``, in the blocks after the
  run began (read once per block: the run is over when it is used).
- ``worker_errors``: the error lines of the workers' and the enclave's logs, by event.
- ``judge``: every request on chain answered exactly once, recorded delivered, every other row with a
  reason, and every outbox transaction either on chain and HALTed (``included``) or never on chain.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from neo3.api import noderpc

from neo_service_layer.kernel.chain.adapters.neo_chain import NeoRpcEndpoint
from neo_service_layer.services.native_oracle.rules import ORACLE_CONTRACT
from neo_service_layer.services.native_oracle.use_cases import SERVICE as NATIVE_SERVICE
from tests.e2e.chain.stack import Stack, sql

#: (service, contract key in network.json or a contract hash, request event, fulfilled event, delivered
#: event); Neo's native Oracle runs the consumer's callback in its response transaction: the response
#: (``OracleResponse(Id, OriginalTx)``, HALTed) is both the fulfilment and the delivery
SERVICES = (
    ("randomness", "randomness", "RandomnessRequested", "RandomnessFulfilled", "RandomnessDelivered"),
    ("oracle", "oracle", "OracleRequested", "OracleFulfilled", "OracleDelivered"),
    (NATIVE_SERVICE, ORACLE_CONTRACT, "OracleRequest", "OracleResponse", "OracleResponse"),
)


@dataclass
class ChainEvents:
    requested: dict[str, set[int]] = field(default_factory=dict)
    fulfilled: dict[str, Counter[int]] = field(default_factory=dict)
    delivered: dict[str, set[int]] = field(default_factory=dict)
    _blocks: dict[tuple[str, int], list[tuple[str, int]]] = field(default_factory=dict)

    async def read(self, stack: Stack, first_block: int) -> None:
        """Read the blocks not read yet (up to the head) and recount."""
        endpoint = NeoRpcEndpoint(stack.net.rpc_url)
        try:
            head = int(await endpoint.client.get_block_count()) - 1
            for service, key, *names in SERVICES:
                contract = stack.network.contracts.get(key, key)
                for index in range(first_block, head + 1):
                    if (service, index) not in self._blocks:
                        found, _ = await endpoint.block_events(index, contract)
                        self._blocks[(service, index)] = [
                            (e.name, int(e.values[0])) for e in found if e.name in names
                        ]
        finally:
            await endpoint.close()
        for service, _key, asked, done, handed in SERVICES:
            self.requested[service], self.fulfilled[service], self.delivered[service] = (
                set(),
                Counter(),
                set(),
            )
            for (of, _index), events in self._blocks.items():
                for name, rid in events if of == service else ():
                    if name == asked:
                        self.requested[service].add(rid)
                    if name == done:
                        self.fulfilled[service][rid] += 1
                    if name == handed:
                        self.delivered[service].add(rid)

    def settled(self, rows: list[Any]) -> bool:
        """Every request on chain delivered on chain and recorded delivered."""
        recorded = {(s, int(i)) for s, i, status, _ in rows if status == "delivered"}
        wanted = {(s, i) for s, ids in self.requested.items() for i in ids}
        on_chain = {(s, i) for s, ids in self.delivered.items() for i in ids}
        return wanted <= recorded and wanted <= on_chain


async def request_rows(stack: Stack) -> list[Any]:
    return await sql(stack, "SELECT service, request_id, status, failure_reason FROM chain_requests")


async def outbox_on_chain(stack: Stack) -> list[tuple[str, str, int, bool | None]]:
    """Every outbox transaction: (hash, status, sends, HALTed on chain or ``None`` when not on chain)."""
    rows = await sql(stack, "SELECT tx_hash, status, send_count FROM chain_outbox")
    endpoint = NeoRpcEndpoint(stack.net.rpc_url)
    found: list[tuple[str, str, int, bool | None]] = []
    try:
        for tx_hash, status, sends in rows:
            found.append((str(tx_hash), str(status), int(sends), await _halted(endpoint, str(tx_hash))))
    finally:
        await endpoint.close()
    return found


async def _halted(endpoint: NeoRpcEndpoint, tx_hash: str) -> bool | None:
    try:
        await endpoint.post("gettransactionheight", [tx_hash])
    except noderpc.JsonRpcError:
        return None
    log: Any = await endpoint.post("getapplicationlog", [tx_hash])
    return bool((log.get("executions") or [{}])[0].get("vmstate") == "HALT")


@dataclass
class Verdict:
    requests: int = 0  # request events on chain
    per_service: Counter[str] = field(default_factory=Counter)  # ... by service
    exactly_once: int = 0  # ... with exactly one "fulfilled" event
    unanswered: list[str] = field(default_factory=list)  # no "fulfilled" event
    doubled: list[str] = field(default_factory=list)  # more than one
    not_recorded: list[str] = field(default_factory=list)  # on chain, not "delivered" in the database
    no_reason: list[str] = field(default_factory=list)  # a row neither delivered nor with a reason
    outbox_wrong: list[str] = field(default_factory=list)  # included but not on chain, or the reverse
    statuses: Counter[str] = field(default_factory=Counter)
    outbox: Counter[str] = field(default_factory=Counter)
    resends: int = 0  # sends of an outbox transaction beyond its first (the same bytes)

    @property
    def ok(self) -> bool:
        return not (
            self.unanswered or self.doubled or self.not_recorded or self.no_reason or self.outbox_wrong
        )


def judge(events: ChainEvents, rows: list[Any], outbox: list[tuple[str, str, int, bool | None]]) -> Verdict:
    verdict = Verdict()
    recorded = {(str(s), int(i)): (str(status), reason) for s, i, status, reason in rows}
    for service, ids in events.requested.items():
        for rid in sorted(ids):
            name, times = f"{service}#{rid}", events.fulfilled[service][rid]
            verdict.requests += 1
            verdict.per_service[service] += 1
            if times == 1:
                verdict.exactly_once += 1
            elif times == 0:
                verdict.unanswered.append(name)
            else:
                verdict.doubled.append(f"{name} x{times}")
            if recorded.get((service, rid), ("missing", None))[0] != "delivered":
                verdict.not_recorded.append(f"{name}: {recorded.get((service, rid))}")
    for (service, rid), (status, reason) in recorded.items():
        verdict.statuses[status] += 1
        if status != "delivered" and not reason:
            verdict.no_reason.append(f"{service}#{rid}: {status}")
    for tx_hash, status, sends, halted in outbox:
        verdict.outbox[status] += 1
        verdict.resends += max(0, sends - 1)
        if (status, halted) not in {("included", True), ("expired", None)}:
            verdict.outbox_wrong.append(f"{tx_hash}: {status}, on chain: {halted}")
    return verdict


def worker_errors(stack: Stack) -> dict[str, int]:
    """Error lines of the workers' logs (JSON) by event and job, and of the enclave's (plain text: the
    line names the operation and the error's type), so that a failed run says where to look."""
    found: dict[str, int] = {}
    for path in sorted(stack.directory.glob("worker-*.log")):
        for line in path.read_text(errors="replace").splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict) and record.get("level") in {"error", "critical"}:
                last = str(record.get("exception", "")).strip().splitlines()[-1:] or [""]
                key = f"{record.get('event')} [{record.get('job', '')}]: {last[0][:160]}"
                found[key] = found.get(key, 0) + 1
    enclave_log = stack.directory / "enclave.log"
    if enclave_log.exists():
        for line in enclave_log.read_text(errors="replace").splitlines():
            if line.startswith(("ERROR:", "CRITICAL:")):
                key = f"enclave: {line[:200]}"
                found[key] = found.get(key, 0) + 1
    return found
