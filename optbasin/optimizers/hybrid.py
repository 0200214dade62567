"""What every hybrid (matrix / other) optimizer shares: group tagging, matrix views, optimizer-wide
state that survives state_dict(), diagnostics, and torch's AdamW for the "other" parameters."""

from __future__ import annotations

from typing import Any, Iterable

import torch
from torch import Tensor
from torch.optim.adamw import adamw as adamw_functional

from optbasin.optimizers.split import MATRIX, OTHER

GLOBAL = "global"  # key of the optimizer-wide entry in self.state (kept by state_dict: not a tensor key)


def tag_groups(params: Iterable[Any]) -> list[dict]:
    """Param groups with a ``kind``. Groups from split.py keep theirs; plain tensors or untagged
    groups are split by dimension (ndim >= 2: matrix), for direct use without the catalog."""
    items = list(params)
    if not items:
        raise ValueError("optimizer got an empty parameter list")
    groups = [{"params": items}] if isinstance(items[0], Tensor) else [dict(g) for g in items]
    tagged = []
    for g in groups:
        g["params"] = list(g["params"]) if not isinstance(g["params"], Tensor) else [g["params"]]
        if "kind" in g:
            if g["kind"] not in (MATRIX, OTHER):
                raise ValueError(f"param group kind={g['kind']!r} is not allowed: expected 'matrix' or 'other'")
            tagged.append(g)
            continue
        names = g.get("param_names")
        for kind, keep in ((MATRIX, lambda p: p.ndim >= 2), (OTHER, lambda p: p.ndim < 2)):
            idx = [i for i, p in enumerate(g["params"]) if keep(p)]
            if idx:
                part = {**g, "params": [g["params"][i] for i in idx], "kind": kind}
                if names is not None:
                    part["param_names"] = [names[i] for i in idx]
                tagged.append(part)
    return tagged


class HybridOptimizer(torch.optim.Optimizer):
    """Base of the optimizers that treat "matrix" and "other" parameter groups differently."""

    hybrid = True
    needs_loss = False

    def __init__(self, params: Iterable[Any], defaults: dict[str, Any]) -> None:
        super().__init__(tag_groups(params), defaults)
        self._diag: dict[str, Any] = {}

    @property
    def global_state(self) -> dict[str, Any]:
        """Optimizer-wide state (step count, loss EMA ...): saved and restored by state_dict()."""
        return self.state[GLOBAL]

    def groups(self, kind: str) -> list[dict]:
        return [g for g in self.param_groups if g["kind"] == kind]

    def diagnostics(self) -> dict[str, float | Tensor]:
        """Last step's internals (0-d tensors stay on the device: the trial converts them only
        when it logs, so stepping adds no device sync)."""
        return dict(self._diag)

    def _with_grad(self, group: dict) -> list[Tensor]:
        return [p for p in group["params"] if p.grad is not None]

    def _adamw(self, group: dict, lr: float, beta1: float, beta2: float, eps: float, weight_decay: float) -> None:
        """torch's AdamW (functional form, bias-corrected) on ``group``, state in self.state[p]."""
        params = self._with_grad(group)
        if not params:
            return
        for p in params:
            st = self.state[p]
            if "exp_avg" not in st:
                st["step"] = torch.tensor(0.0, dtype=torch.float32)
                st["exp_avg"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                st["exp_avg_sq"] = torch.zeros_like(p, memory_format=torch.preserve_format)
        adamw_functional(
            params, [p.grad for p in params], [self.state[p]["exp_avg"] for p in params],
            [self.state[p]["exp_avg_sq"] for p in params], [], [self.state[p]["step"] for p in params],
            amsgrad=False, beta1=beta1, beta2=beta2, lr=lr, weight_decay=weight_decay, eps=eps, maximize=False,
        )

    def _closure_loss(self, closure) -> Any:
        if closure is None:
            return None
        with torch.enable_grad():
            return closure()
