// Price feeds: each configured pair's latest on-chain round and a chart of its recent rounds, drawn as
// inline SVG from /feeds/{base}/{quote}/rounds (no chart library).

import { get, seg } from "../api.js";
import { el, section, table } from "../ui.js";

const SVG = "http://www.w3.org/2000/svg";
const WIDTH = 640;
const HEIGHT = 200;
const PAD = 36;
const ROUNDS = 30;

export const page = {
  id: "feeds",
  title: "Feeds",
  scopes: ["oracle:request"],
  async render(root) {
    const feeds = await get("/feeds");
    if (feeds.length === 0) {
      root.append(section("Feeds", el("p", { class: "empty" }, "No feed is configured (NSL_FEEDS).")));
      return;
    }
    for (const feed of feeds) {
      const [base, quote] = feed.pair.split("/");
      const data = await get(`/feeds/${seg(base)}/${seg(quote)}/rounds?count=${ROUNDS}`);
      const rounds = [...data.rounds].reverse(); // oldest first, left to right
      root.append(
        section(
          feed.pair,
          el("p", { class: "help" }, `${feed.definition.description || feed.pair} · contract `, el("code", {}, feed.contract)),
          rounds.length ? chart(feed.pair, rounds) : el("p", { class: "empty" }, "No round on chain yet."),
          table(`Recent rounds of ${feed.pair}, newest first`, [
            { title: "Round", cell: (r) => String(r.roundId) },
            { title: "Value", cell: (r) => r.value },
            { title: "Updated", cell: (r) => new Date(r.updatedAt).toLocaleString() },
          ], data.rounds, "No round on chain yet."),
        ),
      );
    }
  },
};

function svg(tag, attrs, ...children) {
  const node = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, String(value));
  for (const child of children) node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  return node;
}

/** A line of the rounds' values against their round ids, with the lowest and highest value marked. */
function chart(pair, rounds) {
  const values = rounds.map((r) => Number(r.value));
  let low = Math.min(...values);
  let high = Math.max(...values);
  if (low === high) {
    low -= Math.abs(low) * 0.01 || 1;
    high += Math.abs(high) * 0.01 || 1;
  }
  const x = (i) => PAD + (rounds.length === 1 ? (WIDTH - 2 * PAD) / 2 : (i * (WIDTH - 2 * PAD)) / (rounds.length - 1));
  const y = (v) => HEIGHT - PAD - ((v - low) / (high - low)) * (HEIGHT - 2 * PAD);
  const points = values.map((v, i) => `${x(i).toFixed(1)},${y(v).toFixed(1)}`).join(" ");
  const first = rounds[0];
  const last = rounds[rounds.length - 1];
  const label = `${pair}: ${rounds.length} round(s) from ${first.roundId} (${first.value}) to ${last.roundId} (${last.value})`;
  return svg(
    "svg",
    { viewBox: `0 0 ${WIDTH} ${HEIGHT}`, width: "100%", role: "img", "aria-label": label, "data-chart": pair },
    svg("title", {}, label),
    svg("line", { x1: PAD, y1: HEIGHT - PAD, x2: WIDTH - PAD, y2: HEIGHT - PAD, stroke: "#d0d7de" }),
    svg("line", { x1: PAD, y1: PAD, x2: PAD, y2: HEIGHT - PAD, stroke: "#d0d7de" }),
    svg("text", { x: 4, y: PAD + 4, "font-size": 11, fill: "#57606a" }, String(high)),
    svg("text", { x: 4, y: HEIGHT - PAD, "font-size": 11, fill: "#57606a" }, String(low)),
    svg("text", { x: PAD, y: HEIGHT - 8, "font-size": 11, fill: "#57606a" }, `round ${first.roundId}`),
    svg("text", { x: WIDTH - PAD, y: HEIGHT - 8, "font-size": 11, fill: "#57606a", "text-anchor": "end" }, `round ${last.roundId}`),
    svg("polyline", { points, fill: "none", stroke: "#00794d", "stroke-width": 2 }),
    ...values.map((v, i) => svg("circle", { cx: x(i).toFixed(1), cy: y(v).toFixed(1), r: 3, fill: "#00794d" })),
  );
}
