// Operator health: the enclave's mode (hardware or SIMULATION), chains and how far each watcher is
// behind, worker heartbeats, and the newest (verified) backup. Operators only (platform:admin).

import { get } from "../api.js";
import { el, notice, section, table, when } from "../ui.js";

export const page = {
  id: "health",
  title: "Health",
  scopes: ["platform:admin"],
  async render(root) {
    const health = await get("/system/health");
    const backups = await get("/backups/status");
    const enclave = health.enclave;
    root.append(
      section(
        "Enclave",
        enclave.mode === "SIMULATION"
          ? notice("error", "SIMULATION: no TEE protects the keys (development only).")
          : enclave.mode === "hardware"
            ? notice("ok", "Hardware TEE.")
            : notice("error", "The enclave did not answer."),
        el("dl", { class: "facts" },
          el("dt", {}, "Mode"), el("dd", { "data-enclave-mode": enclave.mode }, enclave.mode),
          el("dt", {}, "Platform"), el("dd", {}, enclave.platform || "—"),
          el("dt", {}, "Ready"), el("dd", {}, health.ready ? "yes" : "no")),
      ),
      section(
        "Components",
        table("Readiness checks", [
          { title: "Component", cell: (c) => c.name },
          { title: "Status", cell: (c) => el("span", { class: `badge ${c.up ? "good" : c.critical ? "bad" : "warn"}` }, c.up ? "up" : "down") },
          { title: "Detail", cell: (c) => c.detail || Object.entries(c.info).map(([k, v]) => `${k}: ${v}`).join(", ") },
        ], health.components),
      ),
      section(
        "Chains and watchers",
        table("Chains", [
          { title: "Kind", cell: (c) => c.kind },
          { title: "Network", cell: (c) => c.name },
          { title: "Height", cell: (c) => (c.height == null ? "no answer" : String(c.height)) },
        ], health.chains, "No chain configured."),
        table("Watchers (block cursors)", [
          { title: "Watcher", cell: (w) => el("code", {}, w.name) },
          { title: "Block", cell: (w) => String(w.block) },
          { title: "Behind the head", cell: (w) => (w.lag == null ? "—" : `${w.lag} block(s)`) },
          { title: "Updated", cell: (w) => when(w.updatedAt) },
        ], health.watchers, "No watcher has run yet."),
      ),
      section(
        "Workers",
        table("Worker heartbeats", [
          { title: "Worker", cell: (w) => el("code", {}, w.workerId) },
          { title: "Host", cell: (w) => `${w.hostname} (pid ${w.pid})` },
          { title: "Alive", cell: (w) => el("span", { class: `badge ${w.alive ? "good" : "bad"}` }, w.alive ? "alive" : "silent") },
          { title: "Last heartbeat", cell: (w) => when(w.lastSeenAt) },
          { title: "Started", cell: (w) => when(w.startedAt) },
        ], health.workers, "No worker has sent a heartbeat."),
      ),
      section("Backups", backupFacts(backups)),
    );
  },
};

function age(seconds) {
  if (seconds < 3600) return `${Math.round(seconds / 60)} min`;
  if (seconds < 172800) return `${(seconds / 3600).toFixed(1)} h`;
  return `${(seconds / 86400).toFixed(1)} days`;
}

function backupFacts(b) {
  if (!b.readable) return notice("error", `Backups cannot be read (${b.target}): ${b.detail}`);
  return el("dl", { class: "facts" },
    el("dt", {}, "Target"), el("dd", {}, b.target),
    el("dt", {}, "Scheduled"), el("dd", {}, b.scheduled ? "yes" : "no"),
    el("dt", {}, "Backups"), el("dd", {}, String(b.count)),
    el("dt", {}, "Newest"), el("dd", {}, b.newest ? el("span", {}, el("code", {}, b.newest.backupId), ` · ${age(b.newest.ageSeconds)} old`) : "none"),
    el("dt", {}, "Newest verified"), el("dd", { "data-verified": b.newestVerified ? "yes" : "no" }, b.newestVerified ? el("span", {}, el("code", {}, b.newestVerified.backupId), " · verified ", when(b.newestVerified.verifiedAt), ` · ${age(b.newestVerified.ageSeconds)} old`) : "none verified"));
}
