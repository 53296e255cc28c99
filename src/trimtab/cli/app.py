"""The typer app, its console and the error policy every command shares."""

from __future__ import annotations

import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console

from trimtab.errors import ConfigError, DataError, TrimtabError

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Keep crypto portfolios on target, net of every cost.")
out = Console(width=None if sys.stdout.isatty() else 140)
F = TypeVar("F", bound=Callable[..., Any])

StrategyArg = Annotated[str, typer.Option("--strategy", "-s", help="Strategy file or preset name.")]
PortfolioOpt = Annotated[str, typer.Option("--portfolio", "-p", help="Holdings file (YAML/JSON) or 'example'.")]
PricesOpt = Annotated[str | None, typer.Option("--prices", help="Latest prices CSV (asset,price) or a price history; default: bundled data.")]
RulesOpt = Annotated[Path | None, typer.Option("--rules", help="Market rules YAML (lot step, min notional).")]


def guarded(fn: F) -> F:
    """Bad input -> one line on stderr and exit 2; other trimtab failures -> one line and exit 1."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except (ConfigError, DataError) as e:
            typer.echo(f"error: {e}", err=True)
            raise typer.Exit(code=2) from None
        except TrimtabError as e:
            typer.echo(f"error: {e}", err=True)
            raise typer.Exit(code=1) from None

    return wrapper  # type: ignore[return-value]


