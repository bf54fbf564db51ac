// API keys of the signed-in tenant: list (prefix, scopes, use), create (the full key is shown once,
// here, and never again), revoke. Needs apikeys:admin; a key's scopes are a subset of the user's.

import { api, get, hasScope, seg, session } from "../api.js";
import { confirmButton, el, field, form, mono, notice, replace, section, table, when } from "../ui.js";

/** Scopes no API key can hold (the API refuses them too). */
const USER_ONLY = new Set(["auth:mfa", "platform:admin"]);

export const page = {
  id: "api-keys",
  title: "API keys",
  scopes: ["apikeys:admin"],
  async render(root) {
    const base = `/tenants/${seg(session().tenant)}/api-keys`;
    const created = el("div", { "aria-live": "polite" });
    const alert = el("div");
    const list = el("div");
    const load = async () => {
      const keys = await get(base);
      replace(list, table("API keys of this tenant", columns(base, alert, load), keys, "No API keys yet."));
    };
    const grantable = session().scopes.filter((s) => !USER_ONLY.has(s));
    const scopeBoxes = el(
      "fieldset",
      {},
      el("legend", {}, "Scopes"),
      grantable.map((scope) =>
        el("label", {}, el("input", { type: "checkbox", name: "scopes", value: scope }), scope),
      ),
    );
    const create = form(
      "Create an API key",
      [field("Key name", { name: "name", required: true, maxlength: 100 }), scopeBoxes],
      "Create API key",
      async (v) => {
        if (!v.scopes.length) throw new Error("Choose at least one scope.");
        const key = await api("POST", base, { name: v.name.trim(), scopes: v.scopes });
        replace(
          created,
          notice(
            "ok",
            el("p", {}, `API key “${key.name}” created. Copy it now: it is shown only this once.`),
            el("code", { class: "once", "data-testid": "new-api-key" }, key.key),
          ),
        );
        await load();
      },
    );
    await load();
    root.append(section("Create", create, created), section("Keys", alert, list));
  },
};

function columns(base, alert, reload) {
  const cols = [
    { title: "Name", cell: (k) => k.name },
    { title: "Prefix", cell: (k) => mono(k.prefix) },
    { title: "Scopes", cell: (k) => el("ul", { class: "chips" }, k.scopes.map((s) => el("li", {}, s))) },
    { title: "Created", cell: (k) => when(k.created_at) },
    { title: "Last used", cell: (k) => when(k.last_used_at) },
    { title: "Expires", cell: (k) => when(k.expires_at) },
    {
      title: "State",
      cell: (k) =>
        k.revoked_at
          ? el("span", { class: "badge bad" }, "revoked")
          : el("span", { class: "badge good" }, "active"),
    },
  ];
  if (hasScope("apikeys:admin")) {
    cols.push({
      title: "Actions",
      cell: (k) =>
        k.revoked_at
          ? ""
          : confirmButton("Revoke", `Revoke API key ${k.name}`, async () => {
              await api("DELETE", `${base}/${seg(k.id)}`);
              await reload();
            }, alert),
    });
  }
  return cols;
}
