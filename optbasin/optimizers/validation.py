"""The one hyperparameter check of optbasin's optimizer classes: their catalog entry's definitions.

A built-in optimizer class names its catalog entry (``catalog_entry``); its constructor hands every
argument to ``check_hparams``, which runs ``HParamDef.check`` (the checker the sweep loader uses)
against that entry. Names, bounds and help are therefore written once, in the catalog YAML
(optbasin/optimizers/catalog), and a direct Python call is refused exactly as a sweep file is.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any


@lru_cache(maxsize=1)
def builtin_catalog():
    """The built-in catalog (read once per process)."""
    from optbasin.catalog import Catalog

    return Catalog.load()


def check_hparams(owner: type, entry: str, values: dict[str, Any]) -> None:
    """ValueError naming the class, the hyperparameter, the value and what is allowed, for the first
    value that entry ``entry`` of the built-in catalog refuses. An optional hyperparameter (declared
    without a default) may be None."""
    defs = builtin_catalog().optimizer(entry).hyperparameters
    for name, value in values.items():
        h = defs[name]
        if value is None and h.default is None:
            continue
        why = h.check(value)
        if why:
            raise ValueError(f"{owner.__name__}: {name}={value!r} is not allowed: {why}")
