"""Every control of the console has an accessible name, as Chromium's accessibility tree computes it."""

from __future__ import annotations

import re

import pyotp

from tests.browser.conftest import ConsolePage, open_page, sign_in

#: a control in Playwright's ARIA snapshot with no name after its role (``- button`` rather than
#: ``- button "Sign out"``)
UNNAMED = re.compile(
    r"^\s*- (button|textbox|combobox|checkbox|link|spinbutton|radio|img)\s*(?::.*)?(?:\[.*\])?$"
)
CONTROLS = re.compile(r"^\s*- (button|textbox|combobox|checkbox|link)\b", re.MULTILINE)


def _unnamed(console: ConsolePage) -> list[str]:
    snapshot = console.page.locator("body").aria_snapshot()
    return [line for line in snapshot.splitlines() if UNNAMED.match(line)]


def test_the_sign_in_form_names_its_controls(blank_console: ConsolePage) -> None:
    blank_console.page.goto(f"{blank_console.live.base_url}/console/")
    blank_console.page.get_by_role("heading", name="Sign in").wait_for()
    snapshot = blank_console.page.locator("body").aria_snapshot()
    for name in ("User name", "Password", "TOTP code", "Tenant (optional)"):
        assert f'textbox "{name}"' in snapshot
    assert _unnamed(blank_console) == []


def test_every_control_on_the_off_chain_pages_has_a_name(console_page: ConsolePage) -> None:
    for page_id in ("overview", "tenants", "api-keys", "keys", "secrets", "crosschain"):
        open_page(console_page, page_id)
        snapshot = console_page.page.locator("body").aria_snapshot()
        assert len(CONTROLS.findall(snapshot)) >= 3, page_id  # the nav links and buttons are there
        assert _unnamed(console_page) == [], page_id


def test_the_totp_enrolment_names_its_controls(blank_console: ConsolePage) -> None:
    page, live = blank_console.page, blank_console.live
    owner = live.new_unenrolled("owner")
    sign_in(page, live, owner, None)
    page.get_by_role("heading", name="Set up two-factor sign-in").wait_for()
    page.get_by_test_id("totp-secret").wait_for()
    snapshot = page.locator("body").aria_snapshot()
    for control in (
        'textbox "Code from the app"',
        'button "Turn on two-factor sign-in"',
        'button "Cancel and sign out"',
    ):
        assert control in snapshot, control
    assert _unnamed(blank_console) == []
    secret = "".join(page.get_by_test_id("totp-secret").inner_text().split())
    page.get_by_label("Code from the app").fill(pyotp.TOTP(secret).now())
    page.get_by_role("button", name="Turn on two-factor sign-in").click()
    page.get_by_test_id("backup-codes").wait_for()
    snapshot = page.locator("body").aria_snapshot()
    assert 'list "Backup codes"' in snapshot
    assert 'button "Continue to sign in"' in snapshot
    assert _unnamed(blank_console) == []


def test_the_two_factor_page_names_its_controls(blank_console: ConsolePage) -> None:
    page, live = blank_console.page, blank_console.live
    viewer = live.new_unenrolled("viewer")
    sign_in(page, live, viewer, None)
    page.wait_for_selector("[data-page='overview'][data-ready='true']")
    assert 'link "Set up two-factor sign-in"' in page.locator("body").aria_snapshot()
    open_page(blank_console, "two-factor")
    page.get_by_role("button", name="Set up two-factor sign-in").click()
    page.get_by_test_id("totp-secret").wait_for()
    snapshot = page.locator("body").aria_snapshot()
    assert 'button "Cancel"' in snapshot
    assert 'textbox "Code from the app"' in snapshot
    assert _unnamed(blank_console) == []
