"""The console on a live chain: a dice roll's randomness request watched from pending to answered on the
requests page; a dead-lettered webhook replayed from the subscriptions page and received once; the
feeds chart; the operator's health page. Each page's screenshot is written to a temporary folder, or
with ``NSL_TEST_CONSOLE_SCREENSHOTS=docs/console`` over the ones ``docs/console.md`` shows."""

from __future__ import annotations

import os
import time
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import cast

import pytest
from neo3.core import types
from playwright.sync_api import Browser, Locator
from prometheus_client import CollectorRegistry

from neo_service_layer.kernel.chain.adapters.metrics import ChainMetrics
from neo_service_layer.kernel.chain.adapters.neo_chain import NeoRpcEndpoint
from neo_service_layer.kernel.chain.adapters.privnet_deploy import GAS
from neo_service_layer.kernel.chain.ports.chain import BlockEvents
from neo_service_layer.kernel.chain.rules import RequestStatus
from neo_service_layer.kernel.chain.use_cases.watcher import ChainWatcher
from neo_service_layer.kernel.clock import SystemClock
from neo_service_layer.services.automation.rules.triggers import IntervalBlocksTrigger
from neo_service_layer.services.randomness import use_cases as randomness
from neo_service_layer.services.randomness.adapters.payloads import RandomnessPayloads
from tests.browser.chain_live import FEED_PAIR, ChainConsole, chain_console
from tests.browser.conftest import ConsolePage, _watched_page, open_page, sign_in
from tests.browser.live import Account
from tests.e2e.chain import automation_support
from tests.e2e.chain.stack import Stack, wait_for

pytestmark = [pytest.mark.chain, pytest.mark.slow]


class NodeBlocks:
    """The two reads a watcher makes, straight from the node."""

    def __init__(self, endpoint: NeoRpcEndpoint) -> None:
        self._endpoint = endpoint

    async def height(self) -> int:
        return int(await self._endpoint.client.get_block_count()) - 1

    async def block_events(self, index: int, contract: str) -> BlockEvents:
        events, _ = await self._endpoint.block_events(index, contract)
        return BlockEvents(index, None, tuple(events))


async def _watch_until_seen(stack: Stack, request_id: int, block: int) -> str:
    """Run the real watcher (no fulfiller) until the request is stored; its consumer as stored."""
    endpoint = NeoRpcEndpoint(stack.net.rpc_url)
    try:
        watcher = ChainWatcher(
            NodeBlocks(endpoint),  # the two methods the watcher uses
            stack.requests(RandomnessPayloads()),
            SystemClock(),
            ChainMetrics(CollectorRegistry()),
            service=randomness.SERVICE,
            contract=stack.contract,
            decode=randomness.decode_events,
            start_block=block,
        )

        async def stored() -> bool:
            await watcher.poll()
            return await stack.request(request_id) is not None

        await wait_for(stored, 30, f"request {request_id} to be stored")
    finally:
        await endpoint.close()
    row = await stack.request(request_id)
    assert row is not None
    return row.consumer


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    chosen = os.environ.get("NSL_TEST_CONSOLE_SCREENSHOTS")
    target = Path(chosen) if chosen else tmp_path_factory.mktemp("console-shots")
    target.mkdir(parents=True, exist_ok=True)
    return target


@pytest.fixture(scope="module")
def chained() -> Iterator[ChainConsole]:
    with chain_console() as console:
        yield console


@pytest.fixture(scope="module")
def dice(chained: ChainConsole) -> types.UInt160:
    return chained.loop.run(chained.stack.deploy_consumer("dice_consumer"))


def _signed_in(browser: Browser, chained: ChainConsole, account: Account) -> Iterator[ConsolePage]:
    pages = cast(Generator[ConsolePage], _watched_page(browser, chained.live, account))
    console = next(pages)
    try:
        sign_in(console.page, chained.live, account, account.next_code())
        console.page.wait_for_selector("[data-page='overview'][data-ready='true']")
        yield console
    finally:
        pages.close()


@pytest.fixture
def owner_page(browser: Browser, chained: ChainConsole) -> Iterator[ConsolePage]:
    yield from _signed_in(browser, chained, chained.live.new_owner())


def _tenant_key(chained: ChainConsole, *scopes: str) -> str:
    body = {"name": "console-test", "scopes": list(scopes)}
    return str(chained.live.ok("POST", f"/tenants/{chained.live.tenant_id}/api-keys", body)["key"])


def _watch(
    chained: ChainConsole, consumer: str, channel: dict[str, object], name: str = "dice watch"
) -> dict[str, object]:
    key = _tenant_key(chained, "subscriptions:write", "subscriptions:read")
    source = {"types": ["request.*"], "requests": {"consumer": consumer, "service": "randomness"}}
    body = {"name": name, "source": source, "channel": channel}
    created: dict[str, object] = chained.live.ok("POST", "/subscriptions", body, token=key)
    return created


