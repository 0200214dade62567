"""Claims that no outcome of a sweep's seeds could decide, found before anything runs
(``optbasin validate`` and ``optbasin run`` print them as warnings; docs/statistics.md, section 6).

A claim on a task is one two-sided sign-flip test whose smallest p-value with m scored seeds is
2 x 2^-m; in a Holm family of F claim x task tests a verdict needs 2 x 2^-m <= level / F. The
family is the primary claims', or the exploratory ones'; a best-loss claim with tuning_seeds: n
scores m = seeds - n of them."""

from __future__ import annotations

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


def sweep_warnings(spec) -> list[str]:
    """undecidable() for a parsed SweepSpec."""
    if not spec.claims:
        return []
    return undecidable(list(spec.claims), len(spec.seeds), [t.key for t in spec.tasks])
