"""Screenshots of the console's identity pages, its cross-chain list and its TOTP enrolment, as rendered
by Chromium against a live installation.

Written to a temporary directory on every run (and checked to be real PNGs of the page); with
``NSL_TEST_CONSOLE_SCREENSHOTS=docs/console`` they replace the ones ``docs/console.md`` shows.
"""

from __future__ import annotations

import os
import struct
from pathlib import Path

import pyotp
import pytest

from tests.browser.conftest import ConsolePage, open_page, sign_in
from tests.browser.live import LiveConsole

SHOTS = ("overview", "tenants", "api-keys", "keys", "secrets", "crosschain")
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == PNG_MAGIC, path
    width, height = struct.unpack(">II", data[16:24])
    return width, height


@pytest.fixture
def shots_dir(tmp_path: Path) -> Path:
    chosen = os.environ.get("NSL_TEST_CONSOLE_SCREENSHOTS")
    target = Path(chosen) if chosen else tmp_path
    target.mkdir(parents=True, exist_ok=True)
    return target


def test_screenshots_of_the_main_pages(
    blank_console: ConsolePage, shots_dir: Path, crosschain_messages: LiveConsole
) -> None:
    page = blank_console.page
    page.goto(f"{blank_console.live.base_url}/console/")
    page.get_by_role("heading", name="Sign in").wait_for()
    page.screenshot(path=shots_dir / "sign-in.png")
    sign_in(page, blank_console.live, blank_console.account, blank_console.account.next_code())
    page.wait_for_selector("[data-page='overview'][data-ready='true']")
    live = blank_console.live
    for name in SHOTS:
        open_page(blank_console, name)
        if name == "keys":
            page.get_by_text(f"Versions of {live.key_label}").click()
        if name == "secrets":
            page.get_by_role("button", name=f"Versions of secret {live.secret_name}").click()
            page.get_by_role("table", name=f"Versions of secret {live.secret_name}").wait_for()
        page.screenshot(path=shots_dir / f"{name}.png", full_page=True)
    for name in ("sign-in", *SHOTS):
        width, height = _png_size(shots_dir / f"{name}.png")
        assert width == 1280, name
        assert height >= 400, name
    assert blank_console.errors == []


def test_screenshots_of_the_totp_enrolment(blank_console: ConsolePage, shots_dir: Path) -> None:
    page, live = blank_console.page, blank_console.live
    owner = live.new_unenrolled("owner")
    sign_in(page, live, owner, None)
    page.get_by_test_id("totp-secret").wait_for()
    page.screenshot(path=shots_dir / "totp-enrolment.png", full_page=True)
    secret = "".join(page.get_by_test_id("totp-secret").inner_text().split())
    page.get_by_label("Code from the app").fill(pyotp.TOTP(secret).now())
    page.get_by_role("button", name="Turn on two-factor sign-in").click()
    page.get_by_test_id("backup-codes").wait_for()
    page.screenshot(path=shots_dir / "totp-backup-codes.png", full_page=True)
    for name in ("totp-enrolment", "totp-backup-codes"):
        width, height = _png_size(shots_dir / f"{name}.png")
        assert width == 1280, name
        assert height >= 400, name
    assert blank_console.errors == []
