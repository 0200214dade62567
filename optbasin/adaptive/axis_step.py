"""The next value of a grid axis beyond its edge, and the log-midpoint of two lrs (adaptive.py).

An axis keeps its own spacing: a log axis (lr, or a hyperparameter declared ``log: true``, or a
``log_range`` axis) steps by the ratio of its two outermost values, a linear axis by their
difference. A step never crosses a bound the catalog declares (gt/ge/lt/le): it stops at a closed
bound (ge/le) and halfway to an open one (gt/lt); an edge already at a closed bound is no edge
(the optimum is interior to what the hyperparameter allows), and nothing is added there.
Values are kept to 6 significant digits, as config.LogRange writes its points.
"""

from __future__ import annotations

import math

from optbasin.config import HParamDef

DIGITS = 6


def rounded(x: float) -> float:
    return float(f"{x:.{DIGITS}g}")


def beyond(values: list[float], side: str, log: bool, h: HParamDef) -> float | None:
    """The value past ``side`` ("low" | "high") of the sorted distinct ``values`` (at least two), or
    None where the edge is at a declared bound or no new value fits before it."""
    if len(values) < 2:
        return None
    edge, inner = (values[-1], values[-2]) if side == "high" else (values[0], values[1])
    if h.at_closed_bound(edge, side):
        return None
    closed, opened = (h.le, h.lt) if side == "high" else (h.ge, h.gt)
    use_log = log and edge > 0 and inner > 0
    nxt = edge * (edge / inner) if use_log else edge + (edge - inner)
    past = (lambda b: nxt > b) if side == "high" else (lambda b: nxt < b)
    if closed is not None and past(closed):
        nxt = closed
    if opened is not None and (past(opened) or nxt == opened):
        nxt = math.sqrt(edge * opened) if use_log and opened > 0 else (edge + opened) / 2
    nxt = int(math.ceil(nxt) if side == "high" else math.floor(nxt)) if h.type == "int" else rounded(nxt)
    return nxt if nxt != edge and h.check(nxt) is None else None


def log_midpoint(a: float, b: float) -> float:
    """The lr halfway between a and b in log10 lr."""
    return rounded(math.sqrt(a * b))


def decades(a: float, b: float) -> float:
    return abs(math.log10(b) - math.log10(a))
