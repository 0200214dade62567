"""The NESGD family (MuonAdam, Scion, MuonMax, PolarGrad, generic, Momo variants) against the
reference formulas, computed here in float64 with an explicit SVD polar factor, layer by layer."""

import math

import pytest
import torch

from optbasin.optimizers.nesgd import NESGD, MuonAdam, MuonMax, PolarGrad, Scion

SHAPES = {"w1": (6, 4), "w2": (5, 6), "w3": (5, 6), "conv": (3, 2, 2, 2)}  # w2, w3 share a shape: one batch
OTHER_SHAPES = {"b1": (6,), "b2": (5,)}
STEPS = 4


def _problem(seed=0):
    g = torch.Generator().manual_seed(seed)
    params = {k: torch.randn(*s, generator=g, dtype=torch.float64) for k, s in {**SHAPES, **OTHER_SHAPES}.items()}
    grads = [
        {k: torch.randn(*s, generator=g, dtype=torch.float64) for k, s in {**SHAPES, **OTHER_SHAPES}.items()}
        for _ in range(STEPS)
    ]
    losses = [torch.tensor(v, dtype=torch.float64) for v in (2.0, 1.7, 1.9, 1.2)]
    return params, grads, losses


def _polar(m):
    u, _, vh = torch.linalg.svd(m.reshape(m.shape[0], -1), full_matrices=False)
    return (u @ vh).reshape(m.shape)


def _nuc(m):
    return torch.linalg.matrix_norm(m.reshape(m.shape[0], -1), "nuc")


def reference(
    preset,
    lr,
    s=10.0,
    beta=0.9,
    beta2=0.8,
    eps=1e-8,
    wd=0.0,
    momo=False,
    f_star=0.0,
    clamp=False,
    stale=False,
    lrs=None,
):
    """docs/optimizers.md sections 2 and 3, literally (stale: the same last-step norms in the step
    and in Momo's denominator, as the authors' code)."""
    params, grads, losses = _problem()
    p = {k: v.clone() for k, v in params.items()}
    M, m, v, loss_model, prev_nuc, taus = {}, {}, {}, None, None, []
    for t, (G, f) in enumerate(zip(grads, losses)):
        lr_t = lrs[t] if lrs else lr
        for k in SHAPES:
            M[k] = G[k].clone() if t == 0 else beta * M[k] + (1 - beta) * G[k]
        for k in OTHER_SHAPES:
            m[k] = G[k].clone() if t == 0 else beta * m[k] + (1 - beta) * G[k]
            v[k] = G[k] ** 2 if t == 0 else beta2 * v[k] + (1 - beta2) * G[k] ** 2
        nuc = {k: _nuc(M[k]) for k in SHAPES}
        scale_nuc = prev_nuc if (stale and prev_nuc is not None) else nuc
        prev_nuc = nuc
        N = sum(scale_nuc.values())
        hidden_scale = {
            "muonadam": {k: s for k in SHAPES},
            "scion": {k: s for k in SHAPES},
            "muonmax": {k: s * N for k in SHAPES},
            "polargrad": {k: s * scale_nuc[k] for k in SHAPES},
        }[preset]
        other_dir = {k: (m[k].sign() if preset == "scion" else m[k] / (v[k].sqrt() + eps)) for k in OTHER_SHAPES}
        step = lr_t
        if momo:
            target = f - sum((p[k] * G[k]).sum() for k in p)
            loss_model = target if loss_model is None else beta * loss_model + (1 - beta) * target
            h = loss_model + sum((p[k] * M[k]).sum() for k in SHAPES) + sum((p[k] * m[k]).sum() for k in OTHER_SHAPES)
            adam_part = sum((m[k] ** 2 / (v[k].sqrt() + eps)).sum() for k in OTHER_SHAPES)
            if preset == "muonmax":
                D = s * N**2 + adam_part  # the authors' D^2
            else:
                D = s * N + adam_part  # constrained (MuonAdam)
            num = (h - f_star).clamp_min(0) if clamp else h - f_star
            step = min(lr_t, (num / D).item())
            taus.append(step)
        for k in p:
            p[k] = p[k] * (1 - lr_t * wd)
        for k in SHAPES:
            p[k] = p[k] - step * hidden_scale[k] * _polar(M[k])
        for k in OTHER_SHAPES:
            p[k] = p[k] - step * other_dir[k]
    return p, taus


