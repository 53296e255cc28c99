"""Every shipped preset plans on the bundled data with the example holdings (`trimtab plan`): an old gap in the
bundled history (USDT, 2015) must not stop a plan made on today's prices; a yield preset is refused with one line
naming `yield` instead of being planned as if it had target weights."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

import trimtab.presets
from trimtab.cli import app

runner = CliRunner()
PRESETS = sorted(p.stem for p in Path(trimtab.presets.__file__).parent.glob("*.yaml"))


@pytest.mark.parametrize("preset", PRESETS)
def test_every_preset_plans_on_the_bundled_prices(preset: str) -> None:
    r = runner.invoke(app, ["plan", "-s", preset])
    if preset == "stablecoin-yield":
        assert r.exit_code == 2 and "yield: positions accruing by an index" in r.output
        return
    assert r.exit_code == 0, r.output
    assert "total value" in r.output
