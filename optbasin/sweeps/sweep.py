"""A whole sweep: validate, expand, claim the run directory, run through Ray Tune, record metadata.

The run directory keeps a copy of the sweep file (sweep.yaml) and meta.json, so that
``resume(run_dir)`` needs nothing else; rerunning the same sweep file does the same. One driver
at a time writes a run directory (RUN_DIR/.lock, see lock.py).
"""

from __future__ import annotations

import datetime as dt
import platform
import shutil
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import yaml

from optbasin.catalog import Catalog
from optbasin.config import MAX_TRIALS, SweepSpec
from optbasin.errors import ConfigError, Interrupted, Problem, StoreError
from optbasin.sweeps.callback import Outcome, call_side_job
from optbasin.sweeps.lock import LOCK, RunLock
from optbasin.sweeps.runner import run_trials
from optbasin.sweeps.search import run_search, search_trials
from optbasin.sweeps.spec import expand, load_sweep, load_sweep_doc
from optbasin.sweeps.store import STEPS, TRIALS, ResultsStore, atomic_write_text
from optbasin.training.trial_spec import TrialSpec

SWEEP_COPY = "sweep.yaml"
PACKAGES = ("optbasin", "torch", "ray", "optuna", "pandas", "pyarrow", "plotly", "numpy", "pydantic")


def versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return out


def machine() -> dict[str, object]:
    import os

    import torch

    info: dict[str, object] = {"node": platform.node(), "platform": platform.platform(), "cpus": os.cpu_count()}
    if torch.cuda.is_available():
        info["gpus"] = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    return info


@dataclass
class Plan:
    spec: SweepSpec
    catalog: Catalog
    trials: list[TrialSpec]  # the grid's trials (a search samples its own)
    store: ResultsStore
    sweep_file: Path
    catalog_dirs: list[str]
    sweep_yaml: str | None = None  # a sweep given as a document (plan_doc): RUN_DIR/sweep.yaml is its file
    meta_extra: dict | None = None  # more keys for meta.json (an adaptive run's settings and rounds: adaptive.py)

    @property
    def searching(self) -> bool:
        return self.spec.search.method == "optuna"

    @property
    def n_trials(self) -> int:
        """The trials this plan runs: the grid's, or what the search samples."""
        return search_trials(self.spec) if self.searching else len(self.trials)


DOC_LABEL = "(sweep dict)"  # names a sweep given as a Python dict in its problems (there is no file)


def plan(
    sweep_file: str | Path,
    catalog_dirs: list[str] = (),
    output: str | None = None,
    base_dir: str | Path | None = None,
    max_trials: int = MAX_TRIALS,
) -> Plan:
    """Validate and expand a sweep file (refused above ``max_trials`` trials); nothing is written."""
    spec, catalog = load_sweep(sweep_file, catalog_dirs, base_dir, max_trials)
    out = Path(output) if output else spec.output_dir()
    return Plan(
        spec,
        catalog,
        expand(spec, catalog),
        ResultsStore(out),
        Path(sweep_file),
        [str(Path(d).resolve()) for d in catalog_dirs],
    )


def plan_doc(
    doc: dict,
    catalog_dirs: list[str] = (),
    output: str | None = None,
    base_dir: str | Path | None = None,
    max_trials: int = MAX_TRIALS,
) -> Plan:
    """``plan`` of a sweep given as a dict (the Python API): the same validation, its problems
    named DOC_LABEL and the field; relative paths in it are relative to ``base_dir`` (default: the
    working directory). The run directory keeps it as sweep.yaml, with those paths made absolute,
    which is then its file (resume reads it as any other run's copy)."""
    base = Path(base_dir) if base_dir is not None else Path.cwd()
    spec, catalog = load_sweep_doc(doc, DOC_LABEL, base, catalog_dirs, max_trials)
    kept = {**doc, "tasks": [t.model_dump(mode="json", exclude_defaults=True) for t in spec.tasks]}  # paths resolved
    if spec.catalog:
        kept["catalog"] = [str((base / d).resolve()) for d in spec.catalog]
    try:
        text = yaml.safe_dump(kept, sort_keys=False)
    except yaml.YAMLError as e:
        raise ConfigError(
            [
                Problem(
                    DOC_LABEL,
                    "(document)",
                    f"cannot be kept as YAML: {e}; give plain Python numbers, strings, lists and dicts",
                )
            ]
        ) from None
    out = Path(output) if output else spec.output_dir()
    return Plan(
        spec,
        catalog,
        expand(spec, catalog),
        ResultsStore(out),
        out / SWEEP_COPY,
        [str(Path(d).resolve()) for d in catalog_dirs],
        sweep_yaml=text,
    )


def check_directory(p: Plan) -> None:
    """Refuse a run directory that is not a directory, or holds anything but this sweep's results."""
    root = p.store.root
    if root.exists() and not root.is_dir():
        raise StoreError(f"{root}: output is not a directory; choose a directory (--output)")
    meta = p.store.read_meta()
    if meta is not None and meta.get("sweep") != p.spec.name:
        raise StoreError(
            f"{root}: holds results of sweep {meta.get('sweep')!r}, not {p.spec.name!r}; "
            "choose another output directory (--output)"
        )
    if meta is None and root.exists() and any(not _ours_and_empty(n) for n in root.iterdir()):
        raise StoreError(
            f"{root}: exists, is not empty and is not an optbasin run directory; "
            "choose another output directory (--output)"
        )


