"""Strategies on real data: the results table, the tracking-error vs cost frontier, and the model step-path speed.

    python benchmarks/bench_strategies.py            # writes benchmarks/results/strategies.json,
                                                     # docs/evidence.md and docs/img/frontier.png

Data: the bundled CoinGecko daily file, 2019-01-01 to 2024-06-30. Static-target strategies hold the mix of the
adaptive presets (BTC 40, ETH 25, BNB 10, XRP 10, DOGE 5, USDC 10: every series complete over the window);
model strategies use their presets' universes (late listings join, series that end are sold at their last price).
Cost drag is sum_t cost_t / pre-trade value_t per year (bps), so strategies that grow faster are not penalised.
"""

from __future__ import annotations

import dataclasses
import json
import os
import platform
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np

from trimtab.adapters.bundled import bundled_daily
from trimtab.backtest.results import result_metrics
from trimtab.backtest.runner import backtest
from trimtab.backtest.simulator import BacktestResult, step_backtest
from trimtab.config import load_strategy, load_strategy_spec, parse_strategy
from trimtab.core.allocation.optimizers import RiskParity
from trimtab.core.allocation.targets import ModelTargets
from trimtab.core.base.history import PriceHistory
from trimtab.core.base.schedule import parse_every
from trimtab.core.costs.model import linear_costs
from trimtab.core.execution.planner import PlanSettings
from trimtab.core.strategy import Strategy
from trimtab.core.triggers.rules import Calendar, Never, ThresholdBand

ROOT = Path(__file__).resolve().parent.parent
START, END = "2019-01-01", "2024-06-30"
V0 = 100_000.0
COLUMNS = (
    "cagr",
    "volatility",
    "sharpe",
    "max_drawdown",
    "turnover_annual",
    "total_costs",
    "cost_drag_bps",
    "tracking_error",
    "n_rebalances",
)
BANDS = (0.01, 0.015, 0.02, 0.025, 0.03, 0.04, 0.05, 0.06, 0.08, 0.10, 0.12, 0.15, 0.20)
CALENDARS = ("1d", "3d", "1w", "2w", "1M", "2M", "3M")
REL_BANDS = (0.05, 0.10, 0.15, 0.20, 0.30, 0.40, 0.50, 0.60, 0.80, 1.0, 1.5)
AVERSIONS = (0.03, 0.1, 0.3, 1.0, 3.0, 10.0, 30.0)
FIXED = ("band", "relband", "calendar")


def cost_drag_bps(r: BacktestResult) -> float:
    """Annual cost as a fraction of the value traded from, in bps (step 0, the initial purchase, excluded)."""
    cost = (r.fee + r.slippage + r.gas)[1:]
    pre = r.equity[1:] + cost
    years = (len(r.equity) - 1) / r.periods_per_year
    return float(np.sum(cost / pre) / years * 1e4)


def row(r: BacktestResult, seconds: float) -> dict[str, Any]:
    m = result_metrics(r)
    out = {k: m[k] for k in COLUMNS if k in m}
    out["cost_drag_bps"] = cost_drag_bps(r)
    out["seconds"] = round(seconds, 3)
    out["path"] = r.path
    return out


def timed(strategy: Strategy, history: PriceHistory, start: int = 0) -> tuple[BacktestResult, float]:
    t0 = time.perf_counter()
    if start:
        r = step_backtest(strategy, history, V0, start=start)
    else:
        r = backtest(strategy, history, initial_value=V0)
    return r, time.perf_counter() - t0


def static_variants(base: Strategy) -> dict[str, Strategy]:
    def with_trigger(name: str, trig: Any, band: float | None = None) -> Strategy:
        return dataclasses.replace(
            base, name=name, trigger=trig, settings=dataclasses.replace(base.settings, band=band)
        )

    return {
        "buy-and-hold": with_trigger("buy-and-hold", Never()),
        "calendar-monthly": with_trigger("calendar-monthly", Calendar(parse_every("1M"))),
        "threshold-5%": with_trigger("threshold-5%", ThresholdBand(band=0.05), 0.05),
    }


def load_for(strategy: Strategy) -> PriceHistory:
    """The strategy's assets over the window: complete prices for static ones, gaps allowed for models."""
    model = strategy.allocation is not None
    assets = None if strategy.universe_from_data else list(strategy.universe)
    return bundled_daily(
        assets,
        start=START,
        end=END,
        quote=strategy.quote,
        forward_fill=5 if assets is None else 3,
        require_complete=not model,
    )


