"""Every CLI command against bad inputs generated per argument type: exit 2, at most 3 lines, no traceback, nothing
written. The commands come from the typer app (sub-apps included), so a new command or option is covered at once."""

from __future__ import annotations

import os
import typing
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from typer.main import get_command
from typer.testing import CliRunner

from trimtab.cli import app as cli_app
from trimtab.cli.app import (
    input_file,
    ledger_in,
    ledger_out,
    maybe_file,
    output_dir,
    output_file,
    positive,
    rules_file,
    sweep_param,
)

ROOT = get_command(cli_app)
SERVICE_FILE = Path(__file__).resolve().parents[2] / "src" / "trimtab" / "service" / "demo.yaml"
IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0  # root reads and writes through any file mode

# Commands the corpus cannot run in-process, and why. Everything else is derived from the app.
SKIP = {
    "remote": "talks to a running service over HTTP (its client errors are one line by construction, _call)",
    "chain demo": "starts anvil and takes no input",
    "presets": "takes no input",
}
# Valid values for required options (and what a command needs to reach its checks), so one argument is bad at a time.
BASE: dict[str, list[str]] = {
    "backtest": ["-s", "bitcoin", "--start", "2024-01-01", "--end", "2024-03-31"],
    "compare": ["-s", "bitcoin", "--start", "2024-01-01", "--end", "2024-03-31"],
    "report": ["-s", "bitcoin", "--start", "2024-01-01", "--end", "2024-03-31"],
    "sweep": [
        "-s",
        "bitcoin",
        "--start",
        "2024-01-01",
        "--end",
        "2024-03-31",
        "--param",
        "trigger.band=0.05,0.07",
        "--workers",
        "1",
    ],
    "status": ["-s", "bitcoin"],
    "plan": ["-s", "bitcoin"],
    "execute": ["-s", "bitcoin"],  # no --yes: a case that got through would stop at the prompt (and fail here)
    "init": ["custom"],
    "validate": ["bitcoin"],
    "serve": ["--check", "--no-api", "--config", str(SERVICE_FILE)],  # --check: validate only, start nothing
    "chain deploy": ["--rpc", "http://127.0.0.1:9", "--deployment", "deployment.json"],
    "demo": ["--no-intro", "--duration", "0.01"],
}
# Options that only matter with another one (uniswap options are ignored by the paper venue).
CONTEXT = {
    ("execute", "rpc"): ["--venue", "uniswap"],
    ("execute", "deployment"): ["--venue", "uniswap", "--rpc", "http://127.0.0.1:9"],
    ("execute", "key_file"): ["--venue", "uniswap", "--rpc", "http://127.0.0.1:9"],
    ("execute", "venue_url"): ["--venue", "ccxt:binance"],
    ("plan", "deployment"): ["--venue", "uniswap", "--rpc", "http://127.0.0.1:9"],
    ("plan", "key_file"): ["--venue", "uniswap", "--rpc", "http://127.0.0.1:9"],
    ("plan", "venue_url"): ["--venue", "ccxt:binance"],
    ("plan", "rpc"): ["--venue", "uniswap"],
}
# Values of a generic kind that are valid for one option (so not a bad-input case there).
VALID = {("forward_fill", "0"), ("port", "0")}
# Free-text options: any string is a valid value (names, URLs checked when used, accounts, reasons).
FREE_TEXT = {"account", "host", "worker_id", "dask_scheduler", "rpc", "venue_url", "quote"}
ENUMS = {
    "venue": ["bogus", "ccxt:", "ccxt:nosuchexchange"],
    "name": ["no-such-preset"],
    "tax_rates": ["0.3", "x,0.1", "1.5,0.1", "-0.1,0.2", ","],
}
DATES = {"start", "end", "from_", "to"}
PARSER_KIND: dict[Callable[..., Any], str] = {
    maybe_file: "input",
    input_file: "input",
    ledger_in: "ledger_in",
    ledger_out: "ledger_out",
    output_file: "output",
    output_dir: "output_dir",
    positive: "number",
    rules_file: "input",
    sweep_param: "param",
}


@dataclass(frozen=True)
class Case:
    command: str
    option: str
    label: str
    args: tuple[str, ...]
    make: Callable[[Path], None] = field(default=lambda _: None, compare=False)

    @property
    def id(self) -> str:
        return f"{self.command}:{self.option}:{self.label}"


def _write(name: str, data: bytes) -> Callable[[Path], None]:
    def make(d: Path) -> None:
        (d / name).parent.mkdir(parents=True, exist_ok=True)
        (d / name).write_bytes(data)

    return make


