// Deposit / withdraw from the dashboard (admin): the amount goes to POST /api/portfolios/{name}/deposit|withdraw;
// the portfolio's next cycle records it and trades for it. API errors are shown verbatim in the dialog.

import { api, portfolioPath } from "./api.js";
import { h } from "./dom.js";
import { modal, toast } from "./controls.js";
import { money } from "./format.js";

export function cashFlow(name, action, status, refresh) {
  const m = modal({ title: action === "deposit" ? `Deposit into ${name}` : `Withdraw from ${name}`, id: "flow-modal" });
  const input = h("input", { id: "flow-amount", type: "number", min: "0", step: "any", required: true,
    placeholder: `amount in ${status.quote}`, "aria-label": `amount in ${status.quote}` });
  m.body(
    h("p", { class: "note", text: action === "deposit"
      ? "Recorded at the next cycle, which buys the most underweight assets first (no extra rebalance)."
      : `The next cycle sells the most overweight assets first, then books the withdrawal (value now ${money(status.value, status.quote)}).` }),
    h("label", { for: "flow-amount", text: `Amount (${status.quote})` }), input);
  const send = h("button", { type: "button", class: "btn primary", id: "flow-send", text: action === "deposit" ? "Deposit" : "Withdraw",
    onclick: async () => {
      m.error("");
      send.disabled = true;
      try {
        const doc = await api(portfolioPath(name, `/${action}`), { method: "POST", body: { amount: input.value } });
        m.close();
        toast(`${action} of ${doc.amount} ${status.quote} queued: ${doc.paused ? "taken up once resumed" : "taken up at the next cycle"}`);
        refresh();
      } catch (err) {
        m.error(err.message);
      } finally {
        send.disabled = false;
      }
    } });
  m.actions(h("button", { type: "button", class: "btn ghost", text: "Cancel", onclick: () => m.close() }), send);
  input.focus();
}
