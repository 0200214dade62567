"""The report's "Adaptive rounds" table: what each round of an adaptive run added and why
(meta.json ``rounds``, written by optbasin/adaptive/driver.py). Empty for a fixed design."""

from __future__ import annotations

from html import escape as e
from pathlib import Path


def rounds_html(metas: list[tuple[Path, dict]]) -> str:
    rows = []
    for run_dir, meta in metas:
        for r in meta.get("rounds") or []:
            why = "; ".join(f"{n} {reason}" for reason, n in (r.get("added_for") or {}).items())
            notes = "; ".join(r.get("notes") or [])
            rows.append(
                f"<tr><td>{e(str(run_dir))}</td><td>{int(r['round'])}</td><td>{int(r['trials'])}</td>"
                f"<td>{e(why)}</td><td>{e(r.get('limit') or '')}{e(' ' + notes if notes else '')}</td></tr>"
            )
        stopped = meta.get("adaptive_stopped")
        if meta.get("rounds"):
            tail = (
                f"stopped after round {stopped['after_round']}: {stopped['reason']}"
                if stopped
                else "not settled yet (running, or stopped: optbasin resume continues it)"
            )
            rows.append(f'<tr><td>{e(str(run_dir))}</td><td colspan="4" class="muted">{e(tail)}</td></tr>')
    if not rows:
        return ""
    head = "".join(f"<th>{c}</th>" for c in ("run", "round", "trials", "added for", "limit"))
    return (
        f'<p class="muted">Round 0 is the declared grid; each later round added these trials (points x seeds) '
        f'for the reasons given (README, "Adaptive sweeps").</p>'
        f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )
