// Admin controls: pause/resume, rebalance now (dry-run plan first, then confirm), edit targets (the API validates),
// emergency exit (typed confirmation). Each opens a modal; API errors are shown verbatim inside it.

import { api, portfolioPath } from "./api.js";
import { $, fill, h } from "./dom.js";
import { cost, money, num, qty } from "./format.js";

let openCount = 0;

/** A modal dialog; returns handles to change its body, actions and error line, and to close it. */
export function modal({ title, id = "modal", danger = false }) {
  const error = h("p", { class: "error", id: "modal-error", role: "alert", hidden: true });
  const body = h("div", { class: "modal-body" });
  const actions = h("div", { class: "modal-actions" });
  const box = h("div", { class: "modal", id, role: "dialog", "aria-modal": "true", "aria-labelledby": `${id}-title` },
    h("h2", { id: `${id}-title`, class: danger ? "down" : "", text: title }), body, error, actions);
  const backdrop = h("div", { class: "modal-backdrop" }, box);
  const previous = document.activeElement;
  const close = () => {
    backdrop.remove();
    document.removeEventListener("keydown", onKey);
    openCount -= 1;
    if (previous && previous.focus) previous.focus();
  };
  const onKey = (ev) => { if (ev.key === "Escape") close(); };
  backdrop.addEventListener("mousedown", (ev) => { if (ev.target === backdrop) close(); });
  document.addEventListener("keydown", onKey);
  $("#modal-root").append(backdrop);
  openCount += 1;
  return {
    el: box,
    close,
    body: (...nodes) => fill(body, nodes),
    actions: (...nodes) => fill(actions, nodes),
    error: (message) => { error.textContent = message || ""; error.hidden = !message; },
  };
}

export const modalOpen = () => openCount > 0;

export function toast(message, bad = false) {
  const t = h("div", { class: `toast${bad ? " bad" : ""}`, role: "status", text: message });
  $("#toasts").append(t);
  setTimeout(() => t.remove(), 5000);
}

const button = (label, cls, onclick, id) => h("button", { type: "button", class: `btn ${cls}`, id, onclick, text: label });

async function busy(btn, fn) {
  btn.disabled = true;
  try { await fn(); } finally { btn.disabled = false; }
}

// -- pause / resume ---------------------------------------------------------------------------------------------

export async function pauseOrResume(name, action, refresh) {
  try {
    if (action === "resume") await api(portfolioPath(name, "/resume"), { method: "POST" });
    else await api(portfolioPath(name, "/pause"), { method: "POST", body: { reason: "paused from the dashboard" } });
    toast(action === "resume" ? `${name} resumed: checked at once` : `${name} paused: no cycle runs until resumed`);
  } catch (err) {
    toast(`${action} failed: ${err.message}`, true);
  }
  refresh();
}

// -- rebalance now ------------------------------------------------------------------------------------------------

function planTable(plan) {
  if (!plan.orders.length) return h("p", { class: "note", text: "The portfolio is on target: the plan has no order." });
  return h("div", { class: "table-wrap" }, h("table", { id: "dry-run-plan" },
    h("thead", {}, h("tr", {}, ["Side", "Asset", "Quantity", "Price", "Notional", "Est. cost"].map((c, i) =>
      h("th", { class: i > 1 ? "num" : "", text: c })))),
    h("tbody", {}, plan.orders.map((o) => h("tr", {},
      h("td", {}, h("span", { class: `side-${o.side}`, text: o.side.toUpperCase() })), h("td", { text: o.asset }),
      h("td", { class: "num", text: qty(o.quantity) }), h("td", { class: "num", text: qty(o.price) }),
      h("td", { class: "num", text: num(Number(o.notional), 2) }),
      h("td", { class: "num", text: cost(Number(o.est_fee) + Number(o.est_slippage) + Number(o.est_gas)) }))))));
}

export async function rebalanceNow(name, refresh) {
  const m = modal({ title: `Rebalance ${name} to target now?`, id: "modal" });
  m.body(h("p", { class: "muted", text: "Computing the dry-run plan…" }));
  m.actions(button("Cancel", "", () => m.close()));
  let doc;
  try {
    doc = await api(portfolioPath(name, "/costs"));
  } catch (err) {
    m.error(err.message);
    return;
  }
  const plan = doc.projection;
  const total = Number(plan.total_est_cost);
  m.body(
    h("p", { class: "muted", text: `Dry run at service time ${doc.time.slice(0, 16).replace("T", " ")} UTC: nothing is sent until you confirm. The scheduler then rebalances at its next pass with the prices of that moment.` }),
    planTable(plan),
    h("p", { id: "dry-run-total" }, h("b", { text: `Estimated cost ${cost(total)} ${plan.quote}` }),
      ` (fees ${cost(Number(plan.total_est_fee))}, slippage ${cost(Number(plan.total_est_slippage))}, gas ${cost(Number(plan.total_est_gas))}) on a portfolio of ${money(Number(plan.portfolio_value), plan.quote)}.`));
  const confirm = button("Confirm rebalance", "primary", () => busy(confirm, async () => {
    try {
      await api(portfolioPath(name, "/trigger"), { method: "POST" });
      m.close();
      toast(`Rebalance of ${name} queued: it runs at the next scheduler pass`);
      refresh();
    } catch (err) {
      m.error(err.message);
    }
  }), "modal-confirm");
  m.actions(button("Cancel", "", () => m.close()), confirm);
  confirm.focus();
}

