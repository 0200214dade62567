"""The paired randomization test, Holm's correction and the effect interval
(optbasin/analysis/significance.py), against answers worked by hand or by an independent
formula."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from scipy import stats

from optbasin.analysis.significance import (
    holm,
    seeds_needed,
    sign_flip_pvalues,
    smallest_p,
    studentized_interval,
    swap_pvalues,
    t_statistic,
)


def brute_t(d):
    """The one-sample t statistic, written out."""
    m = len(d)
    mean = sum(d) / m
    sd = math.sqrt(sum((x - mean) ** 2 for x in d) / (m - 1))
    return mean / (sd / math.sqrt(m))


def test_sign_flip_p_values_by_enumeration():
    """d = (1, 2, 3, -0.5): enumerate the 16 sign patterns by hand and count those whose t
    statistic is at least (at most) the observed one."""
    d = [1.0, 2.0, 3.0, -0.5]
    observed = brute_t(d)
    ts = [brute_t([s * x for s, x in zip(signs, d)]) for signs in itertools.product((1, -1), repeat=4)]
    greater = sum(t >= observed - 1e-12 for t in ts) / 16
    less = sum(t <= observed + 1e-12 for t in ts) / 16
    assert sign_flip_pvalues(np.array(d)) == (pytest.approx(greater), pytest.approx(less))
    assert greater == 2 / 16  # the observed pattern and the one that flips -0.5 alone


def test_all_seeds_agreeing_reach_the_smallest_p():
    for m in (3, 6, 8):
        d = np.arange(1.0, m + 1)
        assert sign_flip_pvalues(d) == (pytest.approx(2.0**-m), 1.0)
        assert smallest_p(m) == 2.0**-m


def test_monte_carlo_beyond_twelve_seeds():
    p_greater, p_less = sign_flip_pvalues(np.arange(1.0, 15.0))  # 14 seeds, all positive
    assert p_greater <= 3 / 10000 and p_less == 1.0


def test_swapping_raw_results_equals_sign_flips_for_a_per_seed_statistic():
    """With one grid point the recomputed statistic is the t statistic of a_j - b_j: the swap test
    and the sign-flip test must agree exactly."""
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(1, 7)), rng.normal(size=(1, 7)) + 0.5
    swap = swap_pvalues(a, b, lambda xa, xb: t_statistic(xa[:, 0, :] - xb[:, 0, :]))
    assert swap == pytest.approx(sign_flip_pvalues(a[0] - b[0]))


def test_t_statistic_matches_the_formula_and_handles_agreement():
    d = np.array([[0.3, -0.1, 0.7, 0.2], [1.0, 1.0, 1.0, 1.0], [0.0, 0.0, 0.0, 0.0]])
    t = t_statistic(d)
    assert t[0] == pytest.approx(brute_t(d[0]))
    assert t[0] == pytest.approx(stats.ttest_1samp(d[0], 0.0).statistic)
    assert t[1] == np.inf and t[2] == 0.0


def test_holm_by_hand():
    """p = 0.01, 0.04, 0.03 (F = 3): 3 x 0.01 = 0.03; 2 x 0.03 = 0.06; max(1 x 0.04, 0.06) = 0.06."""
    adj = holm(np.array([0.01, 0.04, 0.03, np.nan]))
    assert adj[:3] == pytest.approx([0.03, 0.06, 0.06]) and np.isnan(adj[3])
    assert holm(np.array([0.5, 0.9])) == pytest.approx([1.0, 1.0])


def test_seeds_needed():
    assert seeds_needed(0.05) == 5  # 2^-5 = 0.031 <= 0.05 < 2^-4
    assert seeds_needed(0.05 / 2) == 6  # one claim, both directions tested
    assert seeds_needed(0.05 / 40) == 10  # 10 claims x 2 tasks x 2 directions


def test_studentized_interval_contains_its_estimate_and_matches_the_t_interval_for_many_seeds():
    rng = np.random.default_rng(3)
    for m in (2, 3, 4, 5, 8):
        for _ in range(20):
            d = rng.exponential(size=m) - 0.3  # skewed
            lo, hi = studentized_interval(d, 0.95, 500)
            assert lo <= d.mean() <= hi
    d = rng.normal(1.0, 2.0, size=40)
    lo, hi = studentized_interval(d, 0.95, 4000)
    t_lo, t_hi = stats.t.interval(0.95, 39, loc=d.mean(), scale=stats.sem(d))
    assert lo == pytest.approx(t_lo, rel=0.15) and hi == pytest.approx(t_hi, rel=0.15)


def test_three_distinct_seeds_give_an_infinite_interval():
    """A resample drawing one seed three times (probability 3/27 = 1/9 > 2.5%) has no spread:
    its t* is infinite, so the 95% interval is unbounded, as 3 seeds warrant."""
    lo, hi = studentized_interval(np.array([1.0, 1.5, 3.0]), 0.95, 1000)
    assert lo == -np.inf and hi == np.inf
    assert studentized_interval(np.array([2.0, 2.0, 2.0]), 0.95, 1000) == (2.0, 2.0)
