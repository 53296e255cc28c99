"""The HTML report in real headless Chromium with no network: no request but the file itself, four visible charts."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.ci import require

from trimtab.adapters.bundled import bundled_daily
from trimtab.backtest.report import write_report
from trimtab.backtest.runner import backtest
from trimtab.config import load_strategy

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"

pytestmark = pytest.mark.slow


def _unavailable(msg: str) -> None:
    """Skip locally with a clear message; in CI the browser check must run, so fail instead."""
    require(False, msg)


def test_report_renders_offline_in_chromium(tmp_path: Path) -> None:
    if not CHROMIUM.exists():
        _unavailable(f"{CHROMIUM} not found: run scripts/ensure_chromium.sh")
    try:
        from playwright import sync_api
    except ImportError:
        _unavailable("python package 'playwright' is not installed")
    strat = load_strategy("index-fund")
    history = bundled_daily(list(strat.targets), "2023-01-01", "2024-06-30", quote=strat.quote)
    dest = write_report(backtest(strat, history), history, strat, tmp_path / "report.html")
    url = dest.resolve().as_uri()

    requests: list[str] = []
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        try:
            context = browser.new_context(viewport={"width": 1280, "height": 900}, offline=True)

            def record(route, request):  # type: ignore[no-untyped-def]
                requests.append(request.url)
                if request.url == url:
                    route.continue_()
                else:
                    route.abort()

            context.route("**/*", record)
            page = context.new_page()
            page.goto(url, wait_until="load")
            page.wait_for_timeout(200)  # let any late (unwanted) fetch show up in the log
            sizes = page.evaluate("""() => ['equity', 'drawdown', 'weights', 'costs'].map(id => {
                const fig = document.getElementById(id);
                if (!fig) return [id, -1, -1];
                const boxes = [...fig.querySelectorAll('svg, img')].map(e => e.getBoundingClientRect())
                    .filter(r => r.width > 0 && r.height > 0);
                return [id, boxes.length, boxes.length ? Math.min(...boxes.map(r => r.width * r.height)) : 0];
            })""")
            generator = page.evaluate("() => document.querySelector('meta[name=generator]')?.content")
            shown = "() => [...document.querySelectorAll('#equity svg')].map(e => e.getBoundingClientRect().height > 0)"
            before = page.evaluate(shown)
            page.click("label[for=equity-logscale]")  # the CSS-only log-scale toggle
            after = page.evaluate(shown)
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "report.png"), full_page=True)
        finally:
            browser.close()

    assert requests == [url], f"unexpected requests: {[r for r in requests if r != url]}"
    assert generator == "trimtab"
    assert before == [True, False] and after == [False, True]
    for fig_id, visible, area in sizes:
        assert visible >= 1, f"figure #{fig_id} has no rendered <svg>/<img>"
        assert area > 10_000, f"figure #{fig_id} renders too small ({area} px²)"
    assert (ARTIFACTS / "report.png").stat().st_size > 50_000
