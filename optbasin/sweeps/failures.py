"""Why trials failed, in a few lines: the failed trials grouped by their error message.

``optbasin run`` prints it after a sweep, ``optbasin status`` for a run directory: a sweep whose
every trial fails with one ``TypeError`` says so once, with the count and one trial id.
"""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

from optbasin.status import TrialStatus

UNKNOWN = "(no error message recorded)"


def failure_lines(errors: Iterable[tuple[str, str]], most: int = 5) -> list[str]:
    """``errors``: (trial id, error message) of failed trials. One line per distinct message, most
    frequent first: "N x MESSAGE (e.g. trial ID)"; at most ``most`` lines, then how many more."""
    by_message: dict[str, list[str]] = {}
    for tid, message in errors:
        first = ((message or "").strip().splitlines() or [""])[0][:200]  # a traceback: its first line
        by_message.setdefault(first or UNKNOWN, []).append(tid)
    ranked = sorted(by_message.items(), key=lambda kv: -len(kv[1]))
    lines = [f"{len(ids)} x {message} (e.g. trial {ids[0]})" for message, ids in ranked[:most]]
    if len(ranked) > most:
        lines.append(f"... and {len(ranked) - most} other error message(s)")
    return lines


def store_failures(trials: pd.DataFrame) -> list[tuple[str, str]]:
    """(trial id, error) of the failed trials of a trials table (store.trials())."""
    if trials.empty:
        return []
    failed = trials[trials["status"].map(lambda v: TrialStatus.of(v) is TrialStatus.FAILED)]
    errors = failed["error"] if "error" in failed else pd.Series("", index=failed.index)
    return list(zip(failed["trial_id"].astype(str), errors.fillna("").astype(str)))
