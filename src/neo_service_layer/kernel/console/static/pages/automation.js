// Automation: the tenant's jobs (next due time, state) and the upkeeps of the automation contract
// (balance, next due occurrence, why the last run was skipped).

import { get } from "../api.js";
import { el, mono, notice, problemText, section, table, when } from "../ui.js";

export const page = {
  id: "automation",
  title: "Automation",
  scopes: ["automation:read"],
  async render(root) {
    const { jobs } = await get("/automation/jobs?limit=200");
    root.append(
      section(
        "Jobs",
        table("Automation jobs of this tenant", [
          { title: "Name", cell: (j) => j.name },
          { title: "Id", cell: (j) => el("code", {}, j.jobId) },
          { title: "Trigger", cell: trigger },
          { title: "Action", cell: (j) => (j.action.webhook ? "webhook" : j.action.contract ? "contract call" : "—") },
          { title: "State", cell: (j) => el("span", { class: `badge ${j.state === "active" ? "good" : "warn"}` }, j.state) },
          { title: "Next due", cell: (j) => (j.nextDueTime ? when(j.nextDueTime) : j.nextDueBlock != null ? `block ${j.nextDueBlock}` : "—") },
          { title: "Created", cell: (j) => when(j.createdAt) },
        ], jobs, "No jobs yet."),
      ),
    );
    let upkeeps;
    try {
      upkeeps = (await get("/automation/upkeeps?limit=200")).upkeeps;
    } catch (error) {
      root.append(section("Upkeeps on chain", notice("info", problemText(error))));
      return;
    }
    root.append(
      section(
        "Upkeeps on chain",
        table("Upkeeps of the automation contract", [
          { title: "Upkeep", cell: (u) => String(u.upkeepId) },
          { title: "State", cell: (u) => el("span", { class: `badge ${u.state === "active" ? "good" : "warn"}` }, u.state) },
          { title: "Target", cell: (u) => el("span", {}, mono(u.target, 8), ` ${u.method}`) },
          { title: "Balance (GAS fractions)", cell: (u) => el("span", {}, String(u.balance), u.lowBalance ? el("span", { class: "badge bad" }, " low") : "") },
          { title: "Runs left", cell: (u) => (u.runsLeft == null ? "—" : String(u.runsLeft)) },
          { title: "Next due", cell: (u) => (u.nextDueTime ? when(u.nextDueTime) : u.nextDueBlock != null ? `block ${u.nextDueBlock}` : "—") },
          { title: "Last skip", cell: (u) => (u.lastSkip ? u.lastSkip.reason : u.invalid || "—") },
          { title: "Skips", cell: (u) => String(u.skips) },
        ], upkeeps, "No upkeeps registered."),
      ),
    );
  },
};

function trigger(j) {
  const t = j.trigger;
  if (t.cron) return `cron ${t.cron}`;
  if (t.everySeconds != null) return `every ${t.everySeconds} s`;
  if (t.event) return "chain event";
  if (t.condition) return "condition";
  return "—";
}
