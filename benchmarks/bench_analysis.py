"""Time ``analyze`` on a synthetic store-shaped result set (default 100,000 trials x 100 logged steps).

    .venv/bin/python benchmarks/bench_analysis.py [--tasks 40] [--seeds 5] [--lr-points 25] [--log-rows 100]

Shape with the defaults: 43 tasks x 8 optimizers (adamw, muon, muonmax, muonadam, namo with 25 lr
points; namo_d with 25 lr x 4 clamp_c; the two Momo variants with 25 lr x 5 f_star) x 5 seeds =
102,125 trials (about 100,000 after 2% are dropped as missing) and 100 logged steps each (~10 M step
rows, with diag columns), 2% of trials missing and 1% failed. The bootstrap uses the default 1000 resamples.
"""

from __future__ import annotations

import argparse
import time

from optbasin.analysis import analyze
from optbasin.analysis.synthetic import synthetic_results


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--tasks", type=int, default=43)
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument("--lr-points", type=int, default=25)
    p.add_argument("--log-rows", type=int, default=100)
    p.add_argument("--repeat", type=int, default=2)
    args = p.parse_args()

    t0 = time.perf_counter()
    trials, steps = synthetic_results(
        n_tasks=args.tasks,
        lr_points=args.lr_points,
        seeds=args.seeds,
        log_rows=args.log_rows,
        missing=0.02,
        failed=0.01,
    )
    print(f"generated {len(trials):,} trials, {len(steps):,} step rows in {time.perf_counter() - t0:.1f} s")
    claims = [
        {
            "name": "muonmax wider basin than muon",
            "metric": "basin_width",
            "compare": ["muonmax", "muon"],
            "direction": "greater",
            "task": "all",
            "tolerance": 0.1,
        }
    ]
    for i in range(args.repeat):
        t0 = time.perf_counter()
        a = analyze(trials, steps, claims=claims)
        print(
            f"analyze, run {i + 1}: {time.perf_counter() - t0:.2f} s "
            f"({len(a.leaderboard)} task x optimizer rows, {len(a.points):,} grid points)"
        )
    t0 = time.perf_counter()
    analyze(trials, None, claims=claims)
    print(f"analyze without steps (no diagnostics): {time.perf_counter() - t0:.2f} s")


if __name__ == "__main__":
    main()
