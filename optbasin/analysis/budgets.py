"""Trials of one task label that ran under different budgets or task parameters are different
tasks: merged runs (``analyze runs/a runs/b``) must not pool digits-mlp at 150 steps with
digits-mlp at 600 steps into one curve.

A trial's setting is what changes its outcome besides optimizer, hyperparameters and seed: its
``steps``, ``schedule`` (both from the sweep's budget) and ``task_params``, as recorded in
trials.parquet (a column a store lacks counts as one value). Where one task label holds several
settings, each setting becomes its own task, labelled with what differs, e.g.
``digits-mlp [steps=150]`` and ``digits-mlp [steps=600]``, and a note says so.
"""

from __future__ import annotations

import json

import pandas as pd

SETTING_COLUMNS = ("steps", "schedule", "task_params")


def _fields(row: dict) -> dict[str, str]:
    """One trial's setting as flat name -> value text (schedule.kind, hidden, steps ...)."""
    out: dict[str, str] = {}
    for col in SETTING_COLUMNS:
        value = row.get(col)
        if value is None or (isinstance(value, float) and value != value):
            continue
        if col == "steps":
            out["steps"] = f"{int(value)}"
            continue
        try:
            parsed = json.loads(value) if isinstance(value, str) else value
        except ValueError:
            parsed = value
        if isinstance(parsed, dict):
            prefix = "schedule." if col == "schedule" else ""
            out.update({f"{prefix}{k}": f"{v:g}" if isinstance(v, float) else str(v) for k, v in parsed.items()})
        else:
            out[col] = str(parsed)
    return out


def _label(label: str, fields: dict[str, str], differ: list[str]) -> str:
    return f"{label} [" + ", ".join(f"{n}={fields.get(n, '-')}" for n in differ) + "]"


def separate_settings(trials: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """``trials`` with the task label of each trial made distinct per setting (see the module doc),
    and one note per task label that was split."""
    present = [c for c in SETTING_COLUMNS if c in trials.columns]
    if trials.empty or not present or "task" not in trials.columns:
        return trials, []
    raw = trials[present].astype(str).agg("|".join, axis=1)
    first = ~raw.duplicated()
    fields = {r: _fields(row) for r, row in zip(raw[first], trials.loc[first, present].to_dict("records"))}
    key = raw.map({r: json.dumps(f, sort_keys=True) for r, f in fields.items()})  # 150 and 150.0 are one
    setting = dict(zip(key[first], fields.values()))
    label_of = trials["task"].astype(str)
    per_label = key.groupby(label_of).nunique()
    trials, notes = trials.copy(), []
    for label in per_label[per_label > 1].index:
        mask = label_of == label
        here = {k: setting[k] for k in key[mask].unique()}
        names = sorted({n for f in here.values() for n in f})
        differ = [n for n in names if len({f.get(n, "-") for f in here.values()}) > 1]
        labels = {k: _label(label, f, differ) for k, f in here.items()}
        trials.loc[mask, "task"] = key[mask].map(labels)
        notes.append(
            f"task {label!r} ran with {len(labels)} different settings ({', '.join(differ)}): kept apart as "
            + ", ".join(repr(v) for v in sorted(labels.values()))
        )
    return trials, notes