def ours(cls, lr, lrs=None, stale_nuclear_norm=False, weight_decay=0.0, **hp):
    params, grads, losses = _problem()
    ps = {k: v.clone() for k, v in params.items()}
    groups = [
        {"params": [ps[k] for k in SHAPES], "kind": "matrix"},
        {"params": [ps[k] for k in OTHER_SHAPES], "kind": "other"},
    ]
    opt = cls(groups, lr=lr, orth="svd", stale_nuclear_norm=stale_nuclear_norm, weight_decay=weight_decay, **hp)
    diags = []
    for t, (G, f) in enumerate(zip(grads, losses)):
        if lrs:
            for g in opt.param_groups:
                g["lr"] = lrs[t]
        for k in ps:
            ps[k].grad = G[k].clone()
        opt.step(loss=f) if opt.needs_loss else opt.step()
        diags.append(opt.diagnostics())
    return ps, diags


PRESETS = {"muonadam": MuonAdam, "scion": Scion, "muonmax": MuonMax, "polargrad": PolarGrad}


def _close(a, b):
    for k in a:
        torch.testing.assert_close(a[k], b[k], atol=1e-10, rtol=1e-10)


@pytest.mark.parametrize("preset", PRESETS)
@pytest.mark.parametrize("wd", [0.0, 0.1])
def test_preset_matches_reference(preset, wd):
    lr = 1e-3 if preset in ("muonmax", "polargrad") else 1e-2
    ref, _ = reference(preset, lr, wd=wd)
    got, _ = ours(PRESETS[preset], lr, weight_decay=wd, momentum=0.9, beta2=0.8)
    _close(got, ref)


def test_muonmax_step_is_global_nuclear_norm_times_polar():
    """One step from M = G: W_l moves by exactly lr * s2 * (sum_k ||G_k||_*) * Polar(G_l), every layer."""
    params, grads, _ = _problem()
    ps = {k: v.clone() for k, v in params.items()}
    opt = MuonMax(
        [
            {"params": [ps[k] for k in SHAPES], "kind": "matrix"},
            {"params": [ps[k] for k in OTHER_SHAPES], "kind": "other"},
        ],
        lr=1e-3,
        muon_lr_scale=4.0,
        orth="svd",
        weight_decay=0.0,
    )
    for k in ps:
        ps[k].grad = grads[0][k].clone()
    opt.step()
    N = sum(_nuc(grads[0][k]) for k in SHAPES)
    for k in SHAPES:
        torch.testing.assert_close(params[k] - ps[k], 1e-3 * 4.0 * N * _polar(grads[0][k]), atol=1e-12, rtol=1e-10)
    assert opt.diagnostics()["nuclear_norm"] == pytest.approx(N.item(), rel=1e-10)


def test_stale_nuclear_norm_uses_last_steps_norms():
    ref, _ = reference("muonmax", 1e-3, stale=True)
    got, _ = ours(MuonMax, 1e-3, momentum=0.9, beta2=0.8, stale_nuclear_norm=True)
    _close(got, ref)
    fresh, _ = reference("muonmax", 1e-3, stale=False)
    assert not torch.allclose(fresh["w1"], ref["w1"])


@pytest.mark.parametrize("preset", ["muonadam", "muonmax"])
@pytest.mark.parametrize("lr", [1e-6, 1.0])  # small lr: tau = lr (not truncated); lr 1: truncation active
@pytest.mark.parametrize("stale", [False, True])
def test_momo_variant_matches_reference(preset, lr, stale):
    lrs = [lr, 0.5 * lr, 0.8 * lr, 0.3 * lr]  # a schedule: the cap and the decay follow group["lr"]
    ref, taus = reference(preset, lr, wd=0.05, momo=True, lrs=lrs, stale=stale)
    got, diags = ours(
        PRESETS[preset], lr, lrs=lrs, weight_decay=0.05, momentum=0.9, beta2=0.8, momo=True, stale_nuclear_norm=stale
    )
    _close(got, ref)
    for tau, lr_t, d in zip(taus, lrs, diags):
        assert d["tau_over_lr"] == pytest.approx(tau / lr_t, rel=1e-9)
        assert d["truncated"] == (1.0 if tau < lr_t else 0.0)
    assert any(d["truncated"] for d in diags) == (lr == 1.0)


