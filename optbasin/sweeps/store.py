"""The results store: two Parquet datasets under the run directory, written by the driver.

    RUN_DIR/trials.parquet/part-*.parquet   one row per finished trial (summary, hp.<name> columns)
    RUN_DIR/steps.parquet/part-*.parquet    rows every log_every steps (losses, lr, diag.<name>)
    RUN_DIR/meta.json                       the sweep's identity and metadata

Each dataset is a directory of part files, which pandas, pyarrow, polars and duckdb read as one
table. A finished trial is committed by writing its steps part, then its trials part, each to a
temporary name and renamed into place (atomic on POSIX): a kill leaves no torn file and a trial
counts as done only once its summary row is in. ``compact()`` merges parts; readers deduplicate
(last attempt of each trial wins), so a kill during compaction loses nothing either.

A dataset with no rows (every trial failed before logging a step) is still a dataset: empty
frames keep their columns, a merged part always has the dataset's required columns, and a part
without rows is read as nothing whatever its columns (as older versions wrote one).
"""

from __future__ import annotations

import json
import os
import time
import uuid
import warnings
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from optbasin.errors import NO_SPACE, StoreError
from optbasin.status import TrialStatus

TRIALS, STEPS, META = "trials.parquet", "steps.parquet", "meta.json"
DONE_STATUSES = tuple(s.value for s in TrialStatus if s.is_done)  # never rerun
REQUIRED = {TRIALS: ("trial_id", "status", "attempt", "written_at"), STEPS: ("trial_id", "attempt", "step")}


class MissingStepsWarning(UserWarning):
    """Finished trials whose step rows are missing (e.g. a corrupt steps part moved aside)."""


def _atomic_write(path: Path, write) -> None:
    """``write(tmp)`` then rename onto ``path``; a failed write leaves no temporary file behind.
    A full disk (or quota) becomes StoreError "disk full writing FILE: free space and resume"."""
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        write(tmp)
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as e:
        tmp.unlink(missing_ok=True)
        if isinstance(e, OSError) and e.errno in NO_SPACE:
            raise StoreError(f"disk full writing {path}: free space and resume") from None
        raise


def _atomic_write_table(table: pa.Table, path: Path) -> None:
    _atomic_write(path, lambda tmp: pq.write_table(table, tmp))


def atomic_write_text(path: Path, text: str) -> None:
    _atomic_write(path, lambda tmp: tmp.write_text(text))


def _read_parts(folder: Path) -> pd.DataFrame:
    frames = []
    for part in sorted(folder.glob("part-*.parquet")):
        try:
            frame = pq.read_table(part).to_pandas()
        except (pa.ArrowInvalid, OSError) as e:
            after = "its trials will run again" if folder.name == TRIALS else "its trials' step rows will be missing"
            raise StoreError(f"{part}: corrupt results file ({e}); move it aside to continue ({after})") from None
        if len(frame) == 0:  # no rows: nothing to lose, whatever its columns
            frames.append(with_required(frame, folder.name))
            continue
        missing = [c for c in REQUIRED[folder.name] if c not in frame.columns]
        if missing:
            raise StoreError(
                f"{part}: not an optbasin {folder.name} part (no column {', '.join(missing)}); "
                "move it out of the run directory to continue"
            )
        frames.append(frame)
    return _concat(frames)


