"""Power of the claims' test, by simulation: seeds needed against effect size and family size
(the table in docs/statistics.md, section 6, is this module's output:
``python -m optbasin.analysis.power``).

Model: per-seed effects d_j ~ N(delta, 1) after the margin shift (delta: the standardized effect
beyond the margin, mean / sd of d_j - margin); the claim is one two-sided sign-flip test whose
p = 2 x P(sum s_j d_j >= sum d_j) over the 2^m sign patterns (for per-seed values the studentized
and the plain mean order the patterns alike, so the plain sum gives the same p); it is decided
when p <= level / F, the first step of Holm in a family of F tests (a lower bound on the power
when other tests of the family are decided too). Exact enumeration of the patterns, vectorised.
"""

from __future__ import annotations

import itertools

import numpy as np

EFFECTS = (0.5, 1.0, 1.5, 2.0, 3.0)
FAMILIES = (1, 2, 4, 8, 20, 40)
MAX_SEEDS = 14
SIMULATIONS = 400
TARGET = 0.8


def two_sided_p(d: np.ndarray) -> np.ndarray:
    """(n, m) per-seed effects -> (n,) two-sided exact sign-flip p-values of their sum."""
    n, m = d.shape
    signs = np.array(list(itertools.product((1.0, -1.0), repeat=m)))     # (2^m, m), row 0 observed
    out = np.empty(n)
    for lo in range(0, n, 64):
        t = d[lo:lo + 64] @ signs.T                                      # (chunk, 2^m)
        obs = t[:, :1]
        tol = 1e-12 * np.abs(t).max(axis=1, keepdims=True)
        greater = (t >= obs - tol).mean(axis=1)
        less = (t <= obs + tol).mean(axis=1)
        out[lo:lo + 64] = np.minimum(1.0, 2 * np.minimum(greater, less))
    return out


def power_grid(effects=EFFECTS, max_seeds: int = MAX_SEEDS, sims: int = SIMULATIONS, seed: int = 0,
               level: float = 0.05, families=FAMILIES) -> dict[tuple[float, int, int], float]:
    """(effect, F, m) -> share of simulations decided in the claimed direction."""
    rng = np.random.default_rng(seed)
    out = {}
    for m in range(2, max_seeds + 1):
        z = rng.normal(size=(sims, m))
        for e in effects:
            d = z + e
            p = two_sided_p(d)
            right = d.sum(axis=1) > 0
            for f in families:
                out[(e, f, m)] = float(np.mean((p <= level / f) & right))
    return out


def seeds_needed_table(grid: dict, effects=EFFECTS, families=FAMILIES, max_seeds: int = MAX_SEEDS,
                       target: float = TARGET) -> list[list[str]]:
    """Rows: family size; columns: effect; cell: fewest seeds with power >= target."""
    rows = []
    for f in families:
        cells = []
        for e in effects:
            ms = [m for m in range(2, max_seeds + 1) if grid[(e, f, m)] >= target]
            cells.append(str(ms[0]) if ms else f"> {max_seeds}")
        rows.append([str(f), *cells])
    return rows


def markdown() -> str:
    grid = power_grid()
    head = ["tests in the family F", *(f"effect {e:g} sd" for e in EFFECTS)]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(r) + " |" for r in seeds_needed_table(grid)]
    return "\n".join(lines)


if __name__ == "__main__":
    print(markdown())
