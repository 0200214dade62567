"""A built-in optimizer's hyperparameters are declared once: in its catalog entry
(optbasin/optimizers/catalog/<name>.yaml: name, default, bounds, help; a preset by ``extends:``).

``@declared("namo")`` gives the class that entry's signature: ``params``, then one keyword argument
per hyperparameter with the entry's default (None where it declares none). ``inspect.signature``,
``optbasin validate`` (class_check.py) and the population engine read it; nothing repeats the list.
``hparams_for(cls, given)`` is what a constructor does with its keyword arguments: the entry's
defaults, overridden by ``given``, checked against the entry (catalog.check_hparams: skipped when
optbasin constructs the class from values it checked against the entry in use).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from optbasin.catalog import builtin, check_hparams

KEYWORD = inspect.Parameter.KEYWORD_ONLY


def declared(entry: str) -> Callable[[type], type]:
    """Class decorator: the class takes built-in entry ``entry``'s hyperparameters."""

    def wrap(cls: type) -> type:
        d = builtin().optimizer(entry)
        params = [inspect.Parameter("params", inspect.Parameter.POSITIONAL_OR_KEYWORD)]
        params += [inspect.Parameter(k, KEYWORD, default=h.default) for k, h in d.hyperparameters.items()]
        cls.catalog_entry = entry
        cls.__signature__ = inspect.Signature(params)
        return cls

    return wrap


def hparams_for(cls: type, given: dict[str, Any]) -> dict[str, Any]:
    """Every hyperparameter of ``cls``: its entry's defaults overridden by ``given``, checked."""
    defaults = {k: p.default for k, p in inspect.signature(cls).parameters.items() if k != "params"}
    unknown = sorted(set(given) - set(defaults))
    if unknown:
        raise TypeError(
            f"{cls.__name__} got unexpected hyperparameter(s) {', '.join(unknown)}; it takes: {', '.join(defaults)}"
        )
    values = {**defaults, **given}
    check_hparams(cls, cls.catalog_entry, values)
    return values
