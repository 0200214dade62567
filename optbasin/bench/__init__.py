"""``optbasin bench``: performance figures, printed as tables and written as JSON.

1. per-step time of every optimizer relative to AdamW on gpt-tiny and a width-512 gpt (optimizers.py);
2. sweep efficiency: the quickstart through Ray Tune against the same trials back to back (sweep.py);
3. peak memory per trial (memory.py);
4. the HTML report's first paint and full draw in headless Chromium, and its size (report.py);
5. populations against one-point trials: points per minute, memory per member, a GPU projection
   (population.py);
6. sweep overhead: ``optbasin run`` end to end against a plain process pool over the same trials,
   with a phase breakdown (overhead.py);
7. adaptive sweeps: trials an adaptive run needs for the verdicts of a fixed design (adaptive.py,
   the design ``--adaptive-sweep``).
``--only report``, ``population``, ``overhead`` or ``adaptive`` runs just that one.
Medians over repeated runs; nothing here is asserted in tests.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def main(args: argparse.Namespace) -> int:
    import torch

    from optbasin.bench import overhead, population, report

    only = getattr(args, "only", None)
    results: dict = {
        "optimizer_steps": [],
        "sweep": None,
        "memory": None,
        "report": None,
        "population": None,
        "overhead": None,
        "adaptive": None,
    }
    if only in (None, "report"):
        results["report"] = report.bench_report(getattr(args, "report_runs", None) or None)
        print(report.table(results["report"]), end="\n\n", flush=True)
    torch.set_num_threads(1)
    repeats = 3 if args.quick else 7
    if only is None:
        others(results, args, repeats)
    if only in (None, "population"):
        results["population"] = population.bench_population(repeats=repeats // 2 + 1, quick=args.quick)
        print(population.table(results["population"]), end="\n\n", flush=True)
    if only in (None, "overhead"):
        results["overhead"] = overhead.bench_overhead(args.sweep)
        print(overhead.table(results["overhead"]), end="\n\n", flush=True)
    if only in (None, "adaptive"):
        from optbasin.bench import adaptive

        results["adaptive"] = adaptive.bench_adaptive(args.adaptive_sweep, steps=getattr(args, "adaptive_steps", None))
        print(adaptive.table(results["adaptive"]), end="\n\n", flush=True)
    Path(args.json).write_text(json.dumps(results, indent=2))
    print(f"json: {args.json}")
    return 0


def others(results: dict, args: argparse.Namespace, repeats: int) -> None:
    """Benchmarks 1-3: optimizer step cost, peak memory per trial, sweep efficiency."""
    from optbasin.bench import memory, optimizers, sweep

    for model in optimizers.MODELS:
        rows = optimizers.bench(model, steps=3 if args.quick else 5, repeats=repeats)
        results["optimizer_steps"] += rows
        print(optimizers.table(rows), end="\n\n", flush=True)
    results["memory"] = memory.bench_memory(optimizers.OPTIMIZERS)
    print(memory.table(results["memory"]), end="\n\n", flush=True)
    results["sweep"] = sweep.bench_sweep(args.sweep)
    s = results["sweep"]
    print(
        f"sweep efficiency ({s['sweep']}, {s['trials']} trials, {s['cores']} cores): Ray wall {s['ray_wall_s']} s "
        f"vs ideal {s['ideal_wall_s']} s (sum of trial compute {s['sum_trial_compute_s']} s / cores) -> "
        f"{s['efficiency']}x ({s['efficiency_excluding_ray_start']}x without Ray start/stop); "
        f"CPU utilisation {s['cpu_utilisation']}"
    )