def _reload(console: ConsolePage, page_id: str) -> None:
    """Load the page again (``open_page`` on the same hash is no navigation: nothing re-renders)."""
    console.page.reload()
    console.page.wait_for_selector(f"[data-page='{page_id}'][data-ready='true']")


def _clean(console: ConsolePage) -> None:
    assert console.errors == []
    assert console.csp_violations() == []


def test_a_randomness_request_is_watched_from_pending_to_answered(
    chained: ChainConsole, dice: types.UInt160, owner_page: ConsolePage, shots: Path
) -> None:
    stack = chained.stack
    request_id, block = chained.loop.run(stack.roll(dice))
    consumer = chained.loop.run(_watch_until_seen(stack, request_id, block))
    _watch(chained, consumer, {"stream": {}})  # the tenant watches its dice: the page shows its requests

    page = owner_page.page
    open_page(owner_page, "requests")
    badge = page.locator(f"[data-request='randomness/{request_id}']")
    assert badge.get_attribute("data-state") == "seen"
    row = page.locator("tr", has=badge)
    assert "no worker has sent a heartbeat recently" in row.inner_text()  # the stuck reason, from facts
    page.screenshot(path=str(shots / "requests-pending.png"), full_page=True)

    page.get_by_label("Refresh every 2 s").check()
    chained.start_worker()
    answered = f"[data-request='randomness/{request_id}']"
    page.wait_for_selector(
        f"{answered}[data-state='delivered'], {answered}[data-state='fulfilled']", timeout=60_000
    )
    assert "no worker" not in page.locator("tr", has=page.locator(answered)).inner_text()
    page.screenshot(path=str(shots / "requests-answered.png"), full_page=True)
    _clean(owner_page)


def test_a_dead_lettered_webhook_is_replayed_from_the_console_and_received_once(
    chained: ChainConsole, dice: types.UInt160, owner_page: ConsolePage, shots: Path
) -> None:
    stack, receiver = chained.stack, chained.receiver
    chained.start_worker()
    consumer = "0x" + dice.to_array()[::-1].hex()
    created = _watch(chained, consumer, {"webhook": {"url": receiver.url}}, name="dice webhook")
    subscription = str(created["subscription"]["subscriptionId"])  # type: ignore[index]
    reader = _tenant_key(chained, "subscriptions:read")
    request_id, _ = chained.loop.run(stack.roll(dice))
    chained.loop.run(stack.wait_status(request_id, RequestStatus.DELIVERED, timeout=60))

    async def all_dead() -> bool:  # seen, fulfilled, delivered: each dead after its one failed attempt
        listed = chained.live.ok("GET", f"/subscriptions/{subscription}/deliveries", token=reader)
        statuses = [d["status"] for d in listed["deliveries"]]
        return len(statuses) >= 3 and set(statuses) == {"dead"}

    # NSL_SUBSCRIPTIONS_MAX_ATTEMPTS=1: the first failed attempt dead-letters a delivery
    chained.loop.run(wait_for(all_dead, 90, f"the events of request {request_id} dead-lettered"))
    page = owner_page.page
    open_page(owner_page, "subscriptions")
    dead = page.locator(f"[data-delivery^='{subscription}/'][data-status='dead']")
    dead_before = dead.count()
    assert dead_before >= 3
    event_id = str(dead.first.get_attribute("data-delivery")).split("/")[1]
    failed_ids = receiver.answered(500)
    page.screenshot(path=str(shots / "subscriptions-dead-letter.png"), full_page=True)

    receiver.failing = False
    page.get_by_role("button", name=f"Replay event {event_id} of subscription dice webhook").click()
    page.get_by_text(f"Event {event_id} queued again").wait_for()

    async def received() -> bool:
        return len(receiver.answered(200)) >= 1

    chained.loop.run(wait_for(received, 120, "the replayed webhook"))  # after the circuit's pause
    delivered = f"[data-delivery='{subscription}/{event_id}'][data-status='delivered']"
    for _ in range(30):
        _reload(owner_page, "subscriptions")
        if page.locator(delivered).count():
            break
        page.wait_for_timeout(1000)
    assert page.locator(delivered).count() == 1
    assert dead.count() == dead_before - 1  # the other dead letters stay dead
    ok = receiver.answered(200)
    assert len(ok) == 1  # received once: only the replayed dead letter, once
    assert ok[0] in failed_ids  # the same webhook-id as its failed attempt
    page.screenshot(path=str(shots / "subscriptions-replayed.png"), full_page=True)
    _clean(owner_page)


