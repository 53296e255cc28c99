// Renderers of the dashboard's panels: each takes API documents and redraws its own part of the page.

import { $, fill, h } from "./dom.js";
import { barChart, legend, lineChart } from "./charts.js";
import { cost, day, isNum, money, ms, num, pct, pp, qty, ratio, signedPct, signedPp, when } from "./format.js";

export const COLORS = { strategy: "#4f46e5", hold: "#98a2b3", calendar: "#d97706", drawdown: "#dc2626",
  fee: "#6366f1", slippage: "#f59e0b", gas: "#14b8a6" };
const KIND_COLORS = { initial: "#98a2b3", scheduled: "#4f46e5", opportunistic: "#0d9488", risk: "#d97706",
  manual: "#9333ea", exit: "#dc2626", flow: "#0284c7" };
const PALETTE = ["#4f46e5", "#0d9488", "#d97706", "#db2777", "#0284c7", "#65a30d", "#7c3aed", "#ea580c"];

// -- portfolio tabs and header ---------------------------------------------------------------------------------

export function renderTabs(list, selected, onSelect) {
  const nav = $("#portfolio-tabs");
  fill(nav, list.map((p) => {
    const last = p.last_decision;
    return h("button", { type: "button", class: "tab", role: "tab", "aria-selected": String(p.name === selected),
      "data-portfolio": p.name, onclick: () => onSelect(p.name) },
    h("div", { class: "tab-top" }, h("span", { class: "tab-name", text: p.name }),
      h("span", { class: `pill ${p.paused ? "paused" : "active"}`, text: p.paused ? "Paused" : "Active" })),
    h("div", { class: "tab-value", text: money(p.value, p.quote) }),
    h("div", { class: "tab-sub", text: `${p.strategy} · ${p.venue}` }),
    h("div", { class: "tab-sub", text: last ? `checked ${when(last.time)} · ${last.status}` : "not checked yet" }));
  }));
}

export function renderHeader(st, role) {
  fill($("#pf-name"), st.name);
  fill($("#pf-sub"), `${st.strategy} strategy · ${st.venue} venue · values in ${st.quote} · targets v${st.targets_version}`);
  const pills = [h("span", { class: `pill ${st.paused ? "paused" : "active"}`, id: "pf-status",
    title: st.paused ? st.paused_reason : "", text: st.paused ? `Paused${st.paused_reason ? `: ${st.paused_reason}` : ""}` : "Active" })];
  if (st.pending?.trigger) pills.push(h("span", { class: "pill pending", text: "Rebalance queued" }));
  if (st.pending?.exit) pills.push(h("span", { class: "pill pending", text: "Exit queued" }));
  if (st.failures) pills.push(h("span", { class: "pill paused", text: `${st.failures} failed cycle(s)` }));
  fill($("#pf-state"), pills);
  const pause = $("#btn-pause");
  if (role === "admin" && pause) {
    pause.textContent = st.paused ? "Resume" : "Pause";
    pause.dataset.action = st.paused ? "resume" : "pause";
    $("#btn-rebalance").disabled = st.paused;
    $("#btn-rebalance").title = st.paused ? "Resume the portfolio first" : "";
  }
}

// -- KPIs ---------------------------------------------------------------------------------------------------------

function kpi(label, value, sub, id, cls = "") {
  return h("div", { class: "kpi", id }, h("div", { class: "kpi-label", text: label }),
    h("div", { class: `kpi-value ${cls}`, text: value }), sub ? h("div", { class: "kpi-sub" }, sub) : null);
}