def _mkdir(name: str, mode: int | None = None) -> Callable[[Path], None]:
    def make(d: Path) -> None:
        (d / name).mkdir(parents=True)
        if mode is not None:
            (d / name).chmod(mode)

    return make


BINARY = bytes(range(256)) * 4
MALFORMED = b"targets: {BTC: 0.5,\n  - [unclosed\n"
WRONG_SHAPE = b"- just\n- a list\n"  # valid YAML (and CSV-like text), the wrong document for every input
INPUTS = [
    ("missing", "missing/nothing.yaml", None),
    ("directory", "adir", _mkdir("adir")),
    ("empty", "empty.yaml", _write("empty.yaml", b"")),
    ("binary", "binary.yaml", _write("binary.yaml", BINARY)),
    ("malformed", "malformed.yaml", _write("malformed.yaml", MALFORMED)),
    ("wrong-format", "wrong.yaml", _write("wrong.yaml", WRONG_SHAPE)),
]
OUTPUTS = [
    ("missing-folder", "nodir/out.json", None),
    ("directory", "adir", _mkdir("adir")),
    ("under-a-file", "afile/out.json", _write("afile", b"x")),
]
if not IS_ROOT:
    OUTPUTS.append(("unwritable", "ro/out.json", _mkdir("ro", 0o555)))
OUTPUT_DIRS = [("a-file", "afile", _write("afile", b"x")), ("under-a-file", "afile/sub", _write("afile", b"x"))]
LEDGERS_IN = [*INPUTS, ("not-a-database", "text.sqlite", _write("text.sqlite", b"hello, not a database\n"))]
LEDGERS_OUT = [
    ("directory", "adir", _mkdir("adir")),
    ("missing-folder", "nodir/l.sqlite", None),
    ("binary", "binary.sqlite", _write("binary.sqlite", BINARY)),
    ("not-a-database", "text.sqlite", _write("text.sqlite", b"hello, not a database\n")),
]
FLOATS = [("zero", "0"), ("negative", "-1"), ("nan", "nan"), ("huge", "1e309"), ("not-a-number", "1x")]
INTS = [("zero", "0"), ("negative", "-1"), ("huge", "99999999999999999999"), ("not-a-number", "1.5x")]
START_DATES = [
    ("malformed", "2024-13-45"),
    ("not-a-date", "yesterday"),
    ("after-the-data", "2031-01-01"),
    ("reversed", "2024-06-01"),
]
END_DATES = [("malformed", "2024-02-30"), ("before-the-data", "1999-01-01"), ("reversed", "2023-06-01")]
PARAMS = [
    ("no-equals", "trigger.band"),
    ("empty-values", "trigger.band="),
    ("short-range", "trigger.band=0.01:0.05"),
    ("bad-range", "trigger.band=a:b:3"),
    ("zero-count", "trigger.band=0.01:0.05:0"),
    ("huge-count", "trigger.band=0.01:0.05:100000000"),
    ("unknown-path", "no.such.key=1,2"),
    ("bad-value", "trigger.band=-1,2"),
]


