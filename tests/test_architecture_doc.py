"""docs/architecture.md is generated from the code: it lists every module with its docstring and the import rules,
and this test fails the moment a module is added, moved, removed or redescribed without regenerating it."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _generator():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("gen_architecture", ROOT / "scripts" / "gen_architecture.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["gen_architecture"] = module
    spec.loader.exec_module(module)
    return module


def test_the_architecture_page_matches_the_code() -> None:
    gen = _generator()
    assert (ROOT / "docs" / "architecture.md").read_text() == gen.render(), (
        "docs/architecture.md is out of date: run python scripts/gen_architecture.py"
    )


def test_the_page_names_every_module_and_no_deleted_one() -> None:
    text = (ROOT / "docs" / "architecture.md").read_text()
    modules = [
        p for p in (ROOT / "src" / "trimtab").rglob("*.py") if "__pycache__" not in p.parts and p.name != "__init__.py"
    ]
    assert len(modules) > 150
    for m in modules:
        assert f"| `{m.name}` |" in text, f"{m.relative_to(ROOT)} missing from the page"
    listed = {line.split("`")[1] for line in text.splitlines() if line.startswith("| `") and line.endswith(" |")}
    assert listed <= {m.name for m in modules}, f"listed but not in the code: {listed - {m.name for m in modules}}"


def test_a_module_without_a_docstring_stops_the_generator(tmp_path: Path) -> None:
    gen = _generator()
    bare = tmp_path / "bare.py"
    bare.write_text("x = 1\n")
    gen.ROOT = tmp_path
    try:
        gen.docstring(bare)
    except SystemExit as e:
        assert "no module docstring" in str(e)
    else:
        raise AssertionError("a module without a docstring was accepted")
