"""User files at the edge: holdings (YAML/JSON), latest prices (CSV or a price history), market rules (YAML)."""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from trimtab.config import read_yaml
from trimtab.core.base.types import ZERO, MarketRules, asset_symbol
from trimtab.errors import ConfigError, DataError

DEFAULT_RULES = MarketRules(amount_step=Decimal("1e-8"), price_tick=Decimal("1e-8"), min_notional=Decimal("1"))


def to_decimal(raw: Any, *, source: str, field: str) -> Decimal:
    """A quantity from YAML (string or number) as an exact, finite Decimal."""
    if isinstance(raw, bool) or raw is None:
        raise ConfigError(f"expected a number, got {raw!r}", source=source, field=field)
    try:
        value = Decimal(repr(raw)) if isinstance(raw, float) else Decimal(str(raw).strip())
    except InvalidOperation:
        raise ConfigError(f"expected a number, got {raw!r}", source=source, field=field) from None
    if not value.is_finite():
        raise ConfigError(f"must be a finite number, got {raw!r}", source=source, field=field)
    return value


def load_holdings(path: str | Path) -> dict[str, Decimal]:
    """Holdings file: `holdings: {BTC: "0.5", ...}` (or a bare mapping); quantities >= 0, symbols case-insensitive."""
    p = Path(path)
    data = read_yaml(p)
    if isinstance(data, dict) and "holdings" in data:
        extra = set(data) - {"holdings", "name", "description", "quote"}
        if extra:
            raise ConfigError("unknown key", source=str(p), field=sorted(extra)[0])
        data = data["holdings"]
    if not isinstance(data, dict) or not data:
        raise ConfigError("expected a mapping of asset to quantity", source=str(p), field="holdings")
    out: dict[str, Decimal] = {}
    for k, v in data.items():
        sym = asset_symbol(str(k))
        q = to_decimal(v, source=str(p), field=f"holdings.{sym}")
        if q < 0:
            raise ConfigError(f"quantity must be >= 0, got {q}", source=str(p), field=f"holdings.{sym}")
        if sym in out:
            raise ConfigError("listed twice (symbols are case-insensitive)", source=str(p), field=f"holdings.{sym}")
        out[sym] = q
    return out


def is_latest_price_table(path: str | Path) -> bool:
    """True for a two-column `asset,price` CSV of latest prices (not a price history)."""
    p = Path(path)
    return p.suffix == ".csv" and p.is_file() and _latest_table(p) is not None


def _latest_table(p: Path) -> tuple[datetime, dict[str, Decimal]] | None:
    """A two-column `asset,price` CSV of latest prices, or None if the file is a price history."""
    import pandas as pd

    try:
        head = pd.read_csv(p, nrows=1)
    except Exception as e:  # noqa: BLE001 - any parser failure is a data error naming the file
        raise DataError(f"cannot read prices: {e}", source=str(p)) from None
    cols = {c.lower() for c in head.columns}
    if not ({"asset", "price"} <= cols or {"symbol", "price"} <= cols) or cols & {
        "date",
        "timestamp",
        "time",
        "timestamp_utc",
    }:
        return None
    df = pd.read_csv(p)
    df.columns = [c.lower() for c in df.columns]
    name_col = "asset" if "asset" in df.columns else "symbol"
    prices: dict[str, Decimal] = {}
    for i, row in enumerate(df.itertuples(index=False), start=2):
        sym = asset_symbol(str(getattr(row, name_col)))
        if sym in prices:
            raise DataError(
                "listed twice (symbols are case-insensitive)", source=str(p), field=f"{name_col} (row {i}, {sym})"
            )
        prices[sym] = _positive(row.price, source=str(p), field=f"price (row {i}, {sym})")
    when = datetime.fromtimestamp(p.stat().st_mtime, tz=UTC)
    return when, prices


def _positive(raw: Any, *, source: str, field: str) -> Decimal:
    try:
        f = float(raw)
    except (TypeError, ValueError):
        raise DataError(f"not a number: {raw!r}", source=source, field=field) from None
    if not math.isfinite(f) or f <= 0:
        raise DataError(f"price must be a positive number, got {raw}", source=source, field=field)
    return Decimal(str(raw)).normalize() if not isinstance(raw, float) else Decimal(repr(f))


def in_quote_units(prices: dict[str, Decimal], quote: str) -> dict[str, Decimal]:
    """Prices re-expressed in units of `quote` (trades settle in it), so the quote itself is worth exactly 1."""
    unit = prices.get(quote, Decimal(1))
    return {a: (Decimal(1) if a == quote else p / unit) for a, p in prices.items()} | {quote: Decimal(1)}


