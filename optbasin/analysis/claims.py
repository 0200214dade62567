"""Claims ("MuonMax's lr basin is wider than Muon's") declared in YAML, and their verdicts.

A claim compares optimizer A with optimizer B (``compare: [A, B]``) on one metric:

    effect = A - B            (effect: difference, the default; null value 0)
    effect = A / B            (effect: ratio; null value 1)

over one task, a list of tasks, or ``all`` tasks where both were run (several tasks: the mean
of the per-task differences, or the geometric mean of the ratios). The interval is the
percentile interval of the effect over the bootstrap resamples of the seeds (paired: both
optimizers see the same resamples). With ``direction: greater`` the claim is

    supported      when the whole interval lies above the threshold (default the null value),
    contradicted   when it lies below,
    inconclusive   otherwise, or when an optimizer or task is missing, or a task has one seed.

``direction: less`` mirrors it. ``threshold`` moves the line, e.g. ``effect: ratio,
direction: less, threshold: 1.1`` for "A costs less than 1.1 x B".
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal, Union

import numpy as np
import pandas as pd
from pydantic import Field, ValidationError, model_validator

from optbasin.analysis.bootstrap import interval
from optbasin.analysis.specs import METRICS, MetricSpec
from optbasin.config import Strict, problems_from, read_yaml
from optbasin.errors import ConfigError, Problem

MetricName = Literal[METRICS]  # type: ignore[valid-type]

# the parameters each metric accepts (any other metric rejects them)
PARAMS = {"tolerance": "basin_width", "delta": "basin_width", "k": "expected_best_k",
          "weighting": "tunability", "alpha": "alpha_tunability"}


class Claim(Strict):
    """One claim: ``compare: [A, B]`` with ``direction: greater`` reads "metric(A) > metric(B)"."""

    name: str = Field(min_length=1)
    metric: MetricName
    compare: tuple[str, str]
    direction: Literal["greater", "less"]
    task: Union[str, list[str]] = "all"
    tolerance: float | None = Field(default=None, ge=0)   # basin_width: relative eps
    delta: float | None = Field(default=None, ge=0)       # basin_width: absolute delta
    k: int | None = Field(default=None, ge=1)             # expected_best_k
    weighting: Literal["early", "uniform", "late"] | None = None  # tunability
    alpha: float | None = Field(default=None, ge=0)       # alpha_tunability
    effect: Literal["difference", "ratio"] = "difference"
    threshold: float | None = None
    description: str = ""

    @model_validator(mode="after")
    def _consistent(self) -> "Claim":
        a, b = self.compare
        if a == b:
            raise ValueError(f"compare needs two different optimizer labels, got [{a}, {b}]")
        for param, metric in PARAMS.items():
            if getattr(self, param) is not None and self.metric != metric:
                raise ValueError(f"'{param}' applies to metric {metric}, not {self.metric}")
        if self.tolerance is not None and self.delta is not None:
            raise ValueError("give basin_width either 'tolerance' (relative) or 'delta' (absolute), not both")
        if self.metric == "expected_best_k" and self.k is None:
            raise ValueError("metric expected_best_k needs 'k' (the number of trials)")
        if isinstance(self.task, list) and not self.task:
            raise ValueError("task: give a label, a list of labels, or 'all'")
        return self

    def spec(self, settings) -> MetricSpec:
        """The leaderboard metric this claim is about (defaults from the analysis settings)."""
        if self.metric == "basin_width":
            if self.delta is not None:
                return MetricSpec("basin_width", delta=self.delta)
            return MetricSpec("basin_width", eps=self.tolerance if self.tolerance is not None else settings.eps[0])
        if self.metric == "expected_best_k":
            return MetricSpec("expected_best_k", k=self.k)
        if self.metric == "tunability":
            return MetricSpec("tunability", weighting=self.weighting or "uniform")
        if self.metric == "alpha_tunability":
            return MetricSpec("alpha_tunability", alpha=self.alpha if self.alpha is not None else settings.alpha)
        return MetricSpec(self.metric)


# ---------------------------------------------------------------------------------------------
# Loading
# ---------------------------------------------------------------------------------------------


def parse_claims(items: Any, file: str) -> list[Claim]:
    """Validate a ``claims:`` list; ConfigError naming file, claims[i].field and reason."""
    if not isinstance(items, list):
        raise ConfigError([Problem(file, "claims", f"expected a list of claims, got {type(items).__name__}")])
    problems, claims = [], []
    for i, item in enumerate(items):
        where = f"claims[{i}]"
        if not isinstance(item, dict):
            problems.append(Problem(file, where, f"expected a mapping of fields, got {type(item).__name__}"))
            continue
        try:
            claims.append(Claim.model_validate(item))
        except ValidationError as e:
            problems += problems_from(e, file, prefix=where)
    seen: dict[str, int] = {}
    for i, c in enumerate(claims):
        if c.name in seen:
            problems.append(Problem(file, f"claims[{i}].name", f"duplicate claim name {c.name!r}"))
        seen[c.name] = i
    if problems:
        raise ConfigError(problems)
    return claims


def load_claims(path: str | Path) -> list[Claim]:
    """Claims of a YAML file: a claims file (``claims:`` only) or a sweep file with a ``claims:`` list."""
    doc = read_yaml(path)
    if not isinstance(doc, dict) or "claims" not in doc:
        raise ConfigError([Problem(str(path), "claims", "missing: the file needs a top-level 'claims:' list")])
    return parse_claims(doc["claims"], str(path))


def claims_from_sweep_yaml(text: str, file: str) -> list[Claim]:
    """Claims of a sweep's YAML text (as kept in meta.json); none when it has no claims."""
    import yaml

    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError:
        return []
    if not isinstance(doc, dict) or not doc.get("claims"):
        return []
    return parse_claims(doc["claims"], file)


