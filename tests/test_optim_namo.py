"""NAMO / NAMO-D against the reference formulas (section 4), computed here in float64 with an exact
SVD polar factor, matrix by matrix and column by column."""

import math

import pytest
import torch

from optbasin.catalog import values_checked
from optbasin.optimizers.namo import NAMO, NAMOD
from tests.rounding import assert_params_agree

SHAPES = {"w1": (6, 4), "w2": (5, 6), "w3": (5, 6), "conv": (3, 2, 2, 2)}


def _problem(steps, seed=0, zero_column=False):
    g = torch.Generator().manual_seed(seed)
    params = {k: torch.randn(*s, generator=g, dtype=torch.float64) for k, s in SHAPES.items()}
    grads = [
        {k: torch.randn(*s, generator=g, dtype=torch.float64) * (1 + t) for k, s in SHAPES.items()}
        for t in range(steps)
    ]
    if zero_column:
        for G in grads:
            G["w1"][:, 1] = 0
    return params, grads


def _polar(m):
    u, _, vh = torch.linalg.svd(m, full_matrices=False)
    return u @ vh


def reference(kind, steps, lr, mu1=0.95, mu2=0.99, eps=1e-8, wd=0.1, c=0.75, nesterov=True, cap=True, **kw):
    params, grads = _problem(steps, **kw)
    W = {k: v.reshape(v.shape[0], -1).clone() for k, v in params.items()}
    M = {k: torch.zeros_like(W[k]) for k in W}
    v = {
        k: torch.zeros((), dtype=torch.float64) if kind == "namo" else torch.zeros(W[k].shape[1], dtype=torch.float64)
        for k in W
    }
    for t in range(1, steps + 1):
        bc1, bc2 = 1 - mu1**t, 1 - mu2**t
        for k in W:
            G = grads[t - 1][k].reshape(W[k].shape)
            M[k] = mu1 * M[k] + (1 - mu1) * G
            Mt = (1 - mu1) * G + mu1 * M[k] if nesterov else M[k]
            O = _polar(Mt)
            m, n = W[k].shape
            if kind == "namo":
                v[k] = mu2 * v[k] + (1 - mu2) * (G**2).sum()
                alpha = lr * math.sqrt(bc2) / (bc1 + 1e-12) * Mt.norm() / (v[k].sqrt() + eps)
                if cap:
                    W[k] = W[k] * (1 - wd * min(alpha, 1))
                    W[k] = W[k] - min(alpha * 0.2 * math.sqrt(max(m, n)), 1) * O
                else:
                    W[k] = W[k] - lr * (alpha / lr) * wd * W[k]
                    W[k] = W[k] - alpha * 0.2 * math.sqrt(max(m, n)) * O
            else:
                b = lr * math.sqrt(bc2) / (bc1 + 1e-12)
                for j in range(n):  # column by column, as written
                    v[k][j] = mu2 * v[k][j] + (1 - mu2) * (G[:, j] ** 2).sum()
                s = torch.stack([Mt[:, j].norm() / (v[k][j].sqrt() + eps) for j in range(n)])
                if 0 < c <= 1:
                    s = torch.stack([min(max(sj, c * s.mean()), s.mean() / c) for sj in s])
                for j in range(n):
                    if cap:
                        W[k][:, j] = W[k][:, j] * max(0, 1 - wd * min(b * s[j], 1))
                        W[k][:, j] = W[k][:, j] - min(b * 0.2 * math.sqrt(max(m, n)) * s[j], 1) * O[:, j]
                    else:
                        W[k][:, j] = W[k][:, j] * (1 - wd * b * s[j])
                        W[k][:, j] = W[k][:, j] - b * 0.2 * math.sqrt(max(m, n)) * s[j] * O[:, j]
    return {k: W[k].reshape(params[k].shape) for k in W}


def ours(cls, steps, lr, zero_column=False, **hp):
    params, grads = _problem(steps, zero_column=zero_column)
    ps = {k: v.clone() for k, v in params.items()}
    opt = cls([{"params": list(ps.values()), "kind": "matrix"}], lr=lr, orth="svd", **hp)
    for G in grads:
        for k in ps:
            ps[k].grad = G[k].clone()
        opt.step()
    return ps, opt


def _close(a, b):
    for k in a:
        torch.testing.assert_close(a[k], b[k], atol=1e-10, rtol=1e-9)


@pytest.mark.parametrize("steps", [1, 5])
@pytest.mark.parametrize("lr", [1e-2, 3.0])  # lr 3: the min(., 1) caps are active
@pytest.mark.parametrize("nesterov, cap", [(True, True), (False, False), (False, True)])
def test_namo_matches_reference(steps, lr, nesterov, cap):
    got, _ = ours(NAMO, steps, lr, nesterov=nesterov, cap=cap)
    _close(got, reference("namo", steps, lr, nesterov=nesterov, cap=cap))


