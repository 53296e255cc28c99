// Hand-written SVG charts sized to their container: time-series lines (with optional area, thresholds and a hover
// read-out) and bars. No library: the page works offline and makes no request beyond its own service.

import { h } from "./dom.js";

const NS = "http://www.w3.org/2000/svg";
const DAY = 86_400_000;
const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

function s(tag, attrs = {}, parent = null) {
  const el = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) if (v != null) el.setAttribute(k, String(v));
  if (parent) parent.appendChild(el);
  return el;
}

function text(parent, x, y, value, attrs = {}) {
  const t = s("text", { x, y, ...attrs }, parent);
  t.textContent = value;
  return t;
}

/** Round axis ticks covering [lo, hi] (Heckbert's nice numbers, Graphics Gems 1990). */
export function niceTicks(lo, hi, count = 5) {
  if (!(hi > lo)) {
    const pad = Math.abs(lo) * 0.05 || 1;
    lo -= pad;
    hi += pad;
  }
  const raw = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const f = raw / mag;
  const step = (f >= 7.5 ? 10 : f >= 3.5 ? 5 : f >= 1.5 ? 2 : 1) * mag;
  const start = Math.floor(lo / step + 1e-9) * step;
  const end = Math.ceil(hi / step - 1e-9) * step;
  const ticks = [];
  for (let v = start; v <= end + step / 2; v += step) ticks.push(Number(v.toPrecision(12)));
  return { lo: start, hi: end, ticks };
}

/** Time ticks at month starts (long spans) or whole days (short ones), at most `max` of them. */
function timeTicks(t0, t1, max) {
  const span = t1 - t0;
  const out = [];
  if (span > 75 * DAY) {
    const months = span / (30.4 * DAY);
    const step = [1, 2, 3, 6, 12, 24].find((k) => months / k <= max) || 24;
    const d = new Date(t0);
    let y = d.getUTCFullYear();
    let m = d.getUTCMonth() + 1;
    const align = Math.min(step, 12);
    while (m % align !== 0) m += 1;
    for (;;) {
      const t = Date.UTC(y + Math.floor(m / 12), m % 12, 1);
      if (t > t1) break;
      out.push({ t, label: m % 12 === 0 || step >= 12 ? String(y + Math.floor(m / 12)) : MONTHS[m % 12] });
      m += step;
    }
    return out;
  }
  const days = Math.max(span / DAY, 1);
  const step = [1, 2, 5, 7, 14, 30].find((k) => days / k <= max) || 30;
  let t = Math.ceil(t0 / DAY) * DAY;
  for (; t <= t1; t += step * DAY) {
    const d = new Date(t);
    out.push({ t, label: `${MONTHS[d.getUTCMonth()]} ${d.getUTCDate()}` });
  }
  return out;
}

function bisect(xs, x) {
  let lo = 0;
  let hi = xs.length - 1;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (xs[mid] < x) lo = mid; else hi = mid;
  }
  return Math.abs(xs[lo] - x) <= Math.abs(xs[hi] - x) ? lo : hi;
}

function empty(el, height, message) {
  const width = Math.max(el.clientWidth, 200);
  const svg = s("svg", { width, height, viewBox: `0 0 ${width} ${height}`, role: "img" });
  text(svg, width / 2, height / 2, message, { "text-anchor": "middle", class: "empty" });
  el.replaceChildren(svg);
}

/**
 * Lines over time. series: [{name, color, dash, width, area, points: [{t (ms), y}]}];
 * opts: height, yFormat, yDomain [lo, hi], thresholds [{y, label}], tipFormat, emptyText, ariaLabel.
 */
