// The sleeves card: each sleeve's share of the whole against its weight and the split's band, its own trigger and
// whether it is due, and its assets' weights inside it (GET /api/portfolios/{name} `sleeves`; docs/sleeves.md).

import { $, fill, h } from "./dom.js";
import { day, pct, pp, signedPp } from "./format.js";

function internal(s) {
  return h("details", { class: "sleeve-inside" }, h("summary", { text: `inside ${s.name}: drift up to ${pp(s.internal_drift)}` }),
    h("table", { class: "holdings" },
      h("thead", {}, h("tr", {}, h("th", { text: "Asset" }),
        ["Weight in sleeve", "Target in sleeve", "Drift"].map((c) => h("th", { class: "num", text: c })))),
      h("tbody", {}, s.internal.map((a) => h("tr", { "data-asset": a.asset }, h("td", { text: a.asset }),
        h("td", { class: "num w-in", text: pct(a.weight_in_sleeve) }), h("td", { class: "num", text: pct(a.target_in_sleeve) }),
        h("td", { class: "num", text: signedPp(a.drift) }))))));
}

function row(s, x) {
  const out = s.split_band != null && Math.abs(s.drift) > s.split_band;
  const track = h("div", { class: "track", role: "img", "aria-label": `${s.name}: share ${pct(s.share)}, weight ${pct(s.weight)}` });
  if (s.split_band != null) {
    const lo = Math.max(0, s.weight - s.split_band);
    track.append(h("div", { class: "band", style: { left: x(lo), width: `calc(${x(s.weight + s.split_band)} - ${x(lo)})` } }));
  }
  track.append(h("div", { class: `bar ${out ? "out" : ""}`, style: { width: x(s.share) } }));
  track.append(h("div", { class: "target", style: { left: x(s.weight) } }));
  const due = s.fired_now ? h("span", { class: "dist due", text: `${s.trigger} · due now` })
    : h("span", { class: "dist", text: `${s.trigger}${s.next_due ? ` · next ${day(s.next_due)}` : ""}` });
  return h("div", { class: "sleeve", "data-sleeve": s.name },
    h("div", { class: "w-row" },
      h("div", { class: "w-asset" }, s.name, h("small", { text: `weight ${pct(s.weight, 1)}` })),
      track,
      h("div", { class: "w-nums" }, h("b", { class: "share", text: pct(s.share) }), h("span", { class: "drift", text: ` ${signedPp(s.drift)}` }), due)),
    internal(s));
}

export function renderSleeves(st) {
  const card = $("#card-sleeves");
  const sl = st.sleeves;
  card.hidden = !sl;
  if (!sl) return;
  const top = Math.max(0.1, ...sl.items.map((s) => Math.max(s.share, s.weight + (s.split_band || 0))));
  const scale = Math.min(1, top * 1.12);
  const x = (w) => `${Math.max(0, Math.min(100, (w / scale) * 100))}%`;
  const split = `split: ${sl.split.trigger}${sl.split.fired_now ? " · fires now" : ""}`;
  fill($("#sleeves-note"), sl.unassigned > 1e-9 ? `${split} · (unassigned) ${pct(sl.unassigned)}` : split);
  fill($("#sleeves"), sl.items.map((s) => row(s, x)));
}
