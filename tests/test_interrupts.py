"""Signals and concurrent writers, with a real driver process: SIGINT / SIGTERM stop the sweep
(exit 130 / 143, resume hint, committed trials kept, `finished_at` unset, `status` says
interrupted); a second run of the same directory is refused while the first holds its lock."""

from __future__ import annotations

import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import yaml

from optbasin.cli import main
from optbasin.sweeps.store import ResultsStore
from tests.conftest import base_sweep, wait_for_parts

ROOT = Path(__file__).resolve().parents[1]


def slow_sweep(tmp_path: Path) -> Path:
    doc = base_sweep(tmp_path / "run")
    doc["tasks"][0]["steps"] = 1500
    doc["optimizers"] = [{"name": "adamw", "grid": {"lr": {"log_range": [1e-4, 1e-1], "points": 8}}}]
    doc["population"] = 1  # trials commit one by one, so a signal lands between commits
    path = tmp_path / "sweep.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def start_driver(path: Path, ray_tmp: str | None = None) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    if ray_tmp:
        env.update(RAY_TMPDIR=ray_tmp, TMPDIR=ray_tmp)
    return subprocess.Popen(
        [sys.executable, "-m", "optbasin.cli", "run", str(path), "--quiet"],
        env=env,
        start_new_session=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.parametrize("sig, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_signal_stops_the_sweep_honestly(tmp_path, capsys, sig, code):
    path = slow_sweep(tmp_path)
    ray_tmp = tempfile.mkdtemp(prefix="obr", dir="/tmp")  # short: Ray's socket paths are length-limited
    driver = start_driver(path, ray_tmp)
    run = tmp_path / "run"
    wait_for_parts(run, 2)
    os.killpg(driver.pid, sig) if sig == signal.SIGINT else driver.send_signal(sig)  # Ctrl-C hits the group
    out, err = driver.communicate(timeout=120)
    assert driver.returncode == code, err[-3000:]
    assert "Traceback" not in err and f"continue with: optbasin resume {run}" in err
    meta = json.loads((run / "meta.json").read_text())
    assert meta["finished_at"] is None and meta["interrupted"]["signal"] == sig.name
    kept = ResultsStore(run).trials()
    assert 2 <= len(kept) < 16
    # Ray's session directory and Tune's state of this sweep are gone
    assert (Path(ray_tmp) / "ray").is_dir() and not list((Path(ray_tmp) / "ray").iterdir())
    assert not (run / ".tune").exists() and not list(Path(ray_tmp).glob("optbasin-tune-*"))
    shutil.rmtree(ray_tmp)

    assert main(["status", str(run)]) == 0
    assert "interrupted" in capsys.readouterr().out
    assert main(["resume", str(run), "--quiet"]) == 0
    after = ResultsStore(run).trials()
    assert len(after) == 16
    assert list(after.set_index("trial_id").loc[kept.trial_id, "attempt"]) == list(kept.attempt)


def test_second_writer_is_refused_and_a_dead_lock_is_taken_over(tmp_path, capsys):
    path = slow_sweep(tmp_path)
    driver = start_driver(path)
    run = tmp_path / "run"
    try:
        wait_for_parts(run, 1)
        assert main(["run", str(path), "--quiet"]) == 2
        err = capsys.readouterr().err
        assert f"in use by PID {driver.pid} on {platform.node()}" in err and "Traceback" not in err
        assert main(["resume", str(run), "--quiet"]) == 2  # resume is a writer too
    finally:
        os.killpg(driver.pid, signal.SIGKILL)  # the driver dies holding the lock
        driver.communicate()
    assert main(["resume", str(run), "--quiet"]) == 0  # its lock died with it
    assert len(ResultsStore(run).trials()) == 16


def test_bench_interrupted_exits_130_with_one_line(tmp_path, monkeypatch, capsys):
    import optbasin.bench

    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setattr(optbasin.bench, "main", interrupted)
    out = tmp_path / "bench.json"
    assert main(["bench", "--only", "adaptive", "--json", str(out)]) == 130
    err = capsys.readouterr().err.strip()
    assert err == f"interrupted (SIGINT): benchmark stopped, {out} not written" and not out.exists()
