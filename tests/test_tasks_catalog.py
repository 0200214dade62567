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
    accepted = set(inspect.signature(cls.__init__).parameters) - {"self"}
    assert set(d.params) == accepted, "every constructor argument is declared in the YAML and vice versa"
    for key, h in d.params.items():
        assert h.help, f"{name}.{key} has no help text"
        if h.default is not None:
            assert h.check(h.default) is None, f"{name}.{key}: default {h.default!r} violates its own bounds"
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
