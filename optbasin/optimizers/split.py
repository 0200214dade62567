"""Parameter split (docs/optimizers.md, section 0): which tensors an orthogonalizing method treats as matrices.

"matrix": ndim >= 2 and not an embedding (nn.Embedding, by module type) nor the output head (the
task names it; by default the last nn.Linear registered in the model). Conv weights count as
matrices (optimizers flatten them to (out, in*kh*kw)). Everything else is "other": biases, norm
gains, embeddings, the head. Parameters shared between modules (a tied embedding/head) are listed
once, under their first name, and an embedding wins. Overrides: regexes on parameter names.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from torch import nn

MATRIX, OTHER = "matrix", "other"


@dataclass(frozen=True)
class ParamRole:
    name: str
    shape: tuple[int, ...]
    role: str  # MATRIX or OTHER
    why: str


def default_head(model: nn.Module) -> str | None:
    """Name of the last nn.Linear module: the usual final projection to classes / vocabulary."""
    last = None
    for name, module in model.named_modules():
        if isinstance(module, nn.Linear):
            last = name
    return last


def param_roles(
    model: nn.Module,
    head: str | list[str] | None = "auto",
    matrix: list[str] = (),
    other: list[str] = (),
) -> list[ParamRole]:
    """Classify every trainable parameter of ``model`` (in registration order, duplicates once).

    head: module name(s) of the output head ("auto": the last nn.Linear; None: no head).
    matrix / other: regexes on parameter names that force a role (``other`` wins over ``matrix``).
    """
    heads = {default_head(model)} if head == "auto" else set([head] if isinstance(head, str) else head or [])
    embedding_params: set[int] = set()
    head_params: set[int] = set()
    for name, module in model.named_modules():
        if isinstance(module, nn.Embedding):
            embedding_params.update(id(p) for p in module.parameters(recurse=False))
        if name in heads:
            head_params.update(id(p) for p in module.parameters(recurse=False))
    roles, seen = [], set()
    for name, p in model.named_parameters():  # named_parameters already lists a shared tensor once
        if not p.requires_grad or id(p) in seen:
            continue
        seen.add(id(p))
        if any(re.search(rx, name) for rx in other):
            role, why = OTHER, "override (other)"
        elif any(re.search(rx, name) for rx in matrix):
            role, why = MATRIX, "override (matrix)"
        elif id(p) in embedding_params:
            role, why = OTHER, "embedding"
        elif id(p) in head_params:
            role, why = OTHER, "output head"
        elif p.ndim >= 2:
            role, why = MATRIX, f"{p.ndim}-D weight"
        else:
            role, why = OTHER, "bias/gain (1-D)" if p.ndim == 1 else "scalar"
        roles.append(ParamRole(name, tuple(p.shape), role, why))
    return roles


def split_groups(model: nn.Module, roles: list[ParamRole]) -> list[dict]:
    """Param groups tagged with ``kind`` (matrix first), empty groups left out."""
    params = dict(model.named_parameters())
    groups = []
    for kind in (MATRIX, OTHER):
        ps = [params[r.name] for r in roles if r.role == kind]
        if ps:
            groups.append({"params": ps, "kind": kind, "param_names": [r.name for r in roles if r.role == kind]})
    return groups