export function lineChart(el, series, opts = {}) {
  const height = opts.height || 240;
  const fmtY = opts.yFormat || ((v) => String(v));
  const clean = series.map((sr) => ({ ...sr, points: sr.points.filter((p) => p.y != null && Number.isFinite(p.y)) }));
  const all = clean.flatMap((sr) => sr.points);
  if (all.length < 2) return empty(el, height, opts.emptyText || "Waiting for data…");
  const width = Math.max(el.clientWidth, 260);
  let t0 = Math.min(...all.map((p) => p.t));
  let t1 = Math.max(...all.map((p) => p.t));
  if (t1 <= t0) t1 = t0 + DAY;
  const ys = all.map((p) => p.y).concat((opts.thresholds || []).map((th) => th.y));
  const dom = opts.yDomain || [Math.min(...ys), Math.max(...ys)];
  const { lo, hi, ticks } = niceTicks(dom[0], dom[1], Math.max(3, Math.min(6, Math.round((height - 30) / 48))));
  const labels = ticks.map(fmtY);
  const left = 10 + Math.max(...labels.map((l) => l.length)) * 6.4;
  const labelled = (opts.thresholds || []).some((th) => th.label);
  const m = { l: left, r: labelled ? 62 : 12, t: 8, b: 22 };
  const iw = width - m.l - m.r;
  const ih = height - m.t - m.b;
  const x = (t) => m.l + ((t - t0) / (t1 - t0)) * iw;
  const y = (v) => m.t + (1 - (v - lo) / (hi - lo)) * ih;

  const svg = s("svg", { width, height, viewBox: `0 0 ${width} ${height}`, role: "img",
    "aria-label": opts.ariaLabel || clean.map((sr) => sr.name).join(", ") });
  const axis = s("g", { class: "axis" }, svg);
  ticks.forEach((v, i) => {
    s("line", { x1: m.l, x2: width - m.r, y1: y(v), y2: y(v), class: v === 0 ? "zero-line" : "grid-line" }, axis);
    text(axis, m.l - 8, y(v) + 4, labels[i], { "text-anchor": "end" });
  });
  const tt = timeTicks(t0, t1, Math.max(2, Math.floor(iw / 90)));
  for (const tick of tt) text(axis, x(tick.t), height - 6, tick.label, { "text-anchor": "middle" });
  for (const th of opts.thresholds || []) {
    s("line", { x1: m.l, x2: width - m.r, y1: y(th.y), y2: y(th.y), stroke: th.color || "#c3c9d6",
      "stroke-dasharray": "4 4" }, svg);
    if (th.label) text(svg, width - m.r + 6, y(th.y) + 4, th.label, { "text-anchor": "start" });
  }
  for (const sr of clean) {
    if (sr.points.length < 1) continue;
    const d = sr.points.map((p, i) => `${i ? "L" : "M"}${x(p.t).toFixed(1)},${y(p.y).toFixed(1)}`).join("");
    if (sr.area) {
      const base = y(Math.max(lo, Math.min(hi, 0)));
      const first = x(sr.points[0].t).toFixed(1);
      const last = x(sr.points[sr.points.length - 1].t).toFixed(1);
      s("path", { d: `${d}L${last},${base}L${first},${base}Z`, fill: sr.color, "fill-opacity": 0.14, stroke: "none" }, svg);
    }
    s("path", { d, fill: "none", stroke: sr.color, "stroke-width": sr.width || 1.8, "stroke-dasharray": sr.dash,
      "stroke-linejoin": "round", "stroke-linecap": "round" }, svg);
  }
  for (const sr of clean) {
    for (const mk of sr.markers || []) {
      s("circle", { cx: x(mk.t), cy: y(mk.y), r: 3.2, fill: "#fff", stroke: mk.color || sr.color, "stroke-width": 1.6 }, svg);
    }
  }

  // hover read-out: nearest point of each series to the pointer's time
  const hover = s("g", { visibility: "hidden" }, svg);
  const vline = s("line", { y1: m.t, y2: m.t + ih, class: "hover-line" }, hover);
  const dots = clean.map((sr) => s("circle", { r: 3.5, fill: sr.color, stroke: "#fff", "stroke-width": 1.5 }, hover));
  const tip = h("div", { class: "tooltip", hidden: true });
  const xs = clean.map((sr) => sr.points.map((p) => p.t));
  const fmtTip = opts.tipFormat || fmtY;
  const show = (px) => {
    const t = t0 + ((px - m.l) / iw) * (t1 - t0);
    const rows = [];
    let ref = null;
    clean.forEach((sr, k) => {
      if (!sr.points.length) { dots[k].setAttribute("visibility", "hidden"); return; }
      const p = sr.points[bisect(xs[k], t)];
      ref = ref ?? p.t;
      dots[k].setAttribute("visibility", "visible");
      dots[k].setAttribute("cx", x(p.t));
      dots[k].setAttribute("cy", y(p.y));
      rows.push(h("div", { class: "t-row" }, h("i", { style: { background: sr.color } }), `${sr.name}: ${fmtTip(p.y)}`));
    });
    if (ref == null) return;
    vline.setAttribute("x1", x(ref));
    vline.setAttribute("x2", x(ref));
    hover.setAttribute("visibility", "visible");
    tip.replaceChildren(h("div", { class: "t-time", text: new Date(ref).toISOString().slice(0, 10) }), ...rows);
    tip.hidden = false;
    const w = tip.offsetWidth || 160;
    tip.style.left = `${Math.min(Math.max(x(ref) + 12, 0), width - w - 4)}px`;
    tip.style.top = `${m.t + 4}px`;
  };
  const overlay = s("rect", { x: m.l, y: m.t, width: iw, height: ih, fill: "transparent" }, svg);
  const onMove = (ev) => {
    const box = svg.getBoundingClientRect();
    el.dataset.hoverX = String(ev.clientX - box.left);
    show(ev.clientX - box.left);
  };
  overlay.addEventListener("pointermove", onMove);
  overlay.addEventListener("pointerdown", onMove);
  overlay.addEventListener("pointerleave", () => {
    delete el.dataset.hoverX;
    hover.setAttribute("visibility", "hidden");
    tip.hidden = true;
  });
  el.replaceChildren(svg, tip);
  if (el.dataset.hoverX) show(Number(el.dataset.hoverX));
  return svg;
}

