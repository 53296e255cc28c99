"""REST API (FastAPI): reads for any valid bearer token, controls for the admin token; errors are JSON 4xx.

Every /api route needs `Authorization: Bearer <token>`; tokens are compared in constant time (hmac), before
any body is read (api_security.Hardening, which also caps bodies, rate-limits failed auth and sets headers).
The OpenAPI document (/openapi.json) and its page (/docs, no CDN asset) are public: they hold no portfolio data.
"""

from __future__ import annotations

import logging
from decimal import Decimal
from pathlib import Path as FsPath
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from trimtab import __version__
from trimtab.errors import ConfigError, DataError, LedgerError, TrimtabError
from trimtab.scrub import scrub
from trimtab.service import apidocs, commands, flows
from trimtab.service import approval_schemas as ra
from trimtab.service import approvals as approval_cases
from trimtab.service import schemas as r
from trimtab.service.api_security import FailedAuthLimiter, Hardening, role_for
from trimtab.service.bootstrap import Services
from trimtab.service.dashboard import STATIC_DIR
from trimtab.service.http_errors import name_fields
from trimtab.service.settings import NAME_PATTERN

log = logging.getLogger(__name__)
_bearer = HTTPBearer(auto_error=False, description="Read-only or admin token")

Name = Annotated[str, Path(pattern=NAME_PATTERN, max_length=64, description="Portfolio name")]
Limit = Annotated[int, Query(ge=1, le=1000)]
Month = Annotated[str | None, Query(pattern=r"^\d{4}-(0[1-9]|1[0-2])$", description="YYYY-MM")]
ApprovalId = Annotated[int, Path(ge=1, le=2**31 - 1, description="Approval id")]
ApprovalStatus = Literal["pending", "approved", "rejected", "expired", "executed", "superseded"]


class TargetsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    targets: dict[Annotated[str, Field(min_length=1, max_length=32)], Annotated[float, Field(ge=0, le=1)]] = Field(
        min_length=1, max_length=200
    )
    note: Annotated[str, Field(max_length=500)] = ""


class PauseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: Annotated[str, Field(max_length=500)] = ""


class FlowIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    amount: Annotated[Decimal, Field(gt=0, le=Decimal("1e15"), description="In the portfolio's quote asset")]


class ExitIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    confirm: Annotated[str, Field(max_length=64, description="Type the portfolio name to confirm")]


class SummaryIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    month: Annotated[str | None, Field(pattern=r"^\d{4}-(0[1-9]|1[0-2])$")] = None


def get_services(request: Request) -> Services:
    return request.app.state.services  # type: ignore[no-any-return]


ServicesDep = Annotated[Services, Depends(get_services)]


def _role(services: ServicesDep, creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]) -> str:
    """'admin' or 'read' for a valid token; 401 otherwise (constant-time comparison of bytes)."""
    if creds is None:
        raise HTTPException(401, "missing bearer token", headers={"WWW-Authenticate": "Bearer"})
    role = role_for(services.tokens, f"Bearer {creds.credentials}")
    if role is None:
        raise HTTPException(401, "invalid bearer token", headers={"WWW-Authenticate": "Bearer"})
    return role


def _admin(role: Annotated[str, Depends(_role)]) -> str:
    if role != "admin":
        raise HTTPException(403, "this control needs the admin token")
    return role


Reader = Annotated[str, Depends(_role)]
Admin = Annotated[str, Depends(_admin)]

router = APIRouter(prefix="/api")


@router.get("/health", tags=["service"])
def health(s: ServicesDep, role: Reader) -> r.Health:
    return r.Health(
        status="ok",
        version=__version__,
        worker=s.worker_id,
        role=role,
        time=s.clock.now().isoformat(),
        started_at=s.started_at.isoformat(),
        portfolios=len(s.runtimes),
    )


@router.get("/portfolios", tags=["read"])
def list_portfolios(s: ServicesDep, _: Reader) -> list[r.PortfolioRow]:
    return [r.PortfolioRow.model_validate(row) for row in commands.list_portfolios(s)]


@router.get("/portfolios/{name}", tags=["read"])
def status(s: ServicesDep, _: Reader, name: Name) -> r.Status:
    return r.Status.model_validate(commands.status(s, name))