def test_the_feeds_page_charts_recent_rounds(
    chained: ChainConsole, owner_page: ConsolePage, shots: Path
) -> None:
    chained.start_worker()
    rounds: list[int] = []
    for price in (100.0, 101.5, 99.0, 102.25):  # each moves more than the 0.1 % deviation
        chained.source.value = price

        async def published(target: float = price) -> bool:
            feeds = chained.live.ok("GET", "/feeds/NEO/USD/rounds?count=10", token=_reader_key(chained))
            return bool(feeds["rounds"]) and float(feeds["rounds"][0]["value"]) == target

        chained.loop.run(wait_for(published, 90, f"a round at {price}"))
        rounds.append(int(price * 100))
    open_page(owner_page, "feeds")
    chart = owner_page.page.locator(f"svg[data-chart='{FEED_PAIR}']")
    assert chart.get_attribute("role") == "img"
    assert f"{FEED_PAIR}:" in str(chart.get_attribute("aria-label"))
    assert chart.locator("circle").count() >= 4
    owner_page.page.screenshot(path=str(shots / "feeds.png"), full_page=True)
    _clean(owner_page)


_READER: dict[str, str] = {}


def _reader_key(chained: ChainConsole) -> str:
    if "key" not in _READER:
        _READER["key"] = _tenant_key(chained, "oracle:request")
    return _READER["key"]


def test_the_operator_sees_enclave_mode_workers_and_watchers(
    chained: ChainConsole, dice: types.UInt160, browser: Browser, shots: Path
) -> None:
    chained.start_worker()
    operator = chained.superadmin("ops")
    for console in _signed_in(browser, chained, operator):
        open_page(console, "health")
        page = console.page
        assert page.locator("[data-enclave-mode]").inner_text() == "SIMULATION"
        assert page.get_by_text("SIMULATION: no TEE protects the keys").count() == 1
        workers = page.get_by_role("table", name="Worker heartbeats")
        workers.get_by_text("alive").first.wait_for()
        watchers = page.get_by_role("table", name="Watchers (block cursors)")
        assert watchers.get_by_text(f"randomness:{chained.stack.contract}").count() == 1
        page.screenshot(path=str(shots / "health.png"), full_page=True)
        open_page(console, "requests")  # the operator sees every request, not only watched ones
        assert page.get_by_text("Every request of this installation").count() == 1
        page.screenshot(path=str(shots / "requests-operator.png"), full_page=True)
        _clean(console)


def test_the_automation_page_lists_jobs_and_the_contracts_upkeeps(
    chained: ChainConsole, owner_page: ConsolePage, shots: Path
) -> None:
    key = _tenant_key(chained, "automation:write", "automation:read")
    job = {
        "name": "nightly report",
        "trigger": {"cron": "0 3 * * *"},
        "action": {"webhook": {"url": chained.receiver.url, "data": {"report": "daily"}}},
    }
    chained.live.ok("POST", "/automation/jobs", job, token=key)
    chained.start_worker()  # its automation watcher records the upkeep the contract announces
    target = chained.loop.run(automation_support.deploy_target(chained.stack))
    upkeep = chained.loop.run(
        automation_support.register(chained.stack, target, IntervalBlocksTrigger(1000), fund=3 * GAS)
    )
    open_page(owner_page, "automation")
    page = owner_page.page
    jobs = page.get_by_role("table", name="Automation jobs of this tenant")
    row = jobs.get_by_role("row").filter(has_text="nightly report")
    assert row.get_by_text("cron 0 3 * * *").count() == 1
    assert row.get_by_text("active").count() == 1
    upkeeps = page.get_by_role("table", name="Upkeeps of the automation contract")

    def upkeep_row() -> Locator:
        return upkeeps.get_by_role("row").filter(has=page.get_by_role("cell", name=str(upkeep), exact=True))

    def balance() -> int:
        return int(upkeep_row().get_by_role("cell").nth(3).inner_text().split()[0])

    # the worker's watcher stores the registration a block or two after it, and the funding (a
    # transaction of its own, in a later block) after that: a row may first show a balance of 0
    for _ in range(60):
        if upkeep_row().count() and balance() > 0:
            break
        time.sleep(0.5)
        _reload(owner_page, "automation")
    assert upkeep_row().count() == 1, f"upkeep {upkeep} not listed within 30 s"
    cells = upkeep_row().get_by_role("cell")
    assert cells.nth(1).inner_text() == "active"
    assert cells.nth(2).inner_text().endswith(" tick")
    assert 0 < balance() <= 3 * GAS, "the funding of 3 GAS not shown within 30 s"
    page.screenshot(path=str(shots / "automation.png"), full_page=True)
    _clean(owner_page)
