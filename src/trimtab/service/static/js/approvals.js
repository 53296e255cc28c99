// The pending-approvals card: plans above the strategy's approval: thresholds wait here, nothing sent; the admin
// token gets Approve (re-planned on fresh prices at once) and Reject (GET/POST /api/portfolios/{name}/approvals).

import { api, portfolioPath } from "./api.js";
import { toast } from "./controls.js";
import { $, fill, h } from "./dom.js";
import { num, when } from "./format.js";

export function renderApprovals(doc, role, refresh) {
  const card = $("#card-approvals");
  const pending = (doc?.items || []).filter((a) => a.status === "pending");
  card.hidden = !pending.length;
  const key = `${doc?.portfolio}|${role}|${pending.map((a) => a.id).join(",")}`;
  if (card.dataset.key === key) return; // unchanged: keep the buttons under the pointer
  card.dataset.key = key;
  fill($("#approvals-note"), "an approved plan is re-planned on fresh prices before it is sent");
  fill($("#approvals-list"), pending.map((a) => h("li", { class: "approval", "data-approval": a.id },
    h("div", {}, h("b", { text: `#${a.id} · ${a.kind} rebalance` }),
      ` · ${a.plan.orders.length} order(s) · notional ${num(Number(a.notional), 2)} ${a.plan.quote}`,
      ` · expires ${when(a.expires_at)} UTC`),
    h("div", { class: "muted small", text: a.reason }),
    role !== "admin" ? null : h("div", { class: "approval-actions" },
      h("button", { type: "button", class: "btn primary small", text: "Approve",
        onclick: (ev) => decide(ev.target, a, "approve", refresh) }),
      h("button", { type: "button", class: "btn danger small", text: "Reject",
        onclick: (ev) => decide(ev.target, a, "reject", refresh) })))));
}

async function decide(btn, a, action, refresh) {
  btn.disabled = true;
  try {
    await api(portfolioPath(a.portfolio, `/approvals/${a.id}/${action}`), { method: "POST", body: { by: "dashboard" } });
    toast(action === "approve" ? `#${a.id} approved: re-planned on fresh prices now` : `#${a.id} rejected: nothing sent`);
  } catch (err) {
    toast(`${action} failed: ${err.message}`, true);
    btn.disabled = false;
  }
  refresh();
}
