"""Fair by construction: `optbasin validate` warns, per claim, when the two compared optimizers run
with different unswept values of a hyperparameter they both have."""

from pathlib import Path

import pytest

from optbasin.cli import main
from tests.conftest import base_sweep

CLAIM = {"name": "muon-beats-adamw", "metric": "best_loss", "compare": ["muon", "adamw"], "direction": "less"}


def _sweep(tmp_path, muon=None, adamw=None, shared=None):
    doc = base_sweep(tmp_path / "run")
    doc["optimizers"] = [
        {"name": "muon", "grid": {"lr": [0.01, 0.1]}, **(muon or {})},
        {"name": "adamw", "grid": {"lr": [0.001, 0.01]}, **(adamw or {})},
    ]
    doc["claims"] = [CLAIM]
    doc["seeds"] = 6  # enough to decide the claim (fewer seeds add a warning of their own)
    if shared:
        doc["shared"] = shared
    return doc


def _warnings(write_sweep, doc, capsys):
    assert main(["validate", str(write_sweep(doc))]) == 0
    return [line for line in capsys.readouterr().err.splitlines() if line.startswith("warning:")]


def test_default_weight_decays_differ(tmp_path, write_sweep, capsys):
    from optbasin.catalog import Catalog

    cat = Catalog.load()
    muon_wd = cat.optimizer("muon").hyperparameters["weight_decay"].default
    adamw_wd = cat.optimizer("adamw").hyperparameters["weight_decay"].default
    assert muon_wd != adamw_wd  # the premise: the families' defaults differ
    warnings = [w for w in _warnings(write_sweep, _sweep(tmp_path), capsys) if "weight decay" in w]
    assert len(warnings) == 1, warnings
    w = warnings[0]
    assert "claims[0] (muon-beats-adamw)" in w
    assert f"muon runs with weight_decay={muon_wd!r} (decoupled weight decay, its default)" in w
    assert f"adamw with weight_decay={adamw_wd!r} (decoupled weight decay, its default)" in w


@pytest.mark.parametrize(
    "fix",
    [
        dict(shared={"weight_decay": 0.1}),
        dict(adamw={"hparams": {"weight_decay": 0.1}}),
        dict(adamw={"grid": {"lr": [0.001], "weight_decay": [0.0, 0.1]}}),  # swept: compared over its values
    ],
)
def test_common_or_swept_weight_decay_is_fair(tmp_path, write_sweep, capsys, fix):
    assert [w for w in _warnings(write_sweep, _sweep(tmp_path, **fix), capsys) if "weight decay" in w] == []


def test_explicit_different_values_still_warn(tmp_path, write_sweep, capsys):
    warnings = [
        w
        for w in _warnings(write_sweep, _sweep(tmp_path, adamw={"hparams": {"weight_decay": 0.05}}), capsys)
        if "weight decay" in w
    ]
    assert (
        len(warnings) == 1 and "adamw with weight_decay=0.05 (decoupled weight decay, set in the sweep)" in warnings[0]
    )


def test_one_role_is_compared_across_names(tmp_path, write_sweep, capsys):
    """AdamW's beta1 and Muon's momentum are both the gradient's EMA coefficient (role momentum)."""
    warnings = [w for w in _warnings(write_sweep, _sweep(tmp_path, shared={"weight_decay": 0.1}), capsys)]
    assert len(warnings) == 1, warnings
    assert "muon runs with momentum=0.95 (its default) and adamw with beta1=0.9 (its default)" in warnings[0]
    assert (
        _warnings(
            write_sweep, _sweep(tmp_path, shared={"weight_decay": 0.1}, adamw={"hparams": {"beta1": 0.95}}), capsys
        )
        == []
    )


LION = """
import torch

class Lion(torch.optim.Optimizer):
    def __init__(self, params, lr=1e-4, beta1=0.9, beta2=0.99, weight_decay=0.0):
        super().__init__(params, dict(lr=lr, beta1=beta1, beta2=beta2, weight_decay=weight_decay))
"""


def _user_catalog(tmp_path, entries: dict[str, str]):
    cat = tmp_path / "cat"
    cat.mkdir()
    (cat / "lion_mod.py").write_text(LION)
    for name, text in entries.items():
        (cat / f"{name}.yaml").write_text(text)
    return cat


LION_ENTRY = """kind: optimizer
name: lion
class: lion_mod:Lion
hyperparameters:
  lr: {default: 1.0e-4, gt: 0%s}
  beta1: {default: 0.9, ge: 0, lt: 1}
  beta2: {default: 0.99, ge: 0, lt: 1%s}
  weight_decay: {default: 0.0, ge: 0%s}
"""


