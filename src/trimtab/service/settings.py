"""Service configuration (`service.yaml`): portfolios, database, market data, alerts, API bind and tokens.

Validated once with pydantic (unknown keys refused); every error is one ConfigError line naming the field.
Tokens come from TRIMTAB_API_TOKEN / TRIMTAB_ADMIN_TOKEN or a token file and are held as SecretStr, never logged.
"""

from __future__ import annotations

import ipaddress
import logging
import os
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator

from trimtab.config import error_line, read_yaml
from trimtab.config.base import Model as _Model
from trimtab.config.costs import DexSpec
from trimtab.core.base.schedule import Every, parse_every
from trimtab.core.base.types import canonical_keys
from trimtab.errors import ConfigError
from trimtab.scrub import exposed

NAME_PATTERN = r"^[A-Za-z0-9_.-]{1,64}$"
READ_ENV, ADMIN_ENV = "TRIMTAB_API_TOKEN", "TRIMTAB_ADMIN_TOKEN"
log = logging.getLogger(__name__)


def _duration(v: str) -> str:
    parse_every(v)
    return v


class PortfolioSpec(_Model):
    """One managed portfolio: its strategy, where it trades, what it starts with and how often it is checked."""

    name: Annotated[str, Field(pattern=NAME_PATTERN)]
    strategy: str = Field(min_length=1)
    venue: str = "paper"  # paper | ccxt:<exchange id> | uniswap
    url: str | None = None  # ccxt API URL override (a local or test exchange)
    credentials: str | None = None  # ccxt credentials file; else the exchange's environment variables
    rpc: str | None = None  # uniswap: JSON-RPC URL of the chain
    deployment: str | None = None  # uniswap: deployment JSON (from `trimtab chain deploy`)
    key_file: str | None = None  # uniswap: signing key file; else $TRIMTAB_EVM_PRIVATE_KEY
    dex: DexSpec | None = None  # uniswap: overrides the strategy file's `dex:` block
    rates: str | None = None  # yield strategies: rates CSV (default: the shipped Aave v3 history)
    account: Annotated[str, Field(pattern=NAME_PATTERN)] | None = None
    initial_value: Annotated[float, Field(gt=0)] | None = None
    holdings: dict[str, Decimal] | None = None
    check_every: str = "1d"
    paper_state: str | None = None  # SQLite file of a durable paper exchange (survives restarts)
    paper_latency_ms: Annotated[float, Field(ge=0, le=60_000)] = 0.0
    max_failures: Annotated[int, Field(ge=1, le=100)] = 3  # consecutive failed cycles before the breaker trips
    max_drawdown: Annotated[float, Field(gt=0, lt=1)] | None = None  # breaker: pause beyond this drawdown
    exit_guard_bps: Annotated[float, Field(ge=0, le=5000)] = 100.0  # emergency exit: min received vs pre-quote
    lookup_grace: str = "10s"  # ccxt: after a timeout, look the order up this long before calling it unknown
    unknown_grace: str = "10m"  # a sent order the venue does not list yet stays unknown this long, then "not found"

    @field_validator("check_every", "lookup_grace", "unknown_grace")
    @classmethod
    def _check(cls, v: str) -> str:
        return _duration(v)

    @field_validator("venue")
    @classmethod
    def _venue(cls, v: str) -> str:
        if v not in ("paper", "uniswap") and not (v.startswith("ccxt:") and len(v) > 5):
            raise ValueError("use 'paper', 'uniswap' or 'ccxt:<exchange id>'")
        return v

    @model_validator(mode="after")
    def _chain(self) -> PortfolioSpec:
        if self.venue == "uniswap" and (self.rpc is None or self.deployment is None):
            raise ValueError(f"{'rpc' if self.rpc is None else 'deployment'}: needed with venue uniswap")
        if self.venue != "uniswap" and (self.rpc or self.deployment or self.key_file or self.dex):
            raise ValueError("rpc, deployment, key_file and dex go with venue uniswap only")
        return self

    @field_validator("holdings")
    @classmethod
    def _holdings(cls, v: dict[str, Decimal] | None) -> dict[str, Decimal] | None:
        if v is None:
            return None
        out = canonical_keys(v, "holdings")
        if any(q < 0 or not q.is_finite() for q in out.values()):
            raise ValueError("quantities must be finite and >= 0")
        return out

    @property
    def account_name(self) -> str:
        return self.account or self.name

    @property
    def every(self) -> Every:
        return parse_every(self.check_every)