def load_latest_prices(
    path: str | Path | None, assets: list[str], quote: str, forward_fill: int = 3
) -> tuple[datetime, dict[str, Decimal]]:
    """Latest prices for `assets` in units of `quote`: an `asset,price` CSV, a history's last row, or bundled data.

    Gaps inside a history are filled up to `forward_fill` rows; a price missing on the last row is refused (a
    filled one would be stale)."""
    if path is not None:
        p = Path(path)
        if not p.is_file():
            raise DataError("no such file", source=str(p))
        table = _latest_table(p) if p.suffix == ".csv" else None
        if table is not None:
            when, prices = table
            prices.setdefault(quote, Decimal(1))
            missing = [a for a in assets if a not in prices]
            if missing:
                raise DataError(f"no price for {', '.join(missing)}", source=str(p), field=missing[0])
            return when, in_quote_units(prices, quote)
    if path is None:
        from datetime import timedelta

        from trimtab.adapters.bundled import bundled_daily, bundled_path, coverage

        recent = str(max(last for _, last in coverage().values()) - timedelta(days=30))  # gaps of 2015 cannot matter
        history = bundled_daily(assets, quote=quote, start=recent, require_complete=False)  # cached: no CSV parse
        path = bundled_path("daily_prices_usd.csv.gz")
    else:
        import numpy as np

        from trimtab.adapters.pricecheck import fmt_time
        from trimtab.adapters.pricefile import load_prices_with_report

        history, rep = load_prices_with_report(
            path, assets=assets, quote=quote, require_complete=False, forward_fill=forward_fill
        )
        last = history.times[-1]
        for gap in rep.filled:
            if int(np.searchsorted(history.times, gap.first_missing)) + gap.rows >= len(history):
                raise DataError(
                    f"no price on the last row ({fmt_time(last)}); the latest is from before "
                    f"{fmt_time(gap.first_missing)} and would be stale",
                    source=str(path),
                    field=gap.asset,
                )
    row = history.prices[-1]
    prices = {}
    for j, a in enumerate(history.assets):
        v = float(row[j])
        if not math.isfinite(v) or v <= 0:
            raise DataError(f"no usable price at the last row ({history.times[-1]})", source=str(path), field=a)
        prices[a] = Decimal(repr(v))
    when = datetime.fromisoformat(str(history.times[-1].astype("datetime64[s]"))).replace(tzinfo=UTC)
    return when, in_quote_units(prices, quote)


def load_rules(path: str | Path | None) -> Callable[[str], MarketRules]:
    """Market rules per asset from YAML (`rules: {BTC: {amount_step: ..., min_notional: ...}, "*": {...}}`)."""
    if path is None:
        return lambda _a: DEFAULT_RULES
    p = Path(path)
    data = read_yaml(p)
    table = data.get("rules", data) if isinstance(data, dict) else None
    if not isinstance(table, dict):
        raise ConfigError(
            "expected `rules:` mapping asset -> {amount_step, price_tick, min_notional, min_amount}", source=str(p)
        )
    parsed: dict[str, MarketRules] = {}
    allowed = {"amount_step", "price_tick", "min_notional", "min_amount"}
    for k, spec in table.items():
        sym = "*" if k == "*" else asset_symbol(str(k))
        if not isinstance(spec, dict) or set(spec) - allowed:
            bad = sorted(set(spec) - allowed)[0] if isinstance(spec, dict) else ""
            raise ConfigError(
                "unknown key" if bad else "expected a mapping",
                source=str(p),
                field=f"rules.{sym}{'.' + bad if bad else ''}",
            )
        vals = {f: to_decimal(v, source=str(p), field=f"rules.{sym}.{f}") for f, v in spec.items()}
        for f, v in vals.items():
            if v < 0:
                raise ConfigError(f"must be >= 0, got {v}", source=str(p), field=f"rules.{sym}.{f}")
        base = DEFAULT_RULES
        parsed[sym] = MarketRules(
            amount_step=vals.get("amount_step", base.amount_step),
            price_tick=vals.get("price_tick", base.price_tick),
            min_notional=vals.get("min_notional", base.min_notional),
            min_amount=vals.get("min_amount", ZERO),
        )
    fallback = parsed.get("*", DEFAULT_RULES)
    return lambda a: parsed.get(a, fallback)
