"""Jobs calling a contract over the API: refused without a network, every constraint at the edge (422),
the enclave's grant kept with the job and the key's account shown; the runner records a transaction
before sending it, looks at it until it lands, and a second worker after a crash sends the same bytes
again instead of a new transaction."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import Any

from neo_service_layer.enclave.wire.automation import JobGrant
from neo_service_layer.kernel.chain.ports.chain import TransactionState
from neo_service_layer.kernel.config import Settings
from neo_service_layer.kernel.identity.adapters.secret_box import AesGcmBox, resolve_kek
from neo_service_layer.services.automation.adapters.job_call_store import SqlJobCallStore
from neo_service_layer.services.automation.adapters.job_chain import call_script
from neo_service_layer.services.automation.adapters.job_store import SqlJobStore
from neo_service_layer.services.automation.parts import AutomationParts
from neo_service_layer.services.automation.rules.job_actions import ContractAction
from neo_service_layer.services.automation.use_cases.job_calls import ContractCaller
from neo_service_layer.services.automation.use_cases.job_runner import CallParts, JobRunner
from neo_service_layer.services.automation.use_cases.scheduler import SERVICE
from neo_service_layer.services.automation.use_cases.tenant_jobs import TenantJobs
from tests.http.automation.conftest import Api
from tests.http.automation.job_support import Sender
from tests.http.keys.conftest import MovableClock
from tests.unit.automation.call_fakes import Chains, FakeChain

TARGET = "0x" + "44" * 20
ACCOUNT = "0x" + "ab" * 20
PUBLIC_KEY = bytes.fromhex("02" + "11" * 32)


@dataclass
class Grants:
    """Implements ``ports.JobGrants`` like the enclave's answer; records what it was asked."""

    asked: list[tuple[str, str, ContractAction]] = field(default_factory=list)

    async def grant(self, tenant_id: str, job_id: str, action: ContractAction) -> JobGrant:
        self.asked.append((tenant_id, job_id, action))
        return JobGrant(
            b"sealed:" + call_script(action), ACCOUNT, PUBLIC_KEY, action.contract, action.method, 1
        )


def _call(**spec: Any) -> dict[str, Any]:
    contract = {
        "contract": TARGET,
        "method": "ping",
        "args": [{"type": "Integer", "value": "2"}],
        "keyId": "key_job",
        "maxSystemFee": 10**8,
        **spec,
    }
    return {"name": "ping", "trigger": {"everySeconds": 60}, "action": {"contract": contract}}


@dataclass
class Balances:
    """Implements ``ports.AccountBalances``; records the accounts asked."""

    gas: int = 5 * 10**8
    asked: list[str | None] = field(default_factory=list)

    async def gas_balance(self, account: str | None = None) -> int:
        self.asked.append(account)
        return self.gas


def _networked(api: Api, grants: Grants, balances: Balances | None = None) -> None:
    container = api.container
    box = AesGcmBox(resolve_kek(container.settings))
    container.parts_of(SERVICE, AutomationParts).jobs = TenantJobs(
        SqlJobStore(container.engine),
        box,
        Sender(),
        container.clock,
        container.iam.audit_log,
        grants=grants,
        balances=balances,
    )


async def test_a_contract_call_needs_a_network(api: Api) -> None:
    acme = await api.tenant("acme")
    answer = await acme.call("POST", "", json=_call())
    assert answer.status_code == 422, answer.text
    assert answer.json()["type"].endswith("no-neo-network")
    assert (await acme.call("GET", "")).json()["jobs"] == []


async def test_the_edge_refuses_malformed_contract_calls(api: Api) -> None:
    grants = Grants()
    _networked(api, grants)
    acme = await api.tenant("acme")
    hook = {"url": "https://hooks.example.com/h"}
    for body in (
        _call(contract="0x12"),
        _call(method="bad-name"),
        _call(method="m" * 65),
        _call(keyId="bad key"),
        _call(maxSystemFee=10**5),
        _call(maxSystemFee=51 * 10**8),
        _call(args=[{"type": "Integer", "value": "1"}] * 17),
        _call(args=[{"type": "Map", "value": {}}]),
        _call(args=[{"type": "Integer"}]),
        _call(args=[{"type": "Integer", "value": "seven"}]),
        _call(args=[{"type": "Integer", "value": str(2**255)}]),
        _call(args=[{"type": "Hash160", "value": "0x12"}]),
        _call(args=[{"type": "ByteArray", "value": "!!"}]),
        _call(args=[{"type": "Array", "value": [{"type": "Array", "value": []}]}]),
        _call(extra=1),
        {"name": "x", "trigger": {"everySeconds": 60}, "action": {}},
        {
            "name": "x",
            "trigger": {"everySeconds": 60},
            "action": {"webhook": hook, "contract": _call()["action"]["contract"]},
        },
        {"name": "x", "trigger": {"everySeconds": 60}, "action": {"contract": None}},
    ):
        answer = await acme.call("POST", "", json=body)
        assert answer.status_code == 422, (body, answer.text)
        assert answer.headers["content-type"].startswith("application/problem+json")
    assert grants.asked == []  # nothing malformed reached the enclave
    assert (await acme.call("GET", "")).json()["jobs"] == []