export function renderKpis(st, an, costs) {
  const v = an?.variants;
  const ret = v?.strategy?.return;
  const valueSub = v ? h("span", {}, h("span", { class: ret >= 0 ? "up" : "down", text: signedPct(ret) }),
    ` since start · buy & hold ${signedPct(v.buy_and_hold?.return)}`) : null;
  const last = st.last_decision;
  const nr = st.next_rebalance || {};
  let next = "—";
  const subs = [];
  if (st.paused) next = "Paused";
  else if (nr.expected_at_next_check) next = `Next check · ${when(st.next_check_at)}`;
  else if (nr.calendar_due) next = day(nr.calendar_due);
  if (st.paused) subs.push("no cycle runs until resumed");
  else if (nr.expected_at_next_check && st.sleeves) subs.push(st.sleeves.would_fire ? "a sleeve or the split fires" : `sleeve ${st.sleeves.next_due?.sleeve} is due`);
  else if (nr.expected_at_next_check) subs.push("a band is breached");
  else if (nr.calendar_due) subs.push(`calendar every ${nr.calendar_every}`);
  if (!st.paused && nr.closest_band && nr.closest_band.distance > 0 && !nr.expected_at_next_check) {
    subs.push(`or when ${nr.closest_band.asset} drifts ${pp(nr.closest_band.distance)} more`);
  }
  const proj = costs?.projection;
  const projCost = proj ? Number(proj.total_est_cost) : null;
  const projSub = proj ? (proj.orders.length
    ? `dry run of a rebalance now: ${proj.orders.length} order(s), ${pct(projCost / st.value, 3)} of value`
    : "on target: nothing to trade") : null;
  fill($("#kpis"),
    kpi("Total value", money(st.value, st.quote), valueSub, "kpi-value"),
    kpi("Last check", when(st.last_check_at), last ? `${last.kind} · ${last.status}` : "no check yet", "kpi-last"),
    kpi("Next check", when(st.next_check_at), `every ${st.check_every}`, "kpi-next"),
    kpi("Next rebalance", next, subs.join("; "), "kpi-rebalance"),
    kpi("Projected cost", isNum(projCost) ? `${cost(projCost)} ${st.quote}` : "—", projSub, "kpi-projected"));
}

// -- weights ------------------------------------------------------------------------------------------------------

export function renderWeights(st) {
  const assets = st.assets || [];
  const top = Math.max(0.1, ...assets.map((a) => Math.max(a.weight, a.target + (a.band || 0))));
  const scale = Math.min(1, top * 1.12);
  const x = (w) => `${Math.max(0, Math.min(100, (w / scale) * 100))}%`;
  fill($("#weights"), assets.map((a) => {
    const near = a.distance != null && a.band && a.distance < a.band * 0.25;
    const state = a.breached ? "out" : near ? "near" : "ok";
    const track = h("div", { class: "track", role: "img",
      "aria-label": `${a.asset}: weight ${pct(a.weight)}, target ${pct(a.target)}` });
    if (a.band != null) {
      const lo = Math.max(0, a.target - a.band);
      track.append(h("div", { class: "band", style: { left: x(lo), width: `calc(${x(a.target + a.band)} - ${x(lo)})` } }));
    }
    track.append(h("div", { class: `bar ${state === "ok" ? "" : state}`, style: { width: x(a.weight) } }));
    track.append(h("div", { class: "target", style: { left: x(a.target) } }));
    const dist = a.distance == null ? h("span", { class: "dist", text: "no band" })
      : a.breached ? h("span", { class: "dist out", text: `${pp(-a.distance)} beyond band` })
        : h("span", { class: "dist", text: `${pp(a.distance)} to trigger` });
    return h("div", { class: "w-row", "data-asset": a.asset },
      h("div", { class: "w-asset" }, a.asset, h("small", { text: `target ${pct(a.target, a.target * 100 % 1 ? 1 : 0)}` })),
      track,
      h("div", { class: "w-nums" }, h("b", { text: pct(a.weight) }), ` ${signedPp(a.drift)}`, dist));
  }));
  fill($("#holdings"),
    h("thead", {}, h("tr", {}, h("th", { text: "Asset" }), ["Quantity", "Price", `Value (${st.quote})`, "Weight"].map((c) => h("th", { class: "num", text: c })))),
    h("tbody", {}, assets.map((a) => h("tr", { "data-asset": a.asset }, h("td", { text: a.asset }),
      h("td", { class: "num", text: qty(a.quantity) }), h("td", { class: "num", text: qty(a.price) }),
      h("td", { class: "num", text: num(Number(a.value), 2) }), h("td", { class: "num", text: pct(a.weight) })))));
  const bands = assets.filter((a) => a.band != null).map((a) => a.band);
  fill($("#weights-note"), bands.length ? `band ±${pp(Math.min(...bands))}${Math.min(...bands) !== Math.max(...bands) ? `–${pp(Math.max(...bands))}` : ""}` : "no drift band");
}

// -- risk ---------------------------------------------------------------------------------------------------------

const METRICS = [
  ["Total return", "total_return", signedPct], ["Volatility (ann.)", "volatility", pct],
  ["Sharpe (ann.)", "sharpe", ratio], ["Sortino (ann.)", "sortino", ratio],
  ["Max drawdown", "max_drawdown", (v) => (isNum(v) ? pct(-v) : "—")],
  ["VaR 95%", "var_95", pct], ["CVaR 95%", "cvar_95", pct],
];