// -- edit targets -------------------------------------------------------------------------------------------------

export function editTargets(name, targets, refresh) {
  const m = modal({ title: `Edit the targets of ${name}`, id: "modal" });
  const rows = h("div", { class: "targets-form", id: "targets-rows" });
  const sum = h("span", { id: "targets-sum" });
  const note = h("input", { type: "text", id: "targets-note", maxlength: 500, placeholder: "Note for the audit log (optional)" });
  const newAsset = h("input", { type: "text", id: "new-asset", maxlength: 32, placeholder: "Add an asset, e.g. DOGE", "aria-label": "New asset" });
  const inputs = () => [...rows.querySelectorAll("input[data-asset]")];
  const update = () => {
    const total = inputs().reduce((acc, i) => acc + (Number(i.value) || 0), 0);
    sum.textContent = `${num(total, 2)}%`;
    sum.className = Math.abs(total - 100) < 0.005 ? "good" : "bad";
  };
  const addRow = (asset, weight) => {
    const input = h("input", { type: "number", step: "0.01", min: "0", max: "100", value: weight, "data-asset": asset,
      "aria-label": `${asset} target in percent`, oninput: update });
    const row = h("div", { class: "t-row-edit" }, h("span", { class: "asset", text: asset }), input, h("span", { class: "muted", text: "%" }),
      h("button", { type: "button", class: "icon-btn", title: `Remove ${asset}`, "aria-label": `Remove ${asset}`,
        text: "×", onclick: () => { row.remove(); update(); } }));
    rows.append(row);
  };
  for (const [a, w] of Object.entries(targets)) addRow(a, Number((w * 100).toFixed(4)));
  const add = button("Add", "small", () => {
    const a = newAsset.value.trim().toUpperCase();
    if (!a) return;
    if (inputs().some((i) => i.dataset.asset === a)) { m.error(`${a} is already listed`); return; }
    m.error("");
    addRow(a, 0);
    newAsset.value = "";
    update();
  });
  m.body(
    h("p", { class: "muted", text: "Weights in percent of the portfolio. The service validates them like a strategy file (known symbols, each within [0, 100], summing to 100) and keeps every version in the audit log. The next rebalance moves the portfolio to them." }),
    rows,
    h("div", { class: "t-add" }, newAsset, add),
    h("div", { class: "t-sum" }, h("span", { text: "Sum" }), sum),
    note);
  update();
  const save = button("Save targets", "primary", () => busy(save, async () => {
    const body = { targets: Object.fromEntries(inputs().map((i) => [i.dataset.asset, Number(i.value) / 100])), note: note.value };
    try {
      const doc = await api(portfolioPath(name, "/targets"), { method: "PUT", body });
      m.close();
      toast(`Targets of ${name} saved as version ${doc.version}`);
      refresh();
    } catch (err) {
      m.error(err.message);
    }
  }), "modal-confirm");
  m.actions(button("Cancel", "", () => m.close()), save);
  const first = inputs()[0];
  if (first) first.focus();
}

// -- emergency exit -----------------------------------------------------------------------------------------------

export function emergencyExit(name, quote, refresh) {
  const m = modal({ title: `Emergency exit: ${name}`, id: "modal", danger: true });
  const typed = h("input", { type: "text", id: "exit-confirm-input", autocomplete: "off", spellcheck: "false",
    placeholder: name, "aria-label": "Type the portfolio name to confirm" });
  const go = button("Sell everything", "danger solid", () => busy(go, async () => {
    try {
      const doc = await api(portfolioPath(name, "/exit"), { method: "POST", body: { confirm: typed.value } });
      toast(`Emergency exit of ${name} accepted: ${doc.legs} leg(s); the portfolio pauses after it`);
      m.body(h("p", { class: "note", text: `Accepted. The scheduler sells at once, leg by leg, re-quoting each and skipping any that would receive less than its minimum; then ${name} is paused.` }),
        h("div", { class: "table-wrap" }, h("table", { id: "exit-quotes" },
          h("thead", {}, h("tr", {}, ["Asset", "Quantity", "Route", "Expected", "Minimum"].map((c, i) => h("th", { class: i > 2 || i === 1 ? "num" : "", text: c })))),
          h("tbody", {}, doc.quotes.map((q) => h("tr", {}, h("td", { text: q.asset }), h("td", { class: "num", text: qty(q.quantity) }),
            h("td", { text: q.route }), h("td", { class: "num", text: num(Number(q.expected_received), 2) }),
            h("td", { class: "num", text: num(Number(q.min_received), 2) })))))));
      m.actions(button("Close", "primary", () => m.close(), "modal-close"));
      refresh();
    } catch (err) {
      m.error(err.message);
    }
  }), "modal-confirm");
  go.disabled = true;
  typed.addEventListener("input", () => { go.disabled = typed.value !== name; });
  m.body(
    h("p", { class: "warning", text: `This sells every risk asset of ${name} into ${quote} at market now, each leg guarded by a minimum received (the pre-quote less the configured guard), and then pauses the portfolio. It cannot be undone.` }),
    h("label", { for: "exit-confirm-input" }, "Type ", h("b", { text: name }), " to confirm"),
    typed);
  m.actions(button("Cancel", "", () => m.close()), go);
  typed.focus();
}

