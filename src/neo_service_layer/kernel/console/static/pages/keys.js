// Enclave keys of the tenant: public parts only (the private keys never leave the enclave), versions,
// whether rotation is due, and rotation (keys:admin).

import { api, get, hasScope, seg } from "../api.js";
import { confirmButton, el, mono, notice, replace, section, table, when } from "../ui.js";

export const page = {
  id: "keys",
  title: "Keys",
  scopes: ["keys:read"],
  async render(root) {
    const alert = el("div");
    const list = el("div");
    const load = async () => {
      const keys = await get("/keys");
      const due = keys.filter((k) => k.rotation_due).length;
      replace(
        list,
        due ? notice("info", `${due} key(s) due for rotation.`) : "",
        table("Keys of this tenant", keyColumns(alert, load), keys, "No keys yet."),
        keys.map(versions),
      );
    };
    await load();
    root.append(section("Keys", alert, list));
  },
};

function keyColumns(alert, reload) {
  const cols = [
    { title: "Label", cell: (k) => k.label },
    { title: "Kind", cell: (k) => k.kind },
    { title: "Purposes", cell: (k) => k.purposes.join(", ") },
    { title: "Status", cell: (k) => el("span", { class: `badge ${k.status === "active" ? "good" : "warn"}` }, k.status) },
    { title: "Version", cell: (k) => String(k.current_version) },
    { title: "Public key", cell: (k) => mono(k.public_key) },
    { title: "Address", cell: (k) => mono(k.neo_address || k.evm_address || "") },
    {
      title: "Rotation",
      cell: (k) => (k.rotation_due ? el("span", { class: "badge warn" }, "due") : el("span", { class: "badge good" }, "not due")),
    },
    { title: "Last rotated", cell: (k) => when(k.rotated_at) },
  ];
  if (hasScope("keys:admin")) {
    cols.push({
      title: "Actions",
      cell: (k) =>
        k.status === "active"
          ? confirmButton("Rotate", `Rotate key ${k.label}`, async () => {
              await api("POST", `/keys/${seg(k.key_id)}/rotate`, {});
              await reload();
            }, alert)
          : "",
    });
  }
  return cols;
}

function versions(key) {
  return el(
    "details",
    { class: "versions" },
    el("summary", {}, `Versions of ${key.label} (${key.versions.length})`),
    table(`Versions of key ${key.label}`, [
      { title: "Version", cell: (v) => String(v.version) },
      { title: "Public key", cell: (v) => mono(v.public_key, 24) },
      { title: "Neo address", cell: (v) => mono(v.neo_address || "") },
      { title: "EVM address", cell: (v) => mono(v.evm_address || "") },
      { title: "Created", cell: (v) => when(v.created_at) },
      { title: "Signs", cell: (v) => (v.can_sign ? "yes" : "verify only") },
    ], key.versions),
  );
}