export function renderRisk(an) {
  const v = an?.variants || {};
  const cols = [["strategy", v.strategy?.label || "Strategy"], ["buy_and_hold", "Buy & hold"],
    ["calendar", v.calendar ? "Calendar (monthly)" : null]].filter((c) => c[1]);
  fill($("#metrics"),
    h("thead", {}, h("tr", {}, h("th", { text: "Metric" }), cols.map(([, label]) => h("th", { text: label })))),
    h("tbody", {}, METRICS.map(([label, key, f]) => h("tr", { "data-metric": key }, h("td", { text: label }),
      cols.map(([k]) => h("td", { text: f(v[k]?.metrics?.[key]) }))))));
  const rg = an?.regime;
  const box = $("#regime");
  if (!rg) {
    fill(box, h("span", { class: "regime-badge", text: "regime unknown" }),
      h("span", { class: "regime-text", text: "The volatility regime needs a price history (replayed market data)." }));
    return;
  }
  const [t1, t2, t3] = rg.thresholds;
  const chart = h("div", { class: "chart regime-chart", id: "regime-chart" });
  fill(box, h("span", { class: `regime-badge ${rg.label}`, id: "regime-label", text: `${rg.label} volatility` }),
    h("span", { class: "regime-text" }, isNum(rg.volatility)
      ? `Target mix realised volatility ${pct(rg.volatility, 1)} (${rg.window}-day, annualised). `
      : `The target mix's realised volatility needs ${rg.window} daily returns of replayed prices. `,
      `Bands: low < ${pct(t1, 0)} ≤ medium < ${pct(t2, 0)} ≤ high < ${pct(t3, 0)} ≤ extreme.`), chart);
  lineChart(chart, [{ name: "Volatility", color: "#0f766e", area: true,
    points: rg.times.map((t, i) => ({ t: ms(t), y: rg.series[i] })) }],
  { height: 150, yFormat: (y) => pct(y, 0), yDomain: [0, Math.max(t3 * 1.3, ...rg.series.filter(isNum))],
    thresholds: rg.thresholds.map((y, i) => ({ y, label: rg.names[i + 1] })), ariaLabel: "realised volatility",
    emptyText: `Not enough price history yet (${rg.window} days needed)` });
}

// -- performance ----------------------------------------------------------------------------------------------------

export function renderPerformance(an, rebalances) {
  const eq = an?.equity || [];
  const v = an?.variants || {};
  const byTime = eq.map((p) => ms(p.time));
  const markers = (rebalances?.items || []).filter((r) => r.kind !== "initial" && r.time && r.status !== "failed")
    .map((r) => {
      const t = ms(r.time);
      let k = byTime.findIndex((x) => x >= t);
      if (k < 0) k = byTime.length - 1;
      return k >= 0 && eq[k] ? { t: byTime[k], y: eq[k].value, color: KIND_COLORS[r.kind] || COLORS.strategy } : null;
    }).filter(Boolean);
  const series = [
    { name: v.strategy?.label || "Strategy", color: COLORS.strategy, width: 2.2, markers,
      points: eq.map((p, i) => ({ t: byTime[i], y: p.value })) },
    { name: "Buy & hold", color: COLORS.hold, points: eq.map((p, i) => ({ t: byTime[i], y: p.buy_and_hold })) },
  ];
  if (v.calendar) series.push({ name: "Calendar (monthly)", color: COLORS.calendar, dash: "6 4",
    points: eq.map((p, i) => ({ t: byTime[i], y: p.calendar })) });
  fill($("#perf-legend"), legend(series), markers.length ? h("span", {}, h("i", { class: "sw", style: { background: "#fff", border: `2px solid ${COLORS.strategy}`, borderRadius: "50%", width: "9px", height: "9px" } }), "rebalance") : null);
  const quote = an?.quote || "";
  const ys = series.flatMap((sr) => sr.points.map((p) => p.y)).filter(isNum);
  const step = ys.length ? (Math.max(...ys) - Math.min(...ys)) / 5 : 0;
  lineChart($("#equity-chart"), series, { height: 280, yFormat: (y) => compact(y, step), tipFormat: (y) => money(y, quote),
    ariaLabel: "equity curve against buy-and-hold and the calendar variant" });
  lineChart($("#drawdown-chart"), [{ name: "Drawdown", color: COLORS.drawdown, area: true,
    points: eq.map((p, i) => ({ t: byTime[i], y: p.drawdown })) }],
  { height: 130, yFormat: (y) => pct(y, 0), tipFormat: (y) => pct(y, 2), yDomain: [Math.min(-0.01, ...eq.map((p) => p.drawdown).filter(isNum)), 0],
    ariaLabel: "drawdown" });
}