@router.get("/portfolios/{name}/decisions", tags=["read"])
def decisions(
    s: ServicesDep,
    _: Reader,
    name: Name,
    limit: Limit = 100,
    offset: Annotated[int, Query(ge=0, le=10**7)] = 0,
    traded_only: bool = False,
) -> r.Decisions:
    return r.Decisions.model_validate(commands.decisions(s, name, limit=limit, offset=offset, traded_only=traded_only))


@router.get("/portfolios/{name}/rebalances", tags=["read"])
def rebalances(s: ServicesDep, _: Reader, name: Name, limit: Limit = 100) -> r.Rebalances:
    return r.Rebalances.model_validate(commands.rebalances(s, name, limit=limit))


@router.get("/portfolios/{name}/performance", tags=["read"])
def performance(s: ServicesDep, _: Reader, name: Name) -> r.Performance:
    return r.Performance.model_validate(commands.performance(s, name))


@router.get("/portfolios/{name}/analytics", tags=["read"])
def analytics(s: ServicesDep, _: Reader, name: Name) -> r.Analytics:
    return r.Analytics.model_validate(commands.analytics(s, name))


@router.get("/portfolios/{name}/costs", tags=["read"])
def costs(s: ServicesDep, _: Reader, name: Name) -> r.Costs:
    return r.Costs.model_validate(commands.costs(s, name))


@router.get("/portfolios/{name}/summary", tags=["read"])
def summary(s: ServicesDep, _: Reader, name: Name, month: Month = None) -> r.Summary:
    return r.Summary.model_validate(commands.summary(s, name, month))


@router.get("/portfolios/{name}/targets", tags=["read"])
def targets(s: ServicesDep, _: Reader, name: Name) -> r.Targets:
    return r.Targets.model_validate(commands.targets(s, name))


@router.get("/alerts", tags=["read"])
def alerts(
    s: ServicesDep,
    _: Reader,
    portfolio: Annotated[str | None, Query(pattern=NAME_PATTERN)] = None,
    kind: Annotated[str | None, Query(max_length=32)] = None,
    limit: Limit = 100,
) -> r.Alerts:
    return r.Alerts.model_validate(commands.alerts(s, portfolio, limit=limit, kind=kind))


@router.get("/audit", tags=["read"])
def audit(
    s: ServicesDep, _: Reader, portfolio: Annotated[str | None, Query(pattern=NAME_PATTERN)] = None, limit: Limit = 100
) -> r.Audit:
    return r.Audit.model_validate(commands.audit(s, portfolio, limit=limit))


@router.post("/portfolios/{name}/pause", tags=["control"], status_code=202)
def pause(s: ServicesDep, role: Admin, name: Name, body: PauseIn | None = None) -> r.PauseAccepted:
    return r.PauseAccepted.model_validate(commands.pause(s, name, actor=role, reason=body.reason if body else ""))


@router.post("/portfolios/{name}/resume", tags=["control"], status_code=202)
def resume(s: ServicesDep, role: Admin, name: Name) -> r.PauseAccepted:
    return r.PauseAccepted.model_validate(commands.resume(s, name, actor=role))


@router.post("/portfolios/{name}/deposit", tags=["control"], status_code=202)
def deposit(s: ServicesDep, role: Admin, name: Name, body: FlowIn) -> r.FlowAccepted:
    """Queue a deposit: the next cycle records it and buys the most underweight assets first."""
    return r.FlowAccepted.model_validate(flows.request_flow(s, name, body.amount, actor=role, withdraw=False))


@router.post("/portfolios/{name}/withdraw", tags=["control"], status_code=202)
def withdraw(s: ServicesDep, role: Admin, name: Name, body: FlowIn) -> r.FlowAccepted:
    """Queue a withdrawal (paper venues): the next cycle sells the most overweight assets first and records it."""
    return r.FlowAccepted.model_validate(flows.request_flow(s, name, body.amount, actor=role, withdraw=True))


@router.post("/portfolios/{name}/trigger", tags=["control"], status_code=202)
def trigger(s: ServicesDep, role: Admin, name: Name) -> r.Accepted:
    return r.Accepted.model_validate(commands.trigger_now(s, name, actor=role))


@router.put("/portfolios/{name}/targets", tags=["control"])
def set_targets(s: ServicesDep, role: Admin, name: Name, body: TargetsIn) -> r.TargetsAccepted:
    return r.TargetsAccepted.model_validate(commands.set_targets(s, name, body.targets, actor=role, note=body.note))


