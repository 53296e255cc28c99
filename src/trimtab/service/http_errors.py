"""Every 4xx body of the API names the field at fault (`field`), next to its one-line `error`.

Wraps the app's registered exception handlers (their bodies stay as they are) so a client, or a form in the
dashboard, can point at the input to fix: a body or query key, the portfolio `name`, the `Authorization` header.
"""

from __future__ import annotations

import inspect
import json
import re
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse, Response

from trimtab.errors import InputError

LOCATIONS = {"body", "query", "path", "header", "cookie"}
HTTP_FIELD = {
    401: "Authorization",
    403: "Authorization",
    404: "path",
    405: "method",
    406: "Accept",
    413: "body",
    415: "Content-Type",
}
_LEADING_FIELD = re.compile(r"^([A-Za-z_][\w.]*)(?=:| must )")


def field_of(exc: BaseException, status: int) -> str:
    """The request field an error is about: validation location, InputError field, or the message's subject."""
    if isinstance(exc, RequestValidationError):
        errors = exc.errors()
        loc = [str(p) for p in (errors[0].get("loc", ()) if errors else ())]
        return ".".join(loc[1:] if loc and loc[0] in LOCATIONS else loc) or (loc[0] if loc else "body")
    if isinstance(exc, StarletteHTTPException):
        return HTTP_FIELD.get(exc.status_code, "request")
    if isinstance(exc, InputError) and (exc.field or exc.source):
        return str(exc.field or exc.source)
    match = _LEADING_FIELD.match(str(exc))
    if match:
        return match.group(1)
    return "name" if status in (404, 409) else "request"  # no such portfolio / not in a state for this


def _with_field(handler: Callable[..., Any]) -> Callable[..., Any]:
    async def wrapped(request: Request, exc: Exception) -> Response:
        result = handler(request, exc)
        response: Response = await result if inspect.isawaitable(result) else result
        if not 400 <= response.status_code < 500 or not isinstance(response, JSONResponse):
            return response
        doc = json.loads(bytes(response.body))
        if not isinstance(doc, dict) or doc.get("field"):
            return response
        out = JSONResponse({**doc, "field": field_of(exc, response.status_code)}, status_code=response.status_code)
        for key, value in response.headers.items():
            if key.lower() not in ("content-length", "content-type"):
                out.headers[key] = value
        return out

    return wrapped


def name_fields(app: FastAPI) -> None:
    """Wrap every exception handler registered so far; call it after the app's own handlers are registered."""
    for exc_class, handler in list(app.exception_handlers.items()):
        app.exception_handlers[exc_class] = _with_field(handler)
