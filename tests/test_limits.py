"""Hostile sizes: every limit is checked before anything is expanded. Each probe runs the CLI in a
subprocess whose address space is capped (ulimit -v, via resource.setrlimit), so a regression
fails the test with a MemoryError instead of taking the machine down."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from optbasin.config import MAX_AXIS_POINTS, MAX_SEEDS, MAX_TRIALS, MAX_YAML_BYTES, MAX_YAML_NODES
from tests.conftest import base_sweep

ADDRESS_SPACE = 1536 << 20  # 1.5 GiB: plenty for validate / --dry-run, far below what the probes needed
ROOT = Path(__file__).resolve().parents[1]


def capped_cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE, ADDRESS_SPACE))

    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    return subprocess.run(
        [sys.executable, "-m", "optbasin.cli", *args],
        preexec_fn=limit,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def assert_refused(r: subprocess.CompletedProcess, *fragments: str) -> None:
    assert "Traceback" not in r.stderr and "MemoryError" not in r.stderr, r.stderr[-2000:]
    assert r.returncode == 2, (r.returncode, r.stderr[-2000:])
    for f in fragments:
        assert f in r.stderr, r.stderr[-2000:]
    assert max(len(line) for line in r.stderr.splitlines()) < 800  # values are shortened


def write(tmp_path: Path, doc: dict | str) -> Path:
    path = tmp_path / "sweep.yaml"
    path.write_text(doc if isinstance(doc, str) else yaml.safe_dump(doc))
    return path


@pytest.mark.parametrize("command", [["validate"], ["run", "--dry-run"]])
def test_a_billion_seeds(tmp_path, command):
    doc = base_sweep(tmp_path / "run")
    doc["seeds"] = 1_000_000_000
    r = capped_cli(*command, str(write(tmp_path, doc)))
    assert_refused(r, "seeds: 1000000000 seeds: at most", str(MAX_SEEDS))


def test_ten_million_grid_points(tmp_path):
    doc = base_sweep(tmp_path / "run")
    doc["optimizers"][1]["grid"]["lr"]["points"] = 10_000_000
    r = capped_cli("validate", str(write(tmp_path, doc)))
    assert_refused(r, "optimizers[1].grid.lr.points", str(MAX_AXIS_POINTS))


def test_trial_count_is_refused_before_expansion_and_max_trials_raises_it(tmp_path):
    doc = base_sweep(tmp_path / "run")  # 3 + 3 grid points
    doc["optimizers"][1]["grid"]["lr"]["points"] = MAX_AXIS_POINTS  # (3 + 100000) x 2 seeds > MAX_TRIALS
    path = write(tmp_path, doc)
    planned = (3 + MAX_AXIS_POINTS) * 2
    assert planned > MAX_TRIALS
    r = capped_cli("run", "--dry-run", str(path))
    assert_refused(r, f"{planned} trials", f"limit of {MAX_TRIALS}", "--max-trials")
    assert not (tmp_path / "run").exists()
    r = capped_cli("validate", "--max-trials", str(planned), str(path))
    assert r.returncode == 0 and "ok" in r.stdout, r.stderr[-2000:]


def test_a_huge_lr_list_is_refused_unread(tmp_path):
    doc = base_sweep(tmp_path / "run")
    doc["optimizers"][0]["grid"]["lr"] = "LRS"
    text = yaml.safe_dump(doc).replace("LRS", "[" + ", ".join(["0.1"] * 5_800_000) + "]")
    r = capped_cli("validate", str(write(tmp_path, text)))
    assert_refused(r, "(file): larger than", str(MAX_YAML_BYTES))


def alias_bomb(levels: int = 9) -> str:
    """The 'billion laughs' as one flow sequence: each level repeats the previous one nine times
    (9^9 values once expanded, a few hundred bytes written)."""
    items = ["&a0 [1, 2, 3, 4, 5, 6, 7, 8, 9]"]
    items += [f"&a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, levels)]
    return "[" + ", ".join(items) + "]"


@pytest.mark.parametrize(
    "where", ["tasks.0.params.noise", "optimizers.0.hparams.momentum", "seeds", "optimizers.0.grid.lr"]
)
def test_yaml_alias_bombs(tmp_path, where):
    doc = base_sweep(tmp_path / "run")
    target: dict = doc
    *path, last = where.split(".")
    for k in path:
        target = target[int(k)] if k.isdigit() else target.setdefault(k, {})
    target[last] = "BOMB"
    r = capped_cli("validate", str(write(tmp_path, yaml.safe_dump(doc).replace("BOMB", alias_bomb()))))
    assert_refused(r, "once aliases are expanded", str(MAX_YAML_NODES))


@pytest.mark.parametrize(
    "seeds, shown", [([10**23], "100000000000000000000000"), ([0, -1], "-1"), ([2**63], str(2**63))]
)
def test_seeds_are_integers_in_0_to_2_63(tmp_path, seeds, shown):
    doc = base_sweep(tmp_path / "run")
    doc["seeds"] = seeds
    r = capped_cli("validate", str(write(tmp_path, doc)))
    assert_refused(r, f"seeds: got {shown}: seeds are integers in [0, 2^63)")


def test_long_values_are_shortened(tmp_path):
    doc = base_sweep(tmp_path / "run")
    doc["seeds"] = [7] * 5000  # not distinct: the message quotes the list
    r = capped_cli("validate", str(write(tmp_path, doc)))
    assert_refused(r, "seeds must be distinct, got [7, 7, 7, 7, 7, 7, ...]")
