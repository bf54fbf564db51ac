// On-chain requests of every service: their state and, for those not done, why they are where they are
// (a reason the API derives from stored facts: leases, outbox transactions, heartbeats, failures).
// Operators see every request; a tenant sees those of the consumer contracts its subscriptions watch.

import { get } from "../api.js";
import { el, mono, notice, replace, section, select, table, when } from "../ui.js";

const SERVICES = ["randomness", "oracle", "native-oracle", "compute", "automation", "randomness-evm", "oracle-evm"];
const STATES = ["seen", "fulfilling", "fulfilled", "delivered", "callback_failed", "failed"];
const WATCH_EVERY_MS = 2000;

export const page = {
  id: "requests",
  title: "On-chain requests",
  scopes: ["randomness:request", "oracle:request", "compute:read", "automation:read", "platform:admin"],
  async render(root) {
    const service = select("Service", "service", [["", "every service"], ...SERVICES.map((s) => [s, s])]);
    const state = select("State", "state", [["", "every state"], ...STATES.map((s) => [s, s])]);
    const refresh = el("button", { type: "button", class: "secondary" }, "Refresh");
    const watch = el("input", { type: "checkbox", id: "watch-requests" });
    const watchLabel = el("label", { for: "watch-requests" }, watch, " Refresh every 2 s");
    const scopeNote = el("p", { class: "help" });
    const list = el("div", { "aria-live": "polite" });
    const more = el("div");
    let timer = null;

    const query = (cursor) => {
      const params = new URLSearchParams({ limit: "50" });
      const s = service.querySelector("select").value;
      const st = state.querySelector("select").value;
      if (s) params.set("service", s);
      if (st) params.set("state", st);
      if (cursor) params.set("cursor", cursor);
      return `/requests?${params}`;
    };
    const load = async () => {
      const shown = [];
      const fetchPage = async (cursor) => {
        const pageData = await get(query(cursor));
        shown.push(...pageData.requests);
        scopeNote.textContent =
          pageData.scope === "all"
            ? "Every request of this installation (operator view)."
            : "Requests of the consumer contracts your subscriptions watch (request source).";
        replace(list, table("On-chain requests, newest first", columns(), shown, "No requests to show."));
        replace(
          more,
          pageData.nextCursor
            ? el("button", { type: "button", class: "secondary", onclick: () => fetchPage(pageData.nextCursor) }, "Load more")
            : "",
        );
      };
      await fetchPage(null);
    };
    const guarded = async () => {
      if (!root.isConnected) {
        clearInterval(timer);
        return;
      }
      try {
        await load();
      } catch (error) {
        clearInterval(timer);
        watch.checked = false;
        replace(list, notice("error", error.message));
      }
    };
    refresh.addEventListener("click", guarded);
    service.querySelector("select").addEventListener("change", guarded);
    state.querySelector("select").addEventListener("change", guarded);
    watch.addEventListener("change", () => {
      clearInterval(timer);
      if (watch.checked) timer = setInterval(guarded, WATCH_EVERY_MS);
    });
    await load();
    root.append(
      section("Requests", el("div", { class: "toolbar" }, service, state, refresh, watchLabel), scopeNote, list, more),
    );
  },
};

function stateBadge(r) {
  const kind = r.state === "delivered" || (r.state === "fulfilled" && !r.reason) ? "good" : r.reason && r.reason.stuck ? "bad" : "warn";
  return el("span", { class: `badge ${kind}`, "data-request": `${r.service}/${r.requestId}`, "data-state": r.state }, r.state);
}

function why(r) {
  if (!r.reason) return el("span", { class: "help" }, "done");
  return el(
    "span",
    { "data-reason": r.reason.code },
    r.reason.stuck ? el("span", { class: "badge bad" }, "stuck") : "",
    r.reason.stuck ? " " : "",
    r.reason.text,
  );
}

function columns() {
  return [
    { title: "Service", cell: (r) => r.service },
    { title: "Request", cell: (r) => el("code", { title: `contract ${r.contract}` }, r.requestId) },
    { title: "Consumer", cell: (r) => mono(r.consumer, 8) },
    { title: "State", cell: stateBadge },
    { title: "Why", cell: why },
    { title: "Attempts", cell: (r) => String(r.attempts) },
    { title: "Seen", cell: (r) => when(r.seenAt) },
    { title: "Fulfilled in block", cell: (r) => (r.fulfilledBlock == null ? "—" : String(r.fulfilledBlock)) },
    { title: "Transaction", cell: (r) => mono(r.fulfilledTx || r.txHash || "", 8) },
  ];
}
