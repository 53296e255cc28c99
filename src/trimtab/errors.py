"""One exception tree, sorted by what the caller should do (freqtrade's exceptions.py, by action)."""

from __future__ import annotations


class TrimtabError(Exception):
    """Base of every error trimtab raises on purpose."""


class InputError(TrimtabError):
    """Bad input, located: the message reads `source: field: detail` on one line (CLI exit code 2)."""

    def __init__(self, message: str, *, source: str | None = None, field: str | None = None) -> None:
        self.source = source
        self.field = field
        self.detail = message
        parts = [p for p in (source, field) if p]
        super().__init__(": ".join([*parts, message]))


class ConfigError(InputError):
    """Bad user input (strategy, portfolio, rules, service config): print one line, exit 2."""


class DataError(InputError):
    """Market data that cannot be trusted: stale, missing, NaN, zero or non-positive prices. Exit 2."""


class PlanError(TrimtabError):
    """A plan cannot be built or would break an invariant (e.g. spend more than held)."""


class SafetyError(PlanError):
    """A circuit breaker refused to start (or continue) a rebalance; the reason is recorded."""


class VenueError(TrimtabError):
    """A venue operation failed; this cycle fails and nothing half-done is recorded as done.

    `partial_report` carries the fills that did happen before the failure (an ExecutionReport), so the
    engine records them: a trade that happened is never lost from the ledger.
    """

    def __init__(self, message: str, *, venue: str = "", op: str = "") -> None:
        self.venue = venue
        self.op = op
        self.partial_report: object | None = None
        prefix = ":".join(p for p in (venue, op) if p)
        super().__init__(f"{prefix}: {message}" if prefix else message)


class VenueUnavailable(VenueError):
    """Transient (timeout, 5xx, rate limit): the engine retries with backoff."""


class OrderOutcomeUnknown(VenueError):
    """An order may or may not have reached the exchange (timeout, 5xx, lookup exhausted): never re-sent
    automatically; the journal keeps the leg open until a lookup by `client_id` settles it."""

    def __init__(self, message: str, *, client_id: str, venue: str = "", op: str = "") -> None:
        self.client_id = client_id
        super().__init__(message, venue=venue, op=op)


class VenueMisconfigured(VenueError):
    """Operator must act (bad keys, unknown market): the engine halts and alerts."""


class OrderRejected(VenueError):
    """The venue refused one order: abort that leg, keep what already filled."""


class InsufficientFunds(VenueError):
    """The account does not hold what the order needs."""


class LedgerError(TrimtabError):
    """The ledger would become inconsistent: halt, never guess."""


class LeaseLost(LedgerError):
    """This process no longer holds the portfolio's lease (expired, taken over): stop, write nothing more."""
