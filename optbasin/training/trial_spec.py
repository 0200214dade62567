"""TrialSpec: everything one trial needs, fully resolved (sweeps/spec.py expands a sweep into them)."""

from __future__ import annotations

import hashlib
import json
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict

from optbasin.config import Schedule


class TrialSpec(BaseModel):
    """Everything one trial needs, fully resolved. ``trial_id`` hashes the fields that shape results."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    sweep: str
    task: str  # label: the unit of comparison in analysis
    task_name: str
    task_factory: str
    task_params: dict[str, Any]
    optimizer: str  # label
    optimizer_name: str
    optimizer_class: str
    hparams: dict[str, Any]
    optimizer_tuples: dict[str, list[str]] = {}  # the entry's tuple arguments (OptimizerDef.tuples)
    swept: list[str]  # hyperparameter names varied for this optimizer in the sweep
    seed: int
    steps: int
    eval_every: int
    log_every: int
    accumulate: int = 1
    grad_clip: float | None = None
    schedule: Schedule
    divergence_threshold: float
    split_matrix: list[str] = []
    split_other: list[str] = []
    # Not part of the identity: where and how it runs, and what produced it.
    source: Literal["grid", "search", "refine"] = "grid"  # where the point came from: sweeps/provenance.py
    round: int = 0  # adaptive round that added it (0: the declared grid; optbasin/adaptive/)
    added_for: str = ""  # why an adaptive round added it, e.g. "edge lr high"
    timeout_s: float | None = None  # the trial is failed after this long
    cpus: float = 1
    gpus: float = 0
    import_paths: list[str] = []

    IDENTITY_EXCLUDE: ClassVar[set[str]] = {
        "sweep",
        "cpus",
        "gpus",
        "import_paths",
        "swept",
        "source",
        "timeout_s",
        "round",
        "added_for",
    }

    @property
    def trial_id(self) -> str:
        # Fields at their defaults are left out, so adding a field never changes existing ids.
        ident = self.model_dump(exclude=self.IDENTITY_EXCLUDE, exclude_defaults=True)
        blob = json.dumps(ident, sort_keys=True, default=str, separators=(",", ":"))
        return hashlib.sha256(blob.encode()).hexdigest()[:16]
