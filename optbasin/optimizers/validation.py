"""Hyperparameter checks for optimizer constructors: ValueErrors that name the parameter, the value,
what is allowed and what the parameter means (scikit-learn style)."""

from __future__ import annotations

import math
from typing import Any


def _fail(owner: str, name: str, value: Any, allowed: str, meaning: str) -> None:
    raise ValueError(f"{owner}: {name}={value!r} is not allowed: expected {allowed} ({meaning})")


def check_number(owner: str, name: str, value: Any, meaning: str, *, gt: float | None = None,
                 ge: float | None = None, lt: float | None = None, le: float | None = None,
                 integer: bool = False) -> None:
    kind = "an int" if integer else "a number"
    bounds = [f"> {gt:g}" if gt is not None else "", f">= {ge:g}" if ge is not None else "",
              f"< {lt:g}" if lt is not None else "", f"<= {le:g}" if le is not None else ""]
    allowed = " ".join([kind] + [" and ".join(b for b in bounds if b)]).strip()
    types = (int,) if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, types) or (isinstance(value, float) and not math.isfinite(value)):
        _fail(owner, name, value, allowed, meaning)
    if ((gt is not None and not value > gt) or (ge is not None and not value >= ge)
            or (lt is not None and not value < lt) or (le is not None and not value <= le)):
        _fail(owner, name, value, allowed, meaning)


def check_choice(owner: str, name: str, value: Any, choices: tuple, meaning: str) -> None:
    if value not in choices or isinstance(value, bool) != isinstance(choices[0], bool):
        _fail(owner, name, value, "one of " + ", ".join(map(repr, choices)), meaning)


def check_bool(owner: str, name: str, value: Any, meaning: str) -> None:
    if not isinstance(value, bool):
        _fail(owner, name, value, "true or false", meaning)
