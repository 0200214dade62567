"""Learning-rate schedules against values computed by hand."""

from __future__ import annotations

import math

import pytest

from optbasin.config import Schedule
from optbasin.training.schedule import multiplier


def test_constant_with_warmup():
    s = Schedule(kind="constant", warmup=0.1)
    assert [multiplier(s, i, 100) for i in (0, 4, 9, 10, 99)] == [0.1, 0.5, 1.0, 1.0, 1.0]


def test_cosine_ends_at_final_ratio():
    s = Schedule(kind="warmup_cosine", warmup=0.0, final_ratio=0.1)
    assert multiplier(s, 99, 100) == pytest.approx(0.1)
    # halfway through: 0.1 + 0.9 * 0.5 * (1 + cos(pi * 0.5))
    assert multiplier(s, 49, 100) == pytest.approx(0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * 0.5)))


def test_linear_decay():
    s = Schedule(kind="warmup_linear", warmup=0.0, final_ratio=0.0)
    assert multiplier(s, 49, 100) == pytest.approx(0.5)
    assert multiplier(s, 99, 100) == pytest.approx(0.0)


def test_wsd_stable_then_decay_over_last_fraction():
    s = Schedule(kind="wsd", warmup=0.0, decay_frac=0.4, final_ratio=0.1)
    assert multiplier(s, 59, 100) == 1.0  # stable until 60% of the run
    assert multiplier(s, 79, 100) == pytest.approx(1 - 0.9 * 20 / 40)
    assert multiplier(s, 99, 100) == pytest.approx(0.1)
