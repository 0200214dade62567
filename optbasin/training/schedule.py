"""Learning-rate schedules as a multiplier of the base lr: lr_t = lr * multiplier(t)."""

from __future__ import annotations

import math

from optbasin.config import Schedule


def multiplier(s: Schedule, step: int, total: int) -> float:
    """Multiplier at ``step`` (0-based) of a run of ``total`` steps."""
    warmup = int(round(s.warmup * total))
    if step < warmup:
        return (step + 1) / warmup
    if s.kind == "constant":
        return 1.0
    if s.kind == "wsd":
        decay_start = total - int(round(s.decay_frac * total))
        if step < max(decay_start, warmup):
            return 1.0
        progress = (step - max(decay_start, warmup) + 1) / max(1, total - max(decay_start, warmup))
        return 1.0 - (1.0 - s.final_ratio) * progress
    progress = (step - warmup + 1) / max(1, total - warmup)  # in (0, 1]
    if s.kind == "warmup_cosine":
        return s.final_ratio + (1.0 - s.final_ratio) * 0.5 * (1.0 + math.cos(math.pi * progress))
    return 1.0 - (1.0 - s.final_ratio) * progress  # warmup_linear
