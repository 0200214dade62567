"""Ray beyond one embedded process: a two-node cluster on this machine, and GPU packing with
declared (fake) GPUs. Ray Tune really schedules the trials in both."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from optbasin.cli import main
from tests.conftest import base_sweep

RAY = str(Path(sys.executable).with_name("ray"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def two_node_cluster(monkeypatch):
    if shutil.which(RAY) is None:
        pytest.skip("the ray command is not installed next to this Python")
    monkeypatch.setenv("RAY_AUTH_MODE", "token")  # ray start enables token auth: nodes and driver share it
    env = {**os.environ, "RAY_AUTH_MODE": "token"}
    port = free_port()
    head = [RAY, "start", "--head", f"--port={port}", "--num-cpus=1", "--include-dashboard=false",
            "--disable-usage-stats"]
    subprocess.run(head, check=True, env=env, capture_output=True, timeout=120)
    try:
        subprocess.run([RAY, "start", f"--address=127.0.0.1:{port}", "--num-cpus=1"], check=True, env=env,
                       capture_output=True, timeout=120)
        yield f"127.0.0.1:{port}"
    finally:
        subprocess.run([RAY, "stop", "--force"], env=env, capture_output=True, timeout=120)


def test_sweep_on_a_two_node_cluster(two_node_cluster, tmp_path):
    doc = base_sweep(tmp_path / "run")
    doc["tasks"][0]["steps"] = 400
    path = tmp_path / "sweep.yaml"
    path.write_text(yaml.safe_dump(doc))
    assert main(["run", str(path), "--address", two_node_cluster, "--quiet"]) == 0
    trials = pd.read_parquet(tmp_path / "run" / "trials.parquet")
    assert len(trials) == 12 and trials.status.isin(["completed", "diverged"]).all()
    assert trials.ray_node.nunique() == 2  # trials landed on both nodes
    steps = pd.read_parquet(tmp_path / "run" / "steps.parquet")
    assert set(steps.trial_id) == set(trials.trial_id)  # every result came back to the driver


def max_overlap(trials: pd.DataFrame) -> int:
    events = sorted([(t, 1) for t in trials.started_at] + [(t, -1) for t in trials.finished_at])
    live = best = 0
    for _, delta in events:
        live += delta
        best = max(best, live)
    return best


def test_fractional_gpus_pack_four_trials_per_gpu(tmp_path):
    import ray

    ray.init(num_cpus=2, num_gpus=1, include_dashboard=False, log_to_driver=False)  # a declared GPU
    try:
        doc = base_sweep(tmp_path / "run")
        doc["tasks"][0]["steps"] = 1500
        doc["optimizers"] = [{"name": "adamw", "grid": {"lr": [1e-3, 3e-3, 1e-2, 3e-2, 1e-1, 3e-1, 1e-4, 3e-4]}}]
        doc["resources"] = {"cpus": 0.25, "gpus": 0.25}  # CPUs would allow 8 at once: the GPU limits to 4
        path = tmp_path / "sweep.yaml"
        path.write_text(yaml.safe_dump(doc))
        assert main(["run", str(path), "--quiet"]) == 0
    finally:
        ray.shutdown()
    trials = pd.read_parquet(tmp_path / "run" / "trials.parquet")
    assert len(trials) == 16
    assert all(json.loads(g) for g in trials.gpu_ids)  # every trial was granted a GPU share
    assert (trials.device == "cpu").all()  # no CUDA here: a granted but absent GPU falls back to the CPU
    assert 2 <= max_overlap(trials) <= 4
