"""Optimizers and the catalog entry point ``build(name, model, **hparams)``.

Contract for an optimizer class named in a catalog YAML (``class: module:Class``):
- a ``torch.optim.Optimizer`` subclass constructed as ``Class(params, **hparams)``;
- ``params`` are param groups: if the class sets ``hybrid = True`` it receives groups tagged
  ``kind: "matrix" | "other"`` (see split.py), else all trainable parameters in one group;
- hyperparameters are validated in ``__init__`` (ValueError with a clear message); optbasin's own
  classes check against their catalog entry (``catalog.check_hparams``), whose defaults equal
  their signatures (tests/test_optim_catalog.py);
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
) -> torch.optim.Optimizer:
    if getattr(cls, "hybrid", False):
        params: Any = split_groups(model, param_roles(model, head, matrix, other))
    else:
        params = [p for p in model.parameters() if p.requires_grad]
    return cls(params, **hparams)


def build(name: str, model: nn.Module, catalog_dirs: list[str] = (), **hparams: Any) -> torch.optim.Optimizer:
    """Build catalog optimizer ``name`` for ``model``: the catalog's defaults, overridden by hparams."""
    from optbasin.catalog import Catalog, optimizer_class

    cat = Catalog.load(catalog_dirs)
    d = cat.optimizer(name)
    unknown = set(hparams) - set(d.hyperparameters)
    if unknown:
        raise ValueError(f"{name}: unknown hyperparameter(s) {sorted(unknown)}; known: {sorted(d.hyperparameters)}")
    return build_from_class(optimizer_class(d.cls, cat.dirs), model, {**d.defaults(), **hparams})
