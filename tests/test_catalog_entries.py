"""Catalog entries as a user writes them: checked against their class's signature (validate and
the sweep loader), tuple arguments (torch's ``betas``) declared member by member, and a user entry
that replaces a built-in honoured by the sweep loader, the trial and ``build`` alike, and announced."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
import torch
import yaml

from optbasin.catalog import Catalog, CatalogNote, optimizer_class
from optbasin.class_check import signature_problems
from optbasin.cli import main
from optbasin.errors import ConfigError
from optbasin.optimizers import build
from optbasin.sweeps.spec import expand, load_sweep
from optbasin.training.single import run_trial
from tests.conftest import base_sweep

pytestmark = pytest.mark.filterwarnings("ignore::optbasin.catalog.CatalogNote")  # announced: tested below
BUILTIN_NAMO_D = Path(__file__).resolve().parents[1] / "optbasin" / "optimizers" / "catalog" / "namo_d.yaml"

LION = """
import torch

class Lion(torch.optim.Optimizer):
    def __init__(self, params, lr=1e-4, beta1=0.9, beta2=0.99, weight_decay=0.0):
        super().__init__(params, dict(lr=lr, beta1=beta1, beta2=beta2, weight_decay=weight_decay))

class NeedsGamma(torch.optim.SGD):
    def __init__(self, params, gamma, lr=0.1):
        super().__init__(params, lr=lr * gamma)
