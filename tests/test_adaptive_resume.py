"""A real adaptive run (Ray Tune) killed with SIGKILL inside a round, then `optbasin resume`: no trial
lost, none run twice, and every round is what the store's results before it ask for."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest
import yaml

from optbasin.adaptive import driver as adaptive
from optbasin.adaptive.points import plan_round
from optbasin.analysis.analyze import analyze
from optbasin.cli import main
from optbasin.sweeps.spec import expand, load_sweep
from optbasin.sweeps.store import TRIALS, ResultsStore

ROOT = Path(__file__).resolve().parents[1]


def sweep_file(tmp_path: Path) -> Path:
    doc = {
        "name": "adapt-kill",
        "output": str(tmp_path / "run"),
        "seeds": 4,
        "population": 1,
        "tasks": [{"name": "quadratic", "steps": 400, "params": {"d_in": 16, "d_out": 8}}],
        "optimizers": [{"name": "adamw", "grid": {"lr": [1e-4, 1e-3]}}],  # its best lr lies above: an edge
        "budget": {"eval_every": 250, "log_every": 50},
        "adaptive": {"max_rounds": 2, "resolution": 1.0},
    }
    path = tmp_path / "sweep.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def wait_for_round(run: Path, number: int, seconds: float = 300) -> None:
    """Until a trial of round ``number`` is committed (each part is written whole: atomic rename)."""
    seen: set[Path] = set()
    deadline = time.time() + seconds
    while time.time() < deadline:
        for part in sorted(set((run / TRIALS).glob("part-*.parquet")) - seen):
            seen.add(part)
            frame = pd.read_parquet(part)
            if "round" in frame and (frame["round"] == number).any():
                return
        time.sleep(0.05)
    raise AssertionError(f"no trial of round {number} within {seconds} s")


@pytest.mark.slow  # two real Ray sessions (the killed driver, the resume): about a minute on an idle machine
def test_kill_inside_a_round_then_resume_loses_and_repeats_nothing(tmp_path, capsys):
    path = sweep_file(tmp_path)
    run = tmp_path / "run"
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    driver = subprocess.Popen(
        [sys.executable, "-m", "optbasin.cli", "run", str(path), "--adaptive", "--quiet"],
        env=env,
        start_new_session=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        wait_for_round(run, 1)
    finally:
        os.killpg(driver.pid, signal.SIGKILL)
        driver.communicate()
    meta = json.loads((run / "meta.json").read_text())
    assert meta["adaptive"]["max_rounds"] == 2 and meta["adaptive_stopped"] is None
    planned_1 = sum(len(a["seeds"]) for a in meta["rounds"][1]["added"])
    done_1 = int((ResultsStore(run).trials()["round"] == 1).sum())
    assert 1 <= done_1 < planned_1  # killed inside round 1

    assert main(["resume", str(run), "--quiet"]) == 0
    assert main(["status", str(run)]) == 0
    out = capsys.readouterr().out
    meta = json.loads((run / "meta.json").read_text())
    assert meta["adaptive_stopped"]["after_round"] == len(meta["rounds"]) - 1 >= 1
    assert "round 1:" in out and "adaptive: stopped after round" in out

    store = ResultsStore(run)
    raw, _ = store.raw()
    assert raw["trial_id"].is_unique  # no trial ran twice
    spec, catalog = load_sweep(path)
    p = SimpleNamespace(spec=spec, catalog=catalog)
    declared = expand(spec, catalog)
    planned = adaptive.planned_trials(p, declared, meta["rounds"])
    trials = store.trials()
    assert set(trials["trial_id"]) == {t.trial_id for t in planned}  # none lost
    by_id = {t.trial_id: t for t in planned}
    assert all(int(r) == by_id[i].round for i, r in zip(trials["trial_id"], trials["round"]))
    settings = adaptive.settings_of(SimpleNamespace(spec=spec), meta)
    for k in range(1, len(meta["rounds"])):  # each round: a function of the results of the rounds before it
        before = adaptive.planned_trials(p, declared, meta["rounds"][:k])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            analysis = analyze(trials[trials["round"] < k], None, claims=spec.claims)
        adds, _ = plan_round(spec, catalog, before, analysis, [], settings)
        assert [a.to_json() for a in adds] == meta["rounds"][k]["added"]