def table(static_h: PriceHistory) -> dict[str, dict[str, Any]]:
    rows: dict[str, dict[str, Any]] = {}
    base = load_strategy("cost-aware")
    for name, s in static_variants(base).items():
        r, sec = timed(s, static_h)
        rows[name] = row(r, sec)
    for preset in (
        "volatility-adaptive",
        "regime-aware",
        "cost-aware",
        "index-top10",
        "risk-parity",
        "inverse-vol",
        "vol-target",
        "min-variance",
        "kelly",
    ):
        s = load_strategy(preset)
        h = static_h if s.allocation is None else load_for(s)
        r, sec = timed(s, h)
        rows[preset] = row(r, sec)
        if isinstance(s.allocation, ModelTargets):
            rows[preset]["fallback_notes"] = sum(len(n) for n in r.extra.get("allocation_notes", {}).values())
        print(f"{preset:20s} {sec:6.2f} s  CAGR {rows[preset]['cagr']:.1%}  TE {rows[preset]['tracking_error']:.2%}")
    return rows


def frontier_points(static_h: PriceHistory) -> dict[str, list[dict[str, Any]]]:
    """Fixed absolute bands and calendars (fast path), the adaptive presets and a cost_aware aversion sweep (step)."""
    base = load_strategy("cost-aware")
    pts: dict[str, list[dict[str, Any]]] = {
        "band": [],
        "relband": [],
        "calendar": [],
        "cost_aware": [],
        "cost_aware_edge": [],
        "bands_only": [],
        "adaptive": [],
    }
    for b in BANDS:
        s = dataclasses.replace(
            base, trigger=ThresholdBand(band=b), settings=dataclasses.replace(base.settings, band=b)
        )
        pts["band"].append({"param": b, **row(*timed(s, static_h))})
    for b in REL_BANDS:
        s = dataclasses.replace(
            base, trigger=ThresholdBand(relative_band=b), settings=dataclasses.replace(base.settings, relative_band=b)
        )
        pts["relband"].append({"param": b, **row(*timed(s, static_h))})
    for e in CALENDARS:
        s = dataclasses.replace(base, trigger=Calendar(parse_every(e)))
        pts["calendar"].append({"param": e, **row(*timed(s, static_h))})
    doc = load_strategy_spec("cost-aware").model_dump(mode="json", exclude_none=True)
    for to, key, test in (
        ("target", "cost_aware", True),
        ("band_edge", "cost_aware_edge", True),
        ("target", "bands_only", False),
    ):
        for g in AVERSIONS:
            d = {**doc, "rebalance_to": to, "trigger": {**doc["trigger"], "aversion": g, "benefit_test": test}}
            s = parse_strategy(d, "cost-aware sweep").build()
            pts[key].append({"param": g, **row(*timed(s, static_h))})
            print(
                f"{key} aversion {g:6g}: TE {pts[key][-1]['tracking_error']:.3%}  drag "
                f"{pts[key][-1]['cost_drag_bps']:.1f} bps"
            )
    for preset in ("volatility-adaptive", "regime-aware", "cost-aware"):
        pts["adaptive"].append({"param": preset, **row(*timed(load_strategy(preset), static_h))})
    return pts