/** Vertical bars, one per item: [{value, color, title}], labelled under the first and last bar. */
export function barChart(el, bars, opts = {}) {
  const height = opts.height || 170;
  const fmtY = opts.yFormat || String;
  if (!bars.length) return empty(el, height, opts.emptyText || "No rebalance yet");
  const width = Math.max(el.clientWidth, 260);
  const { lo, hi, ticks } = niceTicks(0, Math.max(...bars.map((b) => b.value), 1e-9), 4);
  const labels = ticks.map(fmtY);
  const m = { l: 10 + Math.max(...labels.map((l) => l.length)) * 6.4, r: 8, t: 8, b: 22 };
  const iw = width - m.l - m.r;
  const ih = height - m.t - m.b;
  const y = (v) => m.t + (1 - (v - lo) / (hi - lo)) * ih;
  const svg = s("svg", { width, height, viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": opts.ariaLabel || "bars" });
  const axis = s("g", { class: "axis" }, svg);
  ticks.forEach((v, i) => {
    s("line", { x1: m.l, x2: width - m.r, y1: y(v), y2: y(v), class: "grid-line" }, axis);
    text(axis, m.l - 8, y(v) + 4, labels[i], { "text-anchor": "end" });
  });
  const slot = iw / bars.length;
  const bw = Math.max(1.5, Math.min(28, slot * 0.7));
  bars.forEach((b, i) => {
    const cx = m.l + slot * (i + 0.5);
    const r = s("rect", { x: cx - bw / 2, y: y(b.value), width: bw, height: Math.max(0.5, y(0) - y(b.value)),
      fill: b.color, rx: Math.min(3, bw / 3) }, svg);
    const title = s("title", {}, r);
    title.textContent = b.title || fmtY(b.value);
  });
  if (bars[0].label) text(axis, m.l + slot * 0.5, height - 6, bars[0].label, { "text-anchor": bars.length > 1 ? "start" : "middle" });
  if (bars.length > 1 && bars[bars.length - 1].label) {
    text(axis, m.l + slot * (bars.length - 0.5), height - 6, bars[bars.length - 1].label, { "text-anchor": "end" });
  }
  el.replaceChildren(svg);
  return svg;
}

/** Legend chips for series. */
export function legend(items) {
  return items.map((it) => h("span", {},
    h("i", { class: it.dash ? "sw sw-dash" : "sw sw-line", style: it.dash ? { borderColor: it.color } : { background: it.color } }),
    it.name));
}
