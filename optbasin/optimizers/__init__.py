"""Optimizers and the catalog entry point ``build(name, model, **hparams)``.

Contract for an optimizer class named in a catalog YAML (``class: module:Class``):
- a ``torch.optim.Optimizer`` subclass constructed as ``Class(params, **hparams)``;
- ``params`` are param groups: if the class sets ``hybrid = True`` it receives groups tagged
  ``kind: "matrix" | "other"`` (see split.py), else all trainable parameters in one group;
- hyperparameters are validated in ``__init__`` (ValueError with a clear message); optbasin's own
  classes take their signature from their built-in catalog entry (declared.py) and check against
  it (``catalog.check_hparams``), unless optbasin builds them from values it checked against the
  entry in use (``build``, a trial: ``catalog.values_checked``);
- optional ``population_step`` (shell.py): the class's update rule on K stacked models;
- a tuple argument (torch's ``betas``) is declared as one hyperparameter per member plus the
  entry's ``tuples: {betas: [beta1, beta2]}``: the class gets ``betas=(beta1, beta2)``;
- ``needs_loss = True`` when ``step`` needs the batch loss: the trial then calls
  ``step(loss=loss_tensor)``; otherwise ``step()``;
- optional ``diagnostics() -> dict[str, float | Tensor]``: the last step's internals, read after
  each step, averaged over the log window and logged to steps.parquet as ``diag.<key>``; 0-d
  tensors are fine (and preferred on GPU: they are converted only when a row is logged).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from optbasin.optimizers.split import param_roles, split_groups


def needs_loss(optimizer: torch.optim.Optimizer) -> bool:
    return bool(getattr(optimizer, "needs_loss", False))


def diagnostics(optimizer: torch.optim.Optimizer) -> dict[str, Any]:
    fn = getattr(optimizer, "diagnostics", None)
    return dict(fn()) if fn is not None else {}


def build_from_class(
    cls: type[torch.optim.Optimizer],
    model: nn.Module,
    hparams: dict[str, Any],
    head: str | list[str] | None = "auto",
    matrix: list[str] = (),
    other: list[str] = (),
    tuples: dict[str, list[str]] | None = None,
) -> torch.optim.Optimizer:
    """``cls(params, **arguments)`` from ``hparams`` checked against the catalog entry in use (its
    ``tuples`` packed): the class's own check against a built-in entry is not repeated."""
    from optbasin.catalog import values_checked

    if getattr(cls, "hybrid", False):
        params: Any = split_groups(model, param_roles(model, head, matrix, other))
    else:
        params = [p for p in model.parameters() if p.requires_grad]
    with values_checked():
        return cls(params, **class_arguments(hparams, tuples or {}))


def class_arguments(hparams: dict[str, Any], tuples: dict[str, list[str]]) -> dict[str, Any]:
    """The class's keyword arguments: ``hparams`` with each tuple's members packed, in order."""
    packed = {m for members in tuples.values() for m in members}
    args = {k: v for k, v in hparams.items() if k not in packed}
    args.update({arg: tuple(hparams[m] for m in members) for arg, members in tuples.items()})
    return args


def build(name: str, model: nn.Module, catalog_dirs: list[str] = (), **hparams: Any) -> torch.optim.Optimizer:
    """Build catalog optimizer ``name`` for ``model``: the catalog's defaults, overridden by hparams,
    checked against the entry in use (a user catalog's replacement of a built-in, when given)."""
    from optbasin.catalog import Catalog, check_values, optimizer_class

    cat = Catalog.load(catalog_dirs)
    d = cat.optimizer(name)
    unknown = set(hparams) - set(d.hyperparameters)
    if unknown:
        raise ValueError(f"{name}: unknown hyperparameter(s) {sorted(unknown)}; known: {sorted(d.hyperparameters)}")
    values = {**d.defaults(), **{k: d.hyperparameters[k].coerce(v) for k, v in hparams.items()}}
    check_values(f"{name} ({d.source})" if d.source else name, d.hyperparameters, values)
    return build_from_class(optimizer_class(d.cls, cat.dirs), model, values, tuples=d.tuples)
