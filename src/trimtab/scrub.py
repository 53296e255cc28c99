"""Error text made safe to store and show: URLs lose credentials, paths and queries; SQL and its parameters go.

Venue and database errors quote request URLs (signed queries, API keys, bot tokens in apprise URLs) and the
failing statement with its bound values; `scrub` runs before such text reaches the journal, alerts, the API or logs.
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

_PLAIN = frozenset({"http", "https", "ws", "wss", "postgresql", "postgres", "sqlite", "mysql"})
_URL = re.compile(r"\b([A-Za-z][A-Za-z0-9+.-]{1,31})://([^\s'\"<>()\[\]{}]+)")
_SQL = re.compile(r"\[SQL:.*?(?:\]\s*(?=\[parameters:|\(Background|$)|$)", re.DOTALL)
_PARAMS = re.compile(r"\[parameters:.*?\](?=\s*(?:\(Background|$))", re.DOTALL)
_BACKGROUND = re.compile(r"\(Background on this error at: [^)]*\)")
_ASSIGN = re.compile(
    r"(?i)\b(api[_-]?key|apikey|secret|password|passwd|token|signature)(\s*=\s*)[^\s&,;'\"]+"
    r"|\b(authorization)(\s*:\s*)(?:bearer\s+|basic\s+)?[^\s,;'\"]+"
)


def _url(m: re.Match[str]) -> str:
    scheme, rest = m.group(1), m.group(2)
    host = rest.rsplit("@", 1)[-1] if "@" in rest.split("/", 1)[0] else rest
    host, sep, _ = host.partition("/")
    host = host.split("?", 1)[0].split("#", 1)[0]
    if scheme.lower().split("+", 1)[0] not in _PLAIN:
        return f"{scheme}://***"  # apprise-style URLs carry their secret in the host or path
    tail = "/…" if sep or "?" in rest else ""
    return f"{scheme}://{host}{tail}"


def scrub(text: object) -> str:
    """`text` without URL credentials/paths/queries, SQL statements, bound parameters or key=value secrets."""
    out = str(text)
    out = _SQL.sub("[SQL hidden]", out)
    out = _PARAMS.sub("[parameters hidden]", out)
    out = _BACKGROUND.sub("", out)
    out = _URL.sub(_url, out)
    out = _ASSIGN.sub(lambda m: f"{m.group(1) or m.group(3)}{m.group(2) or m.group(4)}***", out)
    return out.strip()


def exposed(path: str | os.PathLike[str]) -> bool:
    """True when a secret file can be read by its group or by others (mode bits 0o044)."""
    try:
        mode = Path(path).stat().st_mode
    except OSError:
        return False
    return bool(mode & (stat.S_IRGRP | stat.S_IROTH))
