// Cross-chain messages between Neo N3 and Neo X as the relayer tracks them: recent ones of every sender,
// newest first, page by page, and one looked up by its id; each with why it is where it is (a reason the
// API derives from stored facts: leases, the delivery transaction in the outbox, heartbeats, failures).

import { get, seg } from "../api.js";
import { el, field, form, mono, notice, replace, section, select, table, when } from "../ui.js";

const STATUSES = ["seen", "delivering", "executed", "failed", "refused"];
const CHAIN_ID = "[0-9]{1,20}";
const MESSAGE_ID = "[0-9]{1,20}-[0-9]{1,19}";

export const page = {
  id: "crosschain",
  title: "Cross-chain",
  scopes: ["crosschain:read"],
  async render(root) {
    const status = select("Status", "status", [["", "every status"], ...STATUSES.map((s) => [s, s])]);
    const source = field("Source chain id", { name: "source", inputmode: "numeric", pattern: CHAIN_ID, placeholder: "any" });
    const destination = field("Destination chain id", {
      name: "destination",
      inputmode: "numeric",
      pattern: CHAIN_ID,
      placeholder: "any",
    });
    const apply = el("button", { type: "button", class: "secondary" }, "Apply filters");
    const first = el("button", { type: "button", class: "secondary", hidden: true }, "First page");
    const next = el("button", { type: "button", class: "secondary", hidden: true }, "Next page");
    const list = el("div", { "aria-live": "polite" });
    let nextCursor = null;

    const value = (wrapper) => wrapper.querySelector("input, select").value.trim();
    const query = (cursor) => {
      const params = new URLSearchParams({ limit: "25" });
      for (const [name, wrapper] of [["status", status], ["source", source], ["destination", destination]]) {
        if (value(wrapper)) params.set(name, value(wrapper));
      }
      if (cursor) params.set("cursor", cursor);
      return `/crosschain/recent?${params}`;
    };
    const load = async (cursor) => {
      try {
        const data = await get(query(cursor));
        nextCursor = data.nextCursor;
        replace(list, table("Cross-chain messages, newest first", columns(), data.items, "No messages to show."));
        next.hidden = !nextCursor;
        first.hidden = !cursor;
      } catch (error) {
        next.hidden = true;
        replace(list, notice("error", error.message));
      }
    };
    apply.addEventListener("click", () => load(null));
    status.querySelector("select").addEventListener("change", () => load(null));
    first.addEventListener("click", () => load(null));
    next.addEventListener("click", () => load(nextCursor));
    await load(null);

    const found = el("div", { "aria-live": "polite" });
    const lookup = form(
      "Find a message by id",
      [field("Message id", { name: "id", required: true, pattern: MESSAGE_ID, placeholder: "<source chain id>-<nonce>" })],
      "Find",
      async ({ id }) => {
        const message = await get(`/crosschain/messages/${seg(id.trim())}`);
        replace(found, details(message));
      },
    );
    root.append(
      section(
        "Recent messages",
        el("div", { class: "toolbar" }, status, source, destination, apply),
        list,
        el("div", { class: "toolbar" }, first, next),
      ),
      section("Find a message", lookup, found),
    );
  },
};

function statusBadge(m) {
  const kind = !m.why ? "good" : m.why.stuck ? "bad" : "warn";
  return el("span", { class: `badge ${kind}`, "data-message": m.messageId, "data-status": m.status }, m.status);
}

function why(m) {
  if (!m.why) return el("span", { class: "help" }, "done");
  return el(
    "span",
    { "data-why": m.why.code },
    m.why.stuck ? el("span", { class: "badge bad" }, "stuck") : "",
    m.why.stuck ? " " : "",
    m.why.text,
  );
}

function columns() {
  return [
    { title: "Message", cell: (m) => el("code", {}, m.messageId) },
    { title: "Route", cell: (m) => `${m.srcChain} → ${m.destChain}` },
    { title: "Sender", cell: (m) => mono(m.sender, 6) },
    { title: "Receiver", cell: (m) => mono(m.receiver, 6) },
    { title: "Status", cell: statusBadge },
    { title: "Attempts", cell: (m) => String(m.attempts) },
    { title: "Receipt", cell: (m) => m.receiptStatus },
    { title: "Why", cell: why },
    { title: "Seen", cell: (m) => when(m.seenAt) },
  ];
}

function details(m) {
  const rows = [
    ["Message", el("code", {}, m.messageId)],
    ["Route", `${m.srcChain} → ${m.destChain}`],
    ["Sender", mono(m.sender, 40)],
    ["Receiver", mono(m.receiver, 40)],
    ["Status", statusBadge(m)],
    ["Why", why(m)],
    ["Attempts", String(m.attempts)],
    ["Sent in", `block ${m.srcBlock}, transaction ${m.srcTx}`],
    ["Delivery transaction", mono(m.deliverTx || "", 10)],
    ["Ran in block", m.destBlock == null ? "—" : String(m.destBlock)],
    ["Revert or refusal reason", m.reason || "—"],
    ["Receipt", `${m.receiptStatus} (attempt ${m.receiptAttempt})`],
    ["Seen", when(m.seenAt)],
  ];
  return el(
    "dl",
    { class: "facts", "aria-label": `Message ${m.messageId}`, "data-found": m.messageId },
    rows.flatMap(([term, value]) => [el("dt", {}, term), el("dd", {}, value)]),
  );
}
