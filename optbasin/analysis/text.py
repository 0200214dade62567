"""The terminal view of an Analysis: leaderboard, verdicts, notes."""

from __future__ import annotations

import math

import pandas as pd

from optbasin.analysis.specs import MetricSpec, entry_of_column


def lr_at_edge(edges: str) -> bool:
    """Whether the best point's edges (leaderboard best_at_edge, e.g. "lr:high,beta2:low") include
    lr's: the mark on the best lr is about lr alone (other axes' edges are in the notes)."""
    return any(x.startswith("lr:") for x in str(edges or "").split(","))


def _display(column: str) -> str:
    """A metric column's display name from the registry, with its options (e.g. 'basin width (rel0.1)')."""
    entry = entry_of_column(column)
    if entry is None:
        return column
    options = column.removeprefix(entry.name).strip("_")
    return entry.display + (f" ({options})" if options else "")


def _num(x: float, fmt: str = ".4g") -> str:
    return "-" if x is None or (isinstance(x, float) and not math.isfinite(x)) else format(x, fmt)


def _ci(row: pd.Series, col: str, fmt: str = ".4g") -> str:
    return f"{_num(row[col], fmt)} [{_num(row[col + '_lo'], fmt)}, {_num(row[col + '_hi'], fmt)}]"


def render_text(a) -> str:
    s = a.settings
    if a.leaderboard.empty:
        return "no trials recorded yet"
    basin = MetricSpec("basin_width", eps=s.eps[0]).column
    task_basin = MetricSpec("basin_width", eps=s.eps[0], scope="task").column
    k = s.ks[len(s.ks) // 2]
    pct = round(100 * s.confidence)
    table = []
    for _, r in a.leaderboard.sort_values(["task", "best_loss"]).iterrows():
        widths = []
        for col in (basin, task_basin):
            width = _ci(r, col, ".2f")
            widths.append(
                (">=" if r.get(col + "_cut") else "") + width + ("+" if r.get(col + "_disjoint") is True else "")
            )
        table.append(
            {
                "task": r["task"],
                "optimizer": r["optimizer"],
                "seeds": r["seeds"],
                "best loss": _ci(r, "best_loss"),
                "cross-fit": _num(r["best_loss_xfit"]),
                "best lr": _num(r["best_lr"], ".3g") + ("*" if lr_at_edge(r["best_at_edge"]) else ""),
                f"basin {s.eps[0]:g} (dec)": widths[0],
                "task-wide": widths[1],
                "lr sens": _ci(r, "lr_sensitivity", ".3g"),
                f"E[best|k={k}]": _ci(r, f"expected_best_k{k}"),
                "CP uniform": _num(r["tunability_uniform"]),
                "div": _num(r["divergence_rate"], ".0%"),  # '-': no trial completed or diverged (a note says so)
                "failed": r["failed"],
            }
        )
    window = (
        f"range {list(s.lr_range)}" if s.lr_range else f"{s.lr_decades:g} decades centred on the best lr over all seeds"
    )
    lines = [
        f"Robustness leaderboard: loss = final validation loss, median over seeds (diverged and failed "
        f"trials count as their initial loss). [{pct}% bootstrap interval over seeds, {s.resamples} resamples, "
        f"rng seed {s.seed}]",
        pd.DataFrame(table).to_string(index=False),
        f"* optimum at the grid's edge; >= basin cut by the grid's edge (a lower bound); + several disjoint "
        f"intervals qualify (the widest is shown). basin: decades of lr within {s.eps[0]:g} (relative) of the "
        f"optimizer's own best loss; task-wide: of the best loss of every optimizer on the task; interpolated "
        f"linearly in log10 lr. '-': undefined (see the notes). cross-fit: best loss with the point chosen on "
        f"the other seeds (no winner's curse). E[best|k] and CP: N counts trials (grid points x seeds). lr sens: "
        f"Wortsman, {window}.",
    ]
    lines += sequential_lines(a)
    if not a.verdicts.empty:
        lines += [""] + verdict_lines(a)
    lines += trend_lines(a)
    if a.notes:
        lines += ["", "Notes"] + [f"- {n}" for n in a.notes]
    return "\n".join(lines)


def verdict_lines(a) -> list[str]:
    """The claims' verdicts as text lines (a table, then each claim's reason and caveats)."""
    s = a.settings
    pct = round(100 * s.confidence)
    fam = a.verdicts.groupby("family")["tests"].max().to_dict()
    lines = [
        (
            "Fixed-design tests, descriptive here (seeds were added where a claim was open: these do not hold "
            "their level; the anytime-valid states above decide). "
            if a.adaptive_seeds
            else ""
        )
        + f"Claims (paired sign-flip tests over seeds with the margin applied to the data; one two-sided "
        f"test per claim and task, Holm over the primary family ({int(fam.get('primary', 0))} tests) and "
        f"apart over the exploratory one ({int(fam.get('exploratory', 0))}), level {s.level:g}; effect = "
        f"mean over seeds of A - B, {pct}% studentized bootstrap interval)"
    ]
    v = pd.DataFrame(
        {
            "claim": a.verdicts["claim"],
            "verdict": a.verdicts["verdict"].str.upper(),
            "metric": [_display(m) for m in a.verdicts["metric"]],
            "A vs B": a.verdicts["a"] + " vs " + a.verdicts["b"],
            "family": a.verdicts["family"],
            "margin": [_num(m, ".3g") for m in a.verdicts["margin"]],
            "seeds": a.verdicts["seeds"],
            "p": [_num(p, ".3g") for p in a.verdicts["p_value"]],
            "effect [CI]": [
                f"{_num(e)} [{_num(lo)}, {_num(hi)}]"
                for e, lo, hi in zip(a.verdicts["effect"], a.verdicts["ci_low"], a.verdicts["ci_high"])
            ],
        }
    )
    lines.append(v.to_string(index=False))
    for _, r in a.verdicts.iterrows():
        lines.append(f"  {r['claim']}: {r['reason']}")
        if "," in str(r["tasks"]):
            lines.append(f"    per task: {r['per_task']}")
        if r["caveats"]:
            lines.append(f"    caveats: {r['caveats']}")
    return lines


def sequential_lines(a) -> list[str]:
    """An adaptive run's decisions: each claim's anytime-valid state, then its tasks' (sequential.py)."""
    from optbasin.analysis.sequential import overall_states

    if not a.adaptive_seeds or a.sequential.empty:
        return []
    lines = [
        "",
        f"Decisions (anytime-valid sequential test, level {a.settings.level:g}; this run added seeds "
        "where a claim was open)",
    ]
    for _, r in overall_states(a.sequential).iterrows():
        lines.append(f"  {r['claim']}: {r['state'].upper()}  ({r['reason']})")
    return lines


def trend_lines(a) -> list[str]:
    """One line per claim on the trend with model size (analysis/trend.py), when some claim covers
    3 tasks or more."""
    from optbasin.analysis.trend import EXTRAPOLATION, has_ladder

    t = getattr(a, "trend", None)
    if t is None or not has_ladder(a.trend_sizes):
        return []
    lines = [
        "",
        (
            "Trend with model size (slope of the effect per decade of N against the claim's margin per decade, "
            "Holm over the claims' trend tests):"
        ),
    ]
    for _, r in t.iterrows():
        if r["verdict"] == "undefined":
            lines.append(f"  {r['claim']}: undefined: {r['reason']}")
            continue
        at = f"{r['extrapolation_n']:.3g}"
        lines.append(
            f"  {r['claim']}: {r['verdict']}, slope {_num(r['slope'], '+.3g')} [{_num(r['ci_low'], '+.3g')}, "
            f"{_num(r['ci_high'], '+.3g')}], p = {_num(r['p_holm'], '.3g')}; at N = {at}: "
            f"{_num(r['extrapolation_not_measured'], '+.3g')} ({EXTRAPOLATION})"
        )
    return lines