def _ours_and_empty(path: Path) -> bool:
    """What a run that stopped before writing meta.json leaves: its lock and empty datasets."""
    return path.name == LOCK or (path.name in (TRIALS, STEPS) and path.is_dir() and not any(path.iterdir()))


def claim_directory(p: Plan) -> dict:
    """Make the run directory ours (the caller holds its lock) and record the run's metadata."""
    meta = p.store.read_meta()
    if meta is not None and meta.get("sweep") != p.spec.name:  # claimed by another sweep meanwhile
        check_directory(p)
    p.store.remove_stale_temp()
    p.store.compact()  # tidy parts left by an earlier, possibly killed, run (skipped on a full disk)
    copy = p.store.root / SWEEP_COPY
    if p.sweep_yaml is not None:
        atomic_write_text(copy, p.sweep_yaml)
    resuming = p.sweep_file.resolve() == copy.resolve()
    if not resuming:
        shutil.copyfile(p.sweep_file, copy)
    now = _now()
    meta = {
        "sweep": p.spec.name,
        "command": sys.argv,
        "sweep_file": meta["sweep_file"] if resuming and meta else str(p.sweep_file.resolve()),
        "sweep_yaml": p.sweep_file.read_text(),
        "catalog_dirs": p.catalog_dirs,
        "versions": versions(),
        "machine": machine(),
        "started_at": (meta or {}).get("started_at") or now,  # of the first session; "runs": each session's
        "finished_at": None,
        "interrupted": None,  # {"signal": "SIGINT", "at": ...} when a signal stopped this run
        "elapsed_s": (meta or {}).get("elapsed_s", 0.0),
        "trials_planned": p.n_trials,
        "counts": (meta or {}).get("counts", {}),
        "runs": [
            *(meta or {}).get("runs", []),
            {"sweep_file": str(p.sweep_file.resolve()), "command": sys.argv, "started_at": now},
        ],
    }
    meta.update(p.meta_extra or {})
    p.store.write_meta(meta)
    return meta


def execute(
    p: Plan,
    *,
    address: str | None = None,
    progress: bool = True,
    show_ray_logs: bool = False,
    on_commit: Callable[[], None] | None = None,
) -> Outcome:
    """Run the plan's pending trials and record the sweep's metadata, holding RUN_DIR/.lock.

    Interrupted (a signal) leaves ``finished_at`` unset and records ``interrupted``. However the
    session ends, its running time is added to ``elapsed_s`` (and kept in its ``runs`` entry)."""
    check_directory(p)
    p.store.prepare()
    with RunLock(p.store.root):
        meta = claim_directory(p)
        session_start, prior = _clock(), float(meta["elapsed_s"] or 0.0)
        session = meta["runs"][-1]
        call_side_job(on_commit, "at the sweep's start")  # the live report exists from the sweep's start
        try:
            if p.spec.search.method == "optuna":
                outcome = run_search(
                    p.spec,
                    p.catalog,
                    p.store,
                    address=address,
                    progress=progress,
                    show_ray_logs=show_ray_logs,
                    on_commit=on_commit,
                )
            else:
                outcome = run_trials(
                    p.trials,
                    p.store,
                    retries=p.spec.retries,
                    address=address,
                    progress=progress,
                    show_ray_logs=show_ray_logs,
                    on_commit=on_commit,
                    population=p.spec.population,
                )
            p.store.compact()  # the counts below then read one merged file, not every trial's part
        except (Interrupted, KeyboardInterrupt) as e:
            signum = e.signum if isinstance(e, Interrupted) else signal.SIGINT
            meta["interrupted"] = {"signal": signal.Signals(signum).name, "at": _now()}
            session["ended"] = "interrupted"
            raise
        except BaseException:
            session["ended"] = "error"
            raise
        finally:  # no compaction here: after a signal or an error, resume compacts
            trials = p.store.trials()
            meta["counts"] = trials["status"].value_counts().to_dict() if not trials.empty else {}
            session["elapsed_s"] = round(_clock() - session_start, 2)
            meta["elapsed_s"] = round(prior + session["elapsed_s"], 2)
            p.store.write_meta(meta)
        meta["finished_at"] = _now()
        session["ended"] = "finished"
        p.store.write_meta(meta)
    return outcome


def _clock() -> float:
    return time.monotonic()


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def resume_plan(run_dir: str | Path, max_trials: int = MAX_TRIALS) -> Plan:
    """The plan of an existing run directory, from its copy of the sweep file."""
    store = ResultsStore(run_dir)
    meta = store.read_meta()
    copy = Path(run_dir) / SWEEP_COPY
    if meta is None or not copy.exists():
        raise StoreError(f"{run_dir}: not an optbasin run directory (no meta.json / {SWEEP_COPY})")
    return plan(
        copy,
        meta.get("catalog_dirs", []),
        output=str(run_dir),
        base_dir=Path(meta["sweep_file"]).parent,
        max_trials=max_trials,
    )
