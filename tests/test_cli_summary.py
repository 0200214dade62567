"""The run's printed header and summary: counts in words, undefined numbers as a dash."""

from __future__ import annotations

from optbasin.cli import _print_summary, main
from optbasin.sweeps.store import ResultsStore
from tests.conftest import result_row


def test_header_pluralises(write_sweep, capsys):
    assert main(["run", str(write_sweep()), "--dry-run"]) == 0
    assert "(1 task x 2 optimizers x grids x 2 seeds)" in capsys.readouterr().out


def test_one_point_grid_prints_no_nan(tmp_path, capsys):
    """One lr: no basin (undefined) -- a dash, not `>=  nand`."""
    store = ResultsStore(tmp_path / "run")
    store.prepare()
    for seed in (0, 1):
        store.record(result_row("adamw", seed, 1e-3, 1.0 + seed), [{"step": 100, "train_loss": 1.0, "val_loss": 1.0}])
    _print_summary(store.root)
    out = capsys.readouterr().out
    line = next(x for x in out.splitlines() if x.startswith("t "))
    assert "nan" not in line and ">=" not in line and " - " in line
