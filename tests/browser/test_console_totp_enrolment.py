"""Two-factor (TOTP) enrolment in the console, as a person does it: the secret read off the page, the
codes computed from it as an authenticator app would.

An owner must enrol before anything else (sign-in answers ``mfa_enrollment_required`` with a token that
allows only ``POST /auth/mfa/totp/enroll`` and ``.../verify``); a viewer may sign in with the password
alone and enrol from the overview. Either way the secret never reaches the tab's storage and leaves the
page once TOTP is on.
"""

from __future__ import annotations

import json
import time
from urllib.parse import parse_qs, urlsplit

import pyotp
from playwright.sync_api import Page

from tests.browser.conftest import ConsolePage, open_page, sign_in
from tests.browser.live import STEP_SECONDS, Account, LiveConsole

STORE = "nsl.console.session"


def _stored(page: Page) -> dict[str, object] | None:
    raw: str | None = page.evaluate(f"() => sessionStorage.getItem('{STORE}')")
    return None if raw is None else json.loads(raw)


def _storage(page: Page) -> str:
    """Everything the tab keeps: its session storage and local storage, as text."""
    dumped: str = page.evaluate(
        "() => JSON.stringify([Object.entries(sessionStorage), Object.entries(localStorage)])"
    )
    return dumped


def _shown_secret(page: Page) -> str:
    """The secret as the page shows it (groups of four), and checked against the setup link shown."""
    grouped = page.get_by_test_id("totp-secret").inner_text()
    assert [len(group) for group in grouped.split()] == [4] * 8  # 32 base32 characters, in fours
    secret = "".join(grouped.split())
    uri = page.get_by_test_id("totp-uri").inner_text()
    assert uri.startswith("otpauth://totp/")
    assert parse_qs(urlsplit(uri).query)["secret"] == [secret]
    return secret


def _on_page(page: Page, secret: str) -> bool:
    """Whether the page's DOM still holds the secret, whole (in the setup link) or in its groups."""
    html = page.content()
    grouped = " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))
    return secret in html or grouped[:19] in html or grouped[20:] in html


def _wrong_code(secret: str) -> str:
    totp = pyotp.TOTP(secret)
    now = time.time()
    valid = {totp.at(now + k * STEP_SECONDS) for k in range(-2, 3)}
    return next(
        code for code in ("000000", "111111", "222222", "333333", "444444", "555555") if code not in valid
    )


def _enter_code(page: Page, code: str) -> None:
    page.get_by_label("Code from the app").fill(code)
    page.get_by_role("button", name="Turn on two-factor sign-in").click()


def _still_required(live: LiveConsole, account: Account) -> bool:
    body = {"username": account.username, "password": account.password}
    tokens = live.ok("POST", "/auth/token", body, token="-")
    required: bool = tokens["mfa_enrollment_required"]
    return required


def _required_after_enrolment(live: LiveConsole, account: Account, secret: str) -> bool:
    """Sign in through the API with the password and a fresh code: False once TOTP is on."""
    body = {
        "username": account.username,
        "password": account.password,
        "totp_code": pyotp.TOTP(secret).at(time.time() + STEP_SECONDS),
    }
    required: bool = live.ok("POST", "/auth/token", body, token="-")["mfa_enrollment_required"]
    return required


def _start_required_enrolment(console: ConsolePage) -> tuple[Account, str]:
    """A new owner without TOTP signs in with the password: the enrolment view shows a secret."""
    account = console.live.new_unenrolled("owner")
    sign_in(console.page, console.live, account, None)
    console.page.get_by_role("heading", name="Set up two-factor sign-in").wait_for()
    return account, _shown_secret(console.page)


def test_an_owner_enrols_at_sign_in_then_signs_in_with_a_fresh_code(blank_console: ConsolePage) -> None:
    page, live = blank_console.page, blank_console.live
    account, secret = _start_required_enrolment(blank_console)
    account.totp_secret = secret
    limited = _stored(page)
    assert limited is not None
    assert limited["mfaEnrollmentRequired"] is True
    assert limited["scopes"] == ["auth:mfa"]
    assert limited["refresh"] is None
    assert page.locator("#nav a").count() == 0
    assert secret not in _storage(page)
    assert _on_page(page, secret)

    _enter_code(page, pyotp.TOTP(secret).now())
    page.get_by_test_id("backup-codes").wait_for()
    codes = page.get_by_test_id("backup-codes").locator("li").all_inner_texts()
    assert len(codes) == 10
    assert "Two-factor sign-in is on" in page.get_by_role("status").first.inner_text()
    # the secret has left the page, and the token that could only enrol is ended at the API
    assert page.get_by_test_id("totp-secret").count() == 0
    assert not _on_page(page, secret)
    assert _stored(page) is None
    assert live.api("GET", "/auth/me", token=str(limited["access"])).status_code == 401

    page.get_by_role("button", name="Continue to sign in").click()
    page.get_by_role("heading", name="Sign in").wait_for()
    assert page.get_by_label("User name").input_value() == account.username
    assert "Sign in with your password and the next code" in page.get_by_role("status").inner_text()
    page.get_by_label("Password").fill(account.password)
    page.get_by_label("TOTP code").fill(account.next_code())  # the confirming code counts once
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_selector("[data-page='overview'][data-ready='true']")
    open_page(blank_console, "keys")  # a page that needs the session
    assert page.get_by_role("cell", name=live.key_label, exact=True).count() == 1
    session = _stored(page)
    assert session is not None
    assert session["mfaEnrollmentRequired"] is False
    assert session["secondFactor"] is True
    assert live.ok("GET", "/auth/me", token=str(session["access"]))["roles"] == ["owner"]
    assert secret not in _storage(page)
    assert page.evaluate("() => localStorage.length") == 0

    # a backup code shown once at enrolment signs in once in place of a code from the app
    page.get_by_role("button", name="Sign out").click()
    page.get_by_role("heading", name="Sign in").wait_for()
    sign_in(page, live, account, codes[0])
    page.wait_for_selector("[data-page='overview'][data-ready='true']")
    assert blank_console.errors == []
    assert blank_console.csp_violations() == []


