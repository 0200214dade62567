"""A catalog entry against its class: the hyperparameters it declares against the class's signature.

``optbasin validate`` and the sweep loader import an entry's class and call ``signature_problems``,
so that an entry declaring an argument its class does not take (``momentum`` for
``torch.optim:RAdam``), or missing one the class requires, is refused before any trial runs:

- every declared hyperparameter (or ``tuples`` argument) must be a keyword argument of the class,
  unless the class takes ``**kwargs`` (then it cannot be told);
- a class argument whose default is a tuple (torch's ``betas``) must be declared as a tuple of
  that length (``tuples: {betas: [beta1, beta2]}``), not as one scalar hyperparameter;
- every argument the class requires (no default) must be declared with a default.
"""

from __future__ import annotations

import inspect

from optbasin.config import OptimizerDef
from optbasin.errors import Problem

NAMED = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)


def signature_problems(d: OptimizerDef, cls: type, file: str) -> list[Problem]:
    """Every mismatch between entry ``d`` (read from ``file``) and its class ``cls``."""
    try:
        sig = inspect.signature(cls)
    except (TypeError, ValueError):  # a class without a signature Python can read: nothing to check
        return []
    params = list(sig.parameters.values())
    named = {p.name: p for p in params[1:] if p.kind in NAMED}  # the first is the parameters to optimize
    open_kwargs = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params)
    packed = {m for members in d.tuples.values() for m in members}
    arguments = [*(k for k in d.hyperparameters if k not in packed), *d.tuples]
    takes = ", ".join(named) or "(no keyword arguments)"
    problems = []
    for arg in arguments:
        field = f"tuples.{arg}" if arg in d.tuples else f"hyperparameters.{arg}"
        if arg not in named:
            if not open_kwargs:
                problems.append(Problem(file, field, f"{d.cls} takes no argument {arg!r}; it takes: {takes}"))
            continue
        default = named[arg].default
        if arg in d.tuples:
            n = len(d.tuples[arg])
            if isinstance(default, tuple) and len(default) != n:
                problems.append(
                    Problem(
                        file,
                        field,
                        f"{d.cls} takes {arg} as a tuple of {len(default)} (default {default!r}), not of {n}",
                    )
                )
        elif isinstance(default, tuple):
            stem = arg[:-1] if arg.endswith("s") else arg  # betas: beta1, beta2
            names = ", ".join(f"{stem}{i + 1}" for i in range(len(default)))
            problems.append(
                Problem(
                    file,
                    field,
                    (
                        f"{d.cls} takes {arg} as a tuple (default {default!r}): declare one hyperparameter per member "
                        f"and pack them, e.g. hyperparameters {names} and tuples: {{{arg}: [{names}]}}"
                    ),
                )
            )
    for arg, p in named.items():
        declared = arg in d.tuples or (arg in d.hyperparameters and arg not in packed)
        if p.default is inspect.Parameter.empty and (
            not declared or (arg in d.hyperparameters and d.hyperparameters[arg].default is None)
        ):
            problems.append(
                Problem(file, f"hyperparameters.{arg}", f"{d.cls} requires argument {arg!r}: declare it with a default")
            )
    return problems
