"""The import structure of optbasin/: no circle between modules, and no package importing one
above it in the layer order of the README's "Layout" section (read from the README, so the two
cannot drift apart). Every import counts: top-level, inside functions (the lazy ones) and under
``if TYPE_CHECKING``; importing ``a.b.c`` from outside ``a.b`` also runs ``a.b``'s __init__.py,
so that counts as an import of ``a.b`` too."""

from __future__ import annotations

import ast
import graphlib
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def module_files(root: Path) -> dict[str, Path]:
    """Dotted module name -> file, for every .py file under the package directory ``root``."""
    out = {}
    for path in sorted(root.rglob("*.py")):
        parts = list(path.relative_to(root.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def _imported_names(module: str, path: Path) -> set[str]:
    """Every dotted name an import statement of the file names (absolute; relative resolved)."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*up, base] if base else up)
            names |= {f"{base}.{alias.name}" for alias in node.names}  # a module, or a name in module base
    return names


def import_graph(root: Path) -> dict[str, set[str]]:
    """Module -> the modules of the package ``root`` it imports."""
    files = module_files(root)
    graph = {}
    for module, path in files.items():
        targets = set()
        for name in _imported_names(module, path):
            while name not in files and "." in name:  # `from m import function`: the module m
                name = name.rpartition(".")[0]
            if name not in files or name == module:
                continue
            targets.add(name)
            parts = name.split(".")
            for i in range(2, len(parts)):  # the packages whose __init__ runs first
                parent = ".".join(parts[:i])
                if not (module + ".").startswith(parent + "."):
                    targets.add(parent)
        graph[module] = targets
    return graph


def circle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import circle of the graph (a list of modules, the first repeated last), or None."""
    try:
        tuple(graphlib.TopologicalSorter(graph).static_order())
    except graphlib.CycleError as e:
        return list(e.args[1])
    return None


def unit(module: str) -> str:
    """The layer unit of a module: its top-level package under optbasin/, or its own name for a
    module directly in optbasin/ ("__init__" for optbasin/__init__.py)."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def readme_layers(readme: Path) -> list[list[str]]:
    """The layer order of the README's Layout section: the fenced block after "Layers", one line
    per layer from the top, units named `cli.py` or `sweeps/`."""
    text = readme.read_text()
    section = text.split("\n## Layout", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"Layers[^`]*```\n(.*?)```", section, re.S).group(1)
    return [[re.sub(r"(\.py|/)$", "", name) for name in line.split()] for line in block.splitlines() if line.strip()]


def upward_imports(graph: dict[str, set[str]], layers: list[list[str]]) -> list[str]:
    """Each import of a unit from one at its own layer or above (other than within the unit)."""
    level = {u: i for i, line in enumerate(layers) for u in line}
    bad = []
    for module, targets in sorted(graph.items()):
        for target in sorted(targets):
            a, b = unit(module), unit(target)
            if a != b and level[b] <= level[a]:
                bad.append(f"{module} -> {target} ({a} is not above {b})")
    return bad


def test_optbasin_has_no_import_circle():
    graph = import_graph(REPO / "optbasin")
    assert circle(graph) is None, f"import circle: {' -> '.join(circle(graph))}"


def test_every_package_imports_only_layers_below_it():
    graph = import_graph(REPO / "optbasin")
    layers = readme_layers(REPO / "README.md")
    listed = [u for line in layers for u in line]
    assert len(listed) == len(set(listed)), f"a unit listed twice in the README's layers: {listed}"
    units = {unit(m) for m in graph}
    missing = units - set(listed)
    assert not missing, f"not in the README's layer order: {sorted(missing)}"
    assert upward_imports(graph, layers) == []


def test_the_schema_imports_nothing_of_the_analysis():
    graph = import_graph(REPO / "optbasin")
    assert not {t for t in graph["optbasin.config"] if t.startswith("optbasin.analysis")}


@pytest.fixture
def toy(tmp_path):
    """A package with a lazy upward import (low -> high, inside a function), a type-only circle
    (a <-> b) and an import through a package's __init__."""
    root = tmp_path / "toy"
    files = {
        "__init__.py": "",
        "high/__init__.py": "",
        "high/view.py": "from toy.low.base import X\n",
        "high/panel.py": "",
        "low/__init__.py": "",
        "low/base.py": "X = 1\n\ndef later():\n    from toy.high import panel\n    return panel\n",
        "low/a.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .b import B\n",
        "low/b.py": "from toy.low import a\nB = 1\n",
    }
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


def test_the_checks_find_a_lazy_upward_import_and_a_type_only_circle(toy):
    graph = import_graph(toy)
    assert graph["toy.low.base"] == {"toy.high", "toy.high.panel"}  # the function-level import, and its __init__
    assert graph["toy.low.a"] == {"toy.low.b"}
    assert set(circle(graph)) == {"toy.low.a", "toy.low.b"}
    layers = [["__init__"], ["high"], ["low"]]
    assert upward_imports(graph, layers) == [
        "toy.low.base -> toy.high (low is not above high)",
        "toy.low.base -> toy.high.panel (low is not above high)",
    ]
    assert upward_imports(graph, [["__init__"], ["low"], ["high"]]) == [
        "toy.high.view -> toy.low (high is not above low)",
        "toy.high.view -> toy.low.base (high is not above low)",
    ]
    assert upward_imports(graph, [["__init__"], ["high", "low"]]) != []  # one layer: neither may import the other
