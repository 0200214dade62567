"""The training layer (optbasin/training/) sits below sweeps/: it imports nothing from it."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import optbasin.training

TRAINING = Path(optbasin.training.__file__).parent


def imported_modules(path: Path) -> set[str]:
    """Every module an ``import`` or ``from ... import`` in ``path`` names, at any depth."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_training_modules_import_nothing_from_sweeps():
    files = sorted(TRAINING.glob("*.py"))
    assert {f.name for f in files} >= {"loop.py", "single.py", "population.py"}
    upward = {f.name: sorted(m for m in imported_modules(f) if m.startswith("optbasin.sweeps")) for f in files}
    assert not any(upward.values()), upward


def test_importing_the_engines_loads_no_sweeps_module():
    code = (
        "import sys, optbasin.training.single, optbasin.training.population, optbasin.training.grouping; "
        "print(sorted(m for m in sys.modules if m.startswith('optbasin.sweeps')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout
