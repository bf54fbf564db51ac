// Secrets of the tenant: names, consumers, versions and expiry. Values are sealed by the enclave and no
// API route returns them; this page calls only the metadata routes (list and versions).

import { get } from "../api.js";
import { el, notice, problemText, replace, section, table, when } from "../ui.js";

/** The path of a secret's versions: each part of the name encoded (names may contain "/"). */
function versionsPath(name) {
  return `/secrets/${name.split("/").map(encodeURIComponent).join("/")}/versions`;
}

export const page = {
  id: "secrets",
  title: "Secrets",
  scopes: ["secrets:read"],
  async render(root) {
    const secrets = await get("/secrets");
    const detail = el("div", { "aria-live": "polite" });
    const showVersions = async (secret) => {
      const versions = await get(versionsPath(secret.name));
      replace(
        detail,
        section(
          `Versions of ${secret.name}`,
          table(`Versions of secret ${secret.name}`, [
            { title: "Version", cell: (v) => String(v.version) },
            { title: "Created", cell: (v) => when(v.created_at) },
            { title: "Expires", cell: (v) => when(v.expires_at) },
            { title: "Expired", cell: (v) => (v.expired ? "yes" : "no") },
            { title: "Source", cell: (v) => v.source },
            { title: "Size (bytes)", cell: (v) => String(v.size) },
          ], versions),
        ),
      );
    };
    root.append(
      section(
        "Secrets",
        el("p", { class: "help" }, "Names and versions only: values stay sealed in the enclave and are never shown."),
        table("Secrets of this tenant", [
          { title: "Name", cell: (s) => el("code", {}, s.name) },
          { title: "Version", cell: (s) => String(s.current_version) },
          { title: "Consumers", cell: (s) => s.consumers.join(", ") || "—" },
          { title: "Allowed hosts", cell: (s) => s.allowed_hosts.join(", ") || "—" },
          { title: "Source", cell: (s) => s.source },
          { title: "Updated", cell: (s) => when(s.updated_at) },
          { title: "Expires", cell: (s) => (s.expired ? el("span", { class: "badge bad" }, "expired") : when(s.expires_at)) },
          {
            title: "Versions",
            cell: (s) =>
              el("button", { type: "button", class: "secondary", "aria-label": `Versions of secret ${s.name}`, onclick: () => showVersions(s).catch((e) => replace(detail, notice("error", problemText(e)))) }, "Versions"),
          },
        ], secrets, "No secrets yet."),
      ),
      detail,
    );
  },
};
