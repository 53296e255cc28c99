"""The migration rule: move money to a better-paying reserve when the APY gain, net of every cost amortised
over a horizon, exceeds `min_differential`; exit risky exposure regardless of the gain.

Costs of a move: withdraw gas (source is a reserve), deposit gas (target is a reserve), and when the
underlyings differ a swap (gas + fee + slippage, slippage growing with size over the pool's depth).
Net differential = (APY_to - APY_from) - costs / amount * 365 / horizon_days.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from trimtab.core.yields.positions import ReserveState, YieldPosition


@dataclass(frozen=True, slots=True)
class SwapCosts:
    """Stablecoin swap between underlyings: fee and base slippage in bps, price impact = amount / depth_usd."""

    fee_bps: float = 1.0
    slippage_bps: float = 1.0
    depth_usd: float = 5e9

    def slippage(self, amount_usd: float) -> float:
        return self.slippage_bps * 1e-4 + amount_usd / self.depth_usd

    def max_amount(self, max_slippage: float) -> float:
        """Largest swap whose slippage stays within `max_slippage` (0 when the base slippage already exceeds it)."""
        return max(max_slippage - self.slippage_bps * 1e-4, 0.0) * self.depth_usd


@dataclass(frozen=True, slots=True)
class GasUnits:
    """Gas per operation (typical Aave v3 supply / withdraw and a stable-pool swap on Ethereum mainnet)."""

    deposit: int = 200_000
    withdraw: int = 250_000
    swap: int = 150_000


@dataclass(frozen=True, slots=True)
class MigrationRule:
    """Thresholds of the rule; defaults from issue 14 (0.5% APY, 1M liquidity floor, 0.1% slippage, 0.01% gas)."""

    min_differential: float = 0.005
    horizon_days: float = 30.0
    min_liquidity_usd: float = 1e6
    max_utilization: float = 0.95
    max_slippage: float = 0.001
    max_gas_fraction: float = 0.0001
    max_step: float = 0.25
    min_score: float = 0.0
    protocol_caps: Mapping[str, float] = field(default_factory=dict)
    swap: SwapCosts = SwapCosts()
    gas: GasUnits = GasUnits()
    min_move_usd: float = 100.0


@dataclass(frozen=True, slots=True)
class MoveCosts:
    """Costs of one move in USD."""

    gas: float = 0.0
    fee: float = 0.0
    slippage: float = 0.0

    @property
    def total(self) -> float:
        return self.gas + self.fee + self.slippage

    def text(self) -> str:
        return f"${self.total:,.2f} (gas ${self.gas:,.2f}, fee ${self.fee:,.2f}, slippage ${self.slippage:,.2f})"


@dataclass(frozen=True, slots=True)
class Move:
    """One migration: `amount_usd` of `source` into `target`, and why (both APYs, differential, costs, horizon)."""

    source: str
    target: str
    amount_usd: float
    from_apy: float
    to_apy: float
    costs: MoveCosts
    horizon_days: float
    kind: str  # "opportunistic" (a better rate) or "risk" (exit an exposure)
    reason: str
    slippage_rate: float = 0.0

    @property
    def differential(self) -> float:
        return self.to_apy - self.from_apy

    @property
    def cost_apy(self) -> float:
        """Costs as an APY over the horizon: costs / amount * 365 / horizon_days."""
        return self.costs.total / self.amount_usd * 365.0 / self.horizon_days if self.amount_usd > 0 else math.inf

    @property
    def net_differential(self) -> float:
        return self.differential - self.cost_apy

    def doc(self) -> dict[str, object]:
        """The move's numbers for reports and alerts: both APYs, the differential, the costs and the horizon."""
        return {
            "kind": self.kind,
            "source": self.source,
            "target": self.target,
            "amount_usd": self.amount_usd,
            "from_apy": self.from_apy,
            "to_apy": self.to_apy,
            "differential": self.differential,
            "cost_usd": self.costs.total,
            "horizon_days": self.horizon_days,
            "net_differential": self.net_differential,
            "reason": self.reason,
        }


@dataclass(frozen=True, slots=True)
class Assessment:
    """The moves to make at one check and, when none, why the best alternative was not taken."""

    moves: tuple[Move, ...]
    note: str

    @property
    def reason(self) -> str:
        return "; ".join([m.reason for m in self.moves] or [self.note])


@dataclass(frozen=True, slots=True)
class Market:
    """What the rule sees at one check: each position's reserve state (None = not listed) and USD per gas unit."""

    states: Mapping[str, ReserveState | None]
    usd_per_gas: float


