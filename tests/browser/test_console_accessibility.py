"""Every control of the console has an accessible name, as Chromium's accessibility tree computes it."""

from __future__ import annotations

import re

from tests.browser.conftest import ConsolePage, open_page

#: a control in Playwright's ARIA snapshot with no name after its role (``- button`` rather than
#: ``- button "Sign out"``)
UNNAMED = re.compile(r"^\s*- (button|textbox|combobox|checkbox|link|spinbutton|radio)\s*(?::.*)?(?:\[.*\])?$")
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
