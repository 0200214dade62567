"""Every catalog optimizer: builds, trains a small MLP at its default lr, round-trips its state,
reports the agreed diagnostics keys."""

import copy
import math

import pytest
import torch
from torch import nn

from optbasin.catalog import Catalog
from optbasin.optimizers import build, diagnostics, needs_loss

OURS = [
    "muon",
    "muonadam",
    "scion",
    "muonmax",
    "polargrad",
    "nesgd",
    "momo",
    "momo_adam",
    "muonadam_momo",
    "muonmax_momo",
    "namo",
    "namo_d",
]
DIAG_KEYS = {
    "muon": set(),
    "namo": {"alpha"},
    "namo_d": {"clamped_frac", "scale_spread"},
    "momo": {"tau_over_lr", "truncated"},
    "momo_adam": {"tau_over_lr", "truncated"},
    "muonadam": {"nuclear_norm"},
    "scion": {"nuclear_norm"},
    "muonmax": {"nuclear_norm"},
    "polargrad": {"nuclear_norm"},
    "nesgd": {"nuclear_norm"},
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
    return nn.Sequential(
        nn.Unflatten(1, (1, 4, 4)), nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(64, 10)
    )


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


# The NESGD family's default lr is the authors' GPT-2 value (1e-3): slow on this small MLP, so it
# only has to bring the loss down by 10% in 60 steps; the others halve it.
GPT_OPT_DEFAULTS = {"muonadam", "scion", "muonmax", "polargrad", "nesgd", "muonadam_momo", "muonmax_momo"}


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
    assert after < (0.9 if name in GPT_OPT_DEFAULTS else 0.5) * before, (before, after)
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


# --------------------------------------------------------------------------------------------
# Declared once: the catalog and the classes cannot disagree
# --------------------------------------------------------------------------------------------
BUILTIN = sorted(n for n, d in Catalog.load().optimizers.items() if d.cls.startswith("optbasin."))


@pytest.mark.parametrize("name", BUILTIN)
def test_entry_equals_its_class_signature(name):
    """Names and defaults of every built-in entry are its class's: ``Class(params)`` and
    ``build(name, model)`` run the same optimizer."""
    import inspect

    from optbasin.catalog import optimizer_class

    d = Catalog.load().optimizer(name)
    sig = inspect.signature(optimizer_class(d.cls))
    params = {k: p for k, p in sig.parameters.items() if k != "params"}
    assert set(params) == set(d.hyperparameters), "every constructor argument is declared in the YAML and vice versa"
    for key, h in d.hyperparameters.items():
        assert h.help or name in ("adamw", "sgd"), f"{name}.{key} has no help text"
        want = params[key].default
        assert h.default == want and type(h.default) is type(want), (
            f"{name}.{key}: catalog {h.default!r}, class {want!r}"
        )
        if h.default is not None:
            assert h.check(h.default) is None, f"{name}.{key}: default {h.default!r} violates its own bounds"


@pytest.mark.parametrize("name", [n for n in BUILTIN if n not in ("adamw", "sgd")])
def test_class_refuses_what_its_entry_refuses(name):
    """One bounds checker: a direct constructor call is checked against the catalog entry."""
    from optbasin.catalog import optimizer_class

    d = Catalog.load().optimizer(name)
    cls = optimizer_class(d.cls)
    with pytest.raises(ValueError, match=rf"{cls.__name__}: lr=-1.0 is not allowed: got -1.0, expected a float > 0"):
        cls([torch.zeros(3, 3, requires_grad=True)], lr=-1.0)


@pytest.mark.parametrize("name", BUILTIN)
def test_class_refuses_a_name_its_entry_does_not_declare(name):
    from optbasin.catalog import optimizer_class

    cls = optimizer_class(Catalog.load().optimizer(name).cls)
    with pytest.raises(TypeError, match=r"unexpected hyperparameter\(s\) lr_typo; it takes: lr"):
        cls([torch.zeros(3, 3, requires_grad=True)], lr_typo=1.0)


def test_preset_class_keeps_its_preset():
    """MuonAdam is NESGD under the muonadam entry: its preset is a default and the only allowed value."""
    from optbasin.optimizers.nesgd import MuonAdam

    opt = MuonAdam([torch.zeros(3, 3, requires_grad=True)])
    assert (opt.defaults["aggregation"], opt.defaults["stale_nuclear_norm"]) == ("max", True)
    with pytest.raises(ValueError, match=r"aggregation='l2' is not allowed"):
        MuonAdam([torch.zeros(3, 3, requires_grad=True)], aggregation="l2")


def test_whole_model_rule_refuses_groups_with_different_lrs():
    """Momo's and NESGD's inner products span every group: one lr for all of them."""
    from optbasin.optimizers.momo import Momo

    a, b = torch.zeros(3, requires_grad=True), torch.zeros(2, requires_grad=True)
    opt = Momo([{"params": [a]}, {"params": [b], "lr": 0.5}])
    a.grad, b.grad = torch.ones(3), torch.ones(2)
    with pytest.raises(ValueError, match=r"Momo takes one lr for all parameter groups, got 1.0 and 0.5"):
        opt.step(loss=torch.tensor(1.0))


HAND_WRITTEN_MUONMAX = """
kind: optimizer
name: muonmax_by_hand
class: optbasin.optimizers.nesgd:NESGD
hyperparameters:
  lr: {type: float, default: 0.001, gt: 0, log: true}
  aggregation: {type: str, default: hybrid, choices: [hybrid]}
  mode: {type: str, default: regularized, choices: [regularized]}
  other_rule: {type: str, default: adam, choices: [adam]}
  muon_lr_scale: {type: float, default: 10.0, gt: 0, log: true}
  momentum: {type: float, default: 0.95, ge: 0, lt: 1}
  beta2: {type: float, default: 0.95, ge: 0, lt: 1}
  eps: {type: float, default: 1.0e-8, gt: 0}
  weight_decay: {type: float, default: 0.1, ge: 0}
  orth: {type: str, default: polar_express, choices: [ns5, polar_express, polar_express_paper, svd]}
  ns_steps: {type: int, default: 5, ge: 1, le: 100}
  orth_dtype: {type: str, default: auto, choices: [auto, float32, bfloat16, float16, float64]}
  stale_nuclear_norm: {type: bool, default: true}
  momo: {type: bool, default: false}
  f_star: {type: float, default: 0.0, ge: 0.0}
  momo_clamp: {type: bool, default: false}
"""

MEMBER = """
kind: optimizer
name: my_muonmax
extends: nesgd
preset: {aggregation: hybrid, mode: regularized, other_rule: adam}
hyperparameters:
  stale_nuclear_norm: {default: true}
"""


def _bounds(d):
    return {k: (h.type, h.default, h.choices, h.gt, h.ge, h.lt, h.le, h.log) for k, h in d.hyperparameters.items()}


def test_member_built_through_extends_equals_the_hand_written_preset(tmp_path):
    (tmp_path / "by_hand.yaml").write_text(HAND_WRITTEN_MUONMAX)
    (tmp_path / "member.yaml").write_text(MEMBER)
    cat = Catalog.load([tmp_path])
    member, by_hand, builtin = (cat.optimizer(n) for n in ("my_muonmax", "muonmax_by_hand", "muonmax"))
    assert member.cls == "optbasin.optimizers.nesgd:NESGD"  # inherited from nesgd
    assert _bounds(member) == _bounds(by_hand) == _bounds(builtin)
    runs = []
    for name in ("my_muonmax", "muonmax_by_hand", "muonmax"):
        model = _mlp()
        opt = build(name, model, catalog_dirs=[tmp_path])
        for i in range(5):
            _step(model, opt, i)
        runs.append([p.detach().clone() for p in model.parameters()])
    for other in runs[1:]:
        for a, b in zip(runs[0], other):
            assert torch.equal(a, b)


@pytest.mark.parametrize(
    "doc, field, words",
    [
        ("extends: nope\n", "extends", "unknown optimizer 'nope'"),
        ("extends: nesgd\npreset: {aggregation: sum}\n", "preset.aggregation", "expected one of 'max', 'l2', 'hybrid'"),
        ("extends: nesgd\npreset: {clamp_c: 0.5}\n", "preset.clamp_c", "not a hyperparameter of nesgd"),
        ("extends: nesgd\nhyperparameters: {lr: {default: -1.0}}\n", "hyperparameters.lr", ""),
        ("extends: a_loop\n", "extends", "a cycle"),
    ],
)
def test_extends_errors_are_located(tmp_path, doc, field, words):
    from optbasin.errors import ConfigError

    (tmp_path / "bad.yaml").write_text("kind: optimizer\nname: bad\n" + doc)
    (tmp_path / "loop.yaml").write_text("kind: optimizer\nname: a_loop\nextends: bad\n")
    with pytest.raises(ConfigError) as e:
        Catalog.load([tmp_path])
    assert any(
        p.file.endswith("bad.yaml") and p.field.startswith(field) and words in p.reason for p in e.value.problems
    ), e.value.problems


def test_validate_a_member_file(tmp_path, capsys):
    from optbasin.cli import main

    (tmp_path / "member.yaml").write_text(MEMBER)
    assert main(["validate", str(tmp_path / "member.yaml")]) == 0
    (tmp_path / "bad.yaml").write_text(MEMBER.replace("name: my_muonmax", "name: bad").replace("hybrid", "sum"))
    assert main(["validate", str(tmp_path / "bad.yaml")]) == 2
    err = capsys.readouterr().err
    assert f"{tmp_path / 'bad.yaml'}: preset.aggregation: got 'sum', expected one of 'max', 'l2', 'hybrid'" in err
    assert "Traceback" not in err


def test_user_entry_replaces_a_builtin_member(tmp_path):
    """A user file named like a built-in member (muonmax extends nesgd) replaces it, as for any entry."""
    (tmp_path / "muonmax.yaml").write_text(
        HAND_WRITTEN_MUONMAX.replace("muonmax_by_hand", "muonmax").replace("default: 0.001", "default: 0.02")
    )
    d = Catalog.load([tmp_path]).optimizer("muonmax")
    assert d.source == str(tmp_path / "muonmax.yaml") and d.hyperparameters["lr"].default == 0.02
