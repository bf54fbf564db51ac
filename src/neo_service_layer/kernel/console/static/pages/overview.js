// Overview: who is signed in, to which tenant, with which roles and scopes; a link to set up two-factor
// sign-in for a user who signed in without one.

import { get, hasScope, session } from "../api.js";
import { el, section } from "../ui.js";

export const page = {
  id: "overview",
  title: "Overview",
  scopes: [],
  async render(root) {
    const me = await get("/auth/me");
    const s = session();
    root.append(
      section(
        "Signed in",
        el(
          "dl",
          { class: "facts" },
          el("dt", {}, "User"),
          el("dd", {}, s.username || me.subject),
          el("dt", {}, "Tenant"),
          el("dd", {}, el("code", {}, me.tenant)),
          el("dt", {}, "Roles"),
          el("dd", {}, me.roles.join(", ") || "—"),
        ),
      ),
      section(
        "Scopes",
        el("p", { class: "help" }, "The console shows only what these scopes allow; the API enforces them."),
        el("ul", { class: "chips" }, me.scopes.map((scope) => el("li", {}, el("code", {}, scope)))),
      ),
    );
    // signed in with the password alone: this account has no second factor yet (its role allows that)
    if (s.secondFactor === false && hasScope("auth:mfa")) {
      root.append(
        section(
          "Two-factor sign-in",
          el("p", {}, "This account signs in with a password alone."),
          el("a", { href: "#/two-factor" }, "Set up two-factor sign-in"),
        ),
      );
    }
  },
};
