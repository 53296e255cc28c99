"""`trimtab demo`: the example portfolio on paper, the index-fund comparison, then the service with its dashboard."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from trimtab.cli.app import (
    app,
    guarded,
    out,
    output_dir,
    positive,
)
from trimtab.errors import ConfigError

if TYPE_CHECKING:  # imported where used, so `trimtab --help` loads no config, pydantic or numpy
    pass


DEMO_BOUNDED_S = 20.0  # how long the demo serves when nobody can press Ctrl-C (stdin is not a terminal)


@app.command()
@guarded
def demo(
    out_dir: Annotated[
        Path, typer.Option("--out", parser=output_dir, help="Where the ledger, the report and the service database go.")
    ] = Path("out"),
    duration: Annotated[
        float | None,
        typer.Option(
            "--duration",
            parser=positive,
            help="Stop the service after this many seconds (default: at Ctrl-C; "
            f"{DEMO_BOUNDED_S:g} s when stdin is not a terminal).",
        ),
    ] = None,
    port: Annotated[
        int,
        typer.Option(min=0, max=65535, help="Dashboard port (0: any free one; a busy one falls back to a free one)."),
    ] = 8700,
    intro: Annotated[
        bool, typer.Option("--intro/--no-intro", help="Start with a paper rebalance and a backtest comparison.")
    ] = True,
) -> None:
    """The full demo: rebalance the example portfolio on paper, compare index-fund variants on real data, then run the
    service with its dashboard: paper portfolios replaying the bundled real prices at one simulated day per second."""
    out_dir.mkdir(parents=True, exist_ok=True)
    if intro:
        from trimtab.cli.backtest import compare_cmd

        ledger = out_dir / "demo-ledger.sqlite"
        ledger.unlink(missing_ok=True)
        out.rule("1. Rebalance the bundled example portfolio (index-fund preset, paper venue)")
        from trimtab.cli.execute_flow import ExecuteArgs, run_execute

        run_execute(ExecuteArgs("index-fund", ledger=ledger, account="example", yes=True))
        out.rule("2. Would rebalancing have helped? index-fund on real daily data, net of costs")
        compare_cmd(
            "index-fund",
            prices=None,
            start="2020-04-11",
            end=None,
            json_out=out_dir / "compare.json",
            report=out_dir / "index-fund-report.html",
            forward_fill=None,
        )
        out.rule("3. The service and its dashboard: paper portfolios on replayed real prices, one day per second")
    if duration is None and not sys.stdin.isatty():
        duration = DEMO_BOUNDED_S
        out.print(f"stdin is not a terminal: the service stops by itself after {duration:g} s (--duration to change)")
    _demo_service(out_dir, duration, port)


def _free_port(host: str, preferred: int) -> int:
    """`preferred` if it can be bound on `host`, else (or when 0) a free port chosen by the OS."""
    import socket

    for candidate in ([preferred] if preferred else []) + [0]:
        with socket.socket() as sock:
            try:
                sock.bind((host, candidate))
            except OSError:
                continue
            return int(sock.getsockname()[1])
    raise ConfigError("no free port to serve the dashboard", field="port")


def _demo_service(out_dir: Path, duration: float | None, port: int) -> None:
    """Serve src/trimtab/service/demo.yaml on a fresh SQLite file until Ctrl-C/SIGTERM or `duration` seconds."""
    import secrets
    import signal
    import threading
    import time

    import uvicorn
    from pydantic import SecretStr

    from trimtab.config import read_yaml
    from trimtab.service.api import create_app
    from trimtab.service.bootstrap import build_services
    from trimtab.service.dashboard import STATIC_DIR
    from trimtab.service.runner import Runner
    from trimtab.service.settings import Tokens, parse_settings

    config = STATIC_DIR.parent / "demo.yaml"
    db = (out_dir / "demo-service.db").resolve()
    for stale in (db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")):
        stale.unlink(missing_ok=True)
    settings = parse_settings({**read_yaml(config), "database_url": str(db)}, str(config), config.parent)
    admin, read = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
    services = build_services(settings, Tokens(read=SecretStr(read), admin=SecretStr(admin)))
    host = settings.api.host
    bound = _free_port(host, port)
    server = uvicorn.Server(
        uvicorn.Config(create_app(services), host=host, port=bound, log_level="warning", access_log=False)
    )
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)}
    runner = Runner(services).start_thread()
    web = threading.Thread(target=server.run, name="trimtab-demo-api", daemon=True)
    web.start()
    try:
        deadline = time.monotonic() + 15
        while not server.started:
            if time.monotonic() > deadline or not web.is_alive():
                raise ConfigError(f"the dashboard could not start on {host}:{bound}", field="port")
            time.sleep(0.02)
        md = settings.market_data
        out.print(
            f"{len(services.runtimes)} paper portfolios ({', '.join(sorted(services.runtimes))}) replay real daily "
            f"prices from {md.start} at {md.speed / 86_400:g} simulated day(s) per second; database {db}"
        )
        if bound != port and port:
            out.print(f"port {port} is busy: serving on {bound}")
        typer.echo(f"dashboard: http://{host}:{bound}/#token={admin}")  # one unwrapped line to click or copy
        typer.echo(f"tokens: admin {admin} (controls), read-only {read}")
        out.print("stops at Ctrl-C" if duration is None else f"stops after {duration:g} s")
        sys.stdout.flush()
        end = None if duration is None else time.monotonic() + duration
        while not stop.wait(0.2):
            if end is not None and time.monotonic() >= end:
                break
    finally:
        server.should_exit = True
        web.join(10)
        services.stop.set()
        services.wake.set()
        runner.join(30)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        for name in sorted(services.runtimes):
            checks = services.store.count_decisions(name)
            traded = len(services.store.decisions(name, limit=100_000, traded_only=True))
            row = services.store.portfolio(name)
            last = f", last check {row.last_check_at:%Y-%m-%d}" if row and row.last_check_at else ""
            out.print(f"{name}: {checks} checks, {traded} rebalances{last}")
        services.close()
    out.print("demo service stopped")
