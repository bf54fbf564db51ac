"""What operators and auditors read, against the live server: the audit log page by page (its hash
chain intact), the installation's health, backup status around a real backup, disabling an account,
on-chain requests seeded through the real request store into the server's database, and the
request-state routes that need a chain answering as they must without one."""

from __future__ import annotations

import asyncio
import itertools
import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import create_async_engine

from neo_service_layer.kernel.chain.adapters.request_store import SqlRequestStore
from neo_service_layer.kernel.chain.rules import ChainEventKind, NewRequest, RequestUpdate
from neo_service_layer.services.randomness.adapters.payloads import RandomnessPayloads
from neo_service_layer.services.randomness.rules import RandomnessParams
from nsl_client import (
    AsyncClient,
    Client,
    Forbidden,
    NotFound,
    RetryPolicy,
    ServiceUnavailable,
    Unauthorized,
    ValidationFailed,
)
from nsl_client.ops import audit_log, list_requests
from tests.client.live import PASSWORD, Live

WATCHED, OTHER = "0x" + "ab" * 20, "0x" + "cd" * 20
CONTRACT = "0x" + "11" * 20
#: request id -> its consumer, and what happened to it on chain
SEEDED = {
    101: (WATCHED, []),
    102: (WATCHED, [ChainEventKind.FULFILLED, ChainEventKind.DELIVERED]),
    103: (WATCHED, [ChainEventKind.FULFILLED, ChainEventKind.CALLBACK_FAILED]),
    104: (OTHER, []),
}


def test_the_audit_log_pages_through_every_entry_with_its_hash_chain(live: Live) -> None:
    with Client(live.base_url, api_key=live.api_key) as client:
        older = client.create_key("secp256r1", "audited-first", ["message"])
        key = client.create_key("secp256r1", "audited", ["message"])
        newest = client.audit_log(action="key.create", limit=1)
        assert newest.tenant == live.tenant_id
        [entry] = newest.entries
        assert (entry.target, entry.outcome) == (f"key:{key.key_id}", "success")
        assert entry.actor.startswith("api_key:")
        assert newest.next_cursor is not None  # the other tests' keys are older entries

        every = list(client.iterate(audit_log, limit=3))
        seqs = [e.seq for e in every]
        assert seqs == sorted(seqs, reverse=True)
        assert seqs == list(range(seqs[0], seqs[0] - len(seqs), -1))  # no gap, no repeat
        assert len(every) > 3
        for newer, previous in itertools.pairwise(every):
            assert newer.prev_hash == previous.hash
        assert every[-1].seq == 1

        since = entry.occurred_at - timedelta(microseconds=1)
        recent = client.audit_log(since=since, actor=entry.actor, outcome="success").entries
        assert entry.seq in {e.seq for e in recent}
        assert all(e.occurred_at >= since for e in recent)
        before = client.audit_log(until=since, action="key.create").entries
        assert before[0].target == f"key:{older.key_id}"
        assert client.audit_log(since=datetime.now(UTC) + timedelta(hours=1)).entries == []
        with pytest.raises(ValidationFailed):
            client.audit_log(after="not-a-cursor")
        with pytest.raises(ValueError, match="timezone"):
            client.audit_log(since=datetime(2026, 1, 1))  # a naive time is refused


