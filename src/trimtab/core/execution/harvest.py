"""Tax-loss harvesting: the lots to sell at a loss now, the wash-sale-like wait that follows each loss sale, and the
targets served meanwhile (the waiting asset's shortfall held in its substitute, or in the quote).

After the practice described in Horan & Adler, "Tax-Aware Investment Management Practice" (2009) and the 30-day
wash-sale window of IRC s.1091 as a model only: no identity rules across assets, no jurisdiction specifics, not
tax advice. Exact in Decimal; losses at the mid price before costs (the sale's costs only deepen them).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from trimtab.core.base.lots import LotBook, LotMethod
from trimtab.core.base.portfolio import PortfolioState
from trimtab.core.base.types import ZERO, PlannedOrder, Side, TradePlan
from trimtab.core.costs.model import CostModel
from trimtab.core.execution.planner import RulesFor, _rules_lookup

_MAX_ITER = 30


@dataclass(frozen=True, slots=True)
class HarvestPolicy:
    """`harvest_losses`: a lot is harvested when its loss reaches `threshold` of its basis (and the asset's harvest
    reaches `min_loss` in the quote); the asset is not bought back for `wait`, held in `substitute` meanwhile."""

    threshold: float = 0.10
    min_loss: Decimal = ZERO
    wait: timedelta = timedelta(days=30)
    substitute: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class HarvestLot:
    """One lot to sell: its quantity, basis and value at the mid price (quote units), and its term."""

    asset: str
    lot_id: str
    quantity: Decimal
    basis: Decimal
    value: Decimal
    term: str

    @property
    def loss(self) -> Decimal:
        return self.basis - self.value


def harvestable(
    book: LotBook, prices: Mapping[str, Decimal], time: datetime, method: LotMethod, policy: HarvestPolicy, quote: str
) -> dict[str, tuple[HarvestLot, ...]]:
    """Per asset, the longest run of its lots in `method` order (the order a sell closes them) each at a loss of at
    least `threshold` of its basis; kept when their loss together reaches `min_loss`. HIFO reaches every such lot."""
    cut = Decimal(1) - Decimal(repr(policy.threshold))
    out: dict[str, tuple[HarvestLot, ...]] = {}
    for asset in sorted(book.lots):
        price = prices.get(asset)
        if asset == quote or price is None or price <= 0:
            continue
        run: list[HarvestLot] = []
        for lot in book.order(asset, method):
            value = lot.quantity * price
            if lot.cost <= 0 or value > lot.cost * cut:
                break
            term = "long" if time - lot.acquired > book.holding_period else "short"
            run.append(HarvestLot(asset, lot.lot_id, lot.quantity, lot.cost, value, term))
        if run and sum((h.loss for h in run), ZERO) >= policy.min_loss:
            out[asset] = tuple(run)
    return out


def harvest_sales(book: LotBook, policy: HarvestPolicy) -> dict[str, datetime]:
    """The last harvest time per asset, from the disposal history: a sale of an asset whose lots together lost at
    least `threshold` of their basis and `min_loss` counts, whoever sent it (the wait follows the loss sale)."""
    by: dict[tuple[str, datetime], tuple[Decimal, Decimal]] = {}
    for d in book.disposals:
        basis, proceeds = by.get((d.asset, d.sold), (ZERO, ZERO))
        by[(d.asset, d.sold)] = (basis + d.basis, proceeds + d.proceeds)
    out: dict[str, datetime] = {}
    frac = Decimal(repr(policy.threshold))
    for (asset, sold), (basis, proceeds) in by.items():
        loss = basis - proceeds
        harvest = loss > 0 and loss >= frac * basis and loss >= policy.min_loss
        if harvest and (asset not in out or sold > out[asset]):
            out[asset] = sold
    return out


def waiting(book: LotBook, policy: HarvestPolicy, now: datetime) -> dict[str, datetime]:
    """Assets in their wait at `now`: asset -> the end of the wait (harvested at t: no buy before t + wait)."""
    return {a: t + policy.wait for a, t in harvest_sales(book, policy).items() if now < t + policy.wait}


def returns_due(book: LotBook, policy: HarvestPolicy, now: datetime) -> dict[str, datetime]:
    """Assets whose wait has ended with no buy since the harvest (no lot acquired after it): asset -> harvest time."""
    out = {}
    for asset, sold in harvest_sales(book, policy).items():
        if now < sold + policy.wait:
            continue
        bought = [lot.acquired for lot in book.lots.get(asset, ())]
        bought += [d.acquired for d in book.disposals if d.asset == asset]
        if not any(t > sold for t in bought):
            out[asset] = sold
    return out


def served_targets(
    targets: Mapping[str, float],
    weights: Mapping[str, float],
    waits: Mapping[str, object],
    policy: HarvestPolicy,
    quote: str,
) -> dict[str, float]:
    """Targets during the waits: a waiting asset keeps at most its current weight (never bought), its shortfall goes
    to its substitute (when that is not waiting itself) or to the quote; other targets are unchanged."""
    out = dict(targets)
    for asset in sorted(waits):
        t = out.get(asset, 0.0)
        keep = min(t, max(weights.get(asset, 0.0), 0.0))
        if t - keep <= 0:
            continue
        sub = policy.substitute.get(asset)
        home = sub if sub is not None and sub not in waits else quote
        out[asset] = keep
        out[home] = out.get(home, 0.0) + (t - keep)
    return out


def harvest_plan(
    state: PortfolioState,
    picks: Mapping[str, tuple[HarvestLot, ...]],
    policy: HarvestPolicy,
    costs: CostModel,
    rules: RulesFor | None = None,
    reason: str = "",
    waits: Collection[str] = (),
) -> TradePlan:
    """Sell each asset's harvested lots (never more than held); with a substitute, buy it with the sale's net
    proceeds (never more: scaled down until it fits), unless the substitute is waiting or harvested itself."""
    rules_for = _rules_lookup(rules)
    sells: list[PlannedOrder] = []
    buys: list[PlannedOrder] = []
    for asset, lots in sorted(picks.items()):
        qty = rules_for(asset).quantize_amount(min(sum((h.quantity for h in lots), ZERO), state.quantity(asset)))
        if qty <= 0:
            continue
        price = state.price(asset)
        q = costs.quote(asset, Side.SELL, qty, price)
        sell = PlannedOrder(asset, state.quote, Side.SELL, qty, price, q.exec_price, q.cost, q.gross)
        if sell.quote_delta <= 0:
            continue
        sells.append(sell)
        sub = policy.substitute.get(asset)
        if sub is not None and sub not in waits and sub not in picks:
            buy = _buy_with(state, sub, sell.quote_delta, costs, rules_for)
            buys += [buy] if buy is not None else []
    return TradePlan(orders=(*sells, *buys), reason=reason)


def _buy_with(
    state: PortfolioState, asset: str, budget: Decimal, costs: CostModel, rules_for: RulesFor
) -> PlannedOrder | None:
    """The largest buy of `asset` (by fixed-point scaling) whose cost with fee and gas stays within `budget`."""
    price = state.price(asset)
    qty = rules_for(asset).quantize_amount(budget / price)
    for _ in range(_MAX_ITER):
        if qty <= 0:
            return None
        q = costs.quote(asset, Side.BUY, qty, price)
        order = PlannedOrder(asset, state.quote, Side.BUY, qty, price, q.exec_price, q.cost, q.gross)
        spent = -order.quote_delta
        if spent <= budget:
            return order
        qty = rules_for(asset).quantize_amount(qty * budget / spent * Decimal("0.999999"))
    return None
