"""Fair comparisons: two compared optimizers should run what means the same with one value, or
sweep it. ``unmatched_hyperparameters`` lists, per compared pair, the hyperparameters of one
declared role (config.ROLES: ``role:`` in a catalog entry) whose fixed values differ, whatever
their names: AdamW's beta1 and Muon's momentum are both ``momentum``; Lion's beta2 (its momentum)
is not compared with AdamW's beta2 (``second_moment``). Weight decay is compared in kind and
amount: coupled (L2) and decoupled decay differ even at one value, and an optimizer without one
applies none. A hyperparameter without a role is not compared; an entry declaring no role at all
is named, so that the silence is not read as fairness.

Values are resolved as a trial resolves them (catalog default < ``shared`` < the entry's
``hparams``); hyperparameters in the entry's grid are swept and not compared; a value a preset
fixes (one allowed choice, e.g. MuonMax's aggregation) defines the method and is not compared.
"""

from __future__ import annotations

from typing import Any

from optbasin.catalog import Catalog
from optbasin.config import ROLES, SweepSpec
from optbasin.errors import Problem


def _fixed_values(spec: SweepSpec, catalog: Catalog, label: str) -> tuple[dict[str, Any], set[str], set[str]]:
    """(values a trial of entry ``label`` runs with, names it sweeps, names the sweep file sets)."""
    from optbasin.sweeps.spec import trial_spec

    entry = next(o for o in spec.optimizers if o.key == label)
    trial = trial_spec(spec, catalog, spec.tasks[0], entry, {}, spec.seeds[0])
    d = catalog.optimizer(entry.name)
    preset = {k for k, h in d.hyperparameters.items() if h.choices is not None and len(h.choices) == 1}
    set_here = set(entry.hparams) | (set(spec.shared) & set(d.hyperparameters))
    return {k: v for k, v in trial.hparams.items() if k not in preset}, set(entry.grid), set_here


DECAY = ("decoupled_weight_decay", "coupled_weight_decay")
DECAY_KIND = {"decoupled_weight_decay": "decoupled", "coupled_weight_decay": "coupled L2"}


def unmatched_hyperparameters(spec: SweepSpec, catalog: Catalog, pairs: list[tuple[str, str, str]]) -> list[Problem]:
    """One warning per (claim, role) where the two compared optimizers run with different unswept
    values. ``pairs``: (where, label A, label B), ``where`` naming the claim in the file."""
    labels = {o.key for o in spec.optimizers}
    warnings = []
    for where, a, b in pairs:
        if a not in labels or b not in labels:
            continue  # an unknown label is the claims check's to report
        sides = {x: _side(spec, catalog, x) for x in (a, b)}
        for x, y in ((a, b), (b, a)):
            if not any(h.role for h in catalog.optimizer(_name(spec, x)).hyperparameters.values()):
                warnings.append(
                    Problem(
                        spec.source,
                        where,
                        (
                            f"{x} declares no role for its hyperparameters: none of them is compared with {y}'s; "
                            f"declare what each is in its catalog entry (role: {', '.join(ROLES)})"
                        ),
                    )
                )
        (va, roles_a, swept_a, _), (vb, roles_b, swept_b, _) = sides[a], sides[b]
        for role in sorted((set(roles_a) & set(roles_b)) - set(DECAY)):
            ka, kb = roles_a[role], roles_b[role]
            if ka in swept_a or kb in swept_b or va[ka] == vb[kb]:
                continue
            fix = f"shared: {{{ka}: ...}}" if ka == kb else f"{a}'s {ka} and {b}'s {kb} in their entries' hparams"
            warnings.append(
                Problem(
                    spec.source,
                    where,
                    (
                        f"{a} runs with {ka}={va[ka]!r} ({_said(sides[a], ka)}) and "
                        f"{b} with {kb}={vb[kb]!r} ({_said(sides[b], kb)}), "
                        f"unswept, both the {role.replace('_', ' ')}: the comparison includes this difference; "
                        f"set one value ({fix}) or sweep it"
                    ),
                )
            )
        decay = {x: {r: k for r, k in sides[x][1].items() if r in DECAY} for x in (a, b)}
        if any(k in sides[x][2] for x in (a, b) for k in decay[x].values()):
            continue  # a swept weight decay is compared over its values
        applied = {x: {r: sides[x][0][k] for r, k in decay[x].items() if sides[x][0][k] != 0} for x in (a, b)}
        if applied[a] != applied[b]:
            warnings.append(
                Problem(
                    spec.source,
                    where,
                    (
                        f"{a} runs with {_described(sides[a], decay[a])} and "
                        f"{b} with {_described(sides[b], decay[b])}, unswept: the comparison includes "
                        "this difference in regularisation; give both one kind and value of weight decay, or sweep it"
                    ),
                )
            )
    return warnings


def _said(side: tuple, k: str) -> str:
    """Where a side's value of ``k`` comes from (side: ``_side``'s tuple)."""
    return "set in the sweep" if k in side[3] else "its default"


def _described(side: tuple, decay: dict[str, str]) -> str:
    """A side's weight decay in words (decay: role -> hyperparameter name)."""
    values = side[0]
    return (
        ", ".join(f"{k}={values[k]!r} ({DECAY_KIND[r]} weight decay, {_said(side, k)})" for r, k in decay.items())
        or "no weight decay"
    )


def _name(spec: SweepSpec, label: str) -> str:
    return next(o.name for o in spec.optimizers if o.key == label)


def _side(spec: SweepSpec, catalog: Catalog, label: str) -> tuple[dict[str, Any], dict[str, str], set[str], set[str]]:
    """(values, role -> hyperparameter name (roles of compared values only), swept, set here) of ``label``."""
    values, swept, set_here = _fixed_values(spec, catalog, label)
    d = catalog.optimizer(_name(spec, label))
    roles = {h.role: k for k, h in d.hyperparameters.items() if h.role is not None and (k in values or k in swept)}
    return values, roles, swept, set_here
