"""Populations against one-point trials, side by side in one process (optbasin/training/population.py).

points per minute: K hyperparameter points (an lr grid) of one task, optimizer and seed, trained
(a) as K trials back to back (run_trial) and (b) as one population of K members; the same work,
one torch thread, medians of ``repeats``. Memory per member: the peak resident memory of a
population of K1 and of K2 members, each in a fresh process, (peak2 - peak1) / (K2 - K1)
(parameters, gradients, stacked optimizer state and activations). GPU projection: FLOPs and
kernels (aten operator calls) of one step, counted on the CPU, turned into a time with stated
assumptions; it is a projection, not a measurement.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from typing import Any

import torch

from optbasin.config import Budget, Schedule, SweepSpec
from optbasin.sweeps.spec import expand
from optbasin.training.population import run_population
from optbasin.training.single import run_trial
from optbasin.training.trial_spec import TrialSpec

# (task, steps, optimizer, lr grid, points K): the quickstart's tasks and budgets, gpt-tiny shortened.
CASES = [
    ("quadratic", 300, "adamw", (1e-4, 1e-1), 16),
    ("quadratic", 300, "adamw", (1e-4, 1e-1), 64),
    ("quadratic", 300, "muon", (1e-3, 1.0), 16),
    ("quadratic", 300, "muon", (1e-3, 1.0), 64),
    ("digits-mlp", 200, "adamw", (1e-4, 1e-1), 16),
    ("digits-mlp", 200, "adamw", (1e-4, 1e-1), 64),
    ("digits-mlp", 200, "muon", (1e-3, 1.0), 16),
    ("gpt-tiny", 20, "adamw", (1e-4, 1e-2), 8),
    ("gpt-tiny", 20, "muon", (1e-3, 1e-1), 8),
]
# Projection assumptions (one H100-class GPU, fp32 math on tensor cores as TF32):
LAUNCH_S = 6e-6  # host-side cost of one eager aten call that launches a kernel
ACHIEVED_FLOPS = 50e12  # achieved throughput on these small matrices (well below the peak)


def grid_specs(task: str, steps: int, optimizer: str, lrs: tuple[float, float], k: int) -> list[TrialSpec]:
    from optbasin.catalog import Catalog

    spec = SweepSpec(
        name="bench-population",
        tasks=[{"name": task, "steps": steps}],
        optimizers=[{"name": optimizer, "grid": {"lr": {"log_range": list(lrs), "points": k}}}],
        budget=Budget(eval_every=max(1, steps // 4), log_every=10),
        schedule=Schedule(),
        seeds=[0],
    )
    return expand(spec, Catalog.load())


def _timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def points_per_minute(specs: list[TrialSpec], repeats: int) -> dict[str, Any]:
    """Separate trials vs one population over the same points, alternated, medians."""
    run_trial(specs[0])  # warm-up of both paths: data parsing and first-use costs are paid once per process
    run_population(specs[:2], lambda *a: None)
    sep, pop = [], []
    for _ in range(repeats):
        sep.append(_timed(lambda: [run_trial(s) for s in specs]))
        pop.append(_timed(lambda: run_population(specs, lambda *a: None)))
    k, s, p = len(specs), statistics.median(sep), statistics.median(pop)
    return {
        "task": specs[0].task,
        "optimizer": specs[0].optimizer,
        "steps": specs[0].steps,
        "points": k,
        "runs": repeats,
        "separate_s": round(s, 3),
        "population_s": round(p, 3),
        "separate_points_per_min": round(60 * k / s, 1),
        "population_points_per_min": round(60 * k / p, 1),
        "speedup": round(s / p, 2),
    }


MEMORY_CHILD = r"""
import json, sys
import torch
torch.set_num_threads(1)
from optbasin.bench.population import grid_specs
from optbasin.training.population import run_population
task, optimizer, k = sys.argv[1], sys.argv[2], int(sys.argv[3])
specs = grid_specs(task, 5, optimizer, (1e-4, 1e-3), k)
run_population(specs[:2], lambda *a: None)  # imports, data, first-use costs: in the baseline
def vm(field):
    for line in open("/proc/self/status"):
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
base = vm("VmRSS")
with open("/proc/self/clear_refs", "w") as f:
    f.write("5")  # reset the peak (VmHWM) to the current resident size