def test_momo_clamp_and_f_star():
    """A high f_star makes h - f_star negative: unclamped tau < 0 (authors' code), clamped tau = 0."""
    ref, taus = reference("muonadam", 1e-2, momo=True, f_star=50.0, clamp=True)
    got, diags = ours(MuonAdam, 1e-2, momentum=0.9, beta2=0.8, momo=True, f_star=50.0, momo_clamp=True)
    _close(got, ref)
    assert all(t == 0 for t in taus) and all(d["tau_over_lr"] == 0 for d in diags)
    ref, taus = reference("muonadam", 1e-2, momo=True, f_star=50.0)
    got, _ = ours(MuonAdam, 1e-2, momentum=0.9, beta2=0.8, momo=True, f_star=50.0)
    _close(got, ref)
    assert all(t < 0 for t in taus)


def test_momo_needs_the_loss():
    params, grads, _ = _problem()
    opt = MuonAdam([params["w1"].requires_grad_()], momo=True)
    assert opt.needs_loss and not MuonAdam([params["w2"]]).needs_loss
    params["w1"].grad = grads[0]["w1"]
    with pytest.raises(ValueError, match="needs the batch loss"):
        opt.step()


def _block_norms(U, r):
    hidden = [torch.linalg.matrix_norm(U[k].reshape(U[k].shape[0], -1), 2) / r for k in SHAPES]
    other = [U[k].abs().max() for k in OTHER_SHAPES]
    return hidden, other


@pytest.mark.parametrize("aggregation", ["max", "l2", "hybrid"])
@pytest.mark.parametrize("mode", ["lmo", "regularized"])
def test_generic_family_is_steepest_descent_in_its_norm(aggregation, mode):
    """With sign for the others, the first step U = (W0 - W1)/lr is, for the product norm
    ||x|| = agg(||W_l||_op / r, ||z||_inf): LMO mode: ||U|| = 1 and <G, U> = ||G||_* (dual norm);
    regularized: ||U|| = ||G||_* and <G, U> = ||G||_*^2. (r = s in lmo mode, sqrt(s) regularized.)"""
    s = 4.0
    r = s if mode == "lmo" else math.sqrt(s)
    params, grads, _ = _problem()
    ps = {k: v.clone() for k, v in params.items()}
    opt = NESGD(
        [
            {"params": [ps[k] for k in SHAPES], "kind": "matrix"},
            {"params": [ps[k] for k in OTHER_SHAPES], "kind": "other"},
        ],
        lr=1e-3,
        aggregation=aggregation,
        mode=mode,
        other_rule="sign",
        muon_lr_scale=s,
        orth="svd",
        weight_decay=0.0,
    )
    for k in ps:
        ps[k].grad = grads[0][k].clone()
    opt.step()
    U = {k: (params[k] - ps[k]) / 1e-3 for k in ps}
    hidden, other = _block_norms(U, r)
    duals_h = [r * _nuc(grads[0][k]) for k in SHAPES]
    duals_o = [grads[0][k].abs().sum() for k in OTHER_SHAPES]
    if aggregation == "max":
        norm, dual = max(hidden + other), sum(duals_h + duals_o)
    elif aggregation == "l2":
        norm, dual = math.sqrt(sum(x**2 for x in hidden + other)), math.sqrt(sum(x**2 for x in duals_h + duals_o))
    else:
        norm = math.sqrt(max(hidden) ** 2 + sum(x**2 for x in other))
        dual = math.sqrt(sum(duals_h) ** 2 + sum(x**2 for x in duals_o))
    inner = sum((grads[0][k] * U[k]).sum() for k in ps)
    expect_norm, expect_inner = (1.0, dual) if mode == "lmo" else (dual, dual**2)
    assert float(norm) == pytest.approx(float(expect_norm), rel=1e-6)
    assert float(inner) == pytest.approx(float(expect_inner), rel=1e-6)


@pytest.mark.parametrize(
    "bad, words",
    [
        (dict(aggregation="sum"), ["aggregation='sum'", "'max', 'l2', 'hybrid'"]),
        (dict(mode="lmo2"), ["mode='lmo2'", "'regularized'"]),
        (dict(other_rule="adamw"), ["other_rule='adamw'", "'sign', 'adam'"]),
        (dict(muon_lr_scale=0), ["muon_lr_scale=0", "> 0"]),
        (dict(momo="yes"), ["momo='yes'", "expected a bool"]),
    ],
)
def test_invalid_hyperparameters_named(bad, words):
    with pytest.raises(ValueError) as e:
        NESGD([torch.zeros(3, 3, requires_grad=True)], **bad)
    for w in words:
        assert w in str(e.value)
