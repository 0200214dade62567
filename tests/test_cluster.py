"""Ray beyond one embedded process: a two-node cluster on this machine, and GPU packing with
declared (fake) GPUs. Ray Tune really schedules the trials in both."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
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


def start_node(args: list[str], env: dict) -> subprocess.Popen:
    """`ray start --block` in its own process group: stopping the group stops that node only
    (`ray stop` would stop every Ray on the machine, other users' sweeps included)."""
    return subprocess.Popen(
        [RAY, "start", "--block", *args],
        env=env,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def stop_node(proc: subprocess.Popen) -> None:
    for sig, wait in ((signal.SIGTERM, 30), (signal.SIGKILL, 10)):
        try:
            os.killpg(proc.pid, sig)
            proc.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue
        except ProcessLookupError:
            return


def wait_for_nodes(address: str, n: int, env: dict, timeout: float = 90) -> None:
    """Until the cluster lists ``n`` nodes and their ``n`` CPUs (a node can be listed before the
    scheduler counts its resources: a sweep started then would place every trial on the head)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        out = subprocess.run([RAY, "status", f"--address={address}"], env=env, capture_output=True, text=True)
        if out.returncode == 0 and out.stdout.count(" node_") >= n and f"/{float(n)} CPU" in out.stdout:
            return
        time.sleep(1)
    raise TimeoutError(f"the Ray cluster at {address} did not show {n} nodes and CPUs in {timeout} s")


@pytest.fixture
def two_node_cluster(monkeypatch, tmp_path):
    if shutil.which(RAY) is None:
        pytest.skip("the ray command is not installed next to this Python")
    monkeypatch.setenv("RAY_AUTH_MODE", "token")  # ray start enables token auth: nodes and driver share it
    env = {**os.environ, "RAY_AUTH_MODE": "token"}
    port = free_port()
    address = f"127.0.0.1:{port}"
    nodes = [
        start_node(
            ["--head", f"--port={port}", "--num-cpus=1", "--include-dashboard=false", "--disable-usage-stats"], env
        )
    ]
    try:
        wait_for_nodes(address, 1, env)
        nodes.append(start_node([f"--address={address}", "--num-cpus=1"], env))
        wait_for_nodes(address, 2, env)
        yield address
    finally:
        for proc in reversed(nodes):
            stop_node(proc)


def test_sweep_on_a_two_node_cluster(two_node_cluster, tmp_path):
    doc = base_sweep(tmp_path / "run")
    doc["tasks"][0]["steps"] = 400
    doc["population"] = 1  # 12 trials in several Ray Tune trials, so that two run at once, one per node
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

    ray.init(address="local", num_cpus=2, num_gpus=1, include_dashboard=False, log_to_driver=False)  # a declared GPU
    try:
        doc = base_sweep(tmp_path / "run")
        doc["tasks"][0]["steps"] = 1500
        doc["optimizers"] = [{"name": "adamw", "grid": {"lr": [1e-3, 3e-3, 1e-2, 3e-2, 1e-1, 3e-1, 1e-4, 3e-4]}}]
        doc["resources"] = {"cpus": 0.25, "gpus": 0.25}  # CPUs would allow 8 at once: the GPU limits to 4
        doc["population"] = 1  # one trial per GPU share (a population would hold several points in one share)
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
