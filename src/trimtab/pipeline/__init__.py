"""The one execution pipeline: market data -> strategy -> guards -> slicing -> venue -> (journal) -> ledger.

Backtests (step path), `trimtab execute` on every venue and `trimtab serve` all get their pipeline here, so a
strategy file's guards, TWAP and DEX settings behave the same on each path, or are refused at validation.
"""

from trimtab.pipeline.checks import PathKind, refuse_unsupported
from trimtab.pipeline.pipeline import EquityLog, Pipeline, traded_on

__all__ = ["EquityLog", "PathKind", "Pipeline", "refuse_unsupported", "traded_on"]
