"""``optbasin list``: the catalog's optimizers and tasks, and a task's parameter split."""

from __future__ import annotations

from optbasin.catalog import Catalog
from optbasin.config import HParamDef
from optbasin.errors import OptbasinError


def _hp(name: str, h: HParamDef) -> str:
    return f"{name}={h.default!r}" if h.default is not None else name


def render(what: str, name: str | None, catalog_dirs: list[str]) -> str:
    cat = Catalog.load(catalog_dirs)
    if what == "optimizers":
        lines = []
        for n, d in sorted(cat.optimizers.items()):
            lines.append(f"{n:<16} {d.description}")
            lines.append(f"{'':<16} " + ", ".join(_hp(k, h) for k, h in d.hyperparameters.items()))
        return "\n".join(lines)
    if what == "tasks":
        lines = []
        for n, d in sorted(cat.tasks.items()):
            lines.append(f"{n:<16} {d.description} (default budget {d.steps} steps)")
            if d.params:
                lines.append(f"{'':<16} " + ", ".join(_hp(k, h) for k, h in d.params.items()))
        return "\n".join(lines)
    return param_table(cat, name)


def param_table(cat: Catalog, task_name: str | None) -> str:
    """Which tensor of the task's model goes to the matrix rule and which to the other rule."""
    from optbasin.catalog import task_factory
    from optbasin.optimizers.split import param_roles

    if not task_name:
        raise OptbasinError("list params: name a task, e.g. 'optbasin list params digits-mlp'")
    try:
        d = cat.task(task_name)
    except KeyError as e:
        raise OptbasinError(str(e.args[0])) from None
    task = task_factory(d.factory, cat.dirs)(**d.defaults())
    model = task.build_model(0)
    roles = param_roles(model, task.head)
    width = max(len("parameter"), *(len(r.name) for r in roles))
    lines = [f"{'parameter':<{width}}  {'shape':<14} {'rule':<7} why"]
    lines += [f"{r.name:<{width}}  {'x'.join(map(str, r.shape)) or 'scalar':<14} {r.role:<7} {r.why}" for r in roles]
    n_matrix = sum(1 for r in roles if r.role == "matrix")
    lines.append(f"{n_matrix} matrix tensors (orthogonalized), {len(roles) - n_matrix} other (the method's other rule)")
    return "\n".join(lines)