"""


def entry(name: str, cls: str, hps: dict, **extra) -> dict:
    return {
        "kind": "optimizer",
        "name": name,
        "class": cls,
        "hyperparameters": {"lr": {"type": "float", "default": 1e-3, "gt": 0}, **hps},
        **extra,
    }


def catalog(tmp_path: Path, *entries: dict) -> Path:
    cat = tmp_path / "cat"
    cat.mkdir(parents=True, exist_ok=True)
    (cat / "lion_mod.py").write_text(LION)
    for e in entries:
        (cat / f"{e['name']}.yaml").write_text(yaml.safe_dump(e, sort_keys=False))
    return cat


def sweep(tmp_path: Path, cat: Path, optimizers: list) -> Path:
    doc = base_sweep(tmp_path / "run")
    doc.update(seeds=1, catalog=[str(cat)], optimizers=optimizers, population=1)
    doc["tasks"][0]["steps"] = 10
    path = tmp_path / "sweep.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


RADAM = entry(
    "radam",
    "torch.optim:RAdam",
    {
        "beta1": {"default": 0.9, "ge": 0, "lt": 1},
        "beta2": {"default": 0.999, "ge": 0, "lt": 1},
        "weight_decay": {"default": 0.0, "ge": 0},
    },
    tuples={"betas": ["beta1", "beta2"]},
)


# ---- item 2: an entry against its class ---------------------------------------------------------
@pytest.mark.parametrize(
    "bad, field, reason",
    [
        (
            entry("radam_m", "torch.optim:RAdam", {"momentum": {"default": 0.9}}),
            "hyperparameters.momentum",
            "torch.optim:RAdam takes no argument 'momentum'",
        ),
        (
            entry("lion", "lion_mod:Lion", {"gamma": {"default": 0.5}}),
            "hyperparameters.gamma",
            "lion_mod:Lion takes no argument 'gamma'",
        ),
        (
            entry("needs_gamma", "lion_mod:NeedsGamma", {}),
            "hyperparameters.gamma",
            "lion_mod:NeedsGamma requires argument 'gamma': declare it with a default",
        ),
        (
            entry("radam_b", "torch.optim:RAdam", {"betas": {"default": 0.9}}),
            "hyperparameters.betas",
            "declare one hyperparameter per member and pack them, e.g. hyperparameters beta1, beta2 and "
            "tuples: {betas: [beta1, beta2]}",
        ),
        (
            {**RADAM, "name": "radam3", "tuples": {"betas": ["beta1", "beta2", "weight_decay"]}},
            "tuples.betas",
            "takes betas as a tuple of 2",
        ),
    ],
)
def test_validate_checks_an_entry_against_its_class(tmp_path, capsys, bad, field, reason):
    cat = catalog(tmp_path, bad)
    file = cat / f"{bad['name']}.yaml"
    assert main(["validate", str(file)]) == 2  # the entry's own file
    err = capsys.readouterr().err
    assert f"{file}: {field}: " in err and reason in err and "Traceback" not in err
    path = sweep(tmp_path, cat, [{"name": bad["name"]}])
    assert main(["validate", str(path)]) == 2  # a sweep that uses it (the load path of `run`)
    assert f"{file}: {field}: " in capsys.readouterr().err
    assert main(["run", str(path), "--quiet"]) == 2 and not (tmp_path / "run").exists()


def test_every_builtin_entry_matches_its_class():
    cat = Catalog.load()
    for d in cat.optimizers.values():
        assert signature_problems(d, optimizer_class(d.cls), d.source) == [], d.name


# ---- item 9: tuple arguments ----------------------------------------------------------------------
def test_tuple_arguments_are_built_from_their_members(tmp_path):
    cat = catalog(tmp_path, RADAM)
    opt = build("radam", torch.nn.Linear(3, 2), catalog_dirs=[str(cat)], beta2=0.95)
    assert isinstance(opt, torch.optim.RAdam) and opt.param_groups[0]["betas"] == (0.9, 0.95)
    assert main(["validate", str(cat / "radam.yaml")]) == 0


def test_a_sweep_sets_and_sweeps_tuple_members(tmp_path):
    cat = catalog(tmp_path, RADAM)
    spec, c = load_sweep(
        sweep(
            tmp_path, cat, [{"name": "radam", "hparams": {"beta1": 0.8}, "grid": {"lr": [0.01], "beta2": [0.9, 0.99]}}]
        )
    )
    trials = expand(spec, c)
    assert sorted(t.hparams["beta2"] for t in trials) == [0.9, 0.99]
    assert all(run_trial(t)["status"] == "completed" for t in trials)


@pytest.mark.parametrize(
    "tuples, reason",
    [
        ({"betas": ["beta1", "rho"]}, "'rho' is not a declared hyperparameter"),
        ({"betas": ["beta1", "beta1"]}, "'beta1' is also a member of betas"),
        ({"lr": ["beta1", "beta2"]}, "lr: also a hyperparameter"),
    ],
)
def test_bad_tuples_are_located(tmp_path, tuples, reason):
    cat = catalog(tmp_path, {**RADAM, "tuples": tuples})
    with pytest.raises(ConfigError) as e:
        Catalog.load([cat])
    assert any(p.field == "tuples" and reason in p.reason for p in e.value.problems), e.value.problems


# ---- item 4: one entry in use everywhere ------------------------------------------------------------
def user_namo_d(tmp_path: Path, bounds: dict) -> Path:
    """The built-in namo_d entry with another clamp_c default and bounds."""
    doc = yaml.safe_load(BUILTIN_NAMO_D.read_text())
    doc["hyperparameters"]["clamp_c"] = {"type": "float", "default": 1.5, **bounds}
    return catalog(tmp_path, doc)


def test_a_replaced_builtin_is_honoured_by_the_trial(tmp_path):
    cat = user_namo_d(tmp_path, {"ge": -1, "le": 2})
    spec, c = load_sweep(sweep(tmp_path, cat, [{"name": "namo_d", "grid": {"lr": [0.01], "clamp_c": [-0.5]}}]))
    (trial,) = expand(spec, c)
    assert run_trial(trial)["status"] == "completed"  # the built-in entry refuses clamp_c < 0


def test_build_checks_values_against_the_entry_in_use(tmp_path):
    model = torch.nn.Sequential(torch.nn.Linear(4, 4, bias=False))
    wide = user_namo_d(tmp_path / "wide", {"ge": -1, "le": 2})
    assert build("namo_d", model, catalog_dirs=[str(wide)], clamp_c=-0.5).defaults["clamp_c"] == -0.5
    assert build("namo_d", model, catalog_dirs=[str(wide)]).defaults["clamp_c"] == 1.5
    narrow = user_namo_d(tmp_path / "narrow", {"ge": 0, "le": 2})
    with pytest.raises(ValueError, match=r"namo_d \(.*narrow.*namo_d.yaml\): clamp_c=3.0 is not allowed: .*<= 2"):
        build("namo_d", model, catalog_dirs=[str(narrow)], clamp_c=3.0)
    lion = catalog(tmp_path / "lion", entry("lion", "lion_mod:Lion", {}))
    with pytest.raises(
        ValueError, match=r"lion \(.*lion.yaml\): lr=-1.0 is not allowed: got -1.0, expected a float > 0"
    ):
        build("lion", model, catalog_dirs=[str(lion)], lr=-1.0)


def test_a_class_constructed_directly_checks_its_builtin_entry():
    from optbasin.optimizers.namo import NAMOD

    with pytest.raises(ValueError, match="clamp_c=-0.5 is not allowed"):
        NAMOD(torch.nn.Linear(4, 4).parameters(), clamp_c=-0.5)


def test_a_replacement_is_announced(tmp_path, capsys):
    cat = user_namo_d(tmp_path, {"ge": -1, "le": 2})
    with pytest.warns(
        CatalogNote, match=r"namo_d.yaml replaces the built-in optimizer 'namo_d' \(.*optimizers/catalog/namo_d.yaml\)"
    ):
        Catalog.load([cat])
    assert main(["validate", str(sweep(tmp_path, cat, [{"name": "namo_d", "grid": {"lr": [0.01]}}]))]) == 0
    notes = [line for line in capsys.readouterr().err.splitlines() if line.startswith("note:")]
    assert len(notes) == 1 and "replaces the built-in optimizer 'namo_d'" in notes[0]
    with warnings.catch_warnings():
        warnings.simplefilter("error", CatalogNote)
        Catalog.load()  # the built-ins alone: nothing replaced
        Catalog.load([catalog(tmp_path / "other", RADAM)])  # a new name replaces nothing
