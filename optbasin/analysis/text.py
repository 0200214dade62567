"""The terminal view of an Analysis: leaderboard, verdicts, notes."""

from __future__ import annotations

import math

import pandas as pd

from optbasin.analysis.specs import MetricSpec


def _num(x: float, fmt: str = ".4g") -> str:
    return "-" if x is None or (isinstance(x, float) and not math.isfinite(x)) else format(x, fmt)


def _ci(row: pd.Series, col: str, fmt: str = ".4g") -> str:
    return f"{_num(row[col], fmt)} [{_num(row[col + '_lo'], fmt)}, {_num(row[col + '_hi'], fmt)}]"


def render_text(a) -> str:
    s = a.settings
    if a.leaderboard.empty:
        return "no trials recorded yet"
    basin = MetricSpec("basin_width", eps=s.eps[0]).column
    k = s.ks[len(s.ks) // 2]
    pct = round(100 * s.confidence)
    table = []
    for _, r in a.leaderboard.sort_values(["task", "best_loss"]).iterrows():
        width = _ci(r, basin, ".2f")
        if r.get(basin + "_cut"):
            width = ">=" + width
        table.append({
            "task": r["task"], "optimizer": r["optimizer"], "seeds": r["seeds"],
            "best loss": _ci(r, "best_loss"),
            "best lr": _num(r["best_lr"], ".3g") + ("*" if r["best_at_edge"] else ""),
            f"basin {s.eps[0]:g} (dec)": width,
            "lr sens": _ci(r, "lr_sensitivity", ".3g"),
            f"E[best|k={k}]": _ci(r, f"expected_best_k{k}"),
            "CP uniform": _num(r["tunability_uniform"]),
            "div": f"{r['divergence_rate']:.0%}",
            "failed": r["failed"],
        })
    lines = [
        f"Robustness leaderboard: loss = final validation loss, median over seeds (diverged and failed "
        f"trials count as their initial loss). [{pct}% bootstrap interval over seeds, {s.resamples} resamples, "
        f"rng seed {s.seed}]",
        pd.DataFrame(table).to_string(index=False),
        f"* optimum at the grid's edge; >= basin cut by the grid's edge (a lower bound). basin: decades of lr "
        f"within {s.eps[0]:g} (relative) of the best loss, interpolated linearly in log10 lr. lr sens: "
        f"Wortsman, {'range ' + str(list(s.lr_range)) if s.lr_range else f'{s.lr_decades:g} decades centred on each best lr'}.",
    ]
    if not a.verdicts.empty:
        lines += ["", "Claims"]
        v = pd.DataFrame({
            "claim": a.verdicts["claim"], "verdict": a.verdicts["verdict"].str.upper(),
            "metric": a.verdicts["metric"], "A vs B": a.verdicts["a"] + " vs " + a.verdicts["b"],
            "effect [CI]": [f"{_num(e)} [{_num(lo)}, {_num(hi)}]" for e, lo, hi in
                            zip(a.verdicts["effect"], a.verdicts["ci_low"], a.verdicts["ci_high"])],
            "reason": a.verdicts["reason"],
        })
        lines.append(v.to_string(index=False))
        for _, r in a.verdicts.iterrows():
            if r["caveats"]:
                lines.append(f"  {r['claim']}: caveats: {r['caveats']}")
    if a.notes:
        lines += ["", "Notes"] + [f"- {n}" for n in a.notes]
    return "\n".join(lines)
