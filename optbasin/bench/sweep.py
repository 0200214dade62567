"""Sweep efficiency: a sweep through Ray Tune against the same trials back to back in one process.

efficiency = Ray wall time / (sum of trial compute time / cores); 1.0 is perfect packing. The
sum of compute is measured in one plain process, one torch thread, trials back to back.
CPU utilisation is read from /proc/stat over the Ray run (Linux; None elsewhere).
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path
from typing import Any

from optbasin.sweeps import sweep
from optbasin.training.single import run_trial


def _cpu_busy_total() -> tuple[float, float] | None:
    try:
        fields = [float(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    except OSError:
        return None
    idle = fields[3] + fields[4]  # idle + iowait
    return sum(fields) - idle, sum(fields)


def sequential_compute(trials: list) -> float:
    """Sum of per-trial wall time, trials back to back in this process (warm imports and caches)."""
    run_trial(trials[0])  # warm-up: first-use costs (data parsing, kernels) are not per trial
    total = 0.0
    for t in trials:
        t0 = time.perf_counter()
        run_trial(t)
        total += time.perf_counter() - t0
    return total


def ray_sweep(sweep_file: str | Path) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="optbasin-bench-") as tmp:
        p = sweep.plan(sweep_file, output=str(Path(tmp) / "run"))
        cpu0 = _cpu_busy_total()
        t0 = time.perf_counter()
        outcome = sweep.execute(p, progress=False)
        wall = time.perf_counter() - t0
        cpu1 = _cpu_busy_total()
        trials = p.store.trials()
    util = None
    if cpu0 and cpu1 and cpu1[1] > cpu0[1]:
        util = (cpu1[0] - cpu0[0]) / (cpu1[1] - cpu0[1])
    return {
        "wall_s": wall,
        "tune_s": outcome.elapsed,
        "trials": len(trials),
        "cpu_utilisation": util,
        "sum_trial_wall_in_ray_s": float(trials["wall_time"].sum()),
    }


def bench_sweep(sweep_file: str | Path = "examples/quickstart.yaml") -> dict[str, Any]:
    cores = os.cpu_count() or 1
    p = sweep.plan(sweep_file, output=tempfile.mkdtemp(prefix="optbasin-plan-"))
    compute = sequential_compute(p.trials)
    ray = ray_sweep(sweep_file)
    ideal = compute / cores
    return {
        "sweep": str(sweep_file),
        "cores": cores,
        "trials": len(p.trials),
        "sum_trial_compute_s": round(compute, 2),
        "ideal_wall_s": round(ideal, 2),
        "ray_wall_s": round(ray["wall_s"], 2),
        "ray_tune_fit_s": round(ray["tune_s"], 2),
        "efficiency": round(ray["wall_s"] / ideal, 3),
        "efficiency_excluding_ray_start": round(ray["tune_s"] / ideal, 3),
        "cpu_utilisation": None if ray["cpu_utilisation"] is None else round(ray["cpu_utilisation"], 3),
        "mean_trial_wall_in_ray_s": round(ray["sum_trial_wall_in_ray_s"] / max(1, ray["trials"]), 3),
        "mean_trial_wall_sequential_s": round(compute / len(p.trials), 3),
    }