def move_costs(
    rule: MigrationRule, src: YieldPosition, dst: YieldPosition, amount_usd: float, usd_per_gas: float
) -> MoveCosts:
    """Gas of withdraw + swap + deposit as they apply, swap fee and slippage when the underlyings differ."""
    units = (0 if src.is_cash else rule.gas.withdraw) + (0 if dst.is_cash else rule.gas.deposit)
    fee = slip = 0.0
    if src.underlying != dst.underlying:
        units += rule.gas.swap
        fee = amount_usd * rule.swap.fee_bps * 1e-4
        slip = amount_usd * rule.swap.slippage(amount_usd)
    return MoveCosts(gas=units * usd_per_gas, fee=fee, slippage=slip)


def ineligible(rule: MigrationRule, pos: YieldPosition, state: ReserveState | None) -> str:
    """Why money may not enter `pos` now ('' when it may): listing, score, liquidity floor, utilisation cap."""
    if pos.is_cash:
        return ""
    if state is None:
        return f"{pos.name} has no data (not listed)"
    if pos.risk_score < rule.min_score:
        return f"{pos.name} risk score {pos.risk_score:g} below minimum {rule.min_score:g}"
    if state.supplied_usd < rule.min_liquidity_usd:
        return f"{pos.name} liquidity ${state.supplied_usd:,.0f} below floor ${rule.min_liquidity_usd:,.0f}"
    if state.utilization > rule.max_utilization:
        return f"{pos.name} utilisation {state.utilization:.1%} above cap {rule.max_utilization:.1%}"
    return ""


def absorbable(rule: MigrationRule, src: YieldPosition, dst: YieldPosition, state: ReserveState | None) -> float:
    """USD that can move in one check: the source's withdrawable liquidity and the swap's slippage bound."""
    limit = math.inf
    if not src.is_cash and state is not None:
        limit = state.available * state.price
    if src.underlying != dst.underlying:
        limit = min(limit, rule.swap.max_amount(rule.max_slippage))
    return limit


def _step(rule: MigrationRule, wanted: float, held: float, limit: float) -> float:
    """All of `wanted` when the pool absorbs it, else at most `max_step` of the position per check."""
    return wanted if wanted <= limit else min(rule.max_step * held, limit, wanted)


def _describe(
    kind: str,
    src: YieldPosition,
    dst: YieldPosition,
    amount: float,
    from_apy: float,
    to_apy: float,
    costs: MoveCosts,
    rule: MigrationRule,
    net: float,
    why: str = "",
) -> str:
    head = f"{kind}: move ${amount:,.0f} {src.name} -> {dst.name}" + (f" ({why})" if why else "")
    return (
        f"{head}: APY {from_apy:.2%} -> {to_apy:.2%} ({(to_apy - from_apy) * 100:+.2f}pp), costs {costs.text()}"
        f" = {(to_apy - from_apy - net) * 100:.2f}pp over {rule.horizon_days:g}d, net {net * 100:+.2f}pp"
        f" vs min {rule.min_differential * 100:.2f}pp"
    )


def _exposure(values: Mapping[str, float], by_name: Mapping[str, YieldPosition]) -> dict[str, float]:
    out: dict[str, float] = {}
    for name, v in values.items():
        p = by_name[name].protocol
        out[p] = out.get(p, 0.0) + v
    return out


def _room(rule: MigrationRule, dst: YieldPosition, exposure: Mapping[str, float], total: float) -> float:
    cap = rule.protocol_caps.get(dst.protocol)
    return math.inf if cap is None or dst.is_cash else max(cap * total - exposure.get(dst.protocol, 0.0), 0.0)


def make_move(
    rule: MigrationRule, kind: str, src: YieldPosition, dst: YieldPosition, amount: float, market: Market, why: str = ""
) -> Move:
    s_src, s_dst = market.states.get(src.name), market.states.get(dst.name)
    from_apy = s_src.apy if s_src is not None else 0.0
    to_apy = s_dst.apy if s_dst is not None else 0.0
    costs = move_costs(rule, src, dst, amount, market.usd_per_gas)
    slip = rule.swap.slippage(amount) if src.underlying != dst.underlying else 0.0
    probe = Move(src.name, dst.name, amount, from_apy, to_apy, costs, rule.horizon_days, kind, "", slip)
    return replace(
        probe, reason=_describe(kind, src, dst, amount, from_apy, to_apy, costs, rule, probe.net_differential, why)
    )


def _risk_exit(
    rule: MigrationRule, pos: YieldPosition, state: ReserveState | None, held: float, over: float
) -> tuple[str, float]:
    """Why `pos` must be reduced ('' when it need not) and by how much (USD)."""
    if pos.risk_score < rule.min_score:
        return f"risk score {pos.risk_score:g} below minimum {rule.min_score:g}", held
    if state is not None and state.utilization > rule.max_utilization:
        return f"utilisation {state.utilization:.1%} above cap {rule.max_utilization:.1%}", held
    if over > rule.min_move_usd:
        return f"{pos.protocol} exposure above its cap by ${over:,.0f}", min(over, held)
    return "", 0.0


