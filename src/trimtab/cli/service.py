"""`trimtab serve` runs the service; `trimtab remote ...` drives a running one over its REST API."""

from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from trimtab.cli.app import app, guarded, input_file, out

remote = typer.Typer(
    no_args_is_help=True,
    help="Status and controls of a running service over its API (token from TRIMTAB_ADMIN_TOKEN or TRIMTAB_API_TOKEN).",
)
app.add_typer(remote, name="remote")

ServerOpt = Annotated[str, typer.Option("--server", envvar="TRIMTAB_SERVER", help="Service URL.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print the API's JSON.")]
NameArg = Annotated[str, typer.Argument(help="Portfolio name, as in the service config.")]
DEFAULT_SERVER = "http://127.0.0.1:8700"


@app.command()
@guarded
def serve(
    config: Annotated[Path, typer.Option("--config", "-c", parser=input_file, help="service.yaml")],
    host: Annotated[str | None, typer.Option(help="Bind address (default from the file: 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option(min=0, max=65535, help="Port (default from the file: 8700).")] = None,
    no_api: Annotated[bool, typer.Option("--no-api", help="Run cycles only (an extra worker).")] = False,
    worker_id: Annotated[str | None, typer.Option(help="Lease owner name of this process.")] = None,
    check: Annotated[
        bool, typer.Option("--check", help="Validate the service file, its strategies and tokens; start nothing.")
    ] = False,
) -> None:
    """Run every portfolio's cycle at its interval and serve the REST API; SIGTERM stops after the running leg."""
    if check:
        return check_service(config, no_api)
    import logging

    from trimtab.errors import ConfigError
    from trimtab.service.bootstrap import build_services
    from trimtab.service.runner import Runner
    from trimtab.service.settings import Tokens, is_loopback, load_settings, load_tokens

    logging.basicConfig(level=os.environ.get("TRIMTAB_LOG", "WARNING"), format="%(asctime)s %(name)s %(message)s")
    _show_activity()
    settings = load_settings(config)
    bind_host = host or settings.api.host
    if not no_api and not is_loopback(bind_host):
        if not settings.api.allow_remote:
            raise ConfigError(
                f"binding to {bind_host} exposes the API beyond this machine; set api: "
                "{allow_remote: true} to allow it (behind TLS)",
                field="api.host",
            )
        typer.echo(
            f"warning: the API on {bind_host} is reachable from other machines and speaks plain HTTP: "
            "put a TLS-terminating proxy in front",
            err=True,
        )
    tokens = Tokens() if no_api else load_tokens(settings)
    services = build_services(settings, tokens, worker_id=worker_id)
    runner = Runner(services)

    servers: list[Any] = []

    def _stop(*_: Any) -> None:
        services.stop.set()
        services.wake.set()
        for srv in servers:  # a signal before uvicorn installs its own handlers must still stop the API
            srv.should_exit = True

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    try:
        if no_api:
            out.print(f"trimtab worker {services.worker_id}: {len(services.runtimes)} portfolio(s)")
            runner.run_forever()
            return
        import uvicorn

        from trimtab.service.api import create_app

        sys.setswitchinterval(0.001)  # the API thread gets the GIL back quickly while cycles compute
        bind_port = settings.api.port if port is None else port
        server = uvicorn.Server(
            uvicorn.Config(create_app(services), host=bind_host, port=bind_port, log_level="warning", access_log=False)
        )
        servers.append(server)
        thread = runner.start_thread()
        out.print(f"trimtab service on http://{bind_host}:{bind_port} ({len(services.runtimes)} portfolio(s))")
        if not services.stop.is_set():
            server.run()
        _stop()
        thread.join()
    finally:
        out.print(_shutdown_line(services, runner))
        services.close()


def _show_activity() -> None:
    """The per-cycle trade lines (service/cycle.py `trimtab.activity`) on stdout, whatever TRIMTAB_LOG says."""
    import logging

    act = logging.getLogger("trimtab.activity")
    if not act.handlers:
        handler = logging.StreamHandler(sys.stdout)
        handler.setFormatter(logging.Formatter("%(message)s"))
        act.addHandler(handler)
        act.setLevel(logging.INFO)
        act.propagate = False


def _shutdown_line(services: Any, runner: Any) -> str:
    """What the stopping process leaves behind: cycles run, and any rebalance still open (reconciled at start)."""
    try:
        left = sum(len(services.store.open_rebalances(rt.account)) for rt in services.runtimes.values())
    except Exception:  # noqa: BLE001  (the database is what failed: say that much)
        return f"trimtab service stopped after {runner.cycles} cycle(s); open rebalances unknown (database unreachable)"
    tail = "no rebalance left open" if not left else f"{left} rebalance(s) left open: reconciled at the next start"
    return f"trimtab service stopped after {runner.cycles} cycle(s); {tail}"


def check_service(config: Path, no_api: bool) -> None:
    """`serve --check`: the file, every portfolio's strategy and (unless --no-api) the tokens; opens no database."""
    from trimtab.config import load_strategy_spec
    from trimtab.service.settings import load_settings, load_tokens

    settings = load_settings(config)
    for spec in settings.portfolios:
        path = settings.path(spec.strategy)
        load_strategy_spec(path if path.is_file() else spec.strategy).build()
    if not no_api:
        load_tokens(settings)
    names = ", ".join(p.name for p in settings.portfolios)
    out.print(
        f"ok: {config}: {len(settings.portfolios)} portfolio(s) ({names}); API on "
        f"{settings.api.host}:{settings.api.port}" + ("" if no_api else "; tokens found"),
        highlight=False,
    )


# -- remote ---------------------------------------------------------------------------------------


def _token(admin: bool) -> str:
    names = ("TRIMTAB_ADMIN_TOKEN", "TRIMTAB_API_TOKEN") if admin else ("TRIMTAB_API_TOKEN", "TRIMTAB_ADMIN_TOKEN")
    for n in names:
        if os.environ.get(n):
            return os.environ[n]
    typer.echo(f"error: set {names[0]}", err=True)
    raise typer.Exit(2)


def _call(
    server: str, method: str, path: str, *, admin: bool = False, body: Any = None, params: dict[str, Any] | None = None
) -> Any:
    """One API request; 4xx/5xx and connection errors become one line on stderr and exit 1."""
    import httpx

    try:
        r = httpx.request(
            method,
            server.rstrip("/") + path,
            json=body,
            params=params,
            timeout=30,
            headers={"Authorization": f"Bearer {_token(admin)}"},
        )
    except httpx.HTTPError as err:
        typer.echo(f"error: cannot reach {server}: {type(err).__name__}", err=True)
        raise typer.Exit(1) from None
    try:
        doc = r.json()
    except ValueError:
        doc = {"error": r.text[:200]}
    if r.status_code >= 400:
        typer.echo(f"error: HTTP {r.status_code}: {doc.get('error', doc) if isinstance(doc, dict) else doc}", err=True)
        raise typer.Exit(1)
    return doc


def _print_json(doc: Any) -> None:
    sys.stdout.write(json.dumps(doc, indent=2) + "\n")


@remote.command("status")
def remote_status(
    name: Annotated[str | None, typer.Argument(help="Portfolio (all when omitted).")] = None,
    server: ServerOpt = DEFAULT_SERVER,
    as_json: JsonOpt = False,
) -> None:
    """Weights vs targets and distance to the trigger (one portfolio), or the list of portfolios."""
    doc = _call(server, "GET", f"/api/portfolios/{name}" if name else "/api/portfolios")
    if as_json:
        return _print_json(doc)
    if name is None:
        t = Table(title="portfolios", title_justify="left")
        for col in ("name", "strategy", "venue", "value", "paused", "next check", "last decision"):
            t.add_column(col)
        for p in doc:
            last = p["last_decision"] or {}
            t.add_row(
                p["name"],
                p["strategy"],
                p["venue"],
                f"{p['value'] or 0:,.2f}",
                "yes" if p["paused"] else "no",
                str(p["next_check_at"]),
                _decision_text(last),
            )
        out.print(t)
        return None
    t = Table(title=f"{doc['name']} ({doc['strategy']}) at {doc['time']}", title_justify="left")
    for col in ("asset", "weight", "target", "drift", "band", "to trigger", "status"):
        t.add_column(col, justify="left" if col in ("asset", "status") else "right")
    for a in doc["assets"]:
        band = "-" if a["band"] is None else f"±{a['band'] * 100:.2f}pp"
        dist = "-" if a["distance"] is None else f"{a['distance'] * 100:.2f}pp"
        t.add_row(
            a["asset"],
            f"{a['weight']:.2%}",
            f"{a['target']:.2%}",
            f"{a['drift'] * 100:+.2f}pp",
            band,
            dist,
            a["status"],
        )
    t.caption = (
        f"value {doc['value']:,.2f} {doc['quote']}; {'PAUSED: ' + doc['paused_reason'] if doc['paused'] else 'active'}"
        f"; next check {doc['next_check_at']}"
    )
    out.print(t)
    out.print(f"last decision: {_decision_text(doc.get('last_decision') or {})}", soft_wrap=True)
    return None


def _decision_text(d: dict[str, Any]) -> str:
    """A decision whole: when, what kind, its status, whether it traded, and the full reason."""
    if not d:
        return "none yet"
    traded = "traded" if d.get("traded") else "no trade"
    return f"{d.get('time', '?')} {d.get('kind', '?')} {d.get('status', '-')} ({traded}): {d.get('reason', '')}"


def _control(server: str, name: str, action: str, body: Any = None, as_json: bool = False) -> None:
    doc = _call(server, "POST", f"/api/portfolios/{name}/{action}", admin=True, body=body)
    if as_json:
        _print_json(doc)
    else:
        out.print(f"{name}: {doc.get('action', action)} accepted")


@remote.command("pause")
def remote_pause(
    name: NameArg,
    server: ServerOpt = DEFAULT_SERVER,
    reason: Annotated[str, typer.Option(help="Why (kept in the audit log).")] = "",
    as_json: JsonOpt = False,
) -> None:
    """Stop a portfolio's cycles until resumed."""
    _control(server, name, "pause", {"reason": reason}, as_json)


@remote.command("resume")
def remote_resume(name: NameArg, server: ServerOpt = DEFAULT_SERVER, as_json: JsonOpt = False) -> None:
    """Resume a paused portfolio (checked at once)."""
    _control(server, name, "resume", None, as_json)


@remote.command("trigger")
def remote_trigger(name: NameArg, server: ServerOpt = DEFAULT_SERVER, as_json: JsonOpt = False) -> None:
    """Rebalance to target now, whatever the trigger says."""
    _control(server, name, "trigger", None, as_json)


@remote.command("exit")
def remote_exit(
    name: NameArg,
    server: ServerOpt = DEFAULT_SERVER,
    confirm: Annotated[str | None, typer.Option(help="Repeat the portfolio name to confirm.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Emergency exit: sell every risk asset into the quote (asks for the portfolio name unless --confirm)."""
    typed = confirm if confirm is not None else typer.prompt(f"type {name!r} to sell everything into the quote")
    doc = _call(server, "POST", f"/api/portfolios/{name}/exit", admin=True, body={"confirm": typed})
    if as_json:
        return _print_json(doc)
    for q in doc["quotes"]:
        out.print(
            f"sell {q['quantity']} {q['asset']} via {q['route']}: expect {q['expected_received']}, "
            f"minimum {q['min_received']}"
        )
    out.print(f"{name}: emergency exit accepted ({doc['legs']} leg(s)); the portfolio is paused after it")
    return None


@remote.command("summary")
def remote_summary(
    name: NameArg,
    server: ServerOpt = DEFAULT_SERVER,
    month: Annotated[str | None, typer.Option(help="YYYY-MM (default: current).")] = None,
    send: Annotated[bool, typer.Option("--send", help="Also send it to the alert channels.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Monthly performance summary: returns, costs, rebalances, rebalancing vs holding."""
    if send:
        doc = _call(server, "POST", f"/api/portfolios/{name}/summary", admin=True, body={"month": month})
    else:
        doc = _call(server, "GET", f"/api/portfolios/{name}/summary", params={"month": month} if month else None)
    if as_json:
        return _print_json(doc)
    from trimtab.service.reports import summary_text

    out.print(summary_text(doc))
    return None


@remote.command("alerts")
def remote_alerts(
    server: ServerOpt = DEFAULT_SERVER,
    portfolio: Annotated[str | None, typer.Option(help="Only this portfolio (default: all).")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="How many, newest first.")] = 20,
    as_json: JsonOpt = False,
) -> None:
    """Recent alerts, newest first."""
    params: dict[str, Any] = {"limit": limit, **({"portfolio": portfolio} if portfolio else {})}
    doc = _call(server, "GET", "/api/alerts", params=params)
    if as_json:
        return _print_json(doc)
    for a in doc["items"]:
        out.print(f"{a['created_at']} [{a['kind']}] {a['title']}: {a['body']}")
    return None