class MarketDataSpec(_Model):
    """`replay`: bundled daily prices on an accelerated clock (`speed` simulated seconds per second); `venue`: live.

    Live, `history` is where the price store is backfilled from (venue OHLCV, `history_file`, or bundled data)."""

    source: Literal["replay", "venue"] = "replay"
    start: date = date(2021, 1, 1)
    speed: Annotated[float, Field(gt=0, le=1e9)] = 86_400.0
    history: Literal["venue", "file", "bundled"] = "venue"
    history_file: str | None = None

    @model_validator(mode="after")
    def _history_file(self) -> MarketDataSpec:
        if (self.history == "file") != (self.history_file is not None):
            raise ValueError("history_file is needed with history: file, and only then")
        return self


class AlertsSpec(_Model):
    apprise: list[SecretStr] = Field(default_factory=list)  # channel URLs hold bot tokens: never printed
    webhook: SecretStr | None = None
    advance_notice: str = "1d"
    monthly_summary: bool = True
    timeout_s: Annotated[float, Field(gt=0, le=60)] = 5.0

    @field_validator("advance_notice")
    @classmethod
    def _notice(cls, v: str) -> str:
        return _duration(v)

    @field_validator("webhook")
    @classmethod
    def _url(cls, v: SecretStr | None) -> SecretStr | None:
        if v is not None and not v.get_secret_value().startswith(("http://", "https://")):
            raise ValueError("must be an http(s) URL")
        return v


class ApiSpec(_Model):
    host: str = "127.0.0.1"
    port: Annotated[int, Field(ge=0, le=65535)] = 8700
    token_file: str | None = None
    cache_seconds: Annotated[float, Field(ge=0, le=60)] = 0.5  # status documents reused this long (wall time)
    allow_remote: bool = False  # bind beyond loopback (put TLS in front)
    max_body_bytes: Annotated[int, Field(ge=1024, le=10 * 2**20)] = 64 * 1024
    auth_failures_per_minute: Annotated[int, Field(ge=1, le=100_000)] = 20  # per client address, then 429

    @property
    def remote(self) -> bool:
        """True when `host` is not a loopback address (the API is reachable from other machines)."""
        return not is_loopback(self.host)


def is_loopback(host: str) -> bool:
    if host.strip().lower() in ("localhost", "localhost."):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class NettingSpec(_Model):
    """Portfolios sharing one exchange account: each cycle their orders net per asset (docs/netting.md)."""

    name: Annotated[str, Field(pattern=NAME_PATTERN)]
    portfolios: list[Annotated[str, Field(pattern=NAME_PATTERN)]] = Field(min_length=2)

    @property
    def account(self) -> str:
        """The ledger account the group's net rebalances are journaled under (members book their shares)."""
        return f"net.{self.name}"


SHARED_KEYS = ("venue", "url", "credentials", "check_every")  # one exchange account, one rhythm


