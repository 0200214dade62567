"""Euclidean Momo / Momo-Adam reproduce the momo-opt package (an independent implementation), to
the float32 drift of two code paths over the steps taken (tests/rounding.py), scaled by the
cancellation in Momo's step size: tau = (c (fbar - rho f_star) + <d, x> - c gam) / ||d||^2 sums
terms that nearly cancel, so the relative rounding of each term (log2(n) u) becomes
kappa = (|c fbar| + |c rho f_star| + |<d, x>| + |c gam|) / |numerator| times larger in tau. kappa
is recorded from optbasin's run (mean over its steps: the per-step errors add up)."""

import contextlib

import momo as momo_opt
import pytest
import torch
from torch import nn

import optbasin.optimizers.momo as momo_module
from optbasin.optimizers import build, diagnostics, needs_loss
from optbasin.optimizers.momo import Momo, MomoAdam
from tests.rounding import assert_params_agree

STEPS = 25


def _mlp():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(12, 24), nn.Tanh(), nn.Linear(24, 24), nn.Tanh(), nn.Linear(24, 5))


DATA = [
    (torch.randn(32, 12, generator=g), torch.randint(0, 5, (32,), generator=g))
    for g in [torch.Generator().manual_seed(1)]
    for _ in range(STEPS)
]


def _run(model, opt, lrs=None):
    truncated = []
    for i, (x, y) in enumerate(DATA):
        if lrs is not None:  # a schedule, applied as the trial does: group["lr"] on every group
            for g in opt.param_groups:
                g["lr"] = lrs[i]
        opt.zero_grad()
        loss = nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step(loss=loss)
        truncated.append(diagnostics(opt).get("truncated", None))
    return truncated


@contextlib.contextmanager
def cancellation(monkeypatch):
    """Record tau's cancellation factor kappa at every step of optbasin's Momo (the module docstring)."""
    kappas: list[float] = []
    step_size = momo_module.step_size

    def recorded(group, gs, fbar, dot, gam, norm, rho):
        c = 1 + group["lr"] * group["weight_decay"]
        terms = [c * fbar, c * rho * gs["f_star"], dot, c * gam]
        kappas.append(float(sum(t.abs() for t in terms) / (terms[0] - terms[1] + terms[2] - terms[3]).abs()))
        return step_size(group, gs, fbar, dot, gam, norm, rho)

    monkeypatch.setattr(momo_module, "step_size", recorded)
    yield kappas
    monkeypatch.undo()


def mean(xs):
    return sum(xs) / len(xs)


CASES = [
    (momo_opt.Momo, dict(lr=1.0), Momo, dict(lr=1.0)),
    (momo_opt.Momo, dict(lr=5.0), Momo, dict(lr=5.0)),  # large lr: truncation active
    (
        momo_opt.Momo,
        dict(lr=2.0, weight_decay=0.05, beta=0.8, bias_correction=True),
        Momo,
        dict(lr=2.0, weight_decay=0.05, momentum=0.8, bias_correction=True),
    ),
    (momo_opt.Momo, dict(lr=3.0, lb=0.4, use_fstar=True), Momo, dict(lr=3.0, f_star=0.4, fstar_online=True)),
    (momo_opt.MomoAdam, dict(lr=1e-2), MomoAdam, dict(lr=1e-2)),
    (
        momo_opt.MomoAdam,
        dict(lr=0.5, betas=(0.8, 0.99), eps=1e-6),
        MomoAdam,
        dict(lr=0.5, beta1=0.8, beta2=0.99, eps=1e-6),
    ),
    (
        momo_opt.MomoAdam,
        dict(lr=0.3, weight_decay=0.1, divide=False),
        MomoAdam,
        dict(lr=0.3, weight_decay=0.1, divide=False),
    ),
    (
        momo_opt.MomoAdam,
        dict(lr=0.3, weight_decay=0.1, lb=0.2, use_fstar=True),
        MomoAdam,
        dict(lr=0.3, weight_decay=0.1, f_star=0.2, fstar_online=True),
    ),
]


@pytest.mark.parametrize("ref_cls, ref_kw, cls, kw", CASES)
def test_reproduces_momo_opt(ref_cls, ref_kw, cls, kw, monkeypatch):
    a, b = _mlp(), _mlp()
    _run(a, ref_cls(a.parameters(), **ref_kw))
    with cancellation(monkeypatch) as kappas:
        _run(b, cls(b.parameters(), **kw))
    start = _mlp()
    for pa, p0 in zip(a.parameters(), start.parameters()):
        assert (pa - p0).abs().max() > 1e-2  # it moved
    assert_params_agree(b.parameters(), a.parameters(), STEPS, mean(kappas))


def test_truncation_is_exercised_and_logged():
    b = _mlp()
    flags = _run(b, Momo(b.parameters(), lr=5.0))
    assert 0 < sum(flags) < len(flags)  # both regimes occur in the comparison above


def test_scheduled_lr_matches_momo_opt(monkeypatch):
    lrs = [1.0 * (1 - i / STEPS) + 0.05 for i in range(STEPS)]
    a, b = _mlp(), _mlp()
    _run(a, momo_opt.MomoAdam(a.parameters(), lr=0.5, weight_decay=0.01), lrs)
    with cancellation(monkeypatch) as kappas:
        _run(b, MomoAdam(b.parameters(), lr=0.5, weight_decay=0.01), lrs)
    assert_params_agree(b.parameters(), a.parameters(), STEPS, mean(kappas))


def test_diagnostics_and_needs_loss():
    model = _mlp()
    opt = build("momo", model)
    assert needs_loss(opt)
    x, y = DATA[0]
    loss = nn.functional.cross_entropy(model(x), y)
    loss.backward()
    opt.step(loss=loss)
    d = diagnostics(opt)
    assert set(d) == {"tau_over_lr", "truncated"} and 0 < d["tau_over_lr"] <= 1
    with pytest.raises(ValueError, match="needs the batch loss"):
        opt.step()


def test_closure_form():
    a, b = _mlp(), _mlp()
    oa, ob = momo_opt.Momo(a.parameters(), lr=1.0), Momo(b.parameters(), lr=1.0)
    for x, y in DATA[:5]:
        for model, opt in ((a, oa), (b, ob)):

            def closure():
                opt.zero_grad()
                loss = nn.functional.cross_entropy(model(x), y)
                loss.backward()
                return loss

            opt.step(closure)
    assert_params_agree(b.parameters(), a.parameters(), 5)


def test_invalid_hyperparameter_named():
    with pytest.raises(ValueError, match=r"momentum=1.5 .*<= 1"):
        Momo(_mlp().parameters(), momentum=1.5)
    with pytest.raises(ValueError, match=r"beta2=1 "):
        MomoAdam(_mlp().parameters(), beta2=1)
