"""The typer app, its console, its global options and the one error boundary every command runs inside."""

from __future__ import annotations

import math
import os
import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from typer.core import TyperGroup


@dataclass(slots=True)
class RunOptions:
    """The global flags of this invocation (`trimtab --debug --verbose CMD`), set by the app callback."""

    debug: bool = False
    verbose: bool = False


RUN = RunOptions()


class _Boundary(TyperGroup):
    """Runs the chosen command; whatever it raises becomes one line on stderr and an exit code (see boundary.py)."""

    def invoke(self, ctx: Any) -> Any:
        words = [*getattr(ctx, "_protected_args", ()), *ctx.args]  # consumed by the group: kept to name a culprit file
        try:
            return super().invoke(ctx)
        except (typer.Exit, typer.Abort):
            raise
        except typer.TyperException as e:  # usage errors: a missing option, a value that does not parse
            code = getattr(e, "exit_code", 2)
            hint = f" (see {ctx.command_path} {ctx.invoked_subcommand} --help)" if ctx.invoked_subcommand else ""
            message = " ".join(e.format_message().split())
            typer.echo(f"error: {message}{hint}", err=True)
            raise typer.Exit(code=code) from None
        except Exception as e:
            from trimtab.cli.boundary import classify

            failure = classify(e, words)
            if RUN.debug:
                traceback.print_exception(e, file=sys.stderr)
            typer.echo(failure.line.splitlines()[0] if failure.line else "error", err=True)
            raise typer.Exit(code=failure.code) from None


app = typer.Typer(
    cls=_Boundary,
    add_completion=False,
    no_args_is_help=True,
    help="Keep crypto portfolios on target, net of every cost.",
)
out = Console(width=None if sys.stdout.isatty() else 140)
F = TypeVar("F", bound=Callable[..., Any])


@app.callback()
def _global(
    debug: Annotated[
        bool, typer.Option("--debug", envvar="TRIMTAB_DEBUG", help="Print the traceback of an unexpected error.")
    ] = False,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="List every data repair instead of a one-line summary.")
    ] = False,
) -> None:
    """Keep crypto portfolios on target, net of every cost."""
    RUN.debug, RUN.verbose = debug, verbose


# -- typed checks for options: a bad value fails at parse time, before anything is read or written ------------
def _fail(value: object, reason: str) -> typer.BadParameter:
    return typer.BadParameter(f"{value}: {reason}")


def input_file(value: str | Path) -> Path:
    """An existing, readable file (not a folder)."""
    p = Path(value)
    if not p.exists():
        raise _fail(value, "no such file")
    if p.is_dir():
        raise _fail(value, "is a folder, expected a file")
    if not os.access(p, os.R_OK):
        raise _fail(value, "cannot be read (permission denied)")
    return p


def maybe_file(value: str) -> str:
    """A file name or a name the command resolves (a preset, 'example'): when it names a path, the path must be a
    readable file."""
    p = Path(value)
    if p.is_dir():
        raise _fail(value, "is a folder, expected a file")
    if p.exists() and not os.access(p, os.R_OK):
        raise _fail(value, "cannot be read (permission denied)")
    return value


def output_file(value: str | Path) -> Path:
    """A file that can be written: its folder exists and is writable, and it is not a folder itself ('-': stdout)."""
    p = Path(value)
    if str(value) == "-":
        return p
    if p.is_dir():
        raise _fail(value, "is a folder, expected a file name")
    parent = p.parent
    if not parent.is_dir():
        raise _fail(value, f"no such folder {parent}" if not parent.exists() else f"{parent} is not a folder")
    if not os.access(parent, os.W_OK) or (p.exists() and not os.access(p, os.W_OK)):
        raise _fail(value, "cannot be written (permission denied)")
    return p


def output_dir(value: str | Path) -> Path:
    """A folder to write into: an existing writable folder, or a new one under a writable existing folder."""
    p = Path(value)
    if p.exists() and not p.is_dir():
        raise _fail(value, "is a file, expected a folder")
    base = p
    while not base.exists():
        base = base.parent
    if not base.is_dir():
        raise _fail(value, f"{base} is not a folder")
    if not os.access(base, os.W_OK):
        raise _fail(value, f"{base} cannot be written (permission denied)")
    return p