def test_a_wrong_code_is_refused_and_enrols_nothing(blank_console: ConsolePage) -> None:
    page, live = blank_console.page, blank_console.live
    account, secret = _start_required_enrolment(blank_console)
    _enter_code(page, _wrong_code(secret))
    form = page.get_by_role("form", name="Confirm two-factor sign-in")
    alert = form.get_by_role("alert")
    alert.wait_for()
    assert alert.inner_text() == "the code does not match; check the authenticator's clock (HTTP 401)"
    assert _still_required(live, account)
    # the same secret is still on screen and still pending: the right code then turns TOTP on
    assert _shown_secret(page) == secret
    _enter_code(page, pyotp.TOTP(secret).now())
    page.get_by_test_id("backup-codes").wait_for()
    assert not _required_after_enrolment(live, account, secret)


def test_an_enrolment_whose_token_ended_says_so_and_clears_the_secret(blank_console: ConsolePage) -> None:
    page, live = blank_console.page, blank_console.live
    account, secret = _start_required_enrolment(blank_console)
    limited = _stored(page)
    assert limited is not None
    live.ok("POST", "/auth/logout", token=str(limited["access"]))  # as if it had expired meanwhile
    _enter_code(page, pyotp.TOTP(secret).now())
    notice = page.locator(".notice.error")
    notice.wait_for()
    assert notice.get_attribute("role") == "alert"
    assert "revoked" in notice.inner_text()
    assert "Sign in again to start over." in notice.inner_text()
    assert not _on_page(page, secret)
    page.get_by_role("button", name="Back to sign-in").click()
    page.get_by_role("heading", name="Sign in").wait_for()
    assert page.get_by_label("User name").input_value() == account.username
    assert _stored(page) is None
    assert _still_required(live, account)


def test_reloading_during_enrolment_starts_it_again_with_a_new_secret(blank_console: ConsolePage) -> None:
    page = blank_console.page
    _account, first = _start_required_enrolment(blank_console)
    page.reload()
    page.get_by_role("heading", name="Set up two-factor sign-in").wait_for()
    second = _shown_secret(page)
    assert second != first  # the API keeps only the newest pending secret
    page.get_by_role("button", name="Cancel and sign out").click()
    page.get_by_role("heading", name="Sign in").wait_for()
    assert _stored(page) is None
    assert not _on_page(page, second)
    assert blank_console.errors == []


def test_a_viewer_signed_in_without_totp_enrols_from_the_overview(blank_console: ConsolePage) -> None:
    page, live = blank_console.page, blank_console.live
    viewer = live.new_unenrolled("viewer")
    sign_in(page, live, viewer, None)  # a viewer need not use a second factor
    page.wait_for_selector("[data-page='overview'][data-ready='true']")
    assert "Two-factor sign-in" not in page.locator("#nav").inner_text()
    page.get_by_role("link", name="Set up two-factor sign-in").click()
    page.wait_for_selector("[data-page='two-factor'][data-ready='true']")
    page.get_by_role("button", name="Set up two-factor sign-in").click()
    secret = _shown_secret(page)
    viewer.totp_secret = secret
    _enter_code(page, pyotp.TOTP(secret).now())
    page.get_by_test_id("backup-codes").wait_for()
    assert page.get_by_test_id("backup-codes").locator("li").count() == 10
    assert not _on_page(page, secret)
    page.get_by_role("button", name="Done").click()
    page.wait_for_selector("[data-page='overview'][data-ready='true']")
    # the session goes on, and the overview no longer offers the enrolment
    assert page.get_by_role("link", name="Set up two-factor sign-in").count() == 0
    open_page(blank_console, "keys")
    assert secret not in _storage(page)

    page.get_by_role("button", name="Sign out").click()
    sign_in(page, live, viewer, None)
    alert = page.get_by_role("alert")
    alert.wait_for()
    assert "two-factor sign-in" in alert.inner_text()  # the password alone is no longer enough
    sign_in(page, live, viewer, viewer.next_code())
    page.wait_for_selector("[data-page='overview'][data-ready='true']")
    assert [e for e in blank_console.errors if e.startswith("page error")] == []
    assert blank_console.csp_violations() == []
