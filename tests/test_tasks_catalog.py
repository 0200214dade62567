"""Every built-in task entry: its YAML matches its factory, defaults are valid, it builds."""

import inspect

import pytest
import torch

from optbasin.catalog import Catalog, task_factory
from optbasin.optimizers.split import MATRIX, param_roles
from optbasin.tasks.base import Task

CATALOG = Catalog.load()
BUILTIN = sorted(n for n, d in CATALOG.tasks.items() if d.factory.startswith("optbasin.tasks."))


def test_the_builtin_tasks():
    assert BUILTIN == ["digits-cnn", "digits-mlp", "gpt-tiny", "gpt2-small", "quadratic"]


@pytest.mark.parametrize("name", BUILTIN)
def test_entry_matches_factory(name):
    d = CATALOG.task(name)
    factory = task_factory(d.factory)
    cls = inspect.signature(factory).return_annotation
    cls = getattr(inspect.getmodule(factory), cls) if isinstance(cls, str) else cls
    signature = {k: p for k, p in inspect.signature(cls.__init__).parameters.items() if k != "self"}
    assert set(d.params) == set(signature), "every constructor argument is declared in the YAML and vice versa"
    for key, h in d.params.items():
        assert h.help, f"{name}.{key} has no help text"
        if h.default is not None:
            assert h.check(h.default) is None, f"{name}.{key}: default {h.default!r} violates its own bounds"
        if name != "gpt2-small":  # a preset: make_gpt2_small reads its defaults from this entry
            want = signature[key].default
            assert h.default == want, f"{name}.{key}: catalog {h.default!r}, class {want!r}"
    task = factory(**d.defaults())
    assert isinstance(task, Task) and task.default_steps == d.steps


@pytest.mark.parametrize("name", [n for n in BUILTIN if n != "gpt2-small"])
def test_every_task_has_matrices_and_a_well_defined_split(name):
    d = CATALOG.task(name)
    task = task_factory(d.factory)(**d.defaults())
    model = task.build_model(0)
    roles = param_roles(model, task.head)
    assert any(r.role == MATRIX for r in roles)
    assert sum(p.numel() for p in model.parameters()) == sum(torch.Size(r.shape).numel() for r in roles)


@pytest.mark.parametrize(
    "name, bad, words",
    [
        ("quadratic", {"hessian": "diag"}, "QuadraticTask: hessian='diag' is not allowed: got 'diag', expected one of"),
        ("quadratic", {"cond": 0.5}, "QuadraticTask: cond=0.5 is not allowed: got 0.5, expected a float >= 1"),
        (
            "digits-mlp",
            {"dropout": 1.0},
            "DigitsMLP: dropout=1.0 is not allowed: got 1.0, expected a float >= 0 and < 1",
        ),
        ("digits-cnn", {"val_fraction": 0.9}, "DigitsCNN: val_fraction=0.9 is not allowed"),
        ("gpt-tiny", {"n_layer": 0}, "GPTTask: n_layer=0 is not allowed: got 0, expected an int >= 1"),
    ],
)
def test_task_refuses_what_its_entry_refuses(name, bad, words):
    """One bounds checker: a task built from Python is checked against its catalog entry."""
    with pytest.raises(ValueError) as e:
        task_factory(CATALOG.task(name).factory)(**bad)
    assert words in str(e.value)
