"""What ``optbasin status`` says about a run directory: trials recorded, time run over every
session (a run and the resumes after it), and the failures counted by their cause.

meta.json (written by sweep.py) keeps ``started_at`` of the first session, ``runs`` with one
entry per session (its own ``started_at``, and ``elapsed_s`` / ``ended`` once it stopped) and
``elapsed_s``, the seconds of every session that stopped (finished, interrupted or failed). A
driver killed with SIGKILL cannot record its session: that session's time is not counted, and
status says so.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd

from optbasin.sweeps.failures import failure_lines, store_failures


def session_started_at(meta: dict[str, Any]) -> str | None:
    """When the latest session (run or resume) started; ``started_at`` is the first session's."""
    runs = meta.get("runs") or []
    return (runs[-1].get("started_at") if runs else None) or meta.get("started_at")


def _ago(iso: str | None) -> float | None:
    if not iso:
        return None
    try:
        return (dt.datetime.now(dt.timezone.utc) - dt.datetime.fromisoformat(iso)).total_seconds()
    except ValueError:
        return None


def status_lines(run_dir: str, meta: dict[str, Any], trials: pd.DataFrame) -> list[str]:
    """The lines ``optbasin status`` prints."""
    counts = trials["status"].value_counts().to_dict() if not trials.empty else {}
    planned = meta.get("trials_planned", "?")
    lines = [
        f"sweep {meta['sweep']!r} in {run_dir}: {len(trials)}/{planned} trials recorded"
        + "".join(f", {v} {k}" for k, v in sorted(counts.items()))
    ]
    stopped = meta.get("interrupted")
    elapsed = float(meta.get("elapsed_s") or 0.0)
    sessions = len(meta.get("runs") or []) or 1
    if meta.get("finished_at"):
        state = f"finished {meta['finished_at']}"
    elif stopped:
        state = f"interrupted ({stopped['signal']} at {stopped['at']}; continue with: optbasin resume {run_dir})"
    else:
        since = _ago(session_started_at(meta))
        state = (
            "not finished: running"
            + (f" for {since:.0f} s in this session" if since is not None else "")
            + ", or its driver was killed (a killed session's time is not counted below)"
        )
    over = f" over {sessions} sessions" if sessions > 1 else ""
    lines.append(f"started {meta.get('started_at')}, {state}, {elapsed:.0f} s of running{over}")
    lines += adaptive_lines(meta)
    failures = store_failures(trials)
    if failures:
        lines.append(f"{len(failures)} failed trial{'s' * (len(failures) != 1)}, most common causes:")
        lines += [f"  {line}" for line in failure_lines(failures)]
    return lines


def adaptive_lines(meta: dict[str, Any]) -> list[str]:
    """An adaptive run's rounds (optbasin/adaptive/driver.py), one line each, and why it stopped."""

    rounds = meta.get("rounds") or []
    if not rounds:
        return []
    stopped = meta.get("adaptive_stopped")
    tail = (
        f"adaptive: stopped after round {stopped['after_round']}: {stopped['reason']}"
        if stopped
        else "adaptive: not settled yet (running, or stopped: continue with optbasin resume)"
    )
    return [round_line(r) for r in rounds] + [tail]


def round_line(r: dict) -> str:
    """One line per round: what it added and why, and the limit it met."""
    why = ", ".join(f"{n} {reason}" for reason, n in r.get("added_for", {}).items())
    limit = f"; limit {r['limit']}" if r.get("limit") else ""
    return f"round {r['round']}: {r['trials']} trials ({why or 'none'}){limit}"
