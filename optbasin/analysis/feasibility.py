"""Claims that no outcome of a sweep's seeds could decide, found before anything runs
(``optbasin validate`` and ``optbasin run`` print them as warnings; docs/statistics.md, section 6).

A claim on a task is one two-sided sign-flip test whose smallest p-value with m scored seeds is
2 x 2^-m; in a Holm family of F claim x task tests a verdict needs 2 x 2^-m <= level / F. The
family is the primary claims', or the exploratory ones'; a best-loss claim with tuning_seeds: n
scores m = seeds - n of them.

A sweep run with ``--adaptive`` is judged by the anytime-valid sequential test instead
(analysis/sequential.py, docs/statistics.md section 8): its cells get seeds up to ``adaptive:
max_seeds``, and a finding needs an e-value of c = 2 F / level, which takes at least
seeds_to_reach(c) scored seeds (the first seed multiplies E by at most 1 + FIRST_BET, every later
one by at most MAX_FACTOR). The cross-fitted best loss (no tuning_seeds) has no such test."""

from __future__ import annotations

from optbasin.analysis.sequential import seeds_to_reach, threshold
from optbasin.analysis.significance import seeds_needed
from optbasin.config import Claim

LEVEL = 0.05  # the analysis' default level (AnalysisSettings.level)


def claim_tasks(claim: Claim, tasks: list[str]) -> int:
    """How many tasks the claim is tested on: 'all', one label or a list."""
    if claim.task == "all":
        return len(tasks)
    return 1 if isinstance(claim.task, str) else len(claim.task)


def family_sizes(claims: list[Claim], tasks: list[str]) -> dict[bool, int]:
    """primary? -> the number of claim x task tests in that Holm family."""
    sizes = {True: 0, False: 0}
    for c in claims:
        sizes[c.primary] += claim_tasks(c, tasks)
    return sizes


def undecidable(claims: list[Claim], seeds: int, tasks: list[str], level: float = LEVEL) -> list[str]:
    """One warning per claim that ``seeds`` seeds can never decide, saying how many it needs."""
    sizes = family_sizes(claims, tasks)
    out = []
    for i, c in enumerate(claims):
        family = sizes[c.primary]
        tuning = c.tuning_seeds or 0
        scored = seeds - tuning
        need = seeds_needed(level / (2 * family))
        if scored < need:
            kind = "primary" if c.primary else "exploratory"
            extra = f" + {tuning} tuning seed(s)" if tuning else ""
            out.append(
                f"claims[{i}] ({c.name}): {seeds} seed(s) can never decide it: one two-sided test in the "
                f"{kind} Holm family of {family} test(s) needs 2 x 2^-m <= {level:g}/{family}, i.e. m >= "
                f"{need} scored seeds{extra}; use seeds: {need + tuning} or more (or fewer claims in the family)"
            )
    return out


def seeds_floor(family: int, level: float) -> int:
    """n_min: the fewest seeds with which any valid non-randomized sign-symmetric test can decide a
    pair in a family of F pairs, each finding at level' = level / (2F) (Bonferroni over the pairs and
    the two findings that can be false at once; Holm's first step): the smallest n with
    2^-n <= level'. Given the magnitudes |x_j|, the 2^n sign patterns are equally likely under the
    null, so the test rejects on at most level' 2^n of them, and on none when level' 2^n < 1
    (docs/statistics.md, section 8, "How many seeds any valid test needs")."""
    return seeds_needed(level / (2 * max(family, 1)))


def sequential_floor(family: int, level: float) -> int:
    """n_seq: the fewest scored seeds with which the e-process can reach c = 2 F / level: the
    smallest n with (1 + FIRST_BET) MAX_FACTOR^(n - 1) >= c (sequential.seeds_to_reach)."""
    return seeds_to_reach(threshold(family, level))


def has_sequential_test(claim: Claim) -> bool:
    """False for the cross-fitted best loss (no tuning_seeds): its per-seed terms change as seeds
    are added, so the sequential test has none: undefined (sequential._pair_state)."""
    return not (claim.metric == "best_loss" and claim.tuning_seeds is None)


def adaptive_undecidable(claims: list[Claim], max_seeds: int, tasks: list[str], level: float) -> list[str]:
    """One warning per claim that an adaptive run can never decide: no anytime-valid test, or
    max_seeds - tuning_seeds scored seeds below sequential_floor(F, level)."""
    sizes = family_sizes(claims, tasks)
    out = []
    for i, c in enumerate(claims):
        family, kind = sizes[c.primary], "primary" if c.primary else "exploratory"
        if not has_sequential_test(c):
            out.append(
                f"claims[{i}] ({c.name}): adaptive: the sequential test can never decide it: the "
                "cross-fitted best loss has no anytime-valid test (each seed's term uses the other seeds' "
                "choice of point); declare tuning_seeds: n"
            )
            continue
        tuning = c.tuning_seeds or 0
        need = sequential_floor(family, level)
        if max_seeds - tuning < need:
            extra = f" + {tuning} tuning seed(s)" if tuning else ""
            out.append(
                f"claims[{i}] ({c.name}): adaptive.max_seeds {max_seeds} cannot decide it: the sequential "
                f"test needs >= {need} scored seeds{extra} in the {kind} family of {family} pair(s) "
                f"(e-value c = 2 x {family} / {level:g} = {threshold(family, level):g}); raise max_seeds to "
                f"{need + tuning} or more (or fewer claims in the family)"
            )
    return out


def sweep_warnings(spec, adaptive: bool | None = None) -> list[str]:
    """undecidable() for a parsed SweepSpec; adaptive_undecidable() when it runs adaptively
    (adaptive None: when it has an ``adaptive:`` block), with that block's max_seeds and level
    (defaults: config.AdaptiveSpec)."""
    if not spec.claims:
        return []
    tasks = [t.key for t in spec.tasks]
    if adaptive is None:
        adaptive = spec.adaptive is not None
    if adaptive:
        from optbasin.config import AdaptiveSpec

        limits = spec.adaptive or AdaptiveSpec()
        return adaptive_undecidable(list(spec.claims), limits.max_seeds, tasks, limits.level)
    return undecidable(list(spec.claims), len(spec.seeds), tasks)
