"""The CLI boundary: a bug is one line with a --debug hint, notes are one summary line, `serve --check` starts
nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from trimtab.cli import app
from trimtab.cli.boundary import classify
from trimtab.errors import ConfigError, LedgerError

runner = CliRunner()
SERVICE_FILE = Path(__file__).resolve().parents[2] / "src" / "trimtab" / "service" / "demo.yaml"


@pytest.fixture
def broken_command() -> object:
    """A command whose body has a bug (registered for this test only)."""

    @app.command("zz-broken", hidden=True)
    def broken() -> None:
        {}["missing"]  # noqa: B018

    yield broken
    app.registered_commands[:] = [c for c in app.registered_commands if c.name != "zz-broken"]


def test_a_bug_is_one_line_with_a_debug_hint_and_debug_shows_the_traceback(broken_command: object) -> None:
    r = runner.invoke(app, ["zz-broken"])
    assert r.exit_code == 1 and len(r.output.strip().splitlines()) == 1
    assert "internal error (KeyError" in r.output and "--debug" in r.output and "Traceback" not in r.output
    debug = runner.invoke(app, ["--debug", "zz-broken"])
    assert debug.exit_code == 1 and "Traceback" in debug.output and "KeyError" in debug.output


def test_classify_sorts_errors_by_what_the_user_can_do(tmp_path: Path) -> None:
    assert classify(ConfigError("bad", source="s.yaml", field="x"), []).code == 2
    assert classify(LedgerError("inconsistent"), []).code == 1
    missing = classify(FileNotFoundError(2, "No such file or directory", str(tmp_path / "no" / "x.json")), [])
    assert missing.code == 2 and "no such folder" in missing.line
    blob = tmp_path / "blob.yaml"
    blob.write_bytes(b"\xff\xfe\x00")
    decoded = classify(UnicodeDecodeError("utf-8", b"\xff", 0, 1, "invalid"), ["validate", str(blob)])
    assert decoded.code == 2 and str(blob) in decoded.line and "UTF-8" in decoded.line


def test_data_repairs_are_one_summary_line_unless_verbose(tmp_path: Path) -> None:
    prices = tmp_path / "p.csv"  # a month of BTC/ETH with three one-day holes in BTC
    days = [f"2024-01-{d:02d}" for d in range(1, 31)]
    prices.write_text(
        "date,BTC,ETH\n"
        + "".join(f"{t},{'' if k in (5, 12, 20) else 40000 + k},{2000 + k}\n" for k, t in enumerate(days))
    )
    (tmp_path / "h.yaml").write_text("holdings: {BTC: '1', USDC: '20000'}\n")
    args = ["status", "-s", "bitcoin", "-p", str(tmp_path / "h.yaml"), "--prices", str(prices)]
    quiet = runner.invoke(app, args)
    notes = [line for line in quiet.stderr.splitlines() if line.startswith("note:")]
    assert quiet.exit_code == 0 and len(notes) == 1, quiet.output
    assert "forward-filled 3 missing cell(s)" in notes[0] and "--verbose" in notes[0]
    loud = runner.invoke(app, ["--verbose", *args])
    listed = [line for line in loud.stderr.splitlines() if line.startswith("note:")]
    assert sum("forward-filled 1 missing row(s)" in line for line in listed) == 3


def test_serve_check_validates_without_starting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TRIMTAB_ADMIN_TOKEN", "a" * 24)
    ok = runner.invoke(app, ["serve", "--check", "--config", str(SERVICE_FILE)])
    assert ok.exit_code == 0 and ok.output.startswith("ok: ") and "2 portfolio(s)" in ok.output
    bad = tmp_path / "svc.yaml"
    bad.write_text(SERVICE_FILE.read_text().replace("strategy: bitcoin", "strategy: no-such-preset"))
    r = runner.invoke(app, ["serve", "--check", "--config", str(bad)])
    assert r.exit_code == 2 and "no-such-preset" in r.output and len(r.output.strip().splitlines()) == 1
    monkeypatch.delenv("TRIMTAB_ADMIN_TOKEN")
    no_token = runner.invoke(app, ["serve", "--check", "--config", str(SERVICE_FILE)])
    assert no_token.exit_code == 2 and "admin token" in no_token.output
    assert list(tmp_path.iterdir()) == [bad]  # no database, no log, nothing else
