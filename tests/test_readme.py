"""The README's Quick tour and Backtests commands, run as written in a fresh temporary folder: each exits 0 and
shows or writes what the README says it does."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SECTIONS = ("## Quick tour", "## Backtests")
TRIMTAB = Path(sys.executable).with_name("trimtab")

# what each command shows (stdout) and writes (files in the folder), as the README describes it
EXPECT: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "presets": (("index-fund", "stablecoin-vault", "bitcoin"), ()),
    "status": (("index-fund at", "target", "drift"), ()),
    "plan": (("plan written to plan.json",), ("plan.json",)),
    "execute": (("send these orders to paper?", "on paper: after", "ledger entries in my.sqlite"), ("my.sqlite",)),
    "ledger": (("Ledger my.sqlite", "balances"), ()),
    "init": (("wrote mine.yaml", "ok: "), ("mine.yaml",)),
    "backtest": (("index-fund: 2020-04-11 to",), ("out/bt.json", "out/bt.html")),
    "compare": (
        (
            "vs alternatives",
            "buy-and-hold",
            "calendar-monthly",
            "threshold-5%",
            "hybrid-5%-monthly",
            "by market regime",
        ),
        (),
    ),
    "sweep": (("Frontier:", "chart written to out/frontier.png"), ("out/frontier.png",)),
    "report": (("report written to",), ("out/index-fund.html", "out/index-fund-equity.png")),
}


def readme_commands() -> list[str]:
    """Every command line of the sh blocks in the README's Quick tour and Backtests sections, comments dropped."""
    text = (ROOT / "README.md").read_text()
    commands = []
    for title in SECTIONS:
        start = text.index(title)
        section = text[start : text.find("\n## ", start + 1)]
        for block in re.findall(r"```sh\n(.*?)```", section, flags=re.S):
            commands += [ln.split("  #")[0].strip() for ln in block.splitlines() if ln.strip()]
    return commands


def _subcommand(line: str) -> str:
    words = line.split()
    return words[words.index(".venv/bin/trimtab") + 1] if ".venv/bin/trimtab" in words else words[0]


def test_the_readme_lists_the_commands_this_test_knows() -> None:
    assert {_subcommand(c) for c in readme_commands() if "trimtab" in c} == set(EXPECT)


@pytest.mark.slow
def test_every_readme_command_runs_as_written_in_a_fresh_folder(tmp_path: Path) -> None:
    for line in readme_commands():
        shell = line.replace(".venv/bin/trimtab", str(TRIMTAB))
        done = subprocess.run(
            ["bash", "-c", shell], cwd=tmp_path, input="y\n", capture_output=True, text=True, timeout=300
        )
        assert done.returncode == 0, f"{line}\n{done.stdout}\n{done.stderr}"
        shows, writes = EXPECT.get(_subcommand(line), ((), ()))
        for needle in shows:
            assert needle in done.stdout + done.stderr, f"{line}: no {needle!r} in\n{done.stdout}"
        for name in writes:
            assert (tmp_path / name).stat().st_size > 0, f"{line}: did not write {name}"
    assert not (tmp_path / "out" / "bt.json").read_text().count("NaN")
