"""STUB of hseq's sequential test (dropped at the merge): the contract adaptive.py relies on.

``run_states(run_dirs, claims=None)`` -> one PairState per (claim, task): "open" (more seeds may
decide it), "supported" / "contradicted" / "equivalent" (decided), "futile" (no number of seeds
will), or "insufficient seeds". This stub reads the fixed-sample verdicts of the analysis (not an
anytime-valid test): inconclusive -> open.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

STATES = ("open", "supported", "contradicted", "equivalent", "futile", "insufficient seeds")


@dataclass(frozen=True)
class PairState:
    claim: str
    task: str
    optimizers: tuple[str, str]
    state: str
    n_seeds: int
    e_value: float
    reason: str


def run_states(run_dirs: list[Path], claims=None) -> list[PairState]:
    from optbasin.analysis.analyze import analyze_runs

    result = analyze_runs(run_dirs) if claims is None else _analyze(run_dirs, claims)
    out = []
    for r in result.verdicts_by_task.to_dict("records"):
        verdict = r["verdict"]
        state = verdict if verdict in STATES else "open"
        out.append(PairState(r["claim"], r["task"], (r["a"], r["b"]), state, int(r["seeds"] or 0), math.nan,
                             str(r["reason"])))
    return out


def _analyze(run_dirs, claims):
    from optbasin.analysis.analyze import analyze
    from optbasin.sweeps.store import load_runs

    trials, steps = load_runs([Path(d) for d in run_dirs])
    return analyze(trials, steps, claims=claims)
