"""The identity pages in a real browser: API keys (created, shown once, usable, revoked), members, keys
(public parts, rotation) and secrets (names and versions; no value reaches the page)."""

from __future__ import annotations

import httpx
from playwright.sync_api import Response

from tests.browser.conftest import ConsolePage, open_page, sign_in
from tests.browser.live import SECRET_VALUE


def test_an_api_key_created_in_the_console_works_once_shown_and_stops_when_revoked(
    console_page: ConsolePage,
) -> None:
    page, live = console_page.page, console_page.live
    open_page(console_page, "api-keys")
    page.get_by_label("Key name").fill("browser-made")
    page.get_by_role("checkbox", name="keys:read", exact=True).check()
    page.get_by_role("button", name="Create API key").click()
    shown = page.get_by_test_id("new-api-key")
    plaintext = shown.inner_text()
    assert len(plaintext) > 20

    listed = live.ok("GET", "/keys", token=plaintext)  # the key works against the API, with its scope
    assert [k["label"] for k in listed] == [live.key_label]
    assert live.api("GET", "/secrets", token=plaintext).status_code == 403  # and only with it

    open_page(console_page, "overview")
    open_page(console_page, "api-keys")
    assert plaintext not in page.content()  # shown once: gone after leaving the page
    page.get_by_role("button", name="Revoke API key browser-made").click()
    page.get_by_role("button", name="Confirm: Revoke API key browser-made").click()
    page.get_by_role("row", name="browser-made").get_by_text("revoked").wait_for()
    assert live.api("GET", "/keys", token=plaintext).status_code == 401
    assert console_page.errors == []


def test_members_are_listed_and_an_owner_adds_and_removes_one(console_page: ConsolePage) -> None:
    page, live = console_page.page, console_page.live
    open_page(console_page, "tenants")
    assert page.get_by_role("cell", name=console_page.account.username, exact=True).count() == 1
    page.get_by_label("User name").fill(f"dev-of-{console_page.account.username}")
    page.get_by_label("Role").select_option("developer")
    page.get_by_label("Password (new accounts only)").fill("a-long-enough-password-7f3e")
    page.get_by_role("button", name="Add member").click()
    added = f"dev-of-{console_page.account.username}"
    page.get_by_role("cell", name=added, exact=True).wait_for()
    members = live.ok("GET", f"/tenants/{live.tenant_id}/members")
    assert {"developer"} == {m["role"] for m in members if m["username"] == added}

    page.get_by_role("button", name=f"Remove member {added}").click()
    page.get_by_role("button", name=f"Confirm: Remove member {added}").click()
    page.get_by_role("cell", name=added, exact=True).wait_for(state="detached")
    members = live.ok("GET", f"/tenants/{live.tenant_id}/members")
    assert added not in {m["username"] for m in members}


def test_keys_show_public_parts_and_versions_and_rotate(console_page: ConsolePage) -> None:
    page, live = console_page.page, console_page.live
    [key] = [k for k in live.ok("GET", "/keys", token=live.seed_key) if k["label"] == live.key_label]
    open_page(console_page, "keys")
    row = page.get_by_role("row").filter(has=page.get_by_role("cell", name=live.key_label, exact=True))
    assert row.locator(f"code[title='{key['public_key']}']").count() == 1
    assert row.get_by_text("not due").count() + row.get_by_text("due", exact=True).count() == 1

    version = key["current_version"]
    row.get_by_role("button", name=f"Rotate key {live.key_label}").click()
    row.get_by_role("button", name=f"Confirm: Rotate key {live.key_label}").click()
    page.get_by_text(f"Versions of {live.key_label} ({version + 1})").wait_for()
    [rotated] = [k for k in live.ok("GET", "/keys", token=live.seed_key) if k["key_id"] == key["key_id"]]
    assert rotated["current_version"] == version + 1
    page.get_by_text(f"Versions of {live.key_label}", exact=False).click()  # open the <details>
    versions = page.get_by_role("table", name=f"Versions of key {live.key_label}")
    for v in rotated["versions"]:
        assert versions.locator(f"code[title='{v['public_key']}']").count() == 1
    assert console_page.errors == []


def test_secrets_show_names_and_versions_and_no_value_reaches_the_browser(console_page: ConsolePage) -> None:
    page, live = console_page.page, console_page.live
    responses: list[Response] = []
    page.on("response", lambda response: responses.append(response))
    open_page(console_page, "secrets")
    page.get_by_role("cell", name=live.secret_name, exact=True).wait_for()
    page.get_by_role("button", name=f"Versions of secret {live.secret_name}").click()
    versions = page.get_by_role("table", name=f"Versions of secret {live.secret_name}")
    versions.wait_for()
    assert versions.get_by_role("row").count() == 2  # header + version 1

    assert SECRET_VALUE not in page.content()
    everything = "() => document.documentElement.outerHTML + JSON.stringify(sessionStorage)"
    assert SECRET_VALUE not in page.evaluate(everything)
    api_calls = [r for r in responses if "/api/v1/" in r.url]
    assert {httpx.URL(r.url).path for r in api_calls} >= {
        "/api/v1/secrets",
        f"/api/v1/secrets/{live.secret_name}/versions",
    }
    for response in api_calls:
        assert SECRET_VALUE not in response.text()
    assert console_page.errors == []


def test_a_superadmin_creates_a_tenant_and_opens_any_tenants_members(blank_console: ConsolePage) -> None:
    page, live = blank_console.page, blank_console.live
    operator = live.new_superadmin()
    sign_in(page, live, operator, operator.next_code())
    page.wait_for_selector("[data-page='overview'][data-ready='true']")
    open_page(blank_console, "tenants")
    name = f"globex-{operator.username}"
    page.get_by_label("Tenant name").fill(name)
    page.get_by_role("button", name="Create tenant").click()
    page.get_by_role("cell", name=name, exact=True).wait_for()
    assert name in {t["name"] for t in live.ok("GET", "/tenants")}

    page.get_by_role("button", name=f"Members of {live.tenant_name}").click()
    members = page.get_by_role("table", name=f"Members of tenant {live.tenant_id}")
    members.get_by_role("cell", name=blank_console.account.username, exact=True).wait_for()
    assert blank_console.errors == []
