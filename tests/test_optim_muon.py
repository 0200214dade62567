"""Muon against torch.optim.Muon (an independent implementation) and torch.optim.AdamW."""

import pytest
import torch
from torch import nn

from optbasin.optimizers import build
from optbasin.optimizers.muon import Muon
from tests.rounding import U_BF16, assert_params_agree, drift


def _mlp(seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Linear(12, 24), nn.Tanh(), nn.Linear(24, 24), nn.Tanh(), nn.Linear(24, 8), nn.Tanh(), nn.Linear(8, 5)
    )


def _batches(n=12, seed=1):
    g = torch.Generator().manual_seed(seed)
    return [(torch.randn(32, 12, generator=g), torch.randint(0, 5, (32,), generator=g)) for _ in range(n)]


def _train(model, opts, batches):
    for x, y in batches:
        for o in opts:
            o.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        for o in opts:
            o.step()


HP = dict(lr=0.03, weight_decay=0.1, momentum=0.9)


BF16_STEPS = 3  # the first steps: bf16 rounding differences are not yet amplified by the trajectory


def _agree_to_bf16_drift(got, want, start, steps):
    """torch.optim.Muon orthogonalizes in bf16, and so does ours here: the same rule, rounded
    differently (batched products, no fused multiply-add), and a float32 difference of one ulp can
    move a bf16 rounding of Orth by one bf16 ulp. So the two agree to the drift of tests/rounding.py
    with bf16's unit roundoff, relative to the distance travelled (the sum of the Orth steps), n
    the longest contraction of NS5 (a matrix's larger side)."""
    for g, w, p0 in zip(got, want, start):
        n = max(w.reshape(w.shape[0], -1).shape)
        assert (g - w).norm() <= drift(steps, n, U_BF16) * (w - p0).norm()


@pytest.mark.parametrize("adjust", ["original", "match_rms_adamw"])
@pytest.mark.parametrize("nesterov", [True, False])
def test_matches_torch_muon_in_bf16(adjust, nesterov):
    a, b = _mlp(), _mlp()
    mats_a = [p for p in a.parameters() if p.ndim == 2]
    mats_b = [p for p in b.parameters() if p.ndim == 2]
    start = [p.detach().clone() for p in mats_a]
    ref = torch.optim.Muon(mats_a, adjust_lr_fn=adjust, nesterov=nesterov, **HP)
    ours = Muon(
        [{"params": mats_b, "kind": "matrix"}], adjust_lr_fn=adjust, nesterov=nesterov, orth_dtype="bfloat16", **HP
    )
    batches = _batches(BF16_STEPS)
    _train(a, [ref], batches)
    _train(b, [ours], batches)
    _agree_to_bf16_drift(mats_b, mats_a, start, BF16_STEPS)


def test_matches_torch_muon_fp32_within_tolerance():
    """In fp32 the NS5 output differs from torch's bf16 one: bf16 keeps 8 mantissa bits and NS5 (five
    unconverged iterations) amplifies the rounding to ~5% of a typical entry. We compare the
    displacement from the start: equal to 10% relative (and not bit-identical: a real comparison)."""
    a, b = _mlp(), _mlp()
    start = [p.detach().clone() for p in a.parameters() if p.ndim == 2]
    mats_a = [p for p in a.parameters() if p.ndim == 2]
    mats_b = [p for p in b.parameters() if p.ndim == 2]
    ref = torch.optim.Muon(mats_a, **HP)
    ours = Muon([{"params": mats_b, "kind": "matrix"}], adjust_lr_fn="original", orth_dtype="float32", **HP)
    batches = _batches()
    _train(a, [ref], batches)
    _train(b, [ours], batches)
    for pa, pb, p0 in zip(mats_a, mats_b, start):
        moved = (pa - p0).norm()
        assert (pa - pb).norm() < 0.1 * moved
        assert not torch.equal(pa, pb)


def test_other_params_follow_torch_adamw():
    a, b = _mlp(), _mlp()
    mats_a = [p for p in a.parameters() if p.ndim == 2]
    rest_a = [p for p in a.parameters() if p.ndim < 2]
    ref = [
        torch.optim.Muon(mats_a, adjust_lr_fn="match_rms_adamw", **HP),
        torch.optim.AdamW(rest_a, lr=HP["lr"] * 0.5, betas=(0.8, 0.9), eps=1e-6, weight_decay=0.01),
    ]
    ours = Muon(
        b.parameters(),
        orth_dtype="bfloat16",
        adamw_beta1=0.8,
        adamw_beta2=0.9,
        adamw_eps=1e-6,
        adamw_wd=0.01,
        adamw_lr_ratio=0.5,
        **HP,
    )  # untagged params: split by ndim
    start = [p.detach().clone() for p in a.parameters()]
    batches = _batches(BF16_STEPS)
    _train(a, ref, batches)
    _train(b, [ours], batches)
    _agree_to_bf16_drift(list(b.parameters()), list(a.parameters()), start, BF16_STEPS)


def test_conv_weight_flattened_to_out_by_rest():
    torch.manual_seed(0)
    w4 = torch.randn(6, 3, 3, 3)
    w2 = w4.clone().reshape(6, 27).requires_grad_()
    w4.requires_grad_()
    ref = torch.optim.Muon([w2], adjust_lr_fn="original", **HP)
    ours = Muon([{"params": [w4], "kind": "matrix"}], adjust_lr_fn="original", orth_dtype="bfloat16", **HP)
    for _ in range(4):
        g = torch.randn(6, 3, 3, 3)
        w4.grad, w2.grad = g.clone(), g.reshape(6, 27).clone()
        ref.step()
        ours.step()
    # the gradients are given (not computed from the weights): the same Orth inputs every step, so
    # only the float32 rounding of the updates differs, and it is not amplified
    assert_params_agree([w4.detach().reshape(6, 27)], [w2.detach()], 4)


def _one_step(**hp) -> list[torch.Tensor]:
    model = _mlp()
    opt = build("muon", model, **hp)
    for p in model.parameters():
        p.grad = torch.ones_like(p)
    opt.step()
    return [p.detach() for p in model.parameters()]


def test_adamw_wd_defaults_to_weight_decay_and_build_works():
    unset, same, other = (
        _one_step(weight_decay=0.05),
        _one_step(weight_decay=0.05, adamw_wd=0.05),
        _one_step(weight_decay=0.05, adamw_wd=0.5),
    )
    assert all(torch.equal(a, b) for a, b in zip(unset, same))  # unset adamw_wd: the "other" params decay by 0.05
    assert not all(torch.equal(a, b) for a, b in zip(unset, other))
    model = _mlp()
    kinds = {g["kind"]: g for g in build("muon", model, weight_decay=0.05).param_groups}
    assert kinds["matrix"]["weight_decay"] == 0.05
    # the head (last Linear) and biases are "other"
    assert kinds["matrix"]["param_names"] == ["0.weight", "2.weight", "4.weight"]


@pytest.mark.parametrize(
    "bad, words",
    [
        (dict(momentum=1.0), ["momentum=1.0", "< 1", "EMA"]),
        (dict(lr=-1.0), ["lr=-1.0", "> 0", "learning rate"]),
        (dict(orth="qr"), ["orth='qr'", "'ns5'", "'svd'"]),
        (dict(adjust_lr_fn="none"), ["adjust_lr_fn='none'", "'original'"]),
        (dict(ns_steps=0), ["ns_steps=0", ">= 1"]),
    ],
)
def test_invalid_hyperparameters_are_named(bad, words):
    with pytest.raises(ValueError) as e:
        Muon(_mlp().parameters(), **bad)
    for w in words:
        assert w in str(e.value)