@router.post("/portfolios/{name}/exit", tags=["control"], status_code=202)
def emergency_exit(s: ServicesDep, role: Admin, name: Name, body: ExitIn) -> r.ExitAccepted:
    return r.ExitAccepted.model_validate(commands.emergency_exit(s, name, confirm=body.confirm, actor=role))


@router.get("/portfolios/{name}/approvals", tags=["read"])
def approvals(
    s: ServicesDep, _: Reader, name: Name, status: ApprovalStatus | None = None, limit: Limit = 100
) -> ra.Approvals:
    return ra.Approvals.model_validate(approval_cases.list_approvals(s, name, status=status, limit=limit))


@router.post("/portfolios/{name}/approvals/{approval_id}/approve", tags=["control"], status_code=202)
def approve(
    s: ServicesDep, role: Admin, name: Name, approval_id: ApprovalId, body: ra.DecideIn | None = None
) -> ra.ApprovalAccepted:
    """Approve a pending plan: re-planned on fresh prices at once; audited with the role and `by`."""
    b = body or ra.DecideIn()
    return ra.ApprovalAccepted.model_validate(
        approval_cases.approve(s, name, approval_id, actor=role, by=b.by, note=b.note)
    )


@router.post("/portfolios/{name}/approvals/{approval_id}/reject", tags=["control"], status_code=202)
def reject(
    s: ServicesDep, role: Admin, name: Name, approval_id: ApprovalId, body: ra.DecideIn | None = None
) -> ra.ApprovalAccepted:
    """Reject a pending plan: nothing is sent; audited with the role and `by`."""
    b = body or ra.DecideIn()
    return ra.ApprovalAccepted.model_validate(
        approval_cases.reject(s, name, approval_id, actor=role, by=b.by, note=b.note)
    )


@router.post("/portfolios/{name}/summary", tags=["control"])
def send_summary(s: ServicesDep, role: Admin, name: Name, body: SummaryIn | None = None) -> r.Summary:
    return r.Summary.model_validate(commands.send_summary(s, name, body.month if body else None, actor=role))


def _error(status: int, message: str, **extra: Any) -> JSONResponse:
    return JSONResponse({"error": message, **extra}, status_code=status)


def _validation_message(err: RequestValidationError) -> str:
    first = err.errors()[0] if err.errors() else {}
    loc = ".".join(str(p) for p in first.get("loc", ()) if p not in ("body",)) or "request"
    return f"{loc}: {first.get('msg', 'invalid')}"


STATUS_OF: list[tuple[type[Exception], int]] = [
    (commands.NotFound, 404),
    (commands.Conflict, 409),
    (commands.Invalid, 400),
    (ConfigError, 422),
    (DataError, 503),
    (LedgerError, 503),
]


def create_app(services: Services, *, static_dir: FsPath | None = STATIC_DIR) -> FastAPI:
    """The API over `services`; the dashboard is served from `static_dir` at / (None: API only)."""
    app = FastAPI(
        title="trimtab service",
        version=__version__,
        docs_url=None,
        redoc_url=None,
        description="Portfolios kept on target: status, history, performance, costs, alerts, controls.",
    )
    app.state.services = services
    app.include_router(router)
    app.include_router(apidocs.router)
    spec = services.settings.api
    app.add_middleware(
        Hardening,
        tokens=lambda: services.tokens,
        max_body=spec.max_body_bytes,
        limiter=FailedAuthLimiter(limit=spec.auth_failures_per_minute, window=60.0),
    )

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        resp = _error(exc.status_code, str(exc.detail))
        for k, v in (exc.headers or {}).items():
            resp.headers[k] = v
        return resp

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        details = [{"loc": [str(p) for p in e.get("loc", ())], "msg": str(e.get("msg"))} for e in exc.errors()]
        return _error(422, _validation_message(exc), details=details)

    @app.exception_handler(TrimtabError)
    async def _trimtab(_: Request, exc: TrimtabError) -> JSONResponse:
        for kind, code in STATUS_OF:
            if isinstance(exc, kind):
                return _error(code, scrub(exc))
        return _error(409, scrub(exc))

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected API error")
        return _error(500, f"internal error ({type(exc).__name__})")

    name_fields(app)  # every 4xx body names its field (trimtab.service.http_errors)
    if static_dir is not None and static_dir.is_dir():
        from fastapi.staticfiles import StaticFiles

        app.mount("/", StaticFiles(directory=static_dir, html=True), name="dashboard")
    return app
