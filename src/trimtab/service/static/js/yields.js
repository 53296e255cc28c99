// The yield card: where a yield portfolio's money sits, each candidate's APY and utilisation, the yield earned
// so far and the last check's migrations with both APYs and their costs (GET /api/portfolios/{name} `yields`).

import { $, fill, h } from "./dom.js";
import { money, num, pct, qty } from "./format.js";

export function renderYield(st) {
  const card = $("#card-yield");
  const y = st.yields;
  card.hidden = !y;
  $("#card-weights").hidden = Boolean(y); // no target weights: the migration rule decides where money sits
  for (const id of ["#btn-targets", "#btn-deposit", "#btn-withdraw"]) { // the rule decides; flows not supported yet
    const btn = $(id);
    if (btn) btn.hidden = Boolean(y);
  }
  if (!y) return;
  const total = y.positions.reduce((s, p) => s + p.value, 0);
  fill($("#yield-note"), `rates of ${y.rates_time} · ${y.rates_source.split("/").pop()}`);
  fill($("#yield-earned"),
    h("div", { class: "kpi", id: "kpi-yield" }, h("div", { class: "kpi-label", text: "Yield earned" }),
      h("div", { class: "kpi-value up", text: money(y.yield_earned, "USD") }),
      h("div", { class: "kpi-sub", text: `${money(y.interest_last_check, "USD")} since the last check` })));
  fill($("#yield-positions"),
    h("thead", {}, h("tr", {}, ["Position", "Protocol", "Risk score"].map((c) => h("th", { text: c })),
      ["APY", "Utilisation", "Units", "Value (USD)", "Share"].map((c) => h("th", { class: "num", text: c })))),
    h("tbody", {}, y.positions.map((p) => h("tr", { "data-position": p.name, class: Number(p.units) > 0 ? "held" : "" },
      h("td", { text: p.name }), h("td", { text: p.protocol }), h("td", { text: num(p.risk_score, 2) }),
      h("td", { class: "num apy", text: pct(p.apy) }), h("td", { class: "num", text: pct(p.utilization, 1) }),
      h("td", { class: "num", text: qty(p.units) }), h("td", { class: "num", text: num(p.value, 2) }),
      h("td", { class: "num", text: total > 0 ? pct(p.value / total) : "—" })))));
  fill($("#yield-moves"), y.last_moves.length
    ? y.last_moves.map((m) => h("li", { class: `move ${m.kind}`, text: m.reason }))
    : [h("li", { class: "muted", text: "no migration at the last check" })]);
}
