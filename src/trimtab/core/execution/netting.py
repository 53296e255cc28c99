"""Cross-portfolio netting: the members of one venue account net a cycle's orders per asset and only the net goes
to the venue. Each member books its share at the one price the net order filled at (or the planning mid when the
members crossed fully), and the venue's costs are split pro rata to the quantity each member traded.

Conservation is exact: the members' booked changes of each asset and of the quote sum to the venue's own.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from decimal import ROUND_DOWN, Decimal

from trimtab.core.base.ports import LegFailure
from trimtab.core.base.types import ZERO, CostEstimate, Fill, MarketRules, PlannedOrder, Side

QUANTUM = Decimal("1e-12")  # quote amounts and costs booked per member; the rounding remainder goes to one member


@dataclass(frozen=True, slots=True)
class Share:
    """One member's planned order inside a net leg."""

    member: str
    order: PlannedOrder

    @property
    def signed(self) -> Decimal:
        return self.order.quantity if self.order.side is Side.BUY else -self.order.quantity


@dataclass(frozen=True, slots=True)
class NetLeg:
    """Every member's order of one asset, and the one order (if any) that goes to the venue for their net."""

    asset: str
    quote: str
    shares: tuple[Share, ...]
    order: PlannedOrder | None  # None: the members cross fully, or their net is below the venue's minimum
    step: Decimal
    note: str = ""

    @property
    def net(self) -> Decimal:
        return sum((s.signed for s in self.shares), ZERO)

    @property
    def side(self) -> Side | None:
        n = self.net
        return None if n == 0 else Side.BUY if n > 0 else Side.SELL

    @property
    def mid(self) -> Decimal:
        return self.shares[0].order.price

    @property
    def crossed(self) -> Decimal:
        """Quantity the members trade with each other instead of with the venue."""
        return min(self._total(Side.BUY), self._total(Side.SELL))

    @property
    def alone_cost(self) -> Decimal:
        """What the members' own orders were estimated to cost, each sent alone."""
        return sum((s.order.cost.total for s in self.shares), ZERO)

    def _total(self, side: Side) -> Decimal:
        return sum((s.order.quantity for s in self.shares if s.order.side is side), ZERO)


def net_legs(
    plans: Mapping[str, Sequence[PlannedOrder]], rules: Callable[[str, str], MarketRules]
) -> tuple[NetLeg, ...]:
    """The members' orders netted per asset, sells first (they fund the buys), then buys, then full crosses."""
    by_asset: dict[tuple[str, str], list[Share]] = {}
    for member in sorted(plans):
        for order in plans[member]:
            stepped = _stepped(order, rules(order.asset, order.quote))
            if stepped is not None:
                by_asset.setdefault((order.asset, order.quote), []).append(Share(member, stepped))
    legs = [_leg(asset, quote, tuple(shares), rules(asset, quote)) for (asset, quote), shares in by_asset.items()]
    rank = {Side.SELL: 0, Side.BUY: 1, None: 2}
    return tuple(sorted(legs, key=lambda g: (rank[g.side], g.asset)))


def _stepped(order: PlannedOrder, rules: MarketRules) -> PlannedOrder | None:
    """The order on the venue's lot step (rounded down, as the venue would send it alone), costs scaled with it."""
    qty = rules.quantize_amount(order.quantity)
    if qty <= 0:
        return None
    if qty == order.quantity:
        return order
    k = qty / order.quantity
    cost = CostEstimate(order.cost.fee * k, order.cost.slippage * k, order.cost.gas * k)
    gross = order.gross * k if order.gross is not None else None
    return replace(order, quantity=qty, cost=cost, gross=gross)


def _leg(asset: str, quote: str, shares: tuple[Share, ...], rules: MarketRules) -> NetLeg:
    step = rules.amount_step if rules.amount_step > 0 else QUANTUM
    probe = NetLeg(asset, quote, shares, None, step)
    side = probe.side
    if side is None:
        return probe
    same = [s.order for s in shares if s.order.side is side]
    qty = rules.quantize_amount(abs(probe.net))
    if qty <= 0 or qty < rules.min_amount or qty * probe.mid < rules.min_notional:
        return replace(probe, note=f"net {abs(probe.net).normalize():f} below the venue's minimum: crossed only")
    total = sum((o.quantity for o in same), ZERO)
    scale = qty / total
    cost = CostEstimate(
        sum((o.cost.fee for o in same), ZERO) * scale,
        sum((o.cost.slippage for o in same), ZERO) * scale,
        sum((o.cost.gas for o in same), ZERO) * scale,
    )
    exec_price = sum((o.exec_price * o.quantity for o in same), ZERO) / total
    order = PlannedOrder(asset, quote, side, qty, probe.mid, exec_price, cost)
    return replace(probe, order=order)


@dataclass(frozen=True, slots=True)
class Booked:
    """A member's part of one net leg: what it booked (None if nothing) and what it did not get."""

    fill: Fill | None
    failure: LegFailure | None
    saved: Decimal  # its own order's estimated cost (for what it got) minus the costs booked to it (quote units)
    residual: Decimal = ZERO  # not traded because the net was below the venue's minimum (not a failure)


