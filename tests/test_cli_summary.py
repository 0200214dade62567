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


def test_skipped_trials_pluralise(write_sweep, tmp_path, capsys, monkeypatch):
    from optbasin.sweeps import sweep
    from optbasin.sweeps.callback import Outcome

    store = ResultsStore(tmp_path / "run")
    store.prepare()
    store.record(result_row("adamw", 0, 1e-3, 1.0), [{"step": 100, "train_loss": 1.0, "val_loss": 1.0}])
    for n, words in ((1, "1 trial already complete in {} was skipped"), (2, "2 trials already complete in {} were")):
        monkeypatch.setattr(sweep, "execute", lambda p, **kw: Outcome(skipped=n))
        assert main(["run", str(write_sweep()), "--quiet"]) == 0
        assert words.format(store.root) in capsys.readouterr().out


def test_every_trial_failed_prints_dashes_and_why(tmp_path, capsys):
    store = ResultsStore(tmp_path / "run")
    store.prepare()
    for seed in (0, 1):
        row = dict(result_row("adamw", seed, 1e-3, float("nan"), "failed"), init_loss=float("nan"), error="boom")
        store.record(row, [])
    _print_summary(store.root)
    out = capsys.readouterr().out
    line = next(x for x in out.splitlines() if x.startswith("t "))
    assert "nan" not in line and line.split()[2:4] == ["-", "-"]
    assert "no completed trial to score (every trial failed" in out


def test_analysis_of_several_runs_needs_an_output_directory(tmp_path, capsys):
    """Its tables would replace the first run's own analysis/: refused (exit 2), nothing written."""
    runs = []
    for name in ("a", "b"):
        store = ResultsStore(tmp_path / name)
        store.prepare()
        store.record(result_row("adamw", 0, 1e-3, 1.0), [{"step": 100, "train_loss": 1.0, "val_loss": 1.0}])
        runs.append(str(store.root))
    assert main(["analyze", *runs]) == 2
    err = capsys.readouterr().err
    assert "needs -o/--out DIR" in err and "Traceback" not in err
    assert not (tmp_path / "a" / "analysis").exists()
    assert main(["analyze", *runs, "-o", str(tmp_path / "ab")]) == 0
    assert (tmp_path / "ab" / "leaderboard.csv").exists() and not (tmp_path / "a" / "analysis").exists()