SQLITE_MAGIC = b"SQLite format 3\x00"


def _check_sqlite(p: Path, value: object) -> None:
    with p.open("rb") as f:
        head = f.read(16)
    if not head:
        raise _fail(value, "is empty, not a SQLite ledger")
    if head != SQLITE_MAGIC:
        raise _fail(value, "not a SQLite database")


def ledger_in(value: str | Path) -> Path:
    """An existing SQLite ledger to read."""
    p = input_file(value)
    _check_sqlite(p, value)
    return p


def ledger_out(value: str | Path) -> Path:
    """A SQLite ledger to append to: an existing SQLite file, or a new file in a writable folder."""
    if "://" in str(value):  # a database URL (postgresql://...): checked when opened
        return Path(value)
    p = output_file(value)
    if p.exists():
        _check_sqlite(p, value)
    return p


def rules_file(value: str | Path) -> Path:
    """A market rules YAML that loads (checked when parsed, so a bad one stops the command before it writes)."""
    from trimtab.adapters.files import load_rules
    from trimtab.errors import InputError

    p = input_file(value)
    try:
        load_rules(p)
    except InputError as e:
        raise typer.BadParameter(str(e)) from None
    except UnicodeDecodeError:
        raise _fail(value, "not UTF-8 text (a binary file?)") from None
    return p


MAX_SWEEP_VALUES = 10_000


def sweep_param(value: str) -> str:
    """A `--param` spec that parses (PATH=start:stop:count or PATH=a,b,c) with at most MAX_SWEEP_VALUES values."""
    from trimtab.backtest.sweep import parse_param
    from trimtab.errors import InputError

    spec = value.split("=", 1)[1] if "=" in value else ""
    parts = spec.split(":")
    if len(parts) == 3 and parts[2].strip().lstrip("+").isdigit() and int(parts[2]) > MAX_SWEEP_VALUES:
        raise _fail(value, f"at most {MAX_SWEEP_VALUES} values per parameter")
    try:
        parse_param(value)
    except InputError as e:
        raise typer.BadParameter(str(e)) from None
    return value


def positive(value: str | float) -> float:
    """A finite number above zero (an amount of money, a duration)."""
    try:
        f = float(value)
    except ValueError:
        raise _fail(value, "not a number") from None
    if not math.isfinite(f) or f <= 0:
        raise _fail(value, "must be a finite number above 0")
    return f


DEFAULT_FORWARD_FILL = 3  # rows of a gap filled with the last price, in every command and for every source
FillOpt = Annotated[
    int | None,
    typer.Option(
        "--forward-fill",
        min=0,
        max=10_000,
        help=f"Fill gaps of up to N rows with the last price (each fill reported); "
        f"longer gaps are errors; the latest price is never filled. Default: {DEFAULT_FORWARD_FILL} "
        "(5 for an index over every asset in the data).",
    ),
]
InitialValueOpt = Annotated[
    float | None,
    typer.Option(
        "--initial-value",
        parser=positive,
        help="Starting portfolio value in the quote currency (default: the strategy's).",
    ),
]
StrategyArg = Annotated[str, typer.Option("--strategy", "-s", parser=maybe_file, help="Strategy file or preset name.")]
PortfolioOpt = Annotated[
    str, typer.Option("--portfolio", "-p", parser=maybe_file, help="Holdings file (YAML/JSON) or 'example'.")
]
PricesOpt = Annotated[
    str | None,
    typer.Option(
        "--prices", parser=maybe_file, help="Latest prices CSV (asset,price) or a price history; default: bundled data."
    ),
]
RulesOpt = Annotated[
    Path | None, typer.Option("--rules", parser=rules_file, help="Market rules YAML (lot step, min notional).")
]


def guarded(fn: F) -> F:
    """Marks a command; the error policy itself is the app's one boundary (`_Boundary`), which covers every command."""
    return fn
