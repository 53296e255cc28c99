from __future__ import annotations

from datetime import UTC, datetime, timedelta

from trimtab.core.base.schedule import parse_every
from trimtab.core.triggers.rules import AllOf, AnyOf, Calendar, DecisionContext, Never, Not, ThresholdBand

T0 = datetime(2024, 1, 1, tzinfo=UTC)
TARGETS = {"BTC": 0.5, "ETH": 0.3, "USDC": 0.2}


def ctx(weights: dict[str, float], now: datetime = T0, previous: datetime | None = None) -> DecisionContext:
    return DecisionContext(time=now, weights=weights, targets=TARGETS, anchor=T0, previous=previous)


def test_threshold_fires_only_beyond_band_and_names_the_asset() -> None:
    inside = ctx({"BTC": 0.54, "ETH": 0.27, "USDC": 0.19})
    outside = ctx({"BTC": 0.56, "ETH": 0.26, "USDC": 0.18})
    band = ThresholdBand(band=0.05)
    assert not band.check(inside).fired
    assert "closest: BTC" in band.check(inside).reason
    r = band.check(outside)
    assert r.fired and "BTC drift +6.00pp beyond band 5.00pp" in r.reason


def test_threshold_on_exact_band_edge_does_not_fire() -> None:
    assert not ThresholdBand(band=0.05).check(ctx({"BTC": 0.55, "ETH": 0.25, "USDC": 0.2})).fired


def test_relative_band_uses_fraction_of_target() -> None:
    trig = ThresholdBand(relative_band=0.25)  # USDC band = 5pp, ETH = 7.5pp, BTC = 12.5pp
    assert not trig.check(ctx({"BTC": 0.54, "ETH": 0.30, "USDC": 0.16})).fired
    r = trig.check(ctx({"BTC": 0.56, "ETH": 0.30, "USDC": 0.14}))
    assert r.fired and "USDC" in r.reason and "BTC" not in r.reason


def test_calendar_fires_on_the_first_check_at_or_after_each_due_time() -> None:
    cal = Calendar(parse_every("30d"))
    w = dict(TARGETS)
    days = [T0 + timedelta(days=d) for d in range(0, 95)]
    fired = [d for prev, d in zip(days, days[1:], strict=False) if cal.check(ctx(w, d, prev)).fired]
    assert [(d - T0).days for d in fired] == [30, 60, 90]


def test_calendar_months_clamp_to_month_end() -> None:
    every = parse_every("1M")
    jan31 = datetime(2024, 1, 31, tzinfo=UTC)
    assert every.after(jan31, 1) == datetime(2024, 2, 29, tzinfo=UTC)
    assert every.after(jan31, 2) == datetime(2024, 3, 31, tzinfo=UTC)
    # a gap in the data covering two due times fires once
    assert every.due_between(jan31, datetime(2024, 2, 1, tzinfo=UTC), datetime(2024, 4, 5, tzinfo=UTC))


def test_hybrid_is_any_of_and_keeps_reasons_of_firing_members() -> None:
    hybrid = AnyOf((Calendar(parse_every("1w")), ThresholdBand(band=0.05)))
    drifted = {"BTC": 0.6, "ETH": 0.2, "USDC": 0.2}
    r = hybrid.check(ctx(drifted, T0 + timedelta(days=1), T0))
    assert r.fired and not r.calendar and "BTC drift" in r.reason
    r2 = hybrid.check(ctx(dict(TARGETS), T0 + timedelta(days=7), T0 + timedelta(days=6)))
    assert r2.fired and r2.calendar and "calendar" in r2.reason


def test_all_of_not_and_never() -> None:
    drifted = {"BTC": 0.6, "ETH": 0.2, "USDC": 0.2}
    both = AllOf((Calendar(parse_every("1d")), ThresholdBand(band=0.05)))
    assert both.check(ctx(drifted, T0 + timedelta(days=1), T0)).fired
    assert not both.check(ctx(dict(TARGETS), T0 + timedelta(days=1), T0)).fired
    assert Not(ThresholdBand(band=0.05)).check(ctx(dict(TARGETS))).fired
    assert not Never().check(ctx(drifted)).fired


def test_parse_every_rejects_garbage() -> None:
    import pytest

    for bad in ("", "0d", "3 weeks", "1x", "-1d"):
        with pytest.raises(ValueError, match="invalid duration"):
            parse_every(bad)
    assert parse_every("720h").seconds == 30 * 86400
    assert parse_every("3M").months == 3
