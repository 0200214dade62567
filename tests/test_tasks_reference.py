"""The reference losses tasks declare (optbasin/tasks/reference.py): known answers by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from optbasin.tasks.reference import bigram_loss, chance_loss


def test_bigram_loss_by_hand():
    """train 0 1 0 1 0 1 (vocab 3): add-one unigram p = (4, 4, 1) / 9; c(0) = 3, c(1) = 2 as a
    first token; pairs (0, 1) x 3, (1, 0) x 2. p(1 | 0) = (3 + 4/9) / (3 + 1) = 31/36 and the
    unseen p(2 | 1) = (0 + 1/9) / (2 + 1) = 1/27."""
    got = bigram_loss(np.array([0, 1, 0, 1, 0, 1]), np.array([0, 1]), np.array([1, 2]), vocab=3)
    assert got == pytest.approx(-(math.log(31 / 36) + math.log(1 / 27)) / 2)


def test_a_predictable_sequence_has_a_low_bigram_loss_and_noise_a_high_one():
    rng = np.random.default_rng(0)
    cyc = np.tile(np.arange(7), 2000)
    assert bigram_loss(cyc, cyc[:-1], cyc[1:], vocab=7) < 0.01
    noise = rng.integers(0, 7, 20000)
    assert bigram_loss(noise, noise[:-1], noise[1:], vocab=7) == pytest.approx(math.log(7), abs=0.01)


def test_tasks_declare_their_reference_and_floor():
    from optbasin.tasks.digits import make_mlp_task
    from optbasin.tasks.gpt import make_task
    from optbasin.tasks.quadratic import make_task as quadratic

    assert (
        make_mlp_task().reference_losses()["ref_loss"] == pytest.approx(chance_loss(10)) == pytest.approx(math.log(10))
    )
    q = quadratic(d_in=8, d_out=4)
    assert q.reference_losses()["floor_loss"] == pytest.approx(q.noise_floor)
    assert math.isnan(q.reference_losses()["ref_loss"])  # l0, taken per trial
    assert quadratic(d_in=8, d_out=4, excess=True).reference_losses()["floor_loss"] == 0.0
    ref = make_task().reference_losses()["ref_loss"]  # gpt-tiny: its own data's bigram loss
    assert 1.0 < ref < math.log(256)
