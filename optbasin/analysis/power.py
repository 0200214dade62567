"""Power of the claims' test, by simulation: seeds needed against effect size and family size
(the table in docs/statistics.md, section 6, is this module's output:
``python -m optbasin.analysis.power``).

Model: per-seed effects d_j ~ N(delta, 1) after the margin shift (delta: the standardized effect
beyond the margin, mean / sd of d_j - margin); the claim is one two-sided sign-flip test whose
p = 2 x P(sum s_j d_j >= sum d_j) over the 2^m sign patterns (for per-seed values the studentized
and the plain mean order the patterns alike, so the plain sum gives the same p); it is decided
when p <= level / F, the first step of Holm in a family of F tests (a lower bound on the power
when other tests of the family are decided too). Exact enumeration of the patterns, vectorised.

``simulate`` (``python -m optbasin.analysis.power --sequential``) compares the anytime-valid
sequential test (optbasin/analysis/sequential.py, peeking after every seed) with this fixed design
at the same error rate: seeds to a decision against the fixed seeds of equal power.
"""

from __future__ import annotations

import argparse
import itertools
import json

import numpy as np

EFFECTS = (0.5, 1.0, 1.5, 2.0, 3.0)
FAMILIES = (1, 2, 4, 8, 20, 40)
MAX_SEEDS = 14
SIMULATIONS = 400
TARGET = 0.8


def two_sided_p(d: np.ndarray, signs: np.ndarray | None = None) -> np.ndarray:
    """(n, m) per-seed effects -> (n,) two-sided sign-flip p-values of their sum: exact over all
    2^m patterns, or over ``signs`` (K, m), whose row 0 is the observed all-ones pattern."""
    n, m = d.shape
    if signs is None:
        signs = np.array(list(itertools.product((1.0, -1.0), repeat=m)))  # (2^m, m), row 0 observed
    out = np.empty(n)
    for lo in range(0, n, 64):
        t = d[lo : lo + 64] @ signs.T  # (chunk, 2^m)
        obs = t[:, :1]
        tol = 1e-12 * np.abs(t).max(axis=1, keepdims=True)
        greater = (t >= obs - tol).mean(axis=1)
        less = (t <= obs + tol).mean(axis=1)
        out[lo : lo + 64] = np.minimum(1.0, 2 * np.minimum(greater, less))
    return out


def fixed_power(
    effect: float,
    m: int,
    family: int = 1,
    level: float = 0.05,
    sims: int = SIMULATIONS,
    seed: int = 0,
    patterns: int = 4096,
) -> float:
    """Power of the fixed design with m seeds at a standardized effect beyond the margin: the
    two-sided sign-flip p <= level / F in the right direction (exact up to MAX_SEEDS seeds, else
    ``patterns`` random sign patterns with the observed one)."""
    rng = np.random.default_rng([seed, m])
    d = rng.normal(size=(sims, m)) + effect
    signs = None if m <= MAX_SEEDS else np.vstack([np.ones((1, m)), rng.choice((1.0, -1.0), size=(patterns - 1, m))])
    p = two_sided_p(d, signs)
    return float(np.mean((p <= level / family) & (d.sum(axis=1) > 0)))


