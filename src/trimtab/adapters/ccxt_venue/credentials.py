"""API credentials for a ccxt exchange, from TRIMTAB_<EXCHANGE>_API_KEY/_API_SECRET or a file; never shown."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from trimtab.errors import ConfigError


def env_names(exchange_id: str) -> tuple[str, str]:
    """The two environment variables that hold an exchange's key and secret."""
    stem = "TRIMTAB_" + "".join(c if c.isalnum() else "_" for c in exchange_id.upper())
    return f"{stem}_API_KEY", f"{stem}_API_SECRET"


@dataclass(frozen=True, slots=True)
class Credentials:
    """An API key pair; repr and str hide both halves so they cannot leak into logs or tracebacks."""

    api_key: str = field(repr=False)
    api_secret: str = field(repr=False)

    def __repr__(self) -> str:
        return "Credentials(api_key=***, api_secret=***)"

    __str__ = __repr__

    @classmethod
    def from_env(cls, exchange_id: str, environ: Mapping[str, str] | None = None) -> Credentials:
        env = os.environ if environ is None else environ
        names = env_names(exchange_id)
        missing = [n for n in names if not env.get(n, "").strip()]
        if missing:
            raise ConfigError("environment variable is not set", field=missing[0])
        return cls(env[names[0]].strip(), env[names[1]].strip())

    @classmethod
    def from_file(cls, path: str | Path) -> Credentials:
        """Read `{"api_key": ..., "api_secret": ...}` JSON, or `api_key=...` / `api_secret=...` lines."""
        p = Path(path)
        try:
            text = p.read_text()
        except OSError as e:
            raise ConfigError(f"cannot read credentials file ({e.strerror})", source=str(p)) from None
        values: dict[str, str]
        if text.lstrip().startswith("{"):
            try:
                raw = json.loads(text)
            except json.JSONDecodeError as e:
                raise ConfigError(f"invalid JSON at line {e.lineno}", source=str(p)) from None
            values = {str(k).lower(): str(v) for k, v in raw.items()} if isinstance(raw, dict) else {}
        else:
            pairs = (line.split("=", 1) for line in text.splitlines() if "=" in line and not line.startswith("#"))
            values = {k.strip().lower(): v.strip() for k, v in pairs}
        for name in ("api_key", "api_secret"):
            if not values.get(name, "").strip():
                raise ConfigError("missing or empty", source=str(p), field=name)
        return cls(values["api_key"].strip(), values["api_secret"].strip())

    @classmethod
    def resolve(
        cls, exchange_id: str, path: str | Path | None = None, environ: Mapping[str, str] | None = None
    ) -> Credentials:
        """A file when one is given, else the environment."""
        return cls.from_file(path) if path is not None else cls.from_env(exchange_id, environ)


class RedactingLogger:
    """ccxt's wire logger with the API key and secret masked: ccxt logs request headers at DEBUG."""

    def __init__(self, logger: logging.Logger, secrets: tuple[str, ...]) -> None:
        self._logger = logger
        self._secrets = tuple(s for s in secrets if s)

    def _emit(self, level: int, msg: object, *args: object) -> None:
        if self._logger.isEnabledFor(level):
            text = str(msg) % args if args else str(msg)
            for secret in self._secrets:
                text = text.replace(secret, "***")
            self._logger.log(level, "%s", text)

    def debug(self, msg: object, *args: object) -> None:
        self._emit(logging.DEBUG, msg, *args)

    def info(self, msg: object, *args: object) -> None:
        self._emit(logging.INFO, msg, *args)

    def warning(self, msg: object, *args: object) -> None:
        self._emit(logging.WARNING, msg, *args)

    def error(self, msg: object, *args: object) -> None:
        self._emit(logging.ERROR, msg, *args)
