"""The trials.parquet row of a finished trial (the columns: README, "How data flows")."""

from __future__ import annotations

import json
from typing import Any

from optbasin.training.trial_spec import TrialSpec


def trial_row(spec: TrialSpec, summary: dict[str, Any]) -> dict[str, Any]:
    """The trials.parquet row of a finished trial."""
    row = {
        "trial_id": spec.trial_id,
        "sweep": spec.sweep,
        "task": spec.task,
        "task_name": spec.task_name,
        "task_factory": spec.task_factory,
        "import_paths": json.dumps(spec.import_paths),
        "optimizer": spec.optimizer,
        "optimizer_name": spec.optimizer_name,
        "seed": spec.seed,
        "steps": spec.steps,
        "swept": json.dumps(spec.swept),
        "source": spec.source,
        "round": spec.round,
        "added_for": spec.added_for,
        "task_params": json.dumps(spec.task_params, sort_keys=True),
        "schedule": json.dumps(spec.schedule.model_dump(), sort_keys=True),
        "error": "",
    }
    row.update({f"hp.{k}": v for k, v in spec.hparams.items()})
    row.update(summary)
    return row