def simulate(
    effects=(-1.0, 0.0, 1.0, 1.5, 2.0, 3.0),
    design_effect: float = 1.0,
    family: int = 1,
    level: float = 0.05,
    margin: float = 1.0,
    max_seeds: int | None = None,
    target: float = TARGET,
    sims: int = 2000,
    seed: int = 0,
    fixed_sims: int = 1000,
) -> dict:
    """Seeds the sequential test needs against a fixed design of the same error rate and power.

    Per-seed effects e_j ~ N(margin + effect, 1) in the claimed orientation (``effect``: the
    standardized effect beyond the margin; -margin: no difference, where equivalence is the true
    finding; 0: the null's boundary, where no finding is true). The fixed design has the fewest
    seeds m whose power at ``design_effect`` reaches ``target`` (two-sided sign-flip test, level /
    family). The sequential test peeks after every seed; its seed limit is ``max_seeds`` or, by
    default, the smallest limit whose power at ``design_effect`` is at least the fixed design's:
    equal error rate (both at most the level) and equal power.

    Returns {"design": ..., "effects": [one dict per effect]}: the sequential test's share of every
    state, right (the true finding reached) and wrong (any other finding), its mean and 90th
    percentile seeds to a decision or futility stop, the fixed design's power there, and
    seeds_ratio = fixed seeds / mean sequential seeds (the seeds saved: > 1 is fewer)."""
    from optbasin.analysis.sequential import STATES, seeds_to_reach, sequential_decisions, threshold

    c = threshold(family, level)
    m_fixed = next(m for m in range(2, 200) if fixed_power(design_effect, m, family, level, fixed_sims, seed) >= target)
    p_fixed = fixed_power(design_effect, m_fixed, family, level, fixed_sims, seed)

    def run(effect: float, limit: int) -> dict:
        e = np.random.default_rng([seed, limit, int(1000 * (effect + 10))]).normal(
            margin + effect, 1.0, size=(sims, limit)
        )
        return sequential_decisions(e, margin, c, limit)

    def power(effect: float, limit: int) -> float:
        return float(np.mean(run(effect, limit)["state"] == STATES.index("supported")))

    limit = max_seeds or next(
        L for L in range(seeds_to_reach(c), 4 * m_fixed + 1) if power(design_effect, L) >= p_fixed
    )
    rows = []
    for effect in effects:
        d = run(effect, limit)
        share = {s: float(np.mean(d["state"] == i)) for i, s in enumerate(STATES)}
        truth = "supported" if effect > 0 else "equivalent" if abs(margin + effect) < margin else None
        rows.append(
            {
                "effect": effect,
                "true_finding": truth or "none",
                "states": share,
                "right": share[truth] if truth else 0.0,
                "wrong": sum(share[f] for f in ("supported", "contradicted", "equivalent") if f != truth),
                "mean_seeds": float(d["at"].mean()),
                "p90_seeds": float(np.quantile(d["at"], 0.9)),
                "fixed_power": fixed_power(effect, m_fixed, family, level, fixed_sims, seed) if effect > 0 else None,
                "seeds_ratio": m_fixed / float(d["at"].mean()),
            }
        )
    design = {
        "design_effect": design_effect,
        "target": target,
        "family": family,
        "level": level,
        "threshold": c,
        "margin_sd": margin,
        "fixed_seeds": m_fixed,
        "fixed_power": p_fixed,
        "sequential_limit": limit,
        "sequential_power": power(design_effect, limit),
        "simulations": sims,
        "fixed_simulations": fixed_sims,
        "seed": seed,
    }
    return {"design": design, "effects": rows}


def sequential_markdown(result: dict) -> str:
    """The table of docs/statistics.md, section 8, from ``simulate``'s result."""
    d = result["design"]
    head = [
        "effect beyond the margin (sd)",
        "true finding",
        "right",
        "wrong",
        "futile",
        "mean seeds",
        "90% stopped by",
        f"fixed design ({d['fixed_seeds']} seeds): power",
        "fixed / mean sequential seeds",
    ]
    lines = [
        f"Fixed design: {d['fixed_seeds']} seeds, power {d['fixed_power']:.2f} at {d['design_effect']:g} sd "
        f"(F = {d['family']}, level {d['level']:g}); sequential: limit {d['sequential_limit']} seeds, power "
        f"{d['sequential_power']:.2f} there, c = {d['threshold']:g}; {d['simulations']} simulations per row.",
        "",
        "| " + " | ".join(head) + " |",
        "|" + "---|" * len(head),
    ]
    for r in result["effects"]:
        fixed = "" if r["fixed_power"] is None else f"{r['fixed_power']:.2f}"
        lines.append(
            "| "
            + " | ".join(
                [
                    f"{r['effect']:g}",
                    r["true_finding"],
                    f"{r['right']:.3f}",
                    f"{r['wrong']:.3f}",
                    f"{r['states']['futile']:.3f}",
                    f"{r['mean_seeds']:.1f}",
                    f"{r['p90_seeds']:.0f}",
                    fixed,
                    f"{r['seeds_ratio']:.2f}",
                ]
            )
            + " |"
        )
    return "\n".join(lines)


def power_grid(
    effects=EFFECTS,
    max_seeds: int = MAX_SEEDS,
    sims: int = SIMULATIONS,
    seed: int = 0,
    level: float = 0.05,
    families=FAMILIES,
) -> dict[tuple[float, int, int], float]:
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


def seeds_needed_table(
    grid: dict, effects=EFFECTS, families=FAMILIES, max_seeds: int = MAX_SEEDS, target: float = TARGET
) -> list[list[str]]:
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


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m optbasin.analysis.power",
        description="seeds-needed table of the fixed design (default), or the sequential test's simulated benchmark",
    )
    parser.add_argument("--sequential", action="store_true", help="simulate the anytime-valid sequential test")
    parser.add_argument("--family", type=int, default=1, help="tests in the family F (default 1)")
    parser.add_argument("--design-effect", type=float, default=1.0, help="sd beyond the margin (default 1)")
    parser.add_argument(
        "--max-seeds",
        type=int,
        default=None,
        help="the sequential test's seed limit (default: the smallest of equal power)",
    )
    parser.add_argument("--sims", type=int, default=2000)
    parser.add_argument("--json", action="store_true", help="print simulate()'s dict as JSON")
    args = parser.parse_args(argv)
    if not args.sequential:
        print(markdown())
        return
    result = simulate(design_effect=args.design_effect, family=args.family, max_seeds=args.max_seeds, sims=args.sims)
    print(json.dumps(result, indent=1) if args.json else sequential_markdown(result))


if __name__ == "__main__":
    main()