@pytest.mark.parametrize("roles", [True, False])
def test_lions_beta2_is_not_adamws_beta2(tmp_path, write_sweep, capsys, roles):
    """Lion's beta2 is its momentum; AdamW's beta2 is its second moment: same name, not compared."""
    text = LION_ENTRY % (
        (", role: learning_rate", ", role: momentum", ", role: decoupled_weight_decay") if roles else ("", "", "")
    )
    cat = _user_catalog(tmp_path, {"lion": text})
    doc = _sweep(tmp_path, muon={"name": "lion", "hparams": {"beta2": 0.9}})
    doc["catalog"] = [str(cat)]
    doc["claims"] = [{**CLAIM, "compare": ["lion", "adamw"]}]
    warnings = _warnings(write_sweep, doc, capsys)
    assert not any("beta2=" in w for w in warnings), warnings  # lion's beta2=0.9 equals adamw's beta1
    if roles:
        assert warnings == []
    else:  # nothing is compared: said, not silent
        assert len(warnings) == 1 and "lion declares no role for its hyperparameters" in warnings[0]


RADAM_ENTRY = """kind: optimizer
name: radam
class: torch.optim:RAdam
tuples: {betas: [beta1, beta2]}
hyperparameters:
  lr: {default: 0.001, gt: 0, role: learning_rate}
  beta1: {default: 0.9, ge: 0, lt: 1, role: momentum}
  beta2: {default: 0.999, ge: 0, lt: 1, role: second_moment}
  weight_decay: {default: 0.0, ge: 0, role: coupled_weight_decay}
"""


def test_coupled_and_decoupled_decay_differ_at_one_value(tmp_path, write_sweep, capsys):
    cat = _user_catalog(tmp_path, {"radam": RADAM_ENTRY})
    doc = _sweep(tmp_path, muon={"name": "radam"}, shared={"weight_decay": 0.1})
    doc["catalog"] = [str(cat)]
    doc["claims"] = [{**CLAIM, "compare": ["radam", "adamw"]}]
    (w,) = _warnings(write_sweep, doc, capsys)
    assert (
        "radam runs with weight_decay=0.1 (coupled L2 weight decay, set in the sweep) and adamw with "
        "weight_decay=0.1 (decoupled weight decay, set in the sweep)"
    ) in w
    doc["shared"] = {"weight_decay": 0.0}  # no decay on either side: nothing differs
    assert _warnings(write_sweep, doc, capsys) == []


def test_a_sweep_without_claims_compares_every_pair(capsys):
    """The quickstart ranks Muon (weight decay 0.1) beside AdamW and SGD (0): validate says so."""
    assert main(["validate", str(Path(__file__).resolve().parents[1] / "examples" / "quickstart.yaml")]) == 0
    warnings = [line for line in capsys.readouterr().err.splitlines() if line.startswith("warning:")]
    decay = [w for w in warnings if "weight decay" in w]
    assert len(decay) == 2, warnings
    assert any(
        "sgd runs with weight_decay=0.0 (coupled L2" in w and "muon with weight_decay=0.1 (decoupled" in w
        for w in decay
    )
    assert any("adamw runs with weight_decay=0.0 (decoupled" in w and "muon with weight_decay=0.1" in w for w in decay)


def test_preset_choices_are_not_compared(tmp_path, write_sweep, capsys):
    """muonmax_momo vs muonmax differ by the preset's momo=True: that is the method, not unfairness."""
    doc = _sweep(tmp_path)
    doc["optimizers"] = [{"name": "muonmax", "grid": {"lr": [0.01]}}, {"name": "muonmax_momo", "grid": {"lr": [0.01]}}]
    doc["claims"] = [{**CLAIM, "compare": ["muonmax_momo", "muonmax"]}]
    assert _warnings(write_sweep, doc, capsys) == []


@pytest.mark.parametrize(
    "name",
    ["claims-cpu", "claims-cpu-quadratic", "claims-cpu-long", "ladder/gpt-22k", "ladder/gpt-52k", "ladder/gpt-181k"],
)
def test_example_claims_sweeps_compare_like_with_like(name, capsys):
    """The study's sweep files: valid, and no unswept difference between compared optimizers
    (one weight decay, one orthogonalization for all)."""
    assert main(["validate", str(Path(__file__).resolve().parents[1] / "examples" / f"{name}.yaml")]) == 0
    assert "warning" not in capsys.readouterr().err