def allocate(leg: NetLeg, fill: Fill | None, ref: str, why: str = "") -> dict[str, Booked]:
    """Each member's booking for `leg` given what the venue did with its net order (`fill`, None if nothing).

    Members on the side opposite the net are filled in full against the others; the net side shares the crossed
    quantity plus the venue's fill pro rata (in lot steps). `why` explains what did not fill."""
    n = fill.quantity if fill is not None else ZERO
    side = leg.side
    wanted = {s.member: s.order.quantity for s in leg.shares}
    got = {s.member: s.order.quantity for s in leg.shares if s.order.side is not side}
    near = [s for s in leg.shares if s.order.side is side]
    got.update(_pro_rata({s.member: s.order.quantity for s in near}, leg.crossed + n, leg.step))
    price = (fill.quote_amount / n) if fill is not None and n > 0 else leg.mid
    gross = _gross(leg, got, fill, n)
    costs = _costs(got, fill)
    out: dict[str, Booked] = {}
    for s in leg.shares:
        x = got.get(s.member, ZERO)
        fee, slippage, gas = costs.get(s.member, (ZERO, ZERO, ZERO))
        booked = None
        if x > 0:
            booked = Fill(
                leg.asset,
                leg.quote,
                s.order.side,
                x,
                price.quantize(QUANTUM),
                fee,
                slippage,
                gas,
                order_id=f"{fill.order_id if fill is not None and fill.order_id else ref}:{s.member}",
                fee_asset=fill.fee_asset if fill is not None else "",
                gross=gross[s.member],
            )
        short = wanted[s.member] - x
        failure = None
        if short > 0 and leg.order is not None:
            failure = LegFailure(replace(s.order, quantity=short), why or "net order not filled", x)
        paid = fee * (price if fill is not None and fill.fee_asset == leg.asset else 1) + slippage + gas
        residual = short if leg.order is None else ZERO  # too small to send: left as drift, like a planner residual
        out[s.member] = Booked(booked, failure, s.order.cost.total * x / wanted[s.member] - paid, residual)
    return out


def _pro_rata(wanted: Mapping[str, Decimal], available: Decimal, step: Decimal) -> dict[str, Decimal]:
    """`available` split in proportion to `wanted`, in lot steps, never above what each wanted."""
    total = sum(wanted.values(), ZERO)
    if available >= total:
        return dict(wanted)
    got = {m: _floor(available * q / total, step) for m, q in wanted.items()}
    rest = available - sum(got.values(), ZERO)
    order = sorted(wanted, key=lambda m: (-wanted[m], m))
    while rest > 0:
        moved = False
        for m in order:
            add = min(step, wanted[m] - got[m], rest)
            if add > 0:
                got[m] += add
                rest -= add
                moved = True
        if not moved:
            break
    return got


def _floor(x: Decimal, step: Decimal) -> Decimal:
    return (x / step).to_integral_value(rounding=ROUND_DOWN) * step


def _largest(amounts: Mapping[str, Decimal], among: Sequence[str] | None = None) -> str | None:
    names = [m for m in (among if among is not None else list(amounts)) if amounts.get(m, ZERO) > 0]
    return min(names, key=lambda m: (-amounts[m], m)) if names else None


def _gross(leg: NetLeg, got: Mapping[str, Decimal], fill: Fill | None, n: Decimal) -> dict[str, Decimal]:
    """Quote amounts: at the mid for a full cross; else the venue's gross pro rata, so that the net side's total
    minus the far side's equals the venue's gross exactly (the remainder goes to the largest net-side member)."""
    if fill is None or n <= 0:
        return {m: x * leg.mid for m, x in got.items()}
    venue_gross = fill.quote_amount
    out = {m: (x * venue_gross / n).quantize(QUANTUM) for m, x in got.items()}
    near = [s.member for s in leg.shares if s.order.side is leg.side]
    r = _largest(got, near)
    if r is None:
        raise RuntimeError("internal invariant broken: a venue fill with no member on its side")
    far = sum((out[s.member] for s in leg.shares if s.order.side is not leg.side and s.member in out), ZERO)
    others = sum((out[m] for m in near if m != r and m in out), ZERO)
    out[r] = venue_gross + far - others
    return out


def _costs(got: Mapping[str, Decimal], fill: Fill | None) -> dict[str, tuple[Decimal, Decimal, Decimal]]:
    """The venue's fee, slippage and gas split pro rata to each member's booked quantity (remainder to the
    largest), so they sum to the venue's exactly."""
    if fill is None:
        return {}
    total = sum(got.values(), ZERO)
    r = _largest(got)
    if r is None or total <= 0:
        return {}
    parts: dict[str, list[Decimal]] = {}
    for amount in (fill.fee, fill.slippage, fill.gas):
        shares = {m: (amount * x / total).quantize(QUANTUM) for m, x in got.items() if x > 0}
        shares[r] = amount - sum((v for m, v in shares.items() if m != r), ZERO)
        for m, v in shares.items():
            parts.setdefault(m, []).append(v)
    return {m: (v[0], v[1], v[2]) for m, v in parts.items()}