def assess(
    rule: MigrationRule,
    positions: Sequence[YieldPosition],
    values: Mapping[str, float],
    market: Market,
    max_moves: int = 8,
    blocked: Mapping[str, str] | None = None,
) -> Assessment:
    """Moves for this check: risk exits first, then the best net-of-cost migrations above the threshold.

    `blocked` (position -> why, e.g. a risk event's depeg) is exited like a risky reserve and never entered."""
    run = _Assessor(
        rule, positions, market, dict(blocked or {}), {p.name: float(values.get(p.name, 0.0)) for p in positions}
    )
    run.risk_exits()
    run.opportunities(max_moves)
    return Assessment(tuple(run.moves), run.note)


@dataclass
class _Assessor:
    """One check's working state: values as the moves so far leave them, the moves, and the note to report."""

    rule: MigrationRule
    positions: Sequence[YieldPosition]
    market: Market
    blocked: dict[str, str]
    vals: dict[str, float]
    moves: list[Move] = field(default_factory=list)
    note: str = "no position to move"

    def __post_init__(self) -> None:
        self.by_name = {p.name: p for p in self.positions}
        self.total = sum(self.vals.values())

    def apply(self, m: Move) -> None:
        self.vals[m.source] -= m.amount_usd
        self.vals[m.target] += m.amount_usd - m.costs.total
        self.moves.append(m)

    def targets_for(self, src: YieldPosition) -> list[YieldPosition]:
        exp = _exposure(self.vals, self.by_name)
        return [
            p
            for p in self.positions
            if p.name != src.name
            and not ineligible(self.rule, p, self.market.states.get(p.name))
            and p.name not in self.blocked
            and _room(self.rule, p, exp, self.total) > self.rule.min_move_usd
        ]

    def risk_exits(self) -> None:
        """Reduce or exit risky or blocked exposure, whatever the rate, into the best-paying eligible position."""
        rule, market = self.rule, self.market
        for src in self.positions:
            if (src.is_cash and src.name not in self.blocked) or self.vals[src.name] <= rule.min_move_usd:
                continue
            state = market.states.get(src.name)
            why, wanted = self._risk(src, state)
            if not why:
                continue
            dests = self.targets_for(src)
            if not dests:
                self.note = f"risk: {src.name} {why}, but no eligible destination"
                continue
            dst = max(dests, key=lambda p: s.apy if (s := market.states.get(p.name)) is not None else 0.0)
            amount = _step(rule, wanted, self.vals[src.name], absorbable(rule, src, dst, state))
            if amount > rule.min_move_usd:
                self.apply(make_move(rule, "risk", src, dst, amount, market, why))

    def _risk(self, src: YieldPosition, state: ReserveState | None) -> tuple[str, float]:
        if src.name in self.blocked:
            return self.blocked[src.name], self.vals[src.name]
        cap = self.rule.protocol_caps.get(src.protocol)
        over = _exposure(self.vals, self.by_name).get(src.protocol, 0.0) - cap * self.total if cap is not None else 0.0
        return _risk_exit(self.rule, src, state, self.vals[src.name], over)

    def opportunities(self, max_moves: int) -> None:
        """The best net-of-cost migration, repeatedly, while it beats the threshold (each source stepped once)."""
        stepped: set[str] = set()
        for _ in range(max_moves):
            best, gated = self._best(stepped)
            if best is None or best.net_differential <= self.rule.min_differential:
                better_gated = gated is not None and (best is None or gated.net_differential > best.net_differential)
                shown = gated if better_gated else best
                if shown is not None and not self.moves:
                    self.note = f"hold: {shown.reason}"
                return
            if best.amount_usd < self.vals[best.source] - self.rule.min_move_usd:
                stepped.add(best.source)
            self.apply(best)

    def _best(self, stepped: set[str]) -> tuple[Move | None, Move | None]:
        """The best move now, and the best one held back because its gas is too large a share of it."""
        rule = self.rule
        best: Move | None = None
        gated: Move | None = None
        for src in self.positions:
            held = self.vals[src.name]
            if held <= rule.min_move_usd or src.name in stepped:
                continue
            exp = _exposure(self.vals, self.by_name)
            for dst in self.targets_for(src):
                if dst.is_cash:  # idle cash pays nothing: only a risk exit goes there
                    continue
                wanted = min(held, _room(rule, dst, exp, self.total))
                amount = _step(rule, wanted, held, absorbable(rule, src, dst, self.market.states.get(src.name)))
                if amount <= rule.min_move_usd:
                    continue
                m = make_move(rule, "opportunistic", src, dst, amount, self.market)
                if m.costs.gas > rule.max_gas_fraction * amount:
                    if gated is None or m.net_differential > gated.net_differential:
                        gated = replace(
                            m,
                            reason=f"{m.reason}; gas ${m.costs.gas:,.2f} above "
                            f"{rule.max_gas_fraction:.2%} of ${amount:,.0f}",
                        )
                elif best is None or m.net_differential > best.net_differential:
                    best = m
        return best, gated