// an axis label short enough to read, with enough digits that ticks `step` apart stay distinct (a $1M vault
// moving by $5k is 1.000M, 1.005M, ... not five times 1.0M)
function compact(y, step = 0) {
  const a = Math.abs(y);
  const digits = (unit, base) => Math.min(3, Math.max(base, step > 0 ? Math.ceil(-Math.log10(step / unit)) : 0));
  if (a >= 1e6) return `${num(y / 1e6, digits(1e6, a >= 1e7 ? 0 : 1))}M`;
  if (a >= 1e4) return `${num(y / 1e3, digits(1e3, 0))}k`;
  if (a >= 1e3) return `${num(y / 1e3, digits(1e3, 1))}k`;
  return num(y, a >= 10 || a === 0 ? 0 : 2);
}

// -- correlations -------------------------------------------------------------------------------------------------

export function renderCorrelations(an) {
  const c = an?.correlations;
  const chart = $("#corr-chart");
  if (!c || !c.matrix) {
    fill($("#corr-legend"));
    fill($("#corr-matrix"));
    fill($("#corr-note"), c ? `${c.window}-day window` : "");
    const why = !c ? "Correlations need a price history (replayed market data)."
      : c.assets.length < 2 ? "One risk asset: nothing to correlate." : "Waiting for a full window of returns…";
    fill(chart, h("p", { class: "muted", text: why }));
    return;
  }
  fill($("#corr-note"), `${c.window}-day window of daily log returns`);
  const times = c.times.map(ms);
  const series = Object.entries(c.against_base).map(([a, vals], i) => ({ name: `${a}–${c.base}`,
    color: PALETTE[i % PALETTE.length], width: 1.5, points: vals.map((y, k) => ({ t: times[k], y })) }));
  if (c.assets.length > 2) series.push({ name: "Average pair", color: "#111827", width: 2.4, dash: "5 3",
    points: c.average.map((y, k) => ({ t: times[k], y })) });
  fill($("#corr-legend"), legend(series));
  const lows = series.flatMap((sr) => sr.points.map((p) => p.y)).filter(isNum);
  lineChart(chart, series, { height: 200, yDomain: [Math.max(-1, Math.min(-0.2, ...lows)), 1], yFormat: (y) => num(y, 1), tipFormat: (y) => num(y, 2),
    ariaLabel: "rolling correlations" });
  const m = c.matrix;
  fill($("#corr-matrix"),
    h("thead", {}, h("tr", {}, h("th", { text: "now" }), c.assets.map((a) => h("th", { text: a })))),
    h("tbody", {}, c.assets.map((a, i) => h("tr", {}, h("th", { text: a }), c.assets.map((b, j) => {
      const val = m[i][j];
      const alpha = isNum(val) ? Math.min(1, Math.abs(val)) : 0;
      const bg = !isNum(val) ? "#f4f6fa" : val >= 0 ? `rgba(79, 70, 229, ${0.08 + alpha * 0.82})` : `rgba(13, 148, 136, ${0.08 + alpha * 0.82})`;
      return h("td", { class: alpha > 0.55 ? "hot" : "", style: { background: bg }, text: isNum(val) ? num(val, 2) : "—" });
    })))));
}

// -- costs --------------------------------------------------------------------------------------------------------

