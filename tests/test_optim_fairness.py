"""Fair by construction: `optbasin validate` warns, per claim, when the two compared optimizers run
with different unswept values of a hyperparameter they both have."""

from pathlib import Path

import pytest

from optbasin.cli import main
from tests.conftest import base_sweep

CLAIM = {"name": "muon-beats-adamw", "metric": "best_loss", "compare": ["muon", "adamw"], "direction": "less"}


def _sweep(tmp_path, muon=None, adamw=None, shared=None):
    doc = base_sweep(tmp_path / "run")
    doc["optimizers"] = [{"name": "muon", "grid": {"lr": [0.01, 0.1]}, **(muon or {})},
                         {"name": "adamw", "grid": {"lr": [0.001, 0.01]}, **(adamw or {})}]
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
    warnings = _warnings(write_sweep, _sweep(tmp_path), capsys)
    assert len(warnings) == 1, warnings
    w = warnings[0]
    assert "claims[0] (muon-beats-adamw)" in w
    assert f"muon runs with weight_decay={muon_wd!r} (its default)" in w
    assert f"adamw with weight_decay={adamw_wd!r} (its default)" in w
    assert "shared: {weight_decay: ...}" in w


@pytest.mark.parametrize("fix", [
    dict(shared={"weight_decay": 0.1}),
    dict(adamw={"hparams": {"weight_decay": 0.1}}),
    dict(adamw={"grid": {"lr": [0.001], "weight_decay": [0.0, 0.1]}}),  # swept: compared over its values
])
def test_common_or_swept_weight_decay_is_fair(tmp_path, write_sweep, capsys, fix):
    assert _warnings(write_sweep, _sweep(tmp_path, **fix), capsys) == []


def test_explicit_different_values_still_warn(tmp_path, write_sweep, capsys):
    warnings = _warnings(write_sweep, _sweep(tmp_path, adamw={"hparams": {"weight_decay": 0.05}}), capsys)
    assert len(warnings) == 1 and "adamw with weight_decay=0.05 (set in the sweep)" in warnings[0]


def test_preset_choices_are_not_compared(tmp_path, write_sweep, capsys):
    """muonmax_momo vs muonmax differ by the preset's momo=True: that is the method, not unfairness."""
    doc = _sweep(tmp_path)
    doc["optimizers"] = [{"name": "muonmax", "grid": {"lr": [0.01]}}, {"name": "muonmax_momo", "grid": {"lr": [0.01]}}]
    doc["claims"] = [{**CLAIM, "compare": ["muonmax_momo", "muonmax"]}]
    assert _warnings(write_sweep, doc, capsys) == []


@pytest.mark.parametrize("name", ["claims-cpu", "claims-cpu-quadratic", "claims-cpu-long"])
def test_example_claims_sweeps_compare_like_with_like(name, capsys):
    """The study's sweep files: valid, and no unswept difference between compared optimizers
    (one weight decay, one orthogonalization for all)."""
    assert main(["validate", str(Path(__file__).resolve().parents[1] / "examples" / f"{name}.yaml")]) == 0
    assert "warning" not in capsys.readouterr().err