run_population(specs, lambda *a: None)
print(json.dumps({"peak_mb": vm("VmHWM") - base}))
"""


def memory_per_member(task: str, optimizer: str, k1: int = 4, k2: int = 16) -> dict[str, Any]:
    peaks = {}
    for k in (k1, k2):
        out = subprocess.run(
            [sys.executable, "-c", MEMORY_CHILD, task, optimizer, str(k)], capture_output=True, text=True, check=True
        )
        peaks[k] = json.loads(out.stdout.strip().splitlines()[-1])["peak_mb"]
    return {
        "task": task,
        "optimizer": optimizer,
        f"peak_mb_k{k1}": round(peaks[k1], 1),
        f"peak_mb_k{k2}": round(peaks[k2], 1),
        "mb_per_member": round((peaks[k2] - peaks[k1]) / (k2 - k1), 2),
    }


class _CountOps(torch.utils._python_dispatch.TorchDispatchMode):
    """Counts aten operator calls (each launches at least one kernel on a GPU)."""

    def __init__(self):
        super().__init__()
        self.calls = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.calls += 1
        return func(*args, **(kwargs or {}))


def _per_step(run, steps: int) -> tuple[float, float]:
    """(FLOPs, aten calls) per step of ``run()``, a run of ``steps`` steps."""
    from torch.utils.flop_counter import FlopCounterMode

    flops, ops = FlopCounterMode(display=False), _CountOps()
    with flops, ops:
        run()
    return flops.get_total_flops() / steps, ops.calls / steps


def gpu_projection(specs: list[TrialSpec]) -> dict[str, Any]:
    """Projected step time on one GPU: launches x LAUNCH_S + FLOPs / ACHIEVED_FLOPS (no overlap)."""
    short = [s.model_copy(update={"steps": 4, "eval_every": 4, "log_every": 4}) for s in specs]
    k = len(short)
    f1, n1 = _per_step(lambda: run_trial(short[0]), 4)
    fk, nk = _per_step(lambda: run_population(short, lambda *a: None), 4)
    sep = k * (n1 * LAUNCH_S + f1 / ACHIEVED_FLOPS)
    pop = nk * LAUNCH_S + fk / ACHIEVED_FLOPS
    return {
        "task": specs[0].task,
        "optimizer": specs[0].optimizer,
        "points": k,
        "flops_per_step_one_trial": f1,
        "aten_calls_per_step_one_trial": round(n1),
        "flops_per_step_population": fk,
        "aten_calls_per_step_population": round(nk),
        "projected_speedup": round(sep / pop, 1),
        "assumptions": f"{LAUNCH_S * 1e6:.0f} us per launched op, {ACHIEVED_FLOPS / 1e12:.0f} TFLOP/s achieved, "
        "no overlap of launches and compute; a 4-step run, its two evaluations included",
    }


def bench_population(repeats: int = 3, quick: bool = False) -> dict[str, Any]:
    cases = [c for c in CASES if c[0] != "gpt-tiny"] if quick else CASES
    rows, projections = [], []
    for task, steps, optimizer, lrs, k in cases:
        specs = grid_specs(task, steps, optimizer, lrs, k)
        rows.append(points_per_minute(specs, repeats if task != "gpt-tiny" else 1))
        print(table_row(rows[-1]), flush=True)
        if k <= 16:
            projections.append(gpu_projection(specs))
    memory = [
        memory_per_member(t, o) for t, o in (("digits-mlp", "adamw"), ("gpt-tiny", "adamw"), ("gpt-tiny", "muon"))
    ][: 1 if quick else 3]
    return {"points_per_minute": rows, "memory_per_member": memory, "gpu_projection": projections}


def table_row(r: dict[str, Any]) -> str:
    return (
        f"{r['task']:<11}{r['optimizer']:<7}{r['points']:>4} pts x {r['steps']:>3} steps: separate "
        f"{r['separate_points_per_min']:>8.1f} pts/min, population {r['population_points_per_min']:>8.1f} "
        f"pts/min -> {r['speedup']:.2f}x"
    )


def table(res: dict[str, Any]) -> str:
    lines = ["populations vs one-point trials (one process, one torch thread, same points side by side)"]
    lines += [table_row(r) for r in res["points_per_minute"]]
    lines += ["memory per member (fresh processes, peak RSS of K=16 minus K=4, / 12):"]
    lines += [f"  {m['task']:<11}{m['optimizer']:<7}{m['mb_per_member']:>8.2f} MB" for m in res["memory_per_member"]]
    lines += ["GPU projection (counted FLOPs and aten calls per step; a projection, not a measurement):"]
    lines += [
        f"  {g['task']:<11}{g['optimizer']:<7}{g['points']:>3} pts: one trial {g['aten_calls_per_step_one_trial']}"
        f" calls {g['flops_per_step_one_trial'] / 1e9:.2f} GFLOP/step, population "
        f"{g['aten_calls_per_step_population']} calls {g['flops_per_step_population'] / 1e9:.2f} GFLOP/step "
        f"-> {g['projected_speedup']}x"
        for g in res["gpu_projection"]
    ]
    if res["gpu_projection"]:
        lines.append(f"  assumptions: {res['gpu_projection'][0]['assumptions']}")
    return "\n".join(lines)
