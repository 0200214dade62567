"""``optbasin list``: the catalog's optimizers and tasks, one optimizer in full, and a task's parameter split."""

from __future__ import annotations

from optbasin.catalog import Catalog
from optbasin.config import HParamDef
from optbasin.errors import OptbasinError


def _hp(name: str, h: HParamDef) -> str:
    return f"{name}={h.default!r}" if h.default is not None else name


def render(what: str, name: str | None, catalog_dirs: list[str]) -> str:
    cat = Catalog.load(catalog_dirs)
    if what == "optimizers" and name:
        return optimizer_detail(cat, name)
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
    from optbasin.catalog import task_factory, values_checked
    from optbasin.optimizers.split import param_roles

    if not task_name:
        raise OptbasinError("list params: name a task, e.g. 'optbasin list params digits-mlp'")
    try:
        d = cat.task(task_name)
    except KeyError as e:
        raise OptbasinError(str(e.args[0])) from None
    with values_checked():  # the entry in use's defaults, checked when it was read
        task = task_factory(d.factory, cat.dirs)(**d.defaults())
    model = task.build_model(0)
    roles = param_roles(model, task.head)
    width = max(len("parameter"), *(len(r.name) for r in roles))
    lines = [f"{'parameter':<{width}}  {'shape':<14} {'rule':<7} why"]
    lines += [f"{r.name:<{width}}  {'x'.join(map(str, r.shape)) or 'scalar':<14} {r.role:<7} {r.why}" for r in roles]
    n_matrix = sum(1 for r in roles if r.role == "matrix")
    lines.append(f"{n_matrix} matrix tensors (orthogonalized), {len(roles) - n_matrix} other (the method's other rule)")
    return "\n".join(lines)


def optimizer_detail(cat: Catalog, name: str) -> str:
    """Every hyperparameter of one optimizer: default, allowed values, where the default comes from."""
    try:
        d = cat.optimizer(name)
    except KeyError as e:
        raise OptbasinError(str(e.args[0])) from None
    head = [f"{d.name}: {d.description}", f"class: {d.cls}"]
    head += (
        [f"extends: {d.extends} (preset: {', '.join(f'{k}={v!r}' for k, v in d.preset.items()) or 'none'})"]
        if d.extends
        else []
    )
    head += [f"paper: {d.paper}"] if d.paper else []
    head += ["tuple arguments: " + ", ".join(f"{a}=({', '.join(m)})" for a, m in d.tuples.items())] if d.tuples else []
    head += [f"defaults from: {d.defaults_from or 'not stated'}", f"defined in: {d.source}", ""]
    rows = [
        (
            k,
            "(unset)" if h.default is None else repr(h.default),
            h.allowed().split(" (")[0],
            h.origin or "see 'defaults from'",
            h.help,
        )
        for k, h in d.hyperparameters.items()
    ]
    titles = ("hyperparameter", "default", "allowed", "default from")
    widths = [max(len(t), *(len(r[i]) for r in rows)) for i, t in enumerate(titles[:3])]
    lines = ["  ".join(f"{t:<{w}}" for t, w in zip(titles[:3], widths)) + "  " + titles[3]]
    for k, default, allowed, origin, help_ in rows:
        lines.append("  ".join(f"{c:<{w}}" for c, w in zip((k, default, allowed), widths)) + "  " + origin)
        if help_:
            lines.append(" " * (widths[0] + 2) + help_)
    return "\n".join(head + lines)
