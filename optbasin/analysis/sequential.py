"""Anytime-valid states of the claims' (claim, task) pairs, for sweeps that add seeds after looking
(docs/statistics.md, section 8, has the definitions and the reasoning).

The per-seed effects e_j and the margin Delta are claims.py's own (its planning code runs here
unchanged); what differs is the test. Four one-sided e-processes, each a product of bets on the
next seed's shifted effect x_j,

    E_n = prod_{j <= n} (1 + g_j(x_j)),   g_1 = FIRST_BET sign(x_1),
    g_j = tanh(k_j x_j),   k_j = BOLDNESS max(mean_{i<j} x_i, 0) / mean_{i<j} x_i^2   (j >= 2),

one for each shifted series:

    sup  x = e - Delta   (H0: effect <= Delta)      lo  x = e + Delta   (H0: effect <= -Delta)
    hi   x = Delta - e   (H0: effect >= Delta)      con x = -e - Delta  (H0: effect >= -Delta)

Under the fixed design's null (a seed's shifted effect symmetric about a centre on the null's side,
seeds independent) each E_n is a nonnegative supermartingale with E_0 = 1 (k_j uses past seeds
only and tanh is odd and increasing), so by Ville's inequality P(sup_n E_n >= c) <= 1 / c however
often one looks. A finding needs every e-process it implies to have reached c at some look:
supported {sup, lo}, contradicted {con, hi}, equivalent {lo, hi} (TOST); then at most two findings'
nulls can hold at once, and c = 2 F / level (F: the (claim, task) pairs of the claim's family,
primary or exploratory, Bonferroni) keeps the family's error rate at the level. Decisions are
taken at the first look that reaches c and stay (running maxima). Futility: a bet at most doubles
E (1 + tanh < 2), so when no finding can reach c within ``max_seeds`` seeds even if every further
seed favoured it, the pair is futile; when that holds before the first seed, the seed limit is too
small for any decision ("insufficient seeds"). A best loss with ``tuning_seeds: k`` scores at most
``max_seeds - k`` seeds (a cell's seeds include its tuning seeds).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from optbasin.analysis.claims import FINDINGS, Claim, _plan

__all__ = [
    "PairState",
    "COLUMNS",
    "STATES",
    "sequential_states",
    "e_processes",
    "sequential_decisions",
    "threshold",
    "seeds_to_reach",
    "states_table",
    "seeds_added_after_looking",
    "overall_states",
    "decisions",
]

STATES = ("open", "supported", "contradicted", "equivalent", "futile", "insufficient seeds", "undefined")
FIRST_BET = 0.5  # the first seed's bet: no scale is known yet, so a sign bet of half the wealth
BOLDNESS = 2.0  # k_j x_j = 2 m^2 / (m^2 + v) for x_j at the running mean m (variance v): at most tanh(2)
MAX_FACTOR = 2.0  # sup of 1 + tanh: the most one seed can multiply an e-process by
REQUIRES = {"supported": ("sup", "lo"), "contradicted": ("con", "hi"), "equivalent": ("lo", "hi")}
FINAL = ("supported", "contradicted", "equivalent", "futile", "insufficient seeds", "undefined")


@dataclass(frozen=True)
class PairState:
    """The sequential state of one claim on one task."""

    claim: str
    task: str
    optimizers: tuple[str, str]  # the claim's A and B (the cells whose seeds decide it)
    state: str  # one of STATES; all but open are final (undefined: the claim has no test here, with the reason)
    n_seeds: int  # paired seeds used (at the decision, for a finding)
    e_value: float  # the deciding (or nearest) finding's e-value; nan when there is no test
    reason: str  # one line a user reads


COLUMNS = [f.name for f in dataclasses.fields(PairState)]


# ---------------------------------------------------------------------------------------------
# The e-processes (numpy, vectorised over leading axes: one series or many simulated ones)
# ---------------------------------------------------------------------------------------------


def bet_factors(x: np.ndarray) -> np.ndarray:
    """(..., n) shifted effects -> (..., n) factors 1 + g_j(x_j) of one e-process (module docstring)."""
    x = np.asarray(x, dtype=float)
    n = x.shape[-1]
    zero = np.zeros(x.shape[:-1] + (1,))
    past = np.concatenate([zero, np.cumsum(x, axis=-1)[..., :-1]], axis=-1)
    past_sq = np.concatenate([zero, np.cumsum(x * x, axis=-1)[..., :-1]], axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        k = BOLDNESS * np.maximum(past, 0.0) / past_sq  # counts cancel: mean / mean of squares
    k = np.where(np.isfinite(k), k, 0.0)  # no past seed, or every past x = 0
    with np.errstate(invalid="ignore"):
        g = np.tanh(k * x)
    g = np.where(np.isnan(g), 0.0, g)
    if n:
        g[..., 0] = FIRST_BET * np.sign(x[..., 0])
    return 1.0 + g


def e_processes(e: np.ndarray, shift: float) -> dict[str, np.ndarray]:
    """(..., n) per-seed effects (claimed orientation) and the margin -> the four e-processes'
    values after each seed, (..., n) each: sup, lo, hi, con (module docstring)."""
    e = np.asarray(e, dtype=float)
    series = {"sup": e - shift, "lo": e + shift, "hi": shift - e, "con": -e - shift}
    return {name: np.cumprod(bet_factors(x), axis=-1) for name, x in series.items()}


def threshold(family: int, level: float) -> float:
    """c = 2 F / level: at most two findings are false at once, Bonferroni over the F pairs."""
    return 2.0 * max(family, 1) / level


def _most_growth(n: np.ndarray | int, limit: int) -> np.ndarray:
    """The largest factor seeds n + 1 .. limit can still multiply an e-process by."""
    n = np.asarray(n)
    left = np.maximum(limit - n, 0)
    first = np.where((n == 0) & (left > 0), (1 + FIRST_BET) / MAX_FACTOR, 1.0)
    return first * MAX_FACTOR**left


def seeds_to_reach(c: float) -> int:
    """The fewest seeds a run of every seed favouring one finding could decide with."""
    return 1 + max(0, math.ceil(math.log(c / (1 + FIRST_BET)) / math.log(MAX_FACTOR) - 1e-12))


def sequential_decisions(e: np.ndarray, shift: float, c: float, max_seeds: int | None = None) -> dict[str, np.ndarray]:
    """Peeking after every seed of (R, n) effect series: per series, the state reached (index into
    STATES), the seed count at which it was reached (n when still open), and the finding e-value
    there ("nearest" finding when none was reached)."""
    e = np.atleast_2d(np.asarray(e, dtype=float))
    R, n = e.shape
    procs = e_processes(e, shift)
    running = {p: np.maximum.accumulate(v, axis=-1) for p, v in procs.items()}
    names = list(REQUIRES)
    stack = np.stack([np.minimum(*(running[p] for p in REQUIRES[f])) for f in names])  # (3, R, n)
    hit = (stack >= c).any(axis=0)  # (R, n)
    decided = hit.any(axis=1)
    at = np.where(decided, hit.argmax(axis=1) + 1, n)
    futile = np.zeros(R, dtype=bool)
    if max_seeds is not None:
        limit = max(max_seeds, n)
        grow = _most_growth(np.arange(1, n + 1), limit)[None, :]  # after seed j (1-based)
        reachable = np.zeros((R, n), dtype=bool)
        for parts in REQUIRES.values():
            reachable |= np.logical_and.reduce([(running[p] >= c) | (procs[p] * grow >= c) for p in parts])
        gone = ~reachable
        first_gone = np.where(gone.any(axis=1), gone.argmax(axis=1) + 1, n + 1)
        futile = first_gone < np.where(decided, at, n + 1)
        at = np.where(futile, first_gone, at)
    rows = np.arange(R)
    value = stack[:, rows, np.clip(at - 1, 0, n - 1)]  # (3, R) at the deciding look
    which = np.argmax(value, axis=0)
    state = np.where(decided, [STATES.index(names[w]) for w in which], STATES.index("open"))
    state = np.where(futile, STATES.index("futile"), state)
    if max_seeds is not None and _most_growth(0, max(max_seeds, n)) < c:
        state[:] = STATES.index("insufficient seeds")
    return {"state": state, "at": at, "e_value": value.max(axis=0), "nearest": which}


# ---------------------------------------------------------------------------------------------
# States of the claims of an analysis
# ---------------------------------------------------------------------------------------------
WHAT = {
    "supported": "better by more than the margin",
    "contradicted": "worse by more than the margin",
    "equivalent": "within +- the margin",
}


def sequential_states(
    claims: list[Claim], leaderboard: pd.DataFrame, seedvals: dict, settings, max_seeds: int | None = None
) -> list[PairState]:
    """The anytime-valid state of every (claim, task) pair; the inputs are evaluate_claims' own.

    max_seeds: the seed limit of the sweep (futility is judged against it); None: no limit, so an
    undecided pair stays open."""
    plans = [_plan(c, leaderboard, seedvals, settings) for c in claims]
    family = {"primary": 0, "exploratory": 0}
    for c, (_, tests) in zip(claims, plans):
        family[_family(c)] += len(tests)
    out: list[PairState] = []
    for c, (head, tests) in zip(claims, plans):
        opts = (c.compare[0], c.compare[1])
        if head["reason"] is not None:
            out.append(PairState(c.name, head["tasks"] or _tasks(c), opts, "undefined", 0, math.nan, head["reason"]))
            continue
        f = family[_family(c)]
        c_ = threshold(f, settings.level)
        where = f"{_family(c)} family of {f}, c = 2 x {f} / {settings.level:g} = {c_:g}"
        states = [_pair_state(c, t, opts, leaderboard, seedvals, settings, c_, where, max_seeds) for t in tests]
        if c.given is not None:
            states = [_gated(s, c.given, [p for p in out if p.claim == c.given]) for s in states]
        out += states
    return out


def _family(c: Claim) -> str:
    return "primary" if c.primary else "exploratory"


def _tasks(c: Claim) -> str:
    return c.task if isinstance(c.task, str) else ",".join(c.task)


def _pair_state(
    claim: Claim, t, opts, lb, seedvals, settings, c: float, where: str, max_seeds: int | None
) -> PairState:
    def state(s: str, n: int, e: float, why: str) -> PairState:
        return PairState(claim.name, t.task, opts, s, int(n), float(e), why)

    if t.swap is not None:
        return state(
            "undefined",
            t.row["seeds"],
            math.nan,
            "no anytime-valid test: each seed's cross-fitted best loss uses the other seeds' choice of "
            "point, so its terms change as seeds are added; declare tuning_seeds: n (choose on n seeds, "
            "score on the others)",
        )
    tuning = claim.tuning_seeds or 0  # a cell's seeds, at most max_seeds, include the tuning seeds
    limit = None if max_seeds is None else max(max_seeds - tuning, 0)  # scored seeds, at most
    if limit is not None and _most_growth(0, limit) < c:
        scored = f" ({limit} scored, {tuning} tuning)" if tuning else ""
        return state(
            "insufficient seeds",
            t.row["seeds"],
            math.nan,
            f"a limit of {max_seeds} seeds{scored} can reach an e-value of at most "
            f"{float(_most_growth(0, limit)):.3g} < {c:g} ({where}): {seeds_to_reach(c)} scored seeds "
            "needed at least",
        )
    e, note = t.e, ""
    if e is None:
        e, k = _longest_defined_prefix(claim, t, lb, seedvals, settings)
        if t.row["verdict"] == "insufficient seeds" and e is None:
            return state("open", t.row["seeds"], math.nan, f"{t.row['seeds']} paired seed(s) so far")
        if e is None:
            return state("undefined", t.row["seeds"], math.nan, f"no test: {t.row['reason']}")
        note = f"; later seeds not used ({t.row['reason']})"
    d = sequential_decisions(e, t.shift, c, limit)
    s, at, ev = STATES[int(d["state"][0])], int(d["at"][0]), float(d["e_value"][0])
    n = len(e)
    nearest = list(REQUIRES)[int(d["nearest"][0])]
    if s in FINDINGS:
        if t.reversible.get(s):
            return state(
                "open",
                n,
                ev,
                f"would be {s}, but a grid cut of {t.row['metric']} could reverse it (the grid needs closing)",
            )
        if s == "equivalent" and t.unresolved:
            return state("open", n, ev, f"would be equivalent within {t.row['margin']:.3g}, but {t.unresolved}")
        return state(
            s, at, ev, f"{WHAT[s]}: e-value {ev:.3g} >= {c:g} after seed {at} of {n} (anytime-valid, {where}){note}"
        )
    if s == "futile":
        return state(
            s,
            at,
            ev,
            f"no finding can reach {c:g} within {max(limit, n)} scored seeds even if every further "
            f"seed favoured it (nearest: {nearest}, e-value {ev:.3g} after seed {at}; one seed "
            f"at most doubles it; {where}){note}",
        )
    within = "" if max_seeds is None else f" within the limit of {max_seeds}"
    return state(
        "open",
        n,
        ev,
        f"nearest finding {nearest}: e-value {ev:.3g} < {c:g} after {n} seeds; a finding "
        f"is still reachable{within} ({where}){note}",
    )


def _longest_defined_prefix(claim: Claim, t, lb, seedvals, settings) -> tuple[np.ndarray | None, int]:
    """Effects of the longest run of first seeds on which the claim's metric is defined for both (a
    seed added later that is undefined must not undo a decision taken before it), or (None, 0).
    A prefix of a defined run is defined, so the longest is found by bisection."""
    a, b = claim.compare
    ra, rb = seedvals[(t.task, a)], seedvals[(t.task, b)]
    if ra.ran is None or rb.ran is None:
        return None, 0
    idx = np.flatnonzero(ra.ran & rb.ran)
    single = claim.model_copy(update={"task": t.task})
    quick = settings.model_copy(update={"resamples": 2})  # only the effects are used, not their interval

    def effects(k: int) -> np.ndarray | None:
        keep = np.zeros_like(ra.ran)
        keep[idx[:k]] = True
        cut = dict(seedvals)
        for key in ((t.task, a), (t.task, b)):
            cut[key] = dataclasses.replace(seedvals[key], ran=seedvals[key].ran & keep)
        _, tests = _plan(single, lb, cut, quick)
        return tests[0].e if tests and tests[0].swap is None else None

    # fewest seeds with a test: 2 paired (scored) ones; the whole run (len(idx)) is known to be undefined
    lo, hi, best = 2 + (claim.tuning_seeds or 0), len(idx) - 1, None
    while lo <= hi:
        mid = (lo + hi) // 2
        e = effects(mid)
        if e is None:
            hi = mid - 1
        else:
            lo, best = mid + 1, (e, mid)
    return best if best is not None else (None, 0)


def _gated(s: PairState, parent: str, parents: list[PairState]) -> PairState:
    """given: PARENT: decided only when every task of the parent is supported (fixed sequence)."""
    if parents and all(p.state == "supported" for p in parents):
        return s
    failed = not parents or any(p.state in FINAL and p.state != "supported" for p in parents)
    what = "not among the claims judged" if not parents else ", ".join(f"{p.task} {p.state}" for p in parents)
    alone = f"alone: {s.state} ({s.reason})"
    if failed:
        return dataclasses.replace(
            s, state="futile", reason=f"gated on {parent!r}, which cannot be supported ({what}); {alone}"
        )
    if s.state in FINAL:
        return dataclasses.replace(s, state="open", reason=f"gated on {parent!r}, still undecided ({what}); {alone}")
    return dataclasses.replace(s, reason=f"{s.reason}; gated on {parent!r} ({what})")


def states_table(states: list[PairState]) -> pd.DataFrame:
    """One row per pair, columns COLUMNS (the Analysis' ``sequential`` table)."""
    return pd.DataFrame([dataclasses.asdict(s) for s in states], columns=COLUMNS)


def seeds_added_after_looking(trials: pd.DataFrame) -> bool:
    """Some seed was added because a claim was still open (an adaptive round's "seeds: claim NAME
    open"): the fixed-design verdicts assume seeds fixed in advance and do not hold their level
    there; the sequential states (anytime-valid) are the decision."""
    return "added_for" in trials and bool(trials["added_for"].astype(str).str.startswith("seeds").any())


def overall_states(table: pd.DataFrame) -> pd.DataFrame:
    """One row per claim of a ``sequential`` table: a finding when every task reached the same one
    (as the fixed-design overall verdict), "open" while a task is open, the tasks' common state
    when they share one, "mixed" when they reached different findings or a finding on some tasks
    only, else "no finding" (futile, undefined, insufficient seeds); columns claim, state, reason."""
    rows = []
    for claim, g in table.groupby("claim", sort=False):
        states = list(g["state"])
        if len(set(states)) == 1:
            state = states[0]
        elif "open" in states:
            state = "open"
        elif set(states) & set(FINDINGS):
            state = "mixed"
        else:
            state = "no finding"
        reason = "; ".join(f"{t}: {st} ({n} seeds)" for t, st, n in zip(g["task"], g["state"], g["n_seeds"]))
        rows.append({"claim": claim, "state": state, "reason": reason})
    return pd.DataFrame(rows, columns=["claim", "state", "reason"])


def decisions(a) -> dict[tuple[str, str], str]:
    """(claim, task) -> its anytime-valid state, for an Analysis whose run added seeds after looking
    (Analysis.adaptive_seeds); {} otherwise, where the fixed-design verdicts decide."""
    q = a.sequential
    return dict(zip(zip(q["claim"], q["task"]), q["state"])) if a.adaptive_seeds else {}