export function renderCosts(costs, an, quote) {
  const t = costs?.totals || {};
  const tile = (label, key, color, sub) => h("div", { class: "tile", "data-cost": key },
    h("div", { class: "kpi-label" }, color ? h("i", { class: "sw", style: { background: color } }) : null, label),
    h("div", { class: "kpi-value", text: `${cost(t[key])}` }), sub ? h("div", { class: "kpi-sub", text: sub }) : null);
  fill($("#cost-tiles"), tile("Fees", "fee", COLORS.fee), tile("Slippage", "slippage", COLORS.slippage),
    tile("Gas", "gas", COLORS.gas), tile(`Total (${quote})`, "total", null, `expected ${cost(t.expected_total)}`));
  const sum = (t.fee || 0) + (t.slippage || 0) + (t.gas || 0);
  fill($("#cost-split"), sum > 0 ? ["fee", "slippage", "gas"].map((k) => h("span", {
    title: `${k}: ${pct(t[k] / sum, 1)}`, style: { width: `${(t[k] / sum) * 100}%`, background: COLORS[k] } })) : []);
  fill($("#costs-note"), costs ? `${costs.rebalances} rebalance(s), in ${quote}` : "");
  const b = an?.benefit;
  const box = $("#benefit");
  if (!b) fill(box);
  else if (isNum(b.cost_share)) {
    fill(box, h("div", { class: "big", id: "cost-share", text: pct(b.cost_share, 1) }),
      h("p", {}, `of the rebalancing benefit went to costs: ${cost(b.costs)} ${quote} paid after the initial allocation, `,
        `against ${money(b.gross_benefit, quote)} gained over buy-and-hold before those costs `,
        `(${money(b.net_benefit, quote)} after them).`));
  } else {
    fill(box, h("div", { class: "big", id: "cost-share", text: "n/a" }),
      h("p", {}, `Rebalancing has not beaten buy-and-hold yet (${money(b.net_benefit, quote)} after `,
        `${cost(b.costs)} ${quote} of costs), so there is no benefit to measure the costs against.`));
  }
  const per = (costs?.per_rebalance || []).filter((p) => p.kind !== "initial");
  const initial = (costs?.per_rebalance || []).find((p) => p.kind === "initial");
  barChart($("#cost-chart"), per.map((p) => ({ value: p.realised?.total || 0, color: KIND_COLORS[p.kind] || COLORS.strategy,
    label: day(p.time), title: `${day(p.time)} ${p.kind}: ${cost(p.realised?.total)} ${quote} (expected ${cost(p.expected?.total)}, slippage ${num(p.slippage_bps, 1)} bps)` })),
  { height: 150, yFormat: (y) => cost(y), emptyText: "No rebalance after the initial allocation yet",
    ariaLabel: "cost per rebalance" });
  if (initial) $("#cost-chart").append(h("p", { class: "muted small", text: `Initial allocation (not shown): ${cost(initial.realised?.total)} ${quote}.` }));
}

// -- history ------------------------------------------------------------------------------------------------------

function trades(r) {
  const fills = r.report?.fills;
  const legs = fills && fills.length ? fills : r.plan?.legs || [];
  const lines = legs.slice(0, 3).map((f) => h("div", {},
    h("span", { class: `side-${f.side}`, text: f.side.toUpperCase() }), ` ${qty(f.quantity)} ${f.asset} @ ${qty(f.price || f.exec_price)}`));
  if (legs.length > 3) lines.push(h("div", { class: "more", text: `+${legs.length - 3} more` }));
  for (const fail of r.report?.failures || []) lines.push(h("div", { class: "status failed", text: `failed: ${fail.asset || ""} ${fail.reason || ""}` }));
  const net = r.report?.netting;  // netted with the other portfolios of its exchange account (docs/netting.md)
  if (net) lines.push(h("div", { class: "muted small", text: `netted on the shared account: saved ${cost(Number(net.saved))}` }));
  return lines.length ? lines : "—";
}

export function renderHistory(rebalances, filters) {
  const items = rebalances?.items || [];
  const text = filters.text.trim().toLowerCase();
  const shown = items.filter((r) => (!filters.kind || r.kind === filters.kind) && (!filters.status || r.status === filters.status)
    && (!text || `${r.reason} ${(r.plan?.legs || []).map((l) => l.asset).join(" ")}`.toLowerCase().includes(text)));
  fill($("#history-count"), `${shown.length} of ${items.length} rebalance(s)${items.length >= 200 ? " (latest 200)" : ""}`);
  fill($("#history-body"), shown.length ? shown.map((r) => {
    const c = r.costs || {};
    return h("tr", { "data-kind": r.kind || "", "data-status": r.status, "data-id": r.id },
      h("td", { class: "time", "data-label": "Time", text: when(r.time || r.created_at) }),
      h("td", { class: "kind-cell", "data-label": "Kind" }, h("span", { class: `kind ${r.kind || ""}`, text: r.kind || "—" })),
      h("td", { class: "reason", "data-label": "Reason", text: r.reason }),
      h("td", { class: "trades", "data-label": "Trades" }, trades(r)),
      h("td", { class: "num", "data-label": "Expected", text: cost(c.expected?.total) }),
      h("td", { class: "num", "data-label": "Realised", text: cost(c.realised?.total) }),
      h("td", { class: "num", "data-label": "Slippage", text: isNum(c.slippage_bps) ? `${num(c.slippage_bps, 1)} bps` : "—" }),
      h("td", { class: "num", "data-label": "Gas", text: cost(c.realised?.gas) }),
      h("td", { class: "status-cell", "data-label": "Status" }, h("span", { class: `status ${r.status}`, text: r.status })));
  }) : h("tr", {}, h("td", { colspan: 9, class: "muted", text: items.length ? "No rebalance matches the filter." : "No rebalance yet." })));
}