def verdicts(pts: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """For each cost_aware point: the lowest tracking error any fixed policy (absolute or relative band, calendar)
    reaches at equal or lower cost drag."""
    out = []
    fixed = [{**b, "name": _fixed_name(k, b["param"])} for k in FIXED for b in pts[k]]
    for key in ("cost_aware", "cost_aware_edge", "bands_only"):
        for p in pts[key]:
            cheaper = [b for b in fixed if b["cost_drag_bps"] <= p["cost_drag_bps"] + 1e-9]
            best = min(cheaper, key=lambda b: b["tracking_error"]) if cheaper else None
            out.append(
                {
                    "policy": key,
                    "aversion": p["param"],
                    "cost_drag_bps": p["cost_drag_bps"],
                    "tracking_error": p["tracking_error"],
                    "best_band": best["name"] if best else None,
                    "best_band_te": best["tracking_error"] if best else None,
                    "best_band_cost_drag_bps": best["cost_drag_bps"] if best else None,
                    "beats_best_band": bool(best is None or p["tracking_error"] < best["tracking_error"]),
                }
            )
    return out


def _fixed_name(kind: str, param: Any) -> str:
    if kind == "calendar":
        return f"every {param}"
    return f"band {param:.1%}" if kind == "band" else f"relative band {param:.0%}"


def speed() -> dict[str, Any]:
    """5 years daily, 20 synthetic assets, risk parity re-estimated weekly, weekly calendar: step path seconds."""
    rng = np.random.default_rng(20240601)
    t_len, n = 5 * 365 + 1, 20
    vols = np.linspace(0.4, 1.2, n) / np.sqrt(365)
    common = rng.normal(0, 1, (t_len, 1))
    r = 0.6 * common * vols + 0.8 * rng.normal(0, 1, (t_len, n)) * vols
    p = 100 * np.exp(np.cumsum(r, axis=0))
    assets = tuple(f"A{i:02d}" for i in range(n))
    h = PriceHistory(
        times=np.arange(t_len).astype("timedelta64[D]") + np.datetime64("2019-01-01"), assets=assets, prices=p
    )
    runs = []
    for _ in range(3):
        alloc = ModelTargets(RiskParity(lookback=365), assets, parse_every("1w"))
        s = Strategy(
            "rp20",
            "USDC",
            {},
            Calendar(parse_every("1w")),
            linear_costs(10, 5, 0),
            settings=PlanSettings(min_trade=Decimal(0)),
            allocation=alloc,
        )
        t0 = time.perf_counter()
        res = step_backtest(s, h, V0)
        runs.append(time.perf_counter() - t0)
    return {
        "case": "risk parity, 20 assets, 5 years daily (1826 steps), weekly re-estimation and rebalance, step path",
        "seconds_best_of_3": round(min(runs), 3),
        "seconds_all": [round(x, 3) for x in runs],
        "rebalances": int(res.rebalanced.sum()),
        "limit_seconds": 3.0,
    }


def plot(pts: dict[str, list[dict[str, Any]]], dest: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter, NullFormatter

    fig, axes = plt.subplots(1, 2, figsize=(14, 6.5), dpi=130, gridspec_kw={"width_ratios": [1, 1.25]})
    x = "cost_drag_bps"
    styles: list[tuple[str, str, str, str, Callable[[Any], str] | None]] = [
        ("band", "fixed absolute band", "o-", "tab:blue", lambda b: f"{b:.1%}"),
        ("relband", "fixed relative band", "o:", "tab:orange", lambda b: f"{b:.0%}"),
        ("calendar", "calendar", "s--", "tab:green", str),
        ("cost_aware", "cost_aware, to target (γ)", "^-", "tab:red", lambda g: f"γ={g:g}"),
        ("cost_aware_edge", "cost_aware, to band edge (γ)", "v-", "tab:purple", None),
        ("bands_only", "cost_aware bands, no benefit test (γ)", "x:", "tab:brown", None),
    ]
    for k, ax in enumerate(axes):
        zoom = k == 1
        for key, label, style, color, fmt in styles:
            ps = sorted(pts[key], key=lambda p: p[x])
            ax.plot(
                [p[x] for p in ps],
                [p["tracking_error"] * 100 for p in ps],
                style,
                color=color,
                label=label,
                ms=5,
                lw=1.4,
            )
            if fmt is not None and (zoom or key in ("band", "calendar")):
                for p in ps:
                    if not zoom or 8.5 <= p[x] <= 32:
                        ax.annotate(
                            fmt(p["param"]),
                            (p[x], p["tracking_error"] * 100),
                            textcoords="offset points",
                            xytext=(4, 4 if key != "calendar" else -10),
                            fontsize=7,
                            color=color,
                        )
        for p, m in zip(pts["adaptive"], ("*", "P", "D"), strict=True):
            ax.plot(p[x], p["tracking_error"] * 100, m, ms=11, label=f"preset {p['param']}", mec="black", alpha=0.85)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        ax.xaxis.set_minor_formatter(FuncFormatter(lambda v, _, z=zoom: f"{v:g}" if z and v in (9, 20, 30) else ""))
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}%"))
        ax.yaxis.set_minor_formatter(FuncFormatter(lambda v, _: f"{v:g}%") if zoom else NullFormatter())
        ax.set_xlabel("cost drag (bps of value per year, log)")
        ax.grid(True, which="both", alpha=0.25)
        if zoom:
            ax.set_xlim(8.5, 32)
            ax.set_ylim(1.1, 6.5)
            ax.set_title("zoom: 8.5-32 bps/yr", fontsize=10)
            ax.legend(fontsize=8, loc="upper right")
        else:
            ax.set_ylabel("mean tracking error (% of value misallocated, log)")
            ax.set_title("all policies", fontsize=10)
    fig.suptitle(
        "Tracking error vs cost: BTC 40 / ETH 25 / BNB 10 / XRP 10 / DOGE 5 / USDC 10, daily 2019-01 to 2024-06, "
        "fee 10 + slippage 5 bps (lower-left is better)",
        fontsize=11,
    )
    fig.tight_layout()
    dest.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(dest)
    plt.close(fig)


def _pct(v: float) -> str:
    return f"{v * 100:.1f}%"


def evidence(doc: dict[str, Any], dest: Path) -> None:
    rows = doc["table"]
    lines = [
        "# Evidence: strategies on real data",
        "",
        f"Generated by `python benchmarks/bench_strategies.py` ({doc['generated']}, Python {doc['python']}); "
        "raw numbers in `benchmarks/results/strategies.json`.",
        "",
        f"Data: bundled CoinGecko daily closes, {START} to {END} (2008 days), fee 10 bps + slippage 5 bps, "
        "$100,000 start. Static-target rows hold BTC 40 / ETH 25 / BNB 10 / XRP 10 / DOGE 5 / USDC 10 (every "
        "series complete over the window). Model rows use their presets' universes (BTC ETH BNB XRP SOL ADA DOGE "
        "TRX LTC LINK; SOL joins in 2020; the ADA, TRX, LTC and LINK series end on 2023-11-30 and are then sold at "
        "their last price) or, for the index, every asset in the file except stablecoins. Tracking error is the "
        "mean half-L1 distance of pre-trade weights from the strategy's own targets (for models, targets move). "
        "Cost drag = yearly sum of cost / pre-trade value.",
        "",
        "| strategy | CAGR | vol | Sharpe | max DD | turnover/yr | total costs ($) | cost drag (bps/yr) | "
        "tracking error | rebalances | run (s) |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, r in rows.items():
        lines.append(
            f"| {name} | {_pct(r['cagr'])} | {_pct(r['volatility'])} | {r['sharpe']:.2f} | {_pct(r['max_drawdown'])} | "
            f"{r['turnover_annual']:.2f} | {r['total_costs']:,.0f} | {r['cost_drag_bps']:.1f} | "
            f"{r['tracking_error'] * 100:.2f}% | {r['n_rebalances']} | {r['seconds']:.2f} |"
        )
    lines += [
        "",
        "## Tracking error vs cost",
        "",
        "![frontier](img/frontier.png)",
        "",
        "Fixed absolute bands 1%-20%, relative bands 5%-150% and calendars 1d-3M (all rebalancing to target) are "
        "the baselines; `cost_aware` is swept over its aversion γ: trading to target, to the band edge, and with "
        "its bands alone (no benefit test); the three adaptive presets are the large markers.",
        "",
        "| cost_aware | γ | cost drag (bps/yr) | tracking error | best fixed policy at ≤ cost | its TE | lower TE? |",
        "|---|---|---|---|---|---|---|",
    ]
    for v in doc["verdicts"]:
        best = f"{v['best_band']} ({v['best_band_cost_drag_bps']:.1f} bps)" if v["best_band"] is not None else "none"
        te = f"{v['best_band_te'] * 100:.2f}%" if v["best_band_te"] is not None else "—"
        policy = {"cost_aware": "to target", "cost_aware_edge": "to band edge", "bands_only": "bands only"}[v["policy"]]
        lines.append(
            f"| {policy} | "
            f"{v['aversion']:g} | {v['cost_drag_bps']:.1f} | {v['tracking_error'] * 100:.2f}% | {best} | {te} | "
            f"{'yes' if v['beats_best_band'] else 'no'} |"
        )
    lines += [
        "",
        "## What the data shows",
        "",
        *doc["findings"],
        "",
        "## Speed",
        "",
        f"{doc['speed']['case']}: **{doc['speed']['seconds_best_of_3']:.2f} s** (best of 3; all runs "
        f"{doc['speed']['seconds_all']}; limit 3 s) on this machine's 2 shared cores.",
        "",
    ]
    dest.write_text("\n".join(lines))


def findings(doc: dict[str, Any]) -> list[str]:
    """Plain statements computed from the numbers (no hand-written claims that could drift from them)."""
    v = doc["verdicts"]
    wins = [x for x in v if x["beats_best_band"]]
    names = ", ".join(f"{w['policy']} γ={w['aversion']:g}" for w in wins) or "none"
    out = [
        f"- `cost_aware` reaches a lower tracking error than the best fixed policy at equal or lower cost drag in "
        f"{len(wins)} of {len(v)} swept settings ({names})."
    ]
    pts = doc["frontier"]
    fixed = [{**b, "name": _fixed_name(k, b["param"])} for k in FIXED for b in pts[k]]
    bands = sorted(pts["band"], key=lambda p: p["cost_drag_bps"])
    cals = sorted(pts["calendar"], key=lambda p: p["cost_drag_bps"])
    out.append(
        f"- Fixed bands span {bands[0]['cost_drag_bps']:.1f}-{bands[-1]['cost_drag_bps']:.1f} bps/yr of cost drag "
        f"and {min(p['tracking_error'] for p in bands) * 100:.2f}-{max(p['tracking_error'] for p in bands) * 100:.2f}% "
        f"tracking error; calendars {cals[0]['cost_drag_bps']:.1f}-{cals[-1]['cost_drag_bps']:.1f} bps/yr and "
        f"{min(p['tracking_error'] for p in cals) * 100:.2f}-{max(p['tracking_error'] for p in cals) * 100:.2f}%."
    )

    def dominated(family: str, others: list[dict[str, Any]]) -> int:
        return sum(
            1
            for p in pts[family]
            if any(
                o["cost_drag_bps"] <= p["cost_drag_bps"] + 1e-9 and o["tracking_error"] < p["tracking_error"]
                for o in others
            )
        )

    n = len(AVERSIONS)
    out.append(
        f"- Trading to the band edge instead of to target does worse here: {dominated('cost_aware_edge', fixed)} of "
        f"{n} band-edge settings are beaten by a fixed policy at no more cost (to target: "
        f"{dominated('cost_aware', fixed)} of {n})."
    )
    out.append(
        f"- The benefit test vs the bands alone: {dominated('cost_aware', pts['bands_only'])} of {n} benefit-test "
        "settings are beaten by a bands-only setting at no more cost, and "
        f"{dominated('bands_only', pts['cost_aware'])} "
        f"of {n} bands-only settings by a benefit-test one; both families sit mostly below the fixed policies."
    )
    for p in pts["adaptive"]:
        cheaper = [b for b in fixed if b["cost_drag_bps"] <= p["cost_drag_bps"] + 1e-9]
        best = min(cheaper, key=lambda b: b["tracking_error"]) if cheaper else None
        cmp = (
            f"best fixed policy at ≤ cost: {best['name']} with {best['tracking_error'] * 100:.2f}%"
            if best
            else "no fixed policy is that cheap"
        )
        out.append(
            f"- preset `{p['param']}`: {p['cost_drag_bps']:.1f} bps/yr, tracking error "
            f"{p['tracking_error'] * 100:.2f}% ({cmp})."
        )
    out.append(
        "- Caveats: one data set, one mix, one cost level (15 bps); the gaps between frontiers are tenths of a "
        "percentage point of tracking error. Bands and regimes use point-in-time estimates only, but γ, the "
        "presets' thresholds and this comparison were all chosen looking at the same 2019-2024 period."
    )
    return out


def main() -> None:
    t0 = time.perf_counter()
    static_h = bundled_daily(["BTC", "ETH", "BNB", "XRP", "DOGE"], start=START, end=END, quote="USDC")
    doc: dict[str, Any] = {
        "generated": time.strftime("%Y-%m-%d"),
        "python": platform.python_version(),
        "window": [START, END],
        "initial_value": V0,
    }
    if os.environ.get("TRIMTAB_PLOT_ONLY"):  # re-plot from the last results without re-running
        old = json.loads((ROOT / "benchmarks" / "results" / "strategies.json").read_text())
        plot(old["frontier"], ROOT / "docs" / "img" / "frontier.png")
        return
    doc["table"] = table(static_h)
    doc["frontier"] = frontier_points(static_h)
    doc["verdicts"] = verdicts(doc["frontier"])
    doc["findings"] = findings(doc)
    doc["speed"] = speed()
    print(json.dumps(doc["speed"]))
    doc["total_seconds"] = round(time.perf_counter() - t0, 1)
    out = ROOT / "benchmarks" / "results" / "strategies.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(doc, indent=2) + "\n")
    plot(doc["frontier"], ROOT / "docs" / "img" / "frontier.png")
    evidence(doc, ROOT / "docs" / "evidence.md")
    print("\n".join(doc["findings"]))
    print(f"done in {doc['total_seconds']} s")


if __name__ == "__main__":
    main()
