// Subscriptions of the tenant, their recent deliveries, and replay of dead letters
// (POST /subscriptions/{id}/deliveries/{event}/replay, subscriptions:write).

import { api, get, hasScope, seg } from "../api.js";
import { el, mono, notice, problemText, replace, section, table, when } from "../ui.js";

export const page = {
  id: "subscriptions",
  title: "Subscriptions",
  scopes: ["subscriptions:read"],
  async render(root) {
    const alert = el("div", { "aria-live": "polite" });
    const list = el("div");
    const load = async () => {
      const { subscriptions } = await get("/subscriptions?limit=200");
      const blocks = [];
      for (const sub of subscriptions) {
        const { deliveries } = await get(`/subscriptions/${seg(sub.subscriptionId)}/deliveries?limit=50`);
        blocks.push(subscriptionBlock(sub, deliveries, alert, load));
      }
      replace(
        list,
        table("Subscriptions of this tenant", [
          { title: "Name", cell: (s) => s.name },
          { title: "Id", cell: (s) => el("code", {}, s.subscriptionId) },
          { title: "Events", cell: (s) => s.source.types.join(", ") },
          { title: "Channel", cell: (s) => (s.channel.url ? `${s.channel.kind} ${s.channel.url}` : s.channel.email ? `email ${s.channel.email}` : s.channel.kind) },
          { title: "State", cell: (s) => el("span", { class: `badge ${s.state === "active" ? "good" : "warn"}` }, s.state) },
          { title: "Why", cell: (s) => s.reason || "" },
          { title: "Created", cell: (s) => when(s.createdAt) },
        ], subscriptions, "No subscriptions yet."),
        blocks,
      );
    };
    await load();
    root.append(section("Subscriptions", alert, list));
  },
};

function subscriptionBlock(sub, deliveries, alert, reload) {
  const dead = deliveries.filter((d) => d.status === "dead").length;
  const columns = [
    { title: "Event", cell: (d) => String(d.eventId) },
    { title: "Status", cell: (d) => el("span", { class: `badge ${d.status === "delivered" ? "good" : d.status === "dead" ? "bad" : "warn"}`, "data-delivery": `${sub.subscriptionId}/${d.eventId}`, "data-status": d.status }, d.status) },
    { title: "Attempts", cell: (d) => String(d.attempts) },
    { title: "Last HTTP status", cell: (d) => (d.lastStatus == null ? "—" : String(d.lastStatus)) },
    { title: "Last error", cell: (d) => (d.lastError ? mono(d.lastError, 40) : "—") },
    { title: "Next attempt", cell: (d) => when(d.nextAttemptAt) },
    { title: "Finished", cell: (d) => when(d.finishedAt) },
  ];
  if (hasScope("subscriptions:write")) {
    columns.push({
      title: "Actions",
      cell: (d) =>
        d.status === "dead"
          ? el("button", {
              type: "button",
              class: "secondary",
              "aria-label": `Replay event ${d.eventId} of subscription ${sub.name}`,
              onclick: async (event) => {
                event.currentTarget.disabled = true;
                try {
                  await api("POST", `/subscriptions/${seg(sub.subscriptionId)}/deliveries/${seg(d.eventId)}/replay`);
                  await reload();
                  replace(alert, notice("ok", `Event ${d.eventId} queued again for ${sub.name}.`));
                } catch (error) {
                  replace(alert, notice("error", problemText(error)));
                }
              },
            }, "Replay")
          : "",
    });
  }
  return el(
    "details",
    { class: "versions", open: dead > 0 },
    el("summary", {}, `Deliveries of ${sub.name} (${deliveries.length} recent, ${dead} dead)`),
    table(`Deliveries of subscription ${sub.name}, newest event first`, columns, deliveries, "No deliveries yet."),
  );
}
