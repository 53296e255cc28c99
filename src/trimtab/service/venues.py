"""The venue a service portfolio trades on, from its settings (paper, a durable paper exchange, ccxt, uniswap)."""

from __future__ import annotations

from dataclasses import replace

from trimtab.config import StrategySpec
from trimtab.core.base.schedule import parse_every
from trimtab.core.costs.model import CostModel
from trimtab.core.strategy import Strategy
from trimtab.pipeline.journal import TrackedVenue
from trimtab.pipeline.tracked import CcxtTracked, DexTracked
from trimtab.service.paper_exchange import DurablePaperExchange
from trimtab.service.settings import PortfolioSpec, ServiceSettings


def make_tracked_venue(
    settings: ServiceSettings,
    spec: PortfolioSpec,
    costs: CostModel,
    strategy: Strategy | None = None,
    base: StrategySpec | None = None,
) -> TrackedVenue | None:
    """The portfolio's persistent venue; None for the default ephemeral paper venue (built per cycle)."""
    if base is not None and base.yield_ is not None:
        return _yield_venue(settings, spec, base)
    if spec.venue == "paper":
        if spec.paper_state is None:
            return None
        return DurablePaperExchange(
            settings.path(spec.paper_state), spec.account_name, costs, latency_s=spec.paper_latency_ms / 1000
        )
    if spec.venue == "uniswap":
        from trimtab.pipeline.venues import open_dex

        if strategy is None or spec.deployment is None:
            raise RuntimeError("internal invariant broken: expected strategy is not None, spec.deployment is not None")
        if spec.dex is not None:  # the service file's dex block wins over the strategy's
            strategy = replace(strategy, execution=replace(strategy.execution, dex=spec.dex.build()))
        key = settings.path(spec.key_file) if spec.key_file else None
        name = f"portfolios.{spec.name}"
        return DexTracked(
            open_dex(
                strategy, spec.rpc, settings.path(spec.deployment), key, fields=(f"{name}.rpc", f"{name}.deployment")
            )
        )
    from trimtab.pipeline.venues import open_ccxt

    creds = str(settings.path(spec.credentials)) if spec.credentials else None
    venue = open_ccxt(
        spec.venue.removeprefix("ccxt:"),
        url=spec.url,
        credentials=creds,
        field=f"portfolios.{spec.name}.venue",
        lookup_grace_s=float(parse_every(spec.lookup_grace).seconds),
    )
    return CcxtTracked(venue, float(parse_every(spec.unknown_grace).seconds))


def _yield_venue(settings: ServiceSettings, spec: PortfolioSpec, base: StrategySpec) -> TrackedVenue | None:
    """Paper: None (each cycle fills its planned legs); uniswap: the chain's ERC-4626 vaults and migrator."""
    if spec.venue != "uniswap":
        return None
    from decimal import Decimal

    from trimtab.chain.yield_venue import open_yield_chain

    if spec.rpc is None or spec.deployment is None or base.yield_ is None:
        raise RuntimeError("internal invariant broken: expected rpc, deployment and a yield block")
    key = settings.path(spec.key_file) if spec.key_file else None
    tolerance = Decimal(repr(base.yield_.max_slippage))
    return open_yield_chain(spec.rpc, settings.path(spec.deployment), key, tolerance)