def test_system_health_and_backup_status_read_what_the_operator_sees(live: Live, operator: Client) -> None:
    health = operator.system_health()
    assert health.ready
    assert (health.enclave.mode, health.enclave.platform, health.enclave.up) == (
        "SIMULATION",
        "simulation",
        True,
    )
    components = {c.name: c for c in health.components}
    assert (components["database"].up, components["database"].critical) == (True, True)
    assert components["database"].info["dialect"] == "sqlite"
    assert components["enclave"].info["mode"] == "simulation"
    assert not components["chain"].up  # no Neo network here
    assert (health.chains, health.workers) == ([], [])

    before = operator.backup_status()
    assert (before.target, before.readable, before.scheduled) == ("local", True, False)
    taken = subprocess.run(
        [sys.executable, "-m", "neo_service_layer", "backup", "create", "--json"],
        env=live.cli_env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert taken.returncode == 0, taken.stderr[-3000:]
    backup_id = json.loads(taken.stdout)["backup_id"]
    after = operator.backup_status()
    assert after.count == before.count + 1
    assert after.newest is not None
    assert after.newest.backup_id == backup_id
    assert after.newest.size > 0
    assert 0 <= after.newest.age_seconds < 300
    assert after.newest_verified is None or after.newest_verified.backup_id != backup_id

    with Client(live.base_url, api_key=live.api_key) as tenant:  # every tenant scope: still not an operator
        with pytest.raises(Forbidden) as refused:
            tenant.system_health()
        assert refused.value.code == "missing-scope"
        with pytest.raises(Forbidden):
            tenant.backup_status()


def test_a_disabled_account_cannot_sign_in_and_its_session_ends(live: Live, operator: Client) -> None:
    member = operator.add_member(live.tenant_id, "to-be-disabled", "developer", password=PASSWORD)
    with Client(live.base_url) as user:
        user.sign_in("to-be-disabled", PASSWORD, tenant=live.tenant_id)
        assert user.me().subject == member.user_id
        assert operator.disable_user(member.user_id) is None
        with pytest.raises(Unauthorized):  # the session's access token is refused at once
            user.me()
        with pytest.raises(Unauthorized) as refused:
            user.sign_in("to-be-disabled", PASSWORD, tenant=live.tenant_id)
        assert refused.value.code == "invalid-credentials"
    with pytest.raises(NotFound):
        operator.disable_user("usr_" + "0" * 32)
    with Client(live.base_url, api_key=live.api_key) as tenant, pytest.raises(Forbidden):
        tenant.disable_user(member.user_id)


@pytest.fixture(scope="module")
def seeded(live: Live) -> Live:
    """Randomness requests of two consumers moved through the real request store, one block each."""

    async def seed() -> None:
        engine = create_async_engine(f"sqlite+aiosqlite:///{live.data_dir / 'nsl.db'}")
        store = SqlRequestStore(engine, RandomnessPayloads())
        now = datetime.now(UTC)
        try:
            for block, (request_id, (consumer, moves)) in enumerate(SEEDED.items(), start=10):
                asked = NewRequest(
                    request_id,
                    consumer,
                    RandomnessParams(1, bytes([request_id]) * 32),
                    block,
                    "0x" + "99" * 32,
                )
                cursor = f"randomness:{CONTRACT}"
                at = now + timedelta(seconds=block)
                await store.apply_block(cursor, "randomness", CONTRACT, block, None, [asked], [], at)
                updates = [
                    RequestUpdate(request_id, kind, block, "0x" + "77" * 32, "FAULT: dice out of range")
                    for kind in moves
                ]
                if updates:
                    await store.apply_block(cursor, "randomness", CONTRACT, block, None, [], updates, at)
        finally:
            await engine.dispose()

    asyncio.run(seed())
    return live


def test_on_chain_requests_a_tenant_watches_and_an_operator_sees(seeded: Live, operator: Client) -> None:
    with Client(seeded.base_url, api_key=seeded.api_key) as client:
        unwatched = client.list_requests(service="randomness")
        assert (unwatched.scope, unwatched.requests) == ("watched", [])
        source = {"types": ["request.*"], "requests": {"consumer": WATCHED, "service": "randomness"}}
        client.create_subscription("watch the dice", source, {"stream": {}})

        page = client.list_requests(service="randomness", limit=2)
        assert [r.request_id for r in page.requests] == ["103", "102"]  # newest first
        assert page.next_cursor is not None
        every = [r.request_id for r in client.iterate(list_requests, service="randomness", limit=1)]
        assert every == ["103", "102", "101"]  # not 104: another consumer's
        failed = client.get_request("randomness", 103)
        assert (failed.state, failed.consumer, failed.contract) == ("callback_failed", WATCHED, CONTRACT)
        assert failed.callback_failure == "FAULT: dice out of range"
        assert failed.reason is not None
        assert (failed.reason.code, failed.reason.stuck) == ("callback_failed", True)
        delivered = client.list_requests(state="delivered").requests
        assert [(r.request_id, r.reason) for r in delivered] == [("102", None)]
        assert client.get_request("randomness", 101, contract=CONTRACT).state == "seen"
        with pytest.raises(NotFound):
            client.get_request("randomness", 101, contract="0x" + "22" * 20)
        with pytest.raises(NotFound):  # seeded, but its consumer is not watched by this tenant
            client.get_request("randomness", 104)
        with pytest.raises(ValidationFailed):
            client.get_request("no-such-service", 1)

    everything = operator.list_requests(service="randomness", consumer=OTHER)
    assert (everything.scope, [r.request_id for r in everything.requests]) == ("all", ["104"])
    assert operator.get_request("randomness", 104).consumer == OTHER


async def test_request_states_that_need_a_chain_say_none_is_configured(live: Live) -> None:
    async with AsyncClient(live.base_url, api_key=live.api_key, retry=RetryPolicy(max_attempts=1)) as client:
        with pytest.raises(ServiceUnavailable) as compute:
            await client.compute_request(1)
        assert "Neo network" in compute.value.detail
        with pytest.raises(ServiceUnavailable) as neox:
            await client.neox_randomness_request(1)
        assert "EVM" in neox.value.detail
        with pytest.raises(NotFound) as feed:
            await client.feed_rounds("zzz", "qqq", count=5)
        assert feed.value.detail == "no feed ZZZ/QQQ is configured"
        with pytest.raises(ValidationFailed):  # count is a query parameter of 1-100
            await client.feed_rounds("NEO", "USD", count=0)
        with pytest.raises(ValidationFailed):
            await client.compute_request(-1)
