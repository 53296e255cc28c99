"""HTTP hardening in front of the API (pure ASGI): security headers on every response, the bearer token checked
before any request body is read, failed authentications rate-limited per client address, request bodies capped.
"""

from __future__ import annotations

import hmac
import json
import math
import time
from collections import deque
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from trimtab.service.settings import Tokens

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
SECURITY_HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
]


def role_for(tokens: Tokens, authorization: str | None) -> str | None:
    """'admin' or 'read' for `Authorization: Bearer <valid token>`, else None (constant-time comparisons)."""
    scheme, _, value = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    given = value.strip().encode("utf-8", "surrogateescape")
    admin = tokens.admin.get_secret_value().encode() if tokens.admin else b""
    read = tokens.read.get_secret_value().encode() if tokens.read else b""
    is_admin = bool(admin) and hmac.compare_digest(given, admin)
    is_read = bool(read) and hmac.compare_digest(given, read)
    return "admin" if is_admin else "read" if is_read else None


class FailedAuthLimiter:
    """At most `limit` failed authentications per client address in a sliding `window` (seconds); then 429."""

    def __init__(
        self,
        limit: int = 20,
        window: float = 60.0,
        max_clients: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limit, self.window, self.max_clients, self._clock = limit, window, max_clients, clock
        self._failures: dict[str, deque[float]] = {}

    def _recent(self, client: str, now: float) -> deque[float]:
        q = self._failures.get(client) or deque()
        while q and q[0] <= now - self.window:
            q.popleft()
        return q

    def retry_after(self, client: str) -> float | None:
        """Seconds until `client` may try again, or None when it is not blocked."""
        now = self._clock()
        q = self._recent(client, now)
        if not q:
            self._failures.pop(client, None)
        return q[0] + self.window - now if len(q) >= self.limit else None

    def failed(self, client: str) -> None:
        now = self._clock()
        if client not in self._failures and len(self._failures) >= self.max_clients:
            for key in [k for k, q in self._failures.items() if not q or q[-1] <= now - self.window]:
                del self._failures[key]
            if len(self._failures) >= self.max_clients:  # still full: forget the stalest client
                del self._failures[min(self._failures, key=lambda k: self._failures[k][-1])]
        q = self._recent(client, now)
        q.append(now)
        self._failures[client] = q


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers") or ():
        if key.lower() == name:
            return bytes(value).decode("latin-1")
    return None


async def _reply(send: Send, status: int, message: str, headers: dict[str, str] | None = None) -> None:
    body = json.dumps({"error": message, "field": "Authorization" if status in (401, 403, 429) else "body"}).encode()
    extra = [(k.encode(), v.encode()) for k, v in (headers or {}).items()]
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()), *extra],
        }
    )
    await send({"type": "http.response.body", "body": body})


class Hardening:
    """ASGI middleware: see the module docstring. `tokens` is read per request (tests may swap them)."""

    def __init__(
        self,
        app: App,
        *,
        tokens: Callable[[], Tokens],
        max_body: int = 64 * 1024,
        limiter: FailedAuthLimiter | None = None,
    ) -> None:
        self.app, self._tokens, self.max_body = app, tokens, max_body
        self.limiter = limiter or FailedAuthLimiter()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def secured(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {k.lower() for k, _ in message.get("headers") or ()}
                message["headers"] = [
                    *(message.get("headers") or ()),
                    *((k, v) for k, v in SECURITY_HEADERS if k not in present),
                ]
            await send(message)

        if str(scope.get("path", "")).startswith("/api/"):
            client = (scope.get("client") or ("?",))[0]
            wait = self.limiter.retry_after(client)
            if wait is not None:
                await _reply(
                    secured,
                    429,
                    "too many failed authentications from this address; retry later",
                    {"retry-after": str(max(1, math.ceil(wait)))},
                )
                return
            authorization = _header(scope, b"authorization")
            if role_for(self._tokens(), authorization) is None:
                self.limiter.failed(client)
                scheme = (authorization or "").partition(" ")[0].lower()
                await _reply(
                    secured,
                    401,
                    "invalid bearer token"
                    if scheme == "bearer" and (authorization or "").partition(" ")[2].strip()
                    else "missing bearer token",
                    {"www-authenticate": "Bearer"},
                )
                return
        length = _header(scope, b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.max_body):
            await _reply(secured, 413, f"request body larger than {self.max_body} bytes")
            return
        if length is None and _header(scope, b"transfer-encoding") is not None:
            body = await self._read_capped(receive)
            if body is None:
                await _reply(secured, 413, f"request body larger than {self.max_body} bytes")
                return
            receive = _replay(body, receive)
        await self.app(scope, receive, secured)

    async def _read_capped(self, receive: Receive) -> bytes | None:
        """A chunked body read up to the cap (None beyond it): it is small, so buffering is bounded."""
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunk = bytes(message.get("body") or b"")
            size += len(chunk)
            if size > self.max_body:
                return None
            chunks.append(chunk)
            if not message.get("more_body"):
                break
        return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def again() -> Message:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return again
