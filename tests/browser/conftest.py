"""Fixtures of the browser tests: a live installation, headless Chromium, and a signed-in console page.

Chromium is Debian's (``/usr/bin/chromium``, installed by ``make``), driven by Playwright for Python
with that executable: nothing is downloaded. Each test gets its own browser context (fresh storage) and
its own owner account, so tests do not share a session or a TOTP step.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, Playwright, sync_playwright
from sqlalchemy.ext.asyncio import create_async_engine

from neo_service_layer.services.crosschain.adapters.store import SqlCrosschainStore
from neo_service_layer.services.crosschain.rules import Sent
from tests.browser.live import Account, LiveConsole, live_console
from tests.http.crosschain_seed import SENDER, seed_messages

CHROMIUM = Path("/usr/bin/chromium")
#: recorded in the page before any of its scripts run (devtools injection is not subject to the CSP)
_WATCH_CSP = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__cspViolations.push({directive: e.effectiveDirective, blocked: e.blockedURI, sample: e.sample});
});
"""


@dataclass
class ConsolePage:
    """A page of the console, the account it is signed in as, and every error the browser reported."""

    page: Page
    account: Account
    live: LiveConsole
    errors: list[str] = field(default_factory=list)

    def csp_violations(self) -> list[dict[str, str]]:
        found: list[dict[str, str]] = self.page.evaluate("() => window.__cspViolations || []")
        return found


def open_page(console: ConsolePage, page_id: str) -> None:
    """Go to ``#/<page_id>`` and wait until that page's ``render`` has finished."""
    console.page.goto(f"{console.live.base_url}/console/#/{page_id}")
    console.page.wait_for_selector(f"[data-page='{page_id}'][data-ready='true']", timeout=15_000)


def sign_in(page: Page, live: LiveConsole, account: Account, code: str | None) -> None:
    """Fill and submit the sign-in form as a person would."""
    page.goto(f"{live.base_url}/console/")
    page.get_by_label("User name").fill(account.username)
    page.get_by_label("Password").fill(account.password)
    if code is not None:
        page.get_by_label("TOTP code").fill(code)
    page.get_by_role("button", name="Sign in").click()


@pytest.fixture(scope="package")
def console_server() -> Iterator[LiveConsole]:
    with live_console() as live:
        yield live


#: messages of a third chain seen an hour before the others: enough for a second page of the console's list
OLDER_CHAIN, OLDER_MESSAGES = 7, 30


@pytest.fixture(scope="package")
def crosschain_messages(console_server: LiveConsole) -> LiveConsole:
    """Cross-chain messages in several states (``crosschain_seed``) plus ``OLDER_MESSAGES`` waiting ones,
    written through the real store into the live server's database (on a thread of its own: Playwright's
    loop runs in this one)."""
    assert console_server.enclave is not None
    database = f"sqlite+aiosqlite:///{console_server.enclave.data_dir / 'nsl.db'}"

    async def seed() -> None:
        engine = create_async_engine(database)
        try:
            now = datetime.now(UTC)
            await seed_messages(engine, now)
            older = [
                Sent(OLDER_CHAIN, n, SENDER, 31337, SENDER, b"", 1, 0, 3, f"0x{n:064x}")
                for n in range(1, OLDER_MESSAGES + 1)
            ]
            await SqlCrosschainStore(engine).apply_block("seed:older", 3, older, now - timedelta(hours=1))
        finally:
            await engine.dispose()

    with ThreadPoolExecutor(1) as thread:
        thread.submit(asyncio.run, seed()).result(timeout=60)
    return console_server


# package scope, not session: Playwright's sync API keeps an event loop running in this thread while
# it is open, and every async test after it would fail ("another loop is running")
@pytest.fixture(scope="package")
def playwright_driver() -> Iterator[Playwright]:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: `make` installs Debian's chromium package")
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="package")
def browser(playwright_driver: Playwright) -> Iterator[Browser]:
    chromium = playwright_driver.chromium.launch(executable_path=str(CHROMIUM), headless=True)
    try:
        yield chromium
    finally:
        chromium.close()


def _watched_page(browser: Browser, live: LiveConsole, account: Account) -> Iterator[ConsolePage]:
    context = browser.new_context(viewport={"width": 1280, "height": 860}, locale="en-GB")
    try:
        context.add_init_script(_WATCH_CSP)
        page = context.new_page()
        page.set_default_timeout(15_000)
        console = ConsolePage(page, account, live)

        def on_console(message: ConsoleMessage) -> None:
            if message.type == "error":
                console.errors.append(message.text)

        page.on("console", on_console)
        page.on("pageerror", lambda error: console.errors.append(f"page error: {error}"))
        yield console
    finally:
        context.close()


@pytest.fixture
def blank_console(browser: Browser, console_server: LiveConsole) -> Iterator[ConsolePage]:
    """A fresh context on no page yet, for a new owner who has not signed in."""
    yield from _watched_page(browser, console_server, console_server.new_owner())


@pytest.fixture
def console_page(blank_console: ConsolePage) -> ConsolePage:
    """The console signed in (password + TOTP) as a new owner of the tenant, on the overview page."""
    sign_in(blank_console.page, blank_console.live, blank_console.account, blank_console.account.next_code())
    blank_console.page.wait_for_selector("[data-page='overview'][data-ready='true']")
    return blank_console
