"""Signing in to the console (password + TOTP), what it shows for the user's scopes, refresh, sign-out."""

from __future__ import annotations

import json

from tests.browser.conftest import ConsolePage, open_page, sign_in
from tests.browser.live import Account

STORE = "nsl.console.session"
OWNER_PAGES = {"Overview", "Tenants & members", "API keys", "Keys", "Secrets"}


def _stored(console: ConsolePage) -> dict[str, object] | None:
    raw: str | None = console.page.evaluate(f"() => sessionStorage.getItem('{STORE}')")
    return None if raw is None else json.loads(raw)


def _nav(console: ConsolePage) -> set[str]:
    return set(console.page.locator("#nav a").all_inner_texts())


def test_an_owner_signs_in_with_totp_and_the_token_stays_out_of_local_storage(
    console_page: ConsolePage,
) -> None:
    page = console_page.page
    assert page.locator("#who").inner_text().startswith(console_page.account.username)
    assert _nav(console_page) >= OWNER_PAGES
    assert page.evaluate("() => localStorage.length") == 0
    assert page.evaluate("() => document.cookie") == ""
    stored = _stored(console_page)
    assert stored is not None
    assert stored["tenant"] == console_page.live.tenant_id
    me = console_page.live.ok("GET", "/auth/me", token=str(stored["access"]))
    assert me["roles"] == ["owner"]


def test_a_wrong_totp_code_is_refused_and_nothing_is_shown(blank_console: ConsolePage) -> None:
    account = blank_console.account
    wrong = "000000" if account.next_code() != "000000" else "111111"
    sign_in(blank_console.page, blank_console.live, account, wrong)
    alert = blank_console.page.get_by_role("alert")
    alert.wait_for()
    assert "HTTP 401" in alert.inner_text()
    assert _nav(blank_console) == set()
    assert _stored(blank_console) is None


def test_the_console_hides_what_a_viewer_may_not_do(blank_console: ConsolePage) -> None:
    live = blank_console.live
    viewer = Account("viewer-" + blank_console.account.username, blank_console.account.password, "")
    body = {"username": viewer.username, "role": "viewer", "password": viewer.password}
    live.ok("POST", f"/tenants/{live.tenant_id}/members", body)
    sign_in(blank_console.page, live, viewer, None)  # viewers need no second factor
    blank_console.page.wait_for_selector("[data-page='overview'][data-ready='true']")
    stored = _stored(blank_console)
    assert stored is not None
    scopes = set(stored["scopes"])  # type: ignore[call-overload]
    assert "apikeys:admin" not in scopes
    assert "secrets:read" not in scopes
    assert "keys:read" in scopes
    pages = _nav(blank_console)
    assert "API keys" not in pages
    assert "Secrets" not in pages
    assert {"Overview", "Keys", "Tenants & members"} <= pages
    open_page(blank_console, "tenants")
    assert blank_console.page.get_by_role("cell", name=viewer.username, exact=True).count() == 1
    assert blank_console.page.get_by_role("form", name="Add a member").count() == 0
    assert blank_console.page.get_by_role("button", name="Remove member", exact=False).count() == 0
    open_page(blank_console, "keys")
    assert blank_console.page.get_by_role("button", name="Rotate key", exact=False).count() == 0


def test_an_expiring_access_token_is_refreshed_before_use(console_page: ConsolePage) -> None:
    before = _stored(console_page)
    assert before is not None
    console_page.page.evaluate(
        f"""() => {{
            const s = JSON.parse(sessionStorage.getItem('{STORE}'));
            s.expiresAt = Date.now();
            sessionStorage.setItem('{STORE}', JSON.stringify(s));
        }}"""
    )
    console_page.page.reload()  # the console reads its stored session when it loads
    open_page(console_page, "keys")
    after = _stored(console_page)
    assert after is not None
    assert after["access"] != before["access"]
    assert after["refresh"] != before["refresh"]
    assert console_page.page.get_by_role("cell", name=console_page.live.key_label, exact=True).count() == 1
    refused = console_page.live.api("POST", "/auth/refresh", {"refresh_token": before["refresh"]}, token="-")
    assert refused.status_code == 401  # the old refresh token was rotated away


def test_sign_out_ends_the_session_at_the_api(console_page: ConsolePage) -> None:
    stored = _stored(console_page)
    assert stored is not None
    token = str(stored["access"])
    assert console_page.live.api("GET", "/auth/me", token=token).status_code == 200
    console_page.page.get_by_role("button", name="Sign out").click()
    console_page.page.get_by_role("heading", name="Sign in").wait_for()
    assert _stored(console_page) is None
    assert _nav(console_page) == set()
    assert console_page.live.api("GET", "/auth/me", token=token).status_code == 401
    assert console_page.errors == []


def test_an_owner_without_totp_is_sent_to_enrolment_with_a_token_for_nothing_else(
    blank_console: ConsolePage,
) -> None:
    live = blank_console.live
    unenrolled = live.new_unenrolled("owner")
    sign_in(blank_console.page, live, unenrolled, None)
    blank_console.page.get_by_role("heading", name="Set up two-factor sign-in").wait_for()
    stored = _stored(blank_console)
    assert stored is not None
    assert stored["mfaEnrollmentRequired"] is True
    assert stored["scopes"] == ["auth:mfa"]
    assert stored["refresh"] is None
    assert _nav(blank_console) == set()
    assert live.api("GET", "/keys", token=str(stored["access"])).status_code == 403
