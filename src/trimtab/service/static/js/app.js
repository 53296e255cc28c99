// The dashboard: asks for a token, then polls the service every second and redraws the selected portfolio.

import { api, ApiError, portfolioPath, takeTokenFromFragment, token } from "./api.js";
import { $, fill, h } from "./dom.js";
import { editTargets, emergencyExit, pauseOrResume, rebalanceNow, toast } from "./controls.js";
import { when } from "./format.js";
import { renderCorrelations, renderCosts, renderHeader, renderHistory, renderKpis, renderPerformance, renderRisk,
  renderTabs, renderWeights } from "./panels.js";
import { renderSleeves } from "./sleeves.js";
import { renderYield } from "./yields.js";
import { renderApprovals } from "./approvals.js";
import { cashFlow } from "./flows.js";

const POLL_MS = 1000;
const HISTORY_MAX_AGE_MS = 10_000;
const SELECTED = "trimtab.selected";
const state = {
  role: null, list: [], health: null, selected: sessionStorage.getItem(SELECTED), detail: null,
  timer: null, inflight: false, again: false, filters: { kind: "", status: "", text: "" },
};

// -- sign in ------------------------------------------------------------------------------------------------------

function showLogin(message) {
  clearTimeout(state.timer);
  $("#dash").hidden = true;
  $("#live").hidden = true;
  $("#role-badge").hidden = true;
  $("#btn-signout").hidden = true;
  $("#login").hidden = false;
  const err = $("#login-error");
  err.textContent = message || "";
  err.hidden = !message;
  $("#token-input").focus();
}

async function signIn() {
  try {
    const health = await api("api/health");
    start(health);
  } catch (err) {
    token.clear();
    showLogin(err.status === 401 ? "That token was not accepted by the service." : err.message);
  }
}

function start(health) {
  state.role = health.role;
  state.health = health;
  $("#login").hidden = true;
  $("#dash").hidden = false;
  const badge = $("#role-badge");
  badge.hidden = false;
  badge.textContent = state.role === "admin" ? "admin" : "read-only";
  badge.className = `role ${state.role === "admin" ? "" : "read"}`;
  $("#btn-signout").hidden = false;
  if (state.role !== "admin") $("#controls").remove(); // read-only: no control is even rendered
  else wireControls();
  tick();
}

// -- polling ------------------------------------------------------------------------------------------------------

async function load() {
  const [health, list] = await Promise.all([api("api/health"), api("api/portfolios")]);
  state.health = health;
  state.list = list;
  if (!list.some((p) => p.name === state.selected)) state.selected = list.length ? list[0].name : null;
  const name = state.selected;
  if (!name) return;
  const [status, analytics, costs, approvals] = await Promise.all([
    api(portfolioPath(name)), api(portfolioPath(name, "/analytics")), api(portfolioPath(name, "/costs")),
    api(portfolioPath(name, "/approvals?status=pending")),
  ]);
  // the journal (the heaviest document) is fetched again only when something may have changed in it
  const prev = state.detail && state.detail.name === name ? state.detail : null;
  const key = `${costs.rebalances}|${status.pending.trigger}|${status.pending.exit}|${status.paused}|${status.last_decision?.status}`;
  let rebalances = prev?.rebalances;
  if (!prev || prev.key !== key || Date.now() - prev.fetched > HISTORY_MAX_AGE_MS) {
    rebalances = await api(portfolioPath(name, "/rebalances?limit=200"));
  }
  const fetched = rebalances === prev?.rebalances ? prev.fetched : Date.now();
  if (name === state.selected) state.detail = { name, status, analytics, costs, rebalances, key, fetched, approvals };
}

async function tick() {
  clearTimeout(state.timer);
  if (state.inflight) { state.again = true; return; }
  if (document.hidden) { state.timer = setTimeout(tick, POLL_MS); return; }
  state.inflight = true;
  try {
    await load();
    live(true);
    render();
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) {
      token.clear();
      state.inflight = false;
      showLogin("The service no longer accepts this token.");
      return;
    }
    live(false, err.message);
    if (!(err instanceof ApiError)) console.error(err);
  } finally {
    state.inflight = false;
  }
  if (state.again) { state.again = false; tick(); return; }
  state.timer = setTimeout(tick, POLL_MS);
}

const refresh = () => tick();

function live(ok, message) {
  const el = $("#live");
  el.hidden = false;
  el.classList.toggle("down", !ok);
  $("#live-text").textContent = ok ? "Live" : `Reconnecting: ${message}`;
}

// -- rendering ----------------------------------------------------------------------------------------------------

function select(name) {
  if (name === state.selected) return;
  state.selected = name;
  sessionStorage.setItem(SELECTED, name);
  state.detail = null;
  renderTabs(state.list, state.selected, select);
  tick();
}

function render() {
  const hl = state.health;
  if (hl) {
    fill($("#service-meta"), "Service time ", h("b", { id: "service-time", text: `${when(hl.time)} UTC` }),
      ` · ${hl.portfolios} portfolio(s) · worker ${hl.worker}`);
  }
  renderTabs(state.list, state.selected, select);
  const d = state.detail;
  if (!d) return;
  const quote = d.status.quote;
  renderHeader(d.status, state.role);
  renderKpis(d.status, d.analytics, d.costs);
  renderWeights(d.status);
  renderYield(d.status);
  renderSleeves(d.status);
  renderApprovals(d.approvals, state.role, refresh);
  renderRisk(d.analytics);
  renderPerformance(d.analytics, d.rebalances);
  renderCorrelations(d.analytics);
  renderCosts(d.costs, d.analytics, quote);
  renderHistory(d.rebalances, state.filters);
}

function wireControls() {
  $("#btn-pause").addEventListener("click", () => pauseOrResume(state.selected, $("#btn-pause").dataset.action || "pause", refresh));
  $("#btn-rebalance").addEventListener("click", () => rebalanceNow(state.selected, refresh));
  $("#btn-targets").addEventListener("click", () => {
    if (state.detail) editTargets(state.selected, state.detail.status.targets, refresh);
  });
  for (const action of ["deposit", "withdraw"]) {
    $(`#btn-${action}`).addEventListener("click", () => {
      if (state.detail) cashFlow(state.selected, action, state.detail.status, refresh);
    });
  }
  $("#btn-exit").addEventListener("click", () => {
    if (state.detail) emergencyExit(state.selected, state.detail.status.quote, refresh);
  });
}

function wireFilters() {
  const update = () => {
    state.filters = { kind: $("#filter-kind").value, status: $("#filter-status").value, text: $("#filter-text").value };
    if (state.detail) renderHistory(state.detail.rebalances, state.filters);
  };
  for (const id of ["#filter-kind", "#filter-status", "#filter-text"]) $(id).addEventListener("input", update);
}

let resizeTimer = null;
window.addEventListener("resize", () => {
  clearTimeout(resizeTimer);
  resizeTimer = setTimeout(() => { if (state.detail) render(); }, 120);
});
document.addEventListener("visibilitychange", () => { if (!document.hidden && state.role) tick(); });

$("#login-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  token.set($("#token-input").value.trim());
  $("#token-input").value = "";
  signIn();
});
$("#btn-signout").addEventListener("click", () => {
  token.clear();
  sessionStorage.removeItem(SELECTED);
  location.reload();
});
wireFilters();
takeTokenFromFragment();
if (token.get()) signIn();
else showLogin();
window.addEventListener("error", (ev) => toast(`Page error: ${ev.message}`, true));
