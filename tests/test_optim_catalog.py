"""Every catalog optimizer: builds, trains a small MLP at its default lr, round-trips its state,
reports the agreed diagnostics keys."""

import math
import copy

import pytest
import torch
from torch import nn

from optbasin.catalog import Catalog
from optbasin.optimizers import build, diagnostics, needs_loss

OURS = ["muon", "muonadam", "scion", "muonmax", "polargrad", "nesgd", "momo", "momo_adam", "muonadam_momo",
        "muonmax_momo", "namo", "namo_d"]
DIAG_KEYS = {
    "muon": set(), "namo": {"alpha"}, "namo_d": {"clamped_frac", "scale_spread"},
    "momo": {"tau_over_lr", "truncated"}, "momo_adam": {"tau_over_lr", "truncated"},
    "muonadam": {"nuclear_norm"}, "scion": {"nuclear_norm"}, "muonmax": {"nuclear_norm"},
    "polargrad": {"nuclear_norm"}, "nesgd": {"nuclear_norm"},
    "muonadam_momo": {"nuclear_norm", "tau_over_lr", "truncated"},
    "muonmax_momo": {"nuclear_norm", "tau_over_lr", "truncated"},
}

def _digits():
    """scikit-learn's 8x8 digits, standardized, 4x4 average-pooled to 16 features (small and fast)."""
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    x = torch.tensor(x, dtype=torch.float32).reshape(-1, 1, 8, 8)
    x = nn.functional.avg_pool2d(x, 2).reshape(-1, 16)
    return ((x - x.mean(0)) / (x.std(0) + 1e-6))[:512], torch.tensor(y)[:512]


X, Y = _digits()


def _mlp(seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 32), nn.ReLU(), nn.Linear(32, 10))


def _cnn(seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Unflatten(1, (1, 4, 4)), nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.Flatten(),
                         nn.Linear(64, 10))


def _step(model, opt, i, lr=None):
    if lr is not None:  # the trial's schedule: group["lr"] on every group
        for g in opt.param_groups:
            g["lr"] = lr
    idx = torch.arange(64) + (64 * i) % 448
    opt.zero_grad()
    loss = nn.functional.cross_entropy(model(X[idx]), Y[idx])
    loss.backward()
    opt.step(loss=loss) if needs_loss(opt) else opt.step()
    return loss


def test_all_registered():
    assert set(OURS) <= set(Catalog.load().optimizers)


@pytest.mark.parametrize("name", OURS)
def test_trains_at_default_lr(name):
    model = _mlp()
    opt = build(name, model)
    with torch.no_grad():
        before = nn.functional.cross_entropy(model(X), Y).item()
    for i in range(60):
        _step(model, opt, i)
    with torch.no_grad():
        after = nn.functional.cross_entropy(model(X), Y).item()
    assert after < 0.5 * before, (before, after)
    assert set(diagnostics(opt)) == DIAG_KEYS[name]
    assert all(math.isfinite(float(v)) for v in diagnostics(opt).values())  # floats or 0-d tensors


@pytest.mark.parametrize("name", OURS)
@pytest.mark.parametrize("make", [_mlp, _cnn])
def test_state_dict_round_trip(name, make):
    """k steps, save, load into a fresh model + optimizer, continue == uninterrupted (bitwise)."""
    lrs = [None] * 3 + [0.5 * h for h in [build(name, make()).param_groups[0]["lr"]] * 3]
    model = make()
    opt = build(name, model, weight_decay=0.01)
    for i in range(3):
        _step(model, opt, i, lrs[i])
    saved_model, saved_opt = copy.deepcopy(model.state_dict()), copy.deepcopy(opt.state_dict())
    for i in range(3, 6):
        _step(model, opt, i, lrs[i])

    fresh = make(seed=1)
    fresh.load_state_dict(saved_model)
    fresh_opt = build(name, fresh, weight_decay=0.01)
    fresh_opt.load_state_dict(saved_opt)
    for i in range(3, 6):
        _step(fresh, fresh_opt, i, lrs[i])
    for a, b in zip(model.parameters(), fresh.parameters()):
        assert torch.equal(a, b)


def test_conv_weights_are_matrices_and_train():
    model = _cnn()
    opt = build("namo_d", model)
    assert opt.param_groups[0]["kind"] == "matrix" and opt.param_groups[0]["param_names"] == ["1.weight"]
    first = _step(model, opt, 0).item()
    for i in range(1, 40):
        last = _step(model, opt, i).item()
    assert last < first


def test_unknown_hyperparameter_rejected():
    with pytest.raises(ValueError, match="unknown hyperparameter"):
        build("namo", _mlp(), clamp_c=0.5)
