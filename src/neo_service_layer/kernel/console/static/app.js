// The console shell: sign-in (and TOTP enrolment when the API requires it first), navigation among the
// registered pages (hash routes: #/keys), sign-out.
// To add a page, write static/pages/<name>.js exporting `page` and list it in PAGES below.

import { hasAnyScope, session, signOut } from "./api.js";
import { el, notice, problemText, replace } from "./ui.js";
import { renderEnrolmentRequired, renderSignIn } from "./signin.js";
import { page as overview } from "./pages/overview.js";
import { page as tenants } from "./pages/tenants.js";
import { page as apiKeys } from "./pages/api-keys.js";
import { page as keys } from "./pages/keys.js";
import { page as secrets } from "./pages/secrets.js";
import { page as requests } from "./pages/requests.js";
import { page as crosschain } from "./pages/crosschain.js";
import { page as automation } from "./pages/automation.js";
import { page as subscriptions } from "./pages/subscriptions.js";
import { page as feeds } from "./pages/feeds.js";
import { page as health } from "./pages/health.js";
import { page as twoFactor } from "./pages/two-factor.js";

/**
 * Every page, in navigation order: {id, title, scopes (any of them shows the page), render(root)}, and
 * `nav: false` for a page reached only by a link (not listed in the navigation).
 */
export const PAGES = [
  overview,
  tenants,
  apiKeys,
  keys,
  secrets,
  requests,
  crosschain,
  automation,
  subscriptions,
  feeds,
  health,
  twoFactor,
];

const main = document.getElementById("main");
const nav = document.getElementById("nav");
const who = document.getElementById("who");
const signOutButton = document.getElementById("sign-out");

function visiblePages() {
  return PAGES.filter((p) => hasAnyScope(p.scopes));
}

function currentId() {
  const match = /^#\/([a-z0-9-]+)/.exec(window.location.hash);
  return match ? match[1] : null;
}

function renderNav(active) {
  const links = visiblePages().filter((p) => p.nav !== false).map((p) =>
    el("a", { href: `#/${p.id}`, "aria-current": p.id === active ? "page" : undefined }, p.title),
  );
  replace(nav, el("ul", {}, links.map((a) => el("li", {}, a))));
}

function signedIn() {
  if (!currentId()) window.location.hash = "#/overview";
  route();
}

async function route() {
  const s = session();
  if (!s || s.mfaEnrollmentRequired) {
    nav.replaceChildren();
    who.textContent = "";
    signOutButton.hidden = true;
    if (!s) renderSignIn(main, signedIn);
    // a token that only allows enrolment (the tab was reloaded during it): enrol again, unless the
    // enrolment is on screen already (starting it again would replace the secret just shown)
    else if (!main.querySelector("[data-view='enrol']")) renderEnrolmentRequired(main, signedIn, { username: s.username });
    return;
  }
  signOutButton.hidden = false;
  who.textContent = `${s.username || s.subject} · tenant ${s.tenant}`;
  const pages = visiblePages();
  const wanted = currentId();
  const chosen = pages.find((p) => p.id === wanted) || pages[0];
  renderNav(chosen.id);
  document.title = `${chosen.title} — Neo Service Layer console`;
  const root = el("div", { class: "page", "data-page": chosen.id });
  replace(main, el("h1", {}, chosen.title), root);
  try {
    await chosen.render(root);
  } catch (error) {
    if (error && error.status === 401) {
      await signOut();
      route();
      return;
    }
    root.append(notice("error", problemText(error)));
  }
  root.setAttribute("data-ready", "true");
}

signOutButton.addEventListener("click", async () => {
  await signOut();
  window.location.hash = "";
  route();
});
window.addEventListener("hashchange", route);
route();