class ServiceSettings(_Model):
    """The whole service.yaml; paths inside are relative to the file's directory (`base_dir`)."""

    database_url: SecretStr | None = None  # may embed a password: never printed
    market_data: MarketDataSpec = MarketDataSpec()
    alerts: AlertsSpec = AlertsSpec()
    api: ApiSpec = ApiSpec()
    portfolios: list[PortfolioSpec] = Field(min_length=1)
    netting: list[NettingSpec] = Field(default_factory=list)
    worker_id: Annotated[str, Field(pattern=NAME_PATTERN)] | None = None
    lease_seconds: Annotated[float, Field(gt=0, le=3600)] = 120.0
    claim_batch: Annotated[int, Field(ge=1, le=10_000)] = 32  # portfolios leased per scheduler pass
    base_dir: Path = Path()

    @model_validator(mode="after")
    def _live_prices_for_real_money(self) -> ServiceSettings:
        for i, p in enumerate(self.portfolios):
            if p.venue != "paper" and self.market_data.source != "venue":
                raise ValueError(
                    f"portfolios.{i}.venue: {p.venue} trades real money on replayed prices: set "
                    "market_data.source: venue (replay is for paper portfolios)"
                )
        return self

    @model_validator(mode="after")
    def _unique(self) -> ServiceSettings:
        for key in ("name", "account_name"):
            seen: set[str] = set()
            for p in self.portfolios:
                value = getattr(p, key)
                if value in seen:
                    raise ValueError(f"portfolios: {key.replace('_name', '')} {value!r} appears twice")
                seen.add(value)
        return self

    @model_validator(mode="after")
    def _netting(self) -> ServiceSettings:
        by_name = {p.name: p for p in self.portfolios}
        seen: dict[str, str] = {}
        for i, g in enumerate(self.netting):
            where = f"netting.{i}.portfolios"
            for name in g.portfolios:
                p = by_name.get(name)
                if p is None:
                    raise ValueError(f"{where}: no portfolio named {name!r}")
                if name in seen:
                    raise ValueError(f"{where}: {name} is already in netting group {seen[name]!r}")
                seen[name] = g.name
                if not p.venue.startswith("ccxt:"):
                    raise ValueError(f"{where}: {name} trades on {p.venue}; netting needs one ccxt exchange account")
                if p.holdings is None:
                    raise ValueError(f"{where}: {name} needs holdings: (its share of the shared account)")
            first = by_name[g.portfolios[0]]
            for name in g.portfolios[1:]:
                for key in SHARED_KEYS:
                    if getattr(by_name[name], key) != getattr(first, key):
                        raise ValueError(f"{where}: {name} differs from {first.name} in {key} (one account and rhythm)")
            if g.account in {p.account_name for p in self.portfolios}:
                raise ValueError(f"netting.{i}.name: account {g.account!r} is a portfolio's account")
        if len({g.name for g in self.netting}) != len(self.netting):
            raise ValueError("netting: a group name appears twice")
        return self

    def group_of(self, name: str) -> NettingSpec | None:
        """The netting group portfolio `name` belongs to, if any."""
        return next((g for g in self.netting if name in g.portfolios), None)

    def path(self, raw: str) -> Path:
        p = Path(raw).expanduser()
        return p if p.is_absolute() else self.base_dir / p

    @property
    def db_url(self) -> str:
        """The configured URL, or `trimtab-service.db` next to the config file (created on first run)."""
        if self.database_url is None:
            return f"sqlite:///{(self.base_dir / 'trimtab-service.db').resolve()}"
        url = self.database_url.get_secret_value()
        if "://" not in url:
            return f"sqlite:///{self.path(url).resolve()}"
        return url


class Tokens(_Model):
    """Bearer tokens: `read` may read, `admin` may read and control. Never printed (SecretStr)."""

    read: SecretStr | None = None
    admin: SecretStr | None = None


def parse_settings(data: Any, source: str, base_dir: Path) -> ServiceSettings:
    if not isinstance(data, dict):
        raise ConfigError("a service file must be a mapping of keys to values", source=source)
    try:
        return ServiceSettings.model_validate({**data, "base_dir": base_dir})
    except ValidationError as e:
        raise ConfigError(error_line(e), source=source) from None


def load_settings(path: str | Path) -> ServiceSettings:
    """Read and validate a service.yaml; warn about credential files others can read."""
    p = Path(path)
    settings = parse_settings(read_yaml(p), str(p), p.resolve().parent)
    for spec in settings.portfolios:
        if spec.credentials:
            warn_if_exposed(settings.path(spec.credentials), f"portfolios.{spec.name}.credentials")
    if settings.database_url is not None and "@" in settings.database_url.get_secret_value():
        warn_if_exposed(p, "service file (it holds the database password)")
    return settings


def warn_if_exposed(path: Path, what: str) -> bool:
    """Log a warning when a secret file is readable by its group or others; True if it was."""
    if exposed(path):
        log.warning("%s %s is readable by group or others: chmod 600 it", what, path)
        return True
    return False


def load_tokens(settings: ServiceSettings, env: dict[str, str] | None = None) -> Tokens:
    """Tokens from the environment, else from `api.token_file` (YAML: read: ..., admin: ...); admin is required."""
    env = dict(os.environ) if env is None else env
    read, admin = env.get(READ_ENV), env.get(ADMIN_ENV)
    if settings.api.token_file and not (read and admin):
        path = settings.path(settings.api.token_file)
        warn_if_exposed(path, "token file")
        data = read_yaml(path)
        if not isinstance(data, dict) or not set(data) <= {"read", "admin"}:
            raise ConfigError("token file must be a mapping with keys read and admin", source=str(path))
        read = read or (str(data["read"]) if data.get("read") else None)
        admin = admin or (str(data["admin"]) if data.get("admin") else None)
    if not admin:
        raise ConfigError(f"no admin token: set {ADMIN_ENV} or api.token_file", field="api.token_file")
    for label, tok in (("read", read), ("admin", admin)):
        if tok is not None and len(tok) < 16:
            raise ConfigError(f"{label} token must be at least 16 characters", field=f"tokens.{label}")
    return Tokens(read=SecretStr(read) if read else None, admin=SecretStr(admin))
