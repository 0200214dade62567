"""What every hybrid (matrix / other) optimizer shares: param groups tagged with their kind."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from torch import Tensor

from optbasin.optimizers.shell import RuleOptimizer
from optbasin.optimizers.split import MATRIX, OTHER


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


class HybridOptimizer(RuleOptimizer):
    """Base of the optimizers that treat "matrix" and "other" parameter groups differently."""

    hybrid = True

    def groups_of(self, params: Any) -> list[dict]:
        return tag_groups(params)
