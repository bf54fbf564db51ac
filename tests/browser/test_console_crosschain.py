"""The Cross-chain page against the live installation: messages written through the real store into its
database, listed newest first with why each is where it is (a stuck one with its reason, an executed one
done), a next page, the status filter, and a message found by its id."""

from __future__ import annotations

from tests.browser.conftest import OLDER_CHAIN, ConsolePage, open_page
from tests.browser.live import LiveConsole
from tests.http.crosschain_seed import N3, NEOX, RECEIPT_WAIT, REVERT

FAILED, EXECUTED, REFUSED = f"{N3}-2", f"{N3}-1", f"{N3}-5"


def _row(console: ConsolePage, message_id: str) -> str:
    badge = console.page.locator(f"[data-message='{message_id}']")
    text: str = badge.locator("xpath=ancestor::tr").inner_text()
    return text


def test_messages_their_reasons_pages_filter_and_lookup(
    console_page: ConsolePage, crosschain_messages: LiveConsole
) -> None:
    page = console_page.page
    assert page.get_by_role("link", name="Cross-chain").count() == 1  # an owner holds crosschain:read
    open_page(console_page, "crosschain")
    table = page.get_by_role("table", name="Cross-chain messages, newest first")
    table.wait_for()
    statuses = page.locator("[data-message]")
    assert statuses.count() == 25  # one page of the seeded messages
    assert page.locator("[data-message]").first.get_attribute("data-message") == f"{NEOX}-2"  # newest first

    failed = _row(console_page, FAILED)
    assert "stuck" in failed
    # its receipt was given back with the relayer's note (``RECEIPT_WAIT``): the revert reason stays
    assert f"the receiver reverted on attempt 1: {REVERT}" in failed
    assert RECEIPT_WAIT not in failed  # no worker's heartbeat here: the receipt waits for a worker
    assert page.locator(f"[data-message='{FAILED}']").get_attribute("class") == "badge bad"
    executed = _row(console_page, EXECUTED)
    assert "done" in executed
    assert "stored" in executed
    assert "stuck" not in executed
    assert page.locator(f"[data-message='{EXECUTED}']").get_attribute("class") == "badge good"
    assert "refused by the gateway: UnknownSourceContract" in _row(console_page, REFUSED)

    page.get_by_role("button", name="Next page").click()
    page.get_by_role("button", name="First page").wait_for()
    page.wait_for_selector(f"[data-message='{OLDER_CHAIN}-1']")
    assert page.locator(f"[data-message='{FAILED}']").count() == 0
    assert page.get_by_role("button", name="Next page").is_hidden()  # 37 messages: two pages

    page.get_by_label("Status").select_option("failed")
    page.wait_for_function("() => document.querySelectorAll('[data-message]').length === 1")
    assert page.locator("[data-message]").get_attribute("data-message") == FAILED
    assert page.get_by_role("button", name="First page").is_hidden()

    page.get_by_label("Message id").fill(EXECUTED)
    page.get_by_role("button", name="Find").click()
    found = page.locator(f"[data-found='{EXECUTED}']")
    found.wait_for()
    assert "executed" in found.inner_text()
    assert f"{N3} → {NEOX}" in found.inner_text()
    page.get_by_label("Message id").fill(FAILED)
    page.get_by_role("button", name="Find").click()
    details = page.locator(f"[data-found='{FAILED}']")
    details.wait_for()
    assert f"Revert or refusal reason\n{REVERT}" in details.inner_text()
    page.get_by_label("Message id").fill(f"{N3}-999")
    page.get_by_role("button", name="Find").click()
    alert = page.get_by_role("form", name="Find a message by id").get_by_role("alert")
    alert.wait_for()
    assert f"no cross-chain message {N3}-999 was seen" in alert.inner_text()
    assert console_page.csp_violations() == []
    assert [e for e in console_page.errors if "404" not in e] == []  # the lookup's 404 is logged