@pytest.mark.parametrize("steps", [1, 5])
@pytest.mark.parametrize("lr", [1e-2, 3.0])
@pytest.mark.parametrize("c", [0.75, 0.12, 1.0, 0.0])
@pytest.mark.parametrize("nesterov, cap", [(True, True), (False, False)])
def test_namo_d_matches_reference(steps, lr, c, nesterov, cap):
    got, _ = ours(NAMOD, steps, lr, clamp_c=c, nesterov=nesterov, cap=cap)
    _close(got, reference("namo_d", steps, lr, c=c, nesterov=nesterov, cap=cap))


def test_namo_update_is_a_scalar_multiple_of_orth():
    params, grads = _problem(1)
    got, _ = ours(NAMO, 1, 1e-2, weight_decay=0.0)
    for k in SHAPES:
        delta = (params[k] - got[k]).reshape(params[k].shape[0], -1)
        O = _polar(grads[0][k].reshape(delta.shape))  # step 1 with Nesterov: Mt is a multiple of G
        ratio = delta / O
        assert torch.allclose(ratio, ratio.flatten()[0].expand_as(ratio), rtol=1e-8)
        assert ratio.flatten()[0] > 0


def test_namo_d_c_one_gives_every_column_the_same_scale():
    params, grads = _problem(1)
    got, opt = ours(NAMOD, 1, 1e-2, clamp_c=1.0, weight_decay=0.0)
    for k in SHAPES:
        delta = (params[k] - got[k]).reshape(params[k].shape[0], -1)
        ratio = delta / _polar(grads[0][k].reshape(delta.shape))
        assert torch.allclose(ratio, ratio.flatten()[0].expand_as(ratio), rtol=1e-8)
    assert opt.diagnostics()["scale_spread"] == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize("c", [0.0, 1.5, 7.0])
def test_namo_d_c_outside_unit_interval_means_no_clamping(c):
    with values_checked():  # the built-in entry allows c in [0, 1]; a user entry may allow c > 1
        ref, _ = ours(NAMOD, 3, 0.5, clamp_c=2.0)
        got, opt = ours(NAMOD, 3, 0.5, clamp_c=c)
    _close(got, ref)
    clamped, _ = ours(NAMOD, 3, 0.5, clamp_c=0.9)
    assert not torch.allclose(clamped["w1"], ref["w1"])
    assert opt.diagnostics()["clamped_frac"] == 0.0


def test_diagnostics():
    _, opt = ours(NAMO, 2, 1e-2)
    d = opt.diagnostics()
    assert set(d) == {"alpha"} and d["alpha"] > 0
    _, opt = ours(NAMOD, 2, 1e-2, clamp_c=0.9)
    d = opt.diagnostics()
    assert set(d) == {"clamped_frac", "scale_spread"}
    assert 0 < d["clamped_frac"] < 1 and d["scale_spread"] > 0
    # a column whose gradient is always 0 has scale 0: clamped up to c * mean (counted as clamped)
    _, opt = ours(NAMOD, 2, 1e-2, clamp_c=0.12, zero_column=True)
    assert opt.diagnostics()["clamped_frac"] >= 1 / 24  # 24 columns in all


@pytest.mark.parametrize("cls", [NAMO, NAMOD])
def test_other_params_are_torch_adamw(cls):
    torch.manual_seed(0)
    bias_a = torch.randn(7, requires_grad=True)
    bias_b = bias_a.detach().clone().requires_grad_()
    start = bias_a.detach().clone()
    ref = torch.optim.AdamW([bias_a], lr=3e-2, betas=(0.9, 0.95), eps=1e-8, weight_decay=0.05)
    opt = cls([{"params": [bias_b], "kind": "other"}], lr=3e-2, weight_decay=0.05)
    for _ in range(5):
        g = torch.randn(7)
        bias_a.grad, bias_b.grad = g.clone(), g.clone()
        ref.step()
        opt.step()
    assert (bias_a - start).abs().max() > 1e-2  # it moved
    assert_params_agree([bias_b.detach()], [bias_a.detach()], 5)  # the same rule, rounded in its own order


def test_invalid_hyperparameters_named():
    with pytest.raises(ValueError, match=r"NAMOD: clamp_c=nan"):
        NAMOD([torch.zeros(2, 2)], clamp_c=float("nan"))
    with pytest.raises(ValueError, match=r"NAMO: beta2=1.0 .*< 1 \(mu2"):
        NAMO([torch.zeros(2, 2)], beta2=1.0)
    with pytest.raises(ValueError, match=r"cap=1 .*expected a bool"):
        NAMO([torch.zeros(2, 2)], cap=1)
    with pytest.raises(ValueError, match=r"NAMOD: clamp_c=-1.0 .*>= 0"):  # the catalog refuses it: a likely typo
        NAMOD([torch.zeros(2, 2)], clamp_c=-1.0)