def leaves(group: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    for name, cmd in sorted(group.commands.items()):
        path = f"{prefix} {name}".strip()
        if hasattr(cmd, "commands"):
            yield from leaves(cmd, path)
        else:
            yield path, cmd


def _skipped(path: str) -> bool:
    return any(path == s or path.startswith(s + " ") for s in SKIP)


def _option_of(cmd: Any, name: str) -> str | None:
    for p in cmd.params:
        if p.name == name:
            return None if p.param_type_name == "argument" else max(p.opts, key=len)
    return None


def _hints(cmd: Any) -> dict[str, Any]:
    return typing.get_type_hints(cmd.callback, include_extras=True)


def _kind(name: str, hint: Any) -> str | None:
    """The bad-input family of one parameter, from its typed checker or its Python type."""
    base = hint
    parser = None
    if typing.get_origin(hint) is typing.Annotated:
        base, *meta = typing.get_args(hint)
        parser = next((getattr(m, "parser", None) for m in meta if getattr(m, "parser", None)), None)
    if parser is not None:
        return PARSER_KIND.get(parser, "unknown-parser")
    if typing.get_origin(base) is typing.Literal:
        return "choice"
    args = set(typing.get_args(base)) - {type(None)} or {base}
    if bool in args:
        return None
    if float in args:
        return "float"
    if int in args:
        return "int"
    if Path in args:
        return "untyped-path"
    if name == "param":
        return "param"
    if name in DATES:
        return "date"
    if name in ENUMS:
        return "enum"
    return None


def _bad_values(cmd_path: str, name: str, kind: str) -> list[tuple[str, str, Callable[[Path], None] | None]]:
    files = {
        "input": INPUTS,
        "output": OUTPUTS,
        "output_dir": OUTPUT_DIRS,
        "ledger_in": LEDGERS_IN,
        "ledger_out": LEDGERS_OUT,
    }
    if kind in files:
        return list(files[kind])
    if kind in ("float", "number"):
        values = FLOATS
    elif kind == "int":
        values = INTS
    elif kind == "date":
        values = START_DATES if name in ("start", "from_") else END_DATES
    elif kind == "param":
        values = PARAMS
    elif kind == "enum":
        values = [(v, v) for v in ENUMS[name]]
    elif kind == "choice":
        values = [("not-a-choice", "bogus")]
    else:
        return []
    return [(label, v, None) for label, v in values if (name, v) not in VALID]


def corpus() -> list[Case]:
    cases = []
    for path, cmd in leaves(ROOT):
        if _skipped(path):
            continue
        hints = _hints(cmd)
        for p in cmd.params:
            kind = _kind(p.name, hints.get(p.name))
            if kind is None or p.name in FREE_TEXT:
                continue
            option = _option_of(cmd, p.name)
            for label, value, make in _bad_values(path, p.name, kind):
                base = _without(BASE.get(path, []), option, positional=option is None)
                if p.name in DATES and label == "reversed":  # the other bound makes the window reversed
                    base = _without(base, "--end" if p.name == "start" else "--start")
                    base += ["--end", "2024-01-01"] if p.name == "start" else ["--start", "2024-01-01"]
                if p.param_type_name == "argument":
                    args = [value, *base]
                else:
                    args = [*base, *CONTEXT.get((path, p.name), []), option, value]
                cases.append(Case(path, p.name, label, (*path.split(), *args), make or (lambda _: None)))
    return cases


def _without(args: list[str], option: str | None, *, positional: bool = False) -> list[str]:
    """`args` without `option` and its value (or without the first positional when the case replaces it)."""
    out, skip = [], False
    for i, a in enumerate(args):
        if skip:
            skip = False
            continue
        if option is not None and a == option or (option == "--strategy" and a == "-s"):
            skip = True
            continue
        if positional and i == 0 and not a.startswith("-"):
            continue
        out.append(a)
    return out


CASES = corpus()
runner = CliRunner()


def _tree(d: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(d)): (p.stat().st_size, p.stat().st_mtime_ns) for p in d.rglob("*")}


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_is_one_line_and_exit_2(case: Case, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("TRIMTAB_ADMIN_TOKEN", raising=False)
    monkeypatch.delenv("TRIMTAB_API_TOKEN", raising=False)
    case.make(tmp_path)
    before = _tree(tmp_path)
    r = runner.invoke(cli_app, list(case.args))
    lines = [line for line in r.output.splitlines() if line.strip()]
    assert r.exit_code == 2, f"exit {r.exit_code}: {r.output[-1500:]}"
    assert "Traceback" not in r.output and len(lines) <= 3, r.output[-1500:]
    assert lines and lines[-1].startswith("error: "), r.output[-1500:]
    assert _tree(tmp_path) == before, "a failed command wrote files"


def test_corpus_covers_every_command_and_the_issue_examples() -> None:
    commands = {p for p, _ in leaves(ROOT) if not _skipped(p)}
    with_cases = {c.command for c in CASES}
    assert commands == with_cases, f"commands without a bad-input case: {commands - with_cases}"
    ids = {c.id for c in CASES}
    for example in (
        "validate:strategy:binary",
        "plan:portfolio:binary",
        "init:dest:missing-folder",
        "report:initial_value:zero",
        "backtest:prices:directory",
        "ledger:ledger:directory",
        "execute:ledger:directory",
        "ledger:ledger:not-a-database",
    ):
        assert example in ids
    print(f"CLI fuzz corpus: {len(CASES)} (command, case) pairs over {len(with_cases)} commands")


def test_every_option_has_a_kind() -> None:
    """An option with no bad-input family (and not declared free text) would go unfuzzed: give it a typed checker."""
    unfuzzed = [
        (path, p.name, kind)
        for path, cmd in leaves(ROOT)
        if not _skipped(path)
        for p in cmd.params
        if (kind := _kind(p.name, _hints(cmd).get(p.name))) in (None, "untyped-path", "unknown-parser")
        and p.name not in FREE_TEXT
        and not _is_flag(_hints(cmd).get(p.name))
    ]
    assert not unfuzzed


def _is_flag(hint: Any) -> bool:
    base = typing.get_args(hint)[0] if typing.get_origin(hint) is typing.Annotated else hint
    return base is bool
