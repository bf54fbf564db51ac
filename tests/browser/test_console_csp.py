"""The console under its CSP in a real browser: every page loads with no console error and no violation,
and what the policy forbids (inline script, inline style, eval, another origin's script) is blocked."""

from __future__ import annotations

from tests.browser.conftest import ConsolePage, open_page
from tests.browser.live import LiveConsole

IDENTITY_PAGES = ("overview", "tenants", "api-keys", "keys", "secrets")
#: pages that need no chain besides the identity ones (the cross-chain list reads the database only)
OFF_CHAIN_PAGES = (*IDENTITY_PAGES, "crosschain")
CONSOLE_CSP_PARTS = ("script-src 'self'", "style-src 'self'", "connect-src 'self'", "default-src 'none'")


def test_the_console_is_served_under_its_own_strict_policy(console_server: LiveConsole) -> None:
    for path in ("/console/", "/console/app.js", "/console/console.css", "/console/pages/keys.js"):
        response = console_server.http.get(path)
        assert response.status_code == 200, path
        policy = response.headers["content-security-policy"]
        assert all(part in policy for part in CONSOLE_CSP_PARTS), policy
        assert "unsafe-inline" not in policy
        assert "unsafe-eval" not in policy
    assert console_server.http.get("/console/app.js").headers["content-type"].startswith("text/javascript")
    api_policy = console_server.http.get("/health/live").headers["content-security-policy"]
    assert "script-src" not in api_policy  # the API's own policy is untouched


def test_every_page_loads_with_no_console_error_and_no_violation(console_page: ConsolePage) -> None:
    ids = console_page.page.locator("#nav a").evaluate_all(
        "(links) => links.map((a) => a.getAttribute('href').slice(2))"
    )
    assert set(OFF_CHAIN_PAGES) <= set(ids)
    for page_id in OFF_CHAIN_PAGES:  # the on-chain pages need a chain: their tests (with one) check them
        open_page(console_page, page_id)
        assert console_page.page.locator(".notice.error").count() == 0, page_id
    assert console_page.errors == []
    assert console_page.csp_violations() == []


def test_inline_script_inline_style_eval_and_foreign_scripts_are_blocked(console_page: ConsolePage) -> None:
    page = console_page.page
    page.evaluate(
        """() => {
            const script = document.createElement("script");
            script.textContent = "window.__inlineRan = true";
            document.head.append(script);
            const styled = document.createElement("div");
            styled.id = "styled";
            styled.setAttribute("style", "color: rgb(255, 0, 0)");
            document.body.append(styled);
            const foreign = document.createElement("script");
            foreign.src = "http://127.0.0.2:9/evil.js";
            document.head.append(foreign);
        }"""
    )
    page.wait_for_function("() => window.__cspViolations.length >= 3")
    assert page.evaluate("() => window.__inlineRan === undefined")
    assert (
        page.evaluate("() => getComputedStyle(document.getElementById('styled')).color") != "rgb(255, 0, 0)"
    )
    # a string timer is compiled by the page itself, like eval (devtools' own evaluation is exempt)
    page.evaluate("() => setTimeout('window.__stringRan = true', 0)")
    page.wait_for_function("() => window.__cspViolations.some((v) => v.blocked === 'eval')")
    assert page.evaluate("() => window.__stringRan === undefined")
    directives = {v["directive"] for v in console_page.csp_violations()}
    assert {"script-src-elem", "style-src-attr"} <= directives
    blocked = {v["blocked"] for v in console_page.csp_violations()}
    assert "http://127.0.0.2:9/evil.js" in blocked