async def test_a_contract_job_keeps_its_grant_and_shows_the_paying_account(api: Api) -> None:
    grants = Grants()
    _networked(api, grants)
    acme = await api.tenant("acme")
    args = [
        {"type": "Integer", "value": "2"},
        {
            "type": "Array",
            "value": [{"type": "Hash160", "value": "0x" + "01" * 20}, {"type": "Boolean", "value": True}],
        },
    ]
    created = await acme.call("POST", "", json=_call(args=args))
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["webhookSecret"] is None
    job = body["job"]
    assert job["action"] == {
        "webhook": None,
        "contract": {
            "contract": TARGET,
            "method": "ping",
            "args": args,
            "keyId": "key_job",
            "maxSystemFee": 10**8,
            "account": ACCOUNT,
        },
    }
    [(tenant, job_id, action)] = grants.asked
    assert (tenant, job_id) == (acme.id, job["jobId"])
    assert action.args() == (2, [b"\x01" * 20, True])
    shown = (await acme.call("GET", f"/{job['jobId']}")).json()
    assert shown["action"]["contract"]["account"] == ACCOUNT
    async with acme.container.engine.connect() as conn:
        from sqlalchemy import text

        grant = (await conn.execute(text("SELECT grant_sealed FROM automation_jobs"))).scalar()
    assert bytes(grant) == b"sealed:" + call_script(action)


def _runner(api: Api, clock: MovableClock, chain: FakeChain, worker: str) -> JobRunner:
    container = api.container
    box = AesGcmBox(resolve_kek(container.settings))
    calls = CallParts(ContractCaller(Chains(chain), clock), SqlJobCallStore(container.engine))
    return JobRunner(SqlJobStore(container.engine), box, Sender(), clock, worker_id=worker, calls=calls)


async def test_a_run_is_recorded_sent_then_delivered_when_it_lands(
    backend: tuple[Api, Settings], clock: MovableClock
) -> None:
    api, _ = backend
    _networked(api, Grants())
    acme = await api.tenant("acme")
    job = (await acme.call("POST", "", json=_call())).json()["job"]["jobId"]
    chain = FakeChain()
    runner = _runner(api, clock, chain, "w1")
    clock.advance(seconds=61)
    assert await runner.run_once() == 1
    [tx] = chain.built
    assert chain.sent == [tx.raw]
    [run] = (await acme.call("GET", f"/{job}")).json()["runs"]
    assert (run["status"], run["attempts"]) == ("sent", 1)
    assert run["call"] == {"transaction": tx.tx_hash, "block": None, "gasUsed": None}
    clock.advance(seconds=3)  # not in a block yet: the same bytes again, no new attempt
    assert await runner.run_once() == 1
    assert chain.sent == [tx.raw, tx.raw]
    assert len(chain.built) == 1
    chain.states[tx.tx_hash] = TransactionState(77, True, None, 12_345)
    clock.advance(seconds=3)
    assert await runner.run_once() == 1
    [run] = (await acme.call("GET", f"/{job}")).json()["runs"]
    assert (run["status"], run["attempts"]) == ("delivered", 1)
    assert run["call"] == {"transaction": tx.tx_hash, "block": 77, "gasUsed": 12_345}
    clock.advance(seconds=3)
    assert await runner.run_once() == 0  # nothing more until the next occurrence
    assert len(chain.built) == 1


