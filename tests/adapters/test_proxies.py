"""WBTC in the bundled data: priced as BTC (the file has no WBTC series), without BTC's market caps."""

from __future__ import annotations

import numpy as np

from trimtab.adapters.bundled import bundled_daily, coverage


def test_a_requested_wbtc_is_priced_as_btc_with_unknown_market_caps() -> None:
    h = bundled_daily(["WBTC", "eth"], start="2023-01-01", end="2023-01-31", quote="USDC")
    btc = bundled_daily(["BTC"], start="2023-01-01", end="2023-01-31", quote="USDC")
    assert h.assets == ("WBTC", "ETH", "USDC")  # BTC was read for WBTC, not asked for: left out
    assert np.array_equal(h.prices[:, 0], btc.prices[:, 0])
    assert h.market_caps is not None and np.isnan(h.market_caps[:, 0]).all() and not np.isnan(h.market_caps[:, 1]).any()
    both = bundled_daily(["BTC", "WBTC"], start="2023-01-01", end="2023-01-31")
    assert both.assets == ("BTC", "WBTC", "USD") and np.array_equal(both.prices[:, 0], both.prices[:, 1])


def test_coverage_lists_wbtc_with_btc_dates_and_the_whole_file_has_no_proxy() -> None:
    assert coverage()["WBTC"] == coverage()["BTC"]
    assert "WBTC" not in bundled_daily(None, start="2024-06-01", require_complete=False).assets
