// Number and time formatting (service times are ISO 8601 UTC; shown as UTC).

const nf = new Map();
function fmt(d) {
  if (!nf.has(d)) nf.set(d, new Intl.NumberFormat("en-US", { minimumFractionDigits: d, maximumFractionDigits: d }));
  return nf.get(d);
}

export const isNum = (v) => typeof v === "number" && Number.isFinite(v);
const z = (v) => v + 0; // -0 -> 0
export const num = (v, d = 2) => (isNum(v) ? fmt(d).format(z(Number(v.toFixed(d)))) : "—");
export const money = (v, quote = "") => (isNum(v) ? `${fmt(Math.abs(v) >= 1e6 ? 0 : 2).format(v)}${quote ? " " + quote : ""}` : "—");
export const cost = (v) => (!isNum(v) ? "—" : v !== 0 && Math.abs(v) < 0.01 ? v.toFixed(4) : fmt(2).format(v));
export const pct = (v, d = 2) => (isNum(v) ? `${fmt(d).format(z(Math.round(v * 100 * 10 ** d) / 10 ** d))}%` : "—");
export const signedPct = (v, d = 2) => (isNum(v) ? `${v >= 0 ? "+" : ""}${fmt(d).format(v * 100)}%` : "—");
export const pp = (v, d = 2) => (isNum(v) ? `${fmt(d).format(v * 100)} pp` : "—");
export const signedPp = (v, d = 2) => (isNum(v) ? `${v >= 0 ? "+" : "−"}${fmt(d).format(Math.abs(v) * 100)} pp` : "—");
export const ratio = (v) => (isNum(v) ? fmt(2).format(v) : "—");

export function qty(text) {
  const v = Number(text);
  if (!Number.isFinite(v)) return String(text);
  const d = Math.abs(v) >= 1000 ? 2 : Math.abs(v) >= 1 ? 4 : 6;
  return fmt(d).format(v);
}

export function when(iso) {
  if (!iso) return "—";
  const t = new Date(iso);
  if (Number.isNaN(t.getTime())) return String(iso);
  return t.toISOString().slice(0, 16).replace("T", " ");
}

export const day = (iso) => (iso ? new Date(iso).toISOString().slice(0, 10) : "—");
export const ms = (iso) => new Date(iso).getTime();