async def test_after_a_crash_the_next_worker_sends_the_recorded_transaction_not_a_new_one(
    backend: tuple[Api, Settings], clock: MovableClock
) -> None:
    api, _ = backend
    _networked(api, Grants())
    acme = await api.tenant("acme")
    hourly = {**_call(), "trigger": {"everySeconds": 3600}}
    job = (await acme.call("POST", "", json=hourly)).json()["job"]["jobId"]
    chain = FakeChain()

    class Crash(Exception):
        pass

    async def crash_after_send(raw: bytes) -> Any:
        chain.sent.append(raw)
        raise Crash  # killed between sending and recording what happened

    chain.send = crash_after_send  # type: ignore[method-assign]
    clock.advance(seconds=3601)
    with contextlib.suppress(Crash):
        await _runner(api, clock, chain, "w1").run_once()
    [tx] = chain.built
    del chain.send  # the real fake again
    second = _runner(api, clock, chain, "w2")
    assert await second.run_once() == 0  # w1's lease still holds the run
    clock.advance(seconds=61)  # the lease ran out
    assert await second.run_once() == 1
    assert len(chain.built) == 1  # no second transaction for the occurrence
    assert chain.sent == [tx.raw, tx.raw]
    [run] = (await acme.call("GET", f"/{job}")).json()["runs"]
    assert run["status"] == "sent"
    assert run["call"]["transaction"] == tx.tx_hash


async def test_a_faulting_call_is_never_sent_and_says_why(
    backend: tuple[Api, Settings], clock: MovableClock
) -> None:
    api, _ = backend
    from neo_service_layer.kernel.chain.ports.chain import DryRun

    _networked(api, Grants())
    acme = await api.tenant("acme")
    hourly = {**_call(), "trigger": {"everySeconds": 3600}}
    job = (await acme.call("POST", "", json=hourly)).json()["job"]["jobId"]
    chain = FakeChain(dry=DryRun(False, 0, "ABORT: only the automation contract may call this"))
    runner = _runner(api, clock, chain, "w1")
    clock.advance(seconds=3601)
    assert await runner.run_once() == 1
    [run] = (await acme.call("GET", f"/{job}")).json()["runs"]
    assert run["status"] == "retrying"
    assert "only the automation contract" in run["reason"]
    for _ in range(2):
        clock.advance(seconds=31)
        await runner.run_once()
    [run] = (await acme.call("GET", f"/{job}")).json()["runs"]
    assert run["status"] == "failed"
    assert "gave up after 3 attempts" in run["reason"]
    assert chain.built == []
    assert chain.sent == []


async def test_a_contract_job_shows_its_accounts_gas_and_warns_before_it_runs_dry(api: Api) -> None:
    balances = Balances(gas=5 * 10**8)
    _networked(api, Grants(), balances)
    acme = await api.tenant("acme")
    job = (await acme.call("POST", "", json=_call())).json()["job"]["jobId"]
    shown = (await acme.call("GET", f"/{job}")).json()
    # no run yet: a run is taken to cost maxSystemFee (1 GAS) and a network fee
    assert shown["funding"] == {
        "balance": 5 * 10**8,
        "perRun": 10**8 + 2 * 10**6,
        "runsLeft": 4,
        "lowBalance": True,
    }
    assert balances.asked == [ACCOUNT]
    balances.gas = 200 * 10**8
    assert (await acme.call("GET", f"/{job}")).json()["funding"]["lowBalance"] is False
    hook = {
        "name": "h",
        "trigger": {"everySeconds": 60},
        "action": {"webhook": {"url": "https://hooks.example.com/h"}},
    }
    webhook = (await acme.call("POST", "", json=hook)).json()["job"]["jobId"]
    assert (await acme.call("GET", f"/{webhook}")).json()["funding"] is None


async def test_a_node_outage_delays_runs_and_uses_no_attempt(
    backend: tuple[Api, Settings], clock: MovableClock
) -> None:
    from neo_service_layer.kernel.chain.ports.chain import ChainUnavailable

    api, _ = backend
    _networked(api, Grants())
    acme = await api.tenant("acme")
    hourly = {**_call(), "trigger": {"everySeconds": 3600}}
    job = (await acme.call("POST", "", json=hourly)).json()["job"]["jobId"]
    chain = FakeChain()
    dry_run = chain.dry_run

    async def down(calls: Any) -> Any:
        raise ChainUnavailable("no RPC endpoint answered")

    chain.dry_run = down  # type: ignore[method-assign]
    runner = _runner(api, clock, chain, "w1")
    clock.advance(seconds=3601)
    for _ in range(5):  # longer than three attempts' worth of retries
        await runner.run_once()
        [run] = (await acme.call("GET", f"/{job}")).json()["runs"]
        assert run["status"] == "retrying"
        assert "did not answer" in run["reason"]
        clock.advance(seconds=6)
    chain.dry_run = dry_run  # type: ignore[method-assign]
    await runner.run_once()
    [run] = (await acme.call("GET", f"/{job}")).json()["runs"]
    assert (run["status"], run["attempts"]) == ("sent", 1)
