"""Fair comparisons: a claim compares two optimizers, so any hyperparameter both have should run
with one value, or be swept. ``unmatched_hyperparameters`` lists, per compared pair, the shared
hyperparameters whose fixed values differ (weight decay 0.0 for adamw vs 0.1 for muon, say), so
that ``optbasin validate`` can warn before a sweep compares differently regularised methods.

Values are resolved as a trial resolves them (catalog default < ``shared`` < the entry's
``hparams``); hyperparameters in the entry's grid are swept and not compared; a value a preset
fixes (one allowed choice, e.g. MuonMax's aggregation) defines the method and is not compared.
"""

from __future__ import annotations

from typing import Any

from optbasin.catalog import Catalog
from optbasin.config import SweepSpec
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


def unmatched_hyperparameters(spec: SweepSpec, catalog: Catalog, pairs: list[tuple[str, str, str]]
                              ) -> list[Problem]:
    """One warning per (claim, hyperparameter) where the two compared optimizers run with different
    unswept values. ``pairs``: (where, label A, label B), ``where`` naming the claim in the file."""
    labels = {o.key for o in spec.optimizers}
    warnings = []
    for where, a, b in pairs:
        if a not in labels or b not in labels:
            continue  # an unknown label is the claims check's to report
        (va, swept_a, set_a), (vb, swept_b, set_b) = (_fixed_values(spec, catalog, x) for x in (a, b))
        for k in sorted(set(va) & set(vb)):
            if k in swept_a or k in swept_b or va[k] == vb[k]:
                continue
            origin = {a: "set in the sweep" if k in set_a else "its default",
                      b: "set in the sweep" if k in set_b else "its default"}
            warnings.append(Problem(spec.source, where, (
                f"{a} runs with {k}={va[k]!r} ({origin[a]}) and {b} with {k}={vb[k]!r} ({origin[b]}), unswept: "
                f"the comparison includes this difference; set one value (shared: {{{k}: ...}}) or sweep it")))
    return warnings