class ResultsStore:
    def __init__(self, root: str | Path):
        self.root = Path(root)

    # ---- writing -------------------------------------------------------------------------
    def prepare(self) -> None:
        """Create the run directory and check that it is writable (nothing is deleted)."""
        try:
            for sub in (TRIALS, STEPS):
                (self.root / sub).mkdir(parents=True, exist_ok=True)
            probe = self.root / f".write-probe-{uuid.uuid4().hex}"
            probe.write_text("")
            probe.unlink()
        except OSError as e:
            raise StoreError(f"{self.root}: output directory is not writable ({e.strerror or e})") from None

    def remove_stale_temp(self) -> None:
        """Delete temporary files left by killed writes (only while holding the run's lock)."""
        for stale in self.root.glob("*/.*.tmp"):
            stale.unlink(missing_ok=True)

    def record(self, trial: dict[str, Any], steps: list[dict[str, Any]]) -> None:
        """Commit one finished trial (summary row + its step rows). A row that cannot be written
        raises (and leaves no steps part behind); a full disk raises StoreError."""
        attempt = uuid.uuid4().hex[:12]
        now = time.time()
        name = f"part-{trial['trial_id']}-{attempt}.parquet"
        step_df = pd.DataFrame(steps) if steps else pd.DataFrame({"step": pd.Series([], dtype="int64")})
        step_df.insert(0, "attempt", attempt)
        step_df.insert(0, "trial_id", trial["trial_id"])
        row = pa.Table.from_pandas(
            pd.DataFrame([{**trial, "attempt": attempt, "written_at": now}]), preserve_index=False
        )  # converted first: an unwritable row writes nothing
        _atomic_write_table(pa.Table.from_pandas(step_df, preserve_index=False), self.root / STEPS / name)
        try:
            _atomic_write_table(row, self.root / TRIALS / name)
        except BaseException:
            (self.root / STEPS / name).unlink(missing_ok=True)
            raise

    def compact(self) -> bool:
        """Merge each dataset's parts into one file (old parts removed after the merge is in place).
        Without room for the merged copy it is skipped (returns False): parts are as good."""
        for sub in (TRIALS, STEPS):
            folder = self.root / sub
            parts = sorted(folder.glob("part-*.parquet"))
            if len(parts) <= 1:
                continue
            df = with_required(self.trials() if sub == TRIALS else self.steps(), sub)
            merged = folder / f"part-0-merged-{int(time.time() * 1e6)}.parquet"
            try:
                _atomic_write_table(pa.Table.from_pandas(df, preserve_index=False), merged)
            except StoreError:  # disk full: keep the parts
                return False
            for p in parts:
                p.unlink()
        return True

    # ---- reading -------------------------------------------------------------------------
    def raw(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        return _read_parts(self.root / TRIALS), _read_parts(self.root / STEPS)

    def trials(self) -> pd.DataFrame:
        """One row per trial: its last committed attempt."""
        return latest_attempts(_read_parts(self.root / TRIALS), pd.DataFrame())[0]

    def steps(self) -> pd.DataFrame:
        """Step rows of each trial's last committed attempt (orphans of killed writes dropped)."""
        return latest_attempts(*self.raw())[1]

    def done_ids(self) -> set[str]:
        df = self.trials()
        return set(df.loc[df["status"].isin(DONE_STATUSES), "trial_id"]) if not df.empty else set()

    # ---- metadata ------------------------------------------------------------------------
    def read_meta(self) -> dict[str, Any] | None:
        path = self.root / META
        if not path.exists():
            return None
        try:
            return json.loads(path.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise StoreError(f"{path}: corrupt metadata ({e})") from None

    def write_meta(self, meta: dict[str, Any]) -> None:
        atomic_write_text(self.root / META, json.dumps(meta, indent=2, default=str))


def latest_attempts(trials: pd.DataFrame, steps: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Keep each trial's last committed attempt, and only the step rows of those attempts."""
    if trials.empty:
        return trials, steps.iloc[0:0]
    trials = trials.sort_values("written_at", kind="stable").drop_duplicates("trial_id", keep="last")
    trials = trials.reset_index(drop=True)
    if not steps.empty:
        keep = steps.set_index(["trial_id", "attempt"]).index.isin(trials.set_index(["trial_id", "attempt"]).index)
        steps = steps[keep].drop_duplicates(["trial_id", "attempt", "step"]).reset_index(drop=True)
    return trials, steps


def load_runs(dirs: list[str | Path], mark_running: bool = True) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Trials and steps of one or several run directories, merged by trial_id (last attempt wins).
    mark_running: add the column ``running_round`` (True for the trials of an adaptive round after
    round 0 that is not complete in the store yet: running_round)."""
    trials, steps = [], []
    for d in dirs:
        if not (Path(d) / TRIALS).is_dir():
            raise StoreError(f"{d}: not a run directory (no {TRIALS}/ inside)")
        store = ResultsStore(d)
        t, s = store.raw()
        if mark_running and not t.empty:
            first = running_round(t, store.read_meta())
            t = t.assign(running_round=first is not None and t["round"].fillna(0).to_numpy() >= first)
        trials.append(t)
        steps.append(s)
    trials, steps = latest_attempts(_concat(trials), _concat(steps))
    missing = trials_without_steps(trials, steps)
    if missing:
        warnings.warn(
            f"{len(missing)} finished trial(s) have no step rows (a steps part was moved aside or "
            f"lost; e.g. trial {missing[0]}): step curves and step tables omit them",
            MissingStepsWarning,
            stacklevel=2,
        )
    return trials, steps


def running_round(trials: pd.DataFrame, meta: dict[str, Any] | None) -> int | None:
    """The first adaptive round after the declared grid (round 0) whose trials are not all in the
    store (meta.json's ``rounds`` records each round's count before it runs), or None. An analysis
    judges an adaptive run at its last complete round, as the sweep does: a round adds points to
    every seed and seeds at every point, so half of one would compare seeds over different grids."""
    rounds = (meta or {}).get("rounds") or []
    if "round" not in trials:
        return None
    have = trials.drop_duplicates("trial_id")["round"].fillna(0).astype(int).value_counts()  # one per trial
    for r in rounds[1:]:
        if int(have.get(int(r["round"]), 0)) < int(r["trials"]):
            return int(r["round"])
    return None


def trials_without_steps(trials: pd.DataFrame, steps: pd.DataFrame) -> list[str]:
    """Ids of completed or diverged trials with no step row (every such trial logs at least one)."""
    if trials.empty:
        return []
    done = trials[trials["status"].isin(DONE_STATUSES)]
    have = set(steps["trial_id"]) if not steps.empty else set()
    return [t for t in done["trial_id"] if t not in have]


def with_required(df: pd.DataFrame, dataset: str) -> pd.DataFrame:
    """``df`` with every required column of ``dataset`` (TRIALS or STEPS), added empty where missing:
    what optbasin writes it can read back."""
    missing = [c for c in REQUIRED[dataset] if c not in df.columns]
    return df.reindex(columns=[*df.columns, *missing]) if missing else df


def _concat(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """The frames as one; frames without rows add only their columns (all of them empty: their columns)."""
    rows = [f for f in frames if not f.empty]
    if rows:
        return pd.concat(rows, ignore_index=True)
    columns = list(dict.fromkeys(c for f in frames for c in f.columns))
    return pd.DataFrame(columns=columns)
