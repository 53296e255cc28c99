"""Every command, option and argument of the CLI says what it is for in `--help`."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import typer
from typer.core import TyperArgument, TyperOption

from trimtab.cli import app


def _walk(command: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[str, Any]]:
    yield " ".join(path) or "trimtab", command
    for name, sub in getattr(command, "commands", {}).items():
        yield from _walk(sub, (*path, name))


def test_every_command_option_and_argument_has_help_text() -> None:
    missing = []
    for path, command in _walk(typer.main.get_command(app)):
        if not (command.help or command.short_help or "").strip():
            missing.append(f"{path}: the command itself")
        for p in command.params:
            if isinstance(p, TyperOption | TyperArgument) and p.name != "help" and not (p.help or "").strip():
                missing.append(f"{path}: {'/'.join(getattr(p, 'opts', [p.name]))}")
    assert len(list(_walk(typer.main.get_command(app)))) > 20
    assert missing == [], "no help text: " + "; ".join(missing)
