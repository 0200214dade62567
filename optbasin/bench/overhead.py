"""Sweep overhead: ``optbasin run`` end to end against a plain process pool over the same trials.

Each round runs, one after the other in fresh processes: the sweep through the command line (Ray
Tune, the sweep's own ``population`` setting), the same sweep with ``population: 1`` (one Ray Tune
report per one-point trial, as the pool), and a plain ``multiprocessing`` spawn pool of one process
per CPU slot running the sweep's one-point trials (``run_trial``, results returned to the parent,
nothing written). Rounds interleave the three, so a load that comes and goes hits each alike.
Wall time is from launch to exit; it splits at the first trial's start and the last trial's end
(the trials' own clock stamps): start-up (interpreter, imports, planning, Ray start, Tune set-up,
worker warm-up), trials, and tail (Ray shutdown, compaction, metadata, summary).
Medians over rounds; a benchmark figure, never asserted in tests.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

ARMS = ("ray", "ray_population_1", "pool")


def _pool_trial(spec_json: dict) -> dict[str, Any]:
    """One trial in a pool process: its summary, step rows and clock stamps."""
    from optbasin.training.single import run_trial
    from optbasin.training.trial_spec import TrialSpec

    started = time.time()
    rows: list[dict] = []
    summary = run_trial(TrialSpec.model_validate(spec_json), emit=rows.extend)
    return {"status": summary["status"], "rows": len(rows), "started_at": started, "finished_at": time.time()}


def pool_main(sweep_file: str, out: str) -> None:
    """The pool arm, run as its own process: plan the sweep, run its trials in a spawn pool of one
    process per slot, write the trials' statuses and stamps to ``out`` (JSON)."""
    from optbasin.sweeps import sweep

    p = sweep.plan(sweep_file, output=str(Path(out).with_suffix(".run")))  # planning writes nothing there
    # ray_session.concurrent_slots without importing Ray into the pool (a CPU pool: no GPU term)
    slots = max(1, int((os.cpu_count() or 1) / p.trials[0].cpus))
    with multiprocessing.get_context("spawn").Pool(slots) as pool:
        results = pool.map(_pool_trial, [t.model_dump() for t in p.trials], chunksize=1)
    Path(out).write_text(json.dumps(results))


def _timed(cmd: list[str]) -> tuple[float, float]:
    """(launch, exit) wall-clock stamps of a command run to its end; raises if it fails."""
    launch = time.time()
    done = subprocess.run(cmd, capture_output=True, text=True)
    end = time.time()
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {done.returncode}: {done.stderr[-2000:]}")
    return launch, end


def _phases(launch: float, end: float, started: list[float], finished: list[float]) -> dict[str, float]:
    return {
        "wall_s": end - launch,
        "startup_s": min(started) - launch,
        "trials_s": max(finished) - min(started),
        "tail_s": end - max(finished),
    }


def _ray_arm(sweep_file: Path, tmp: Path) -> tuple[dict[str, float], dict[str, int]]:
    import pyarrow.parquet as pq

    run_dir = tmp / f"run-{time.monotonic_ns()}"
    launch, end = _timed([sys.executable, "-m", "optbasin.cli", "run", str(sweep_file), "-o", str(run_dir), "--quiet"])
    t = pq.read_table(run_dir / "trials.parquet", columns=["status", "started_at", "finished_at"]).to_pandas()
    return _phases(launch, end, list(t["started_at"]), list(t["finished_at"])), t["status"].value_counts().to_dict()


def _pool_arm(sweep_file: Path, tmp: Path) -> tuple[dict[str, float], dict[str, int]]:
    out = tmp / f"pool-{time.monotonic_ns()}.json"
    launch, end = _timed(
        [
            sys.executable,
            "-c",
            "import sys; from optbasin.bench.overhead import pool_main; pool_main(sys.argv[1], sys.argv[2])",
            str(sweep_file),
            str(out),
        ]
    )
    r = json.loads(out.read_text())
    counts: dict[str, int] = {}
    for x in r:
        counts[x["status"]] = counts.get(x["status"], 0) + 1
    return _phases(launch, end, [x["started_at"] for x in r], [x["finished_at"] for x in r]), counts


def _population_1_copy(sweep_file: Path) -> Path:
    """The sweep file with ``population: 1``, written next to the original (relative paths hold)."""
    spec = yaml.safe_load(sweep_file.read_text())
    spec["population"] = 1
    copy = sweep_file.with_name(f".{sweep_file.stem}-population-1-{os.getpid()}.yaml")
    copy.write_text(yaml.safe_dump(spec, sort_keys=False))
    return copy


def bench_overhead(sweep_file: str | Path = "examples/quickstart.yaml", rounds: int = 3) -> dict[str, Any]:
    sweep_file = Path(sweep_file)
    runs: dict[str, list[dict[str, float]]] = {a: [] for a in ARMS}
    counts: dict[str, dict[str, int]] = {}
    with tempfile.TemporaryDirectory(prefix="optbasin-bench-overhead-") as tmp:
        copy = _population_1_copy(sweep_file)
        try:
            for _ in range(rounds):
                for arm in ARMS:
                    if arm == "pool":
                        phases, counts[arm] = _pool_arm(sweep_file, Path(tmp))
                    else:
                        phases, counts[arm] = _ray_arm(sweep_file if arm == "ray" else copy, Path(tmp))
                    runs[arm].append(phases)
        finally:
            copy.unlink(missing_ok=True)
    out: dict[str, Any] = {"sweep": str(sweep_file), "rounds": rounds, "cores": os.cpu_count(), "counts": counts}
    for arm in ARMS:
        out[arm] = {
            k: {
                "median": round(statistics.median(r[k] for r in runs[arm]), 2),
                "all": [round(r[k], 2) for r in runs[arm]],
            }
            for k in runs[arm][0]
        }
    pool = [r["wall_s"] for r in runs["pool"]]
    for arm in ("ray", "ray_population_1"):
        ratios = [r["wall_s"] / p for r, p in zip(runs[arm], pool)]  # each round against its own pool run
        out[f"{arm}_vs_pool"] = {"median": round(statistics.median(ratios), 2), "all": [round(x, 2) for x in ratios]}
    return out


def table(r: dict[str, Any]) -> str:
    names = {"ray": "optbasin run (Ray Tune)", "ray_population_1": "optbasin run, population: 1", "pool": "plain pool"}
    lines = [
        f"sweep overhead ({r['sweep']}, {r['cores']} cores, median of {r['rounds']} interleaved rounds; "
        "all rounds in brackets):",
        f"  {'':<30} {'wall s':>24} {'start-up s':>11} {'trials s':>9} {'tail s':>7}",
    ]
    for arm in ARMS:
        a = r[arm]
        lines.append(
            f"  {names[arm]:<30} {a['wall_s']['median']:>6} {str(a['wall_s']['all']):>17} "
            f"{a['startup_s']['median']:>11} {a['trials_s']['median']:>9} {a['tail_s']['median']:>7}"
        )
    for arm in ("ray", "ray_population_1"):
        x = r[f"{arm}_vs_pool"]
        lines.append(f"  {names[arm]} / plain pool: {x['median']}x (rounds: {x['all']})")
    lines.append("  trial statuses: " + "; ".join(f"{names[a]} {r['counts'][a]}" for a in ARMS))
    return "\n".join(lines)