# ---------------------------------------------------------------------------------------------
# Verdicts
# ---------------------------------------------------------------------------------------------
VERDICT_COLUMNS = ["claim", "metric", "a", "b", "direction", "effect_kind", "tasks", "value_a", "value_b",
                   "effect", "ci_low", "ci_high", "threshold", "verdict", "reason", "caveats", "per_task",
                   "resamples", "description"]


def evaluate_claims(claims: list[Claim], leaderboard: pd.DataFrame, reps: dict, settings) -> pd.DataFrame:
    """One row per claim. reps: (task, optimizer) -> {column: (resamples,) replicates}."""
    rows = [evaluate(c, leaderboard, reps, settings) for c in claims]
    return pd.DataFrame(rows, columns=VERDICT_COLUMNS)


def _cell(lb: pd.DataFrame, task: str, opt: str) -> pd.Series | None:
    hit = lb[(lb["task"] == task) & (lb["optimizer"] == opt)]
    return None if hit.empty else hit.iloc[0]


def evaluate(claim: Claim, lb: pd.DataFrame, reps: dict, settings) -> dict[str, Any]:
    a, b = claim.compare
    col = claim.spec(settings).column
    ratio = claim.effect == "ratio"
    null = claim.threshold if claim.threshold is not None else (1.0 if ratio else 0.0)
    row: dict[str, Any] = {
        "claim": claim.name, "metric": col, "a": a, "b": b, "direction": claim.direction,
        "effect_kind": claim.effect, "threshold": null, "resamples": settings.resamples,
        "description": claim.description, "value_a": np.nan, "value_b": np.nan, "effect": np.nan,
        "ci_low": np.nan, "ci_high": np.nan, "caveats": "", "per_task": "",
    }

    def inconclusive(reason: str, tasks: list[str]) -> dict[str, Any]:
        return {**row, "tasks": ",".join(tasks), "verdict": "inconclusive", "reason": reason}

    known = set(lb["task"]) if not lb.empty else set()
    if claim.task == "all":
        tasks = sorted(t for t in known if _cell(lb, t, a) is not None and _cell(lb, t, b) is not None)
        if not tasks:
            missing = [o for o in (a, b) if lb.empty or o not in set(lb["optimizer"])]
            why = f"optimizer(s) {', '.join(missing)} not in the results" if missing else f"no task has both {a} and {b}"
            return inconclusive(why, [])
    else:
        tasks = [claim.task] if isinstance(claim.task, str) else list(claim.task)
        for t in tasks:
            if t not in known:
                return inconclusive(f"task {t!r} not in the results", tasks)
            for o in (a, b):
                if _cell(lb, t, o) is None:
                    return inconclusive(f"optimizer {o!r} has no trials on task {t!r}", tasks)
    if col not in lb.columns:
        return inconclusive(f"metric column {col} was not computed", tasks)

    effects, effect_reps, va, vb, caveats, per_task = [], [], [], [], [], []
    for t in tasks:
        ca, cb = _cell(lb, t, a), _cell(lb, t, b)
        if min(ca["seeds"], cb["seeds"]) < 2:
            return inconclusive(f"task {t!r}: one seed, so no uncertainty estimate", tasks)
        xa, xb = float(ca[col]), float(cb[col])
        if not (np.isfinite(xa) and np.isfinite(xb)):
            return inconclusive(f"task {t!r}: {col} is undefined for {a if not np.isfinite(xa) else b} "
                                "(e.g. lr not swept)", tasks)
        ra, rb = reps[(t, a)][col], reps[(t, b)][col]
        with np.errstate(divide="ignore", invalid="ignore"):
            e, er = (np.log(xa / xb), np.log(ra / rb)) if ratio else (xa - xb, ra - rb)
        effects.append(e)
        effect_reps.append(er)
        va.append(xa)
        vb.append(xb)
        lo, hi = interval(er, settings.confidence)
        if ratio:
            per_task.append(f"{t}: {np.exp(e):.4g} [{np.exp(lo):.4g}, {np.exp(hi):.4g}]")
        else:
            per_task.append(f"{t}: {e:+.4g} [{lo:.4g}, {hi:.4g}]")
        caveats += _caveats(t, ca, cb, col)

    effect = float(np.mean(effects))
    reps_mean = np.mean(np.vstack(effect_reps), axis=0)
    usable = np.isfinite(reps_mean)
    if usable.mean() < 0.5:
        return inconclusive(f"only {usable.sum()} of {usable.size} resamples give a finite effect", tasks)
    lo, hi = interval(reps_mean, settings.confidence)
    if ratio:
        effect, lo, hi = float(np.exp(effect)), float(np.exp(lo)), float(np.exp(hi))
    above, below = lo > null, hi < null
    if claim.direction == "greater":
        verdict = "supported" if above else "contradicted" if below else "inconclusive"
    else:
        verdict = "supported" if below else "contradicted" if above else "inconclusive"
    side = "above" if above else "below" if below else "contains"
    reason = (f"{round(100 * settings.confidence)}% interval of {'A / B' if ratio else 'A - B'} {side} "
              f"{null:g}; {len(tasks)} task(s)")
    return {**row, "tasks": ",".join(tasks), "value_a": float(np.mean(va)), "value_b": float(np.mean(vb)),
            "effect": effect, "ci_low": lo, "ci_high": hi, "verdict": verdict, "reason": reason,
            "caveats": "; ".join(caveats), "per_task": "; ".join(per_task)}


def _caveats(task: str, ca: pd.Series, cb: pd.Series, col: str) -> list[str]:
    out = []
    for c in (ca, cb):
        if c["best_at_edge"]:
            out.append(f"{task}/{c['optimizer']}: optimum at grid edge ({c['best_at_edge']})")
        cut = c.get(col + "_cut", "")
        if isinstance(cut, str) and cut:
            out.append(f"{task}/{c['optimizer']}: {col} cut by grid edge ({cut}): a lower bound")
        if c["missing_trials"]:
            out.append(f"{task}/{c['optimizer']}: {int(c['missing_trials'])} missing trial(s)")
    return out
