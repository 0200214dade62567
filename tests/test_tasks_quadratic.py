"""The quadratic task: learning, determinism, Hessian structures, exact evaluation, split."""

import pytest
import torch

from optbasin.optimizers.split import MATRIX, param_roles
from optbasin.tasks.common import quick_train
from optbasin.tasks.quadratic import make_task
from tests.conftest import adamw


@pytest.mark.parametrize("hessian", ["block", "shared", "dense"])
def test_learns(hessian):
    task = make_task(hessian=hessian, excess=True)
    first, last, _ = quick_train(task, adamw(3e-3), steps=300)
    assert last < 0.1 * first
    plain = make_task(hessian=hessian)  # population MSE: the noise floor stays
    first, last, _ = quick_train(plain, adamw(3e-3), steps=300)
    assert plain.noise_floor < last < 0.5 * first


def test_same_seed_same_numbers_different_seed_differs():
    task = make_task()
    a, b, c = (quick_train(task, adamw(3e-3), steps=20, seed=s) for s in (0, 0, 1))
    assert a == b
    assert a[0] != c[0] and a[2] != c[2]  # different init and different samples
    x0, _ = next(make_task().train_batches(0, torch.device("cpu")))
    x1, _ = next(make_task().train_batches(1, torch.device("cpu")))
    assert torch.equal(x0, next(task.train_batches(0, torch.device("cpu")))[0]) and not torch.equal(x0, x1)


def test_problem_is_fixed_by_problem_seed_not_trial_seed():
    assert torch.equal(make_task().target, make_task().target)
    assert not torch.equal(make_task().target, make_task(problem_seed=1).target)


def test_evaluate_is_the_population_loss():
    task = make_task(d_in=8, d_out=4, batch_size=20000, noise=0.3, noise_spread=4.0)
    model = task.build_model(0)
    x, y = next(task.train_batches(0, torch.device("cpu")))
    empirical = float(torch.nn.functional.mse_loss(model(x), y).detach())
    assert abs(empirical - task.evaluate(model, torch.device("cpu"))) < 0.05 * empirical
    assert task.evaluate(model, "cpu") - make_task(d_in=8, d_out=4, noise=0.3, noise_spread=4.0, excess=True).evaluate(
        model, "cpu"
    ) == pytest.approx(task.noise_floor)


def test_hessian_structure():
    def hessian(task):
        model = task.build_model(0)
        x, y = next(task.train_batches(0, torch.device("cpu")))
        w = model.weight.detach().clone()

        def f(w):
            return torch.nn.functional.mse_loss(torch.func.functional_call(model, {"weight": w}, (x,)), y)

        return torch.autograd.functional.hessian(f, w).reshape(w.numel(), w.numel())

    kw = dict(d_in=4, d_out=3, batch_size=64)
    for kind in ("block", "shared", "dense"):
        h = hessian(make_task(hessian=kind, **kw))
        blocks = [h[4 * i : 4 * i + 4, 4 * i : 4 * i + 4] for i in range(3)]
        off = h.clone()
        for i in range(3):
            off[4 * i : 4 * i + 4, 4 * i : 4 * i + 4] = 0
        if kind == "dense":
            assert off.abs().max() > 1e-3
        else:
            assert off.abs().max() < 1e-6  # block-diagonal by output neuron
            same = torch.allclose(blocks[0], blocks[1]) and torch.allclose(blocks[1], blocks[2])
            assert same == (kind == "shared")


def test_the_weight_is_a_matrix_and_there_is_no_head():
    task = make_task()
    roles = param_roles(task.build_model(0), task.head)
    assert [(r.name, r.role) for r in roles] == [("weight", MATRIX)]


def test_bad_params_are_named():
    with pytest.raises(ValueError, match="hessian"):
        make_task(hessian="diagonal")
    with pytest.raises(ValueError, match="cond"):
        make_task(cond=0.5)
