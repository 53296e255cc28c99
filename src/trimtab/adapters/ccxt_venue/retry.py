"""ccxt errors sorted by what trimtab should do, and a bounded exponential-backoff retrier (freqtrade's retrier)."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import ccxt

from trimtab.errors import VenueError, VenueMisconfigured, VenueUnavailable
from trimtab.scrub import scrub

T = TypeVar("T")
log = logging.getLogger(__name__)

# Transient: timeouts, 5xx, rate limits, exchange busy. ccxt's OperationFailed is NetworkError's parent and
# also covers Binance's -1000/-1001/-1004 "server busy / internal error" codes.
TRANSIENT: tuple[type[Exception], ...] = (ccxt.OperationFailed,)
# Refused before processing: retrying cannot double-submit.
THROTTLED: tuple[type[Exception], ...] = (ccxt.RateLimitExceeded, ccxt.DDoSProtection)
# Operator must act: bad key, signature, permissions, suspended account.
MISCONFIGURED: tuple[type[Exception], ...] = (ccxt.AuthenticationError,)
# The exchange refused this one order: abort the leg, keep going.
ORDER_REFUSED: tuple[type[Exception], ...] = (
    ccxt.InvalidOrder,
    ccxt.InsufficientFunds,
    ccxt.BadRequest,
    ccxt.OperationRejected,
    ccxt.ExchangeError,
)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """`attempts` tries in all, waiting base * 2**n seconds (capped) between them; Retry-After is honoured up to the
    cap.

    After an ambiguous order submission the client id is looked up for `lookup_grace` seconds, every
    `lookup_interval` (exchanges list new orders with a delay) before the outcome is declared unknown.
    """

    attempts: int = 5
    base_delay: float = 0.5
    max_delay: float = 8.0
    lookup_grace: float = 10.0
    lookup_interval: float = 1.0

    @property
    def lookups(self) -> int:
        """How many lookups the grace window allows (the first one immediately)."""
        if self.lookup_interval <= 0:
            return 1
        return 1 + max(0, math.ceil(self.lookup_grace / self.lookup_interval))

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        wait = self.base_delay * float(2**attempt)
        if retry_after is not None:
            wait = max(wait, retry_after)
        return float(min(wait, self.max_delay))


def retry_after_seconds(client: Any) -> float | None:
    """The Retry-After header of the client's last response, if it sent one."""
    headers = getattr(client, "last_response_headers", None) or {}
    try:
        value = headers.get("Retry-After")
        return float(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def misconfigured(err: Exception, venue: str, op: str) -> VenueMisconfigured:
    return VenueMisconfigured(f"{type(err).__name__}: {scrub(err)}", venue=venue, op=op)


def call(
    fn: Callable[[], T], *, venue: str, op: str, policy: RetryPolicy, client: Any, sleep: Callable[[float], None]
) -> T:
    """Run an idempotent request: transient errors are retried with backoff, then raise VenueUnavailable;
    auth errors raise VenueMisconfigured; any other ccxt error raises VenueError."""
    for attempt in range(policy.attempts):
        try:
            return fn()
        except MISCONFIGURED as e:
            raise misconfigured(e, venue, op) from e
        except TRANSIENT as e:
            if attempt + 1 >= policy.attempts:
                raise VenueUnavailable(
                    f"{type(e).__name__} after {policy.attempts} attempts: {scrub(e)}", venue=venue, op=op
                ) from e
            wait = policy.delay(attempt, retry_after_seconds(client) if isinstance(e, THROTTLED) else None)
            log.warning("%s %s: %s, retry %d in %.2fs", venue, op, type(e).__name__, attempt + 1, wait)
            sleep(wait)
        except ccxt.BaseError as e:
            raise VenueError(f"{type(e).__name__}: {scrub(e)}", venue=venue, op=op) from e
    raise VenueUnavailable("no attempts allowed", venue=venue, op=op)  # attempts < 1
