"""From a sweep file to a validated SweepSpec and the list of TrialSpecs it expands to.

Validation has two layers: the pydantic schema (config.SweepSpec), then the checks that need the
catalog (unknown optimizer, task or hyperparameter, values outside their declared range, classes
that do not import or do not take the hyperparameters their entry declares: class_check.py). All
problems are collected and raised together as one ConfigError.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

from optbasin.catalog import Catalog, optimizer_class, task_factory, values_checked
from optbasin.class_check import signature_problems
from optbasin.config import MAX_TRIALS, HParamDef, LogRange, OptimizerEntry, SweepSpec, parse, read_yaml
from optbasin.errors import ConfigError, DataError, Problem
from optbasin.training.trial_spec import TrialSpec


def load_sweep(
    path: str | Path,
    catalog_dirs: list[str | Path] = (),
    base_dir: str | Path | None = None,
    max_trials: int = MAX_TRIALS,
) -> tuple[SweepSpec, Catalog]:
    """Read and fully validate a sweep file; raise ConfigError listing every problem.

    The sweep's own ``catalog:`` directories are relative to ``base_dir`` (default: the file's folder).
    A sweep of more than ``max_trials`` trials is refused before anything is expanded.
    """
    path = Path(path)
    return load_sweep_doc(
        read_yaml(path), str(path), base_dir if base_dir is not None else path.parent, catalog_dirs, max_trials
    )


def load_sweep_doc(
    doc: Any, file: str, base_dir: str | Path, catalog_dirs: list[str | Path] = (), max_trials: int = MAX_TRIALS
) -> tuple[SweepSpec, Catalog]:
    """``load_sweep`` of a document already read (e.g. a dict given in Python): problems name
    ``file`` (a label such as "(sweep dict)" where there is no file) and the field."""
    spec: SweepSpec = parse(SweepSpec, doc, file)
    spec.check_size(max_trials)
    base = Path(base_dir)
    dirs = [*catalog_dirs, *[(base / d) for d in spec.catalog]]
    catalog = Catalog.load(dirs)
    problems = check_against_catalog(spec, catalog, file)
    if problems:
        raise ConfigError(problems)
    resolve_paths(spec, catalog, base)
    problems = check_task_data(spec, catalog, file)
    if problems:
        raise ConfigError(problems)
    return spec, catalog


def resolve_paths(spec: SweepSpec, catalog: Catalog, base: Path) -> None:
    """Make every ``type: path`` task parameter absolute, relative to the sweep file's folder."""
    for t in spec.tasks:
        for k, v in t.params.items():
            if catalog.tasks[t.name].params[k].type == "path" and v and not Path(v).is_absolute():
                t.params[k] = str((base / v).resolve())


def check_task_data(spec: SweepSpec, catalog: Catalog, file: str) -> list[Problem]:
    """Build each task once and let it check its data files (DataError -> a problem)."""
    problems = []
    for i, t in enumerate(spec.tasks):
        d = catalog.tasks[t.name]
        try:
            with values_checked():  # checked against the entry in use (check_against_catalog)
                task = task_factory(d.factory, catalog.dirs)(**{**d.defaults(), **t.params})
            task.check_data()
        except DataError as e:
            problems.append(Problem(file, f"tasks[{i}].params", str(e)))
        except (ValueError, TypeError) as e:
            problems.append(Problem(file, f"tasks[{i}].params", f"task {t.name} refuses these parameters: {e}"))
    return problems


def _check_value(h: HParamDef, value: Any, file: str, field: str) -> list[Problem]:
    why = h.check(value)
    return [Problem(file, field, why)] if why else []


def _axis_values(axis: Any) -> list[Any]:
    return axis.values() if isinstance(axis, LogRange) else list(axis)


def check_against_catalog(spec: SweepSpec, catalog: Catalog, file: str) -> list[Problem]:
    problems: list[Problem] = []
    seen: dict[str, int] = {}
    for i, t in enumerate(spec.tasks):
        where = f"tasks[{i}]"
        if t.key in seen:
            problems.append(
                Problem(
                    file,
                    f"{where}.name",
                    f"duplicate task entry {t.key!r} (also tasks[{seen[t.key]}]); give one a distinct 'label'",
                )
            )
        seen[t.key] = i
        if t.name not in catalog.tasks:
            problems.append(
                Problem(file, f"{where}.name", f"unknown task {t.name!r}; known: {', '.join(sorted(catalog.tasks))}")
            )
            continue
        d = catalog.tasks[t.name]
        for k, v in t.params.items():
            if k not in d.params:
                problems.append(
                    Problem(
                        file,
                        f"{where}.params.{k}",
                        f"unknown parameter of task {t.name}; known: {', '.join(sorted(d.params)) or '(none)'}",
                    )
                )
            else:
                problems += _check_value(d.params[k], v, file, f"{where}.params.{k}")
        try:
            task_factory(d.factory, catalog.dirs)
        except (ImportError, TypeError) as e:
            problems.append(Problem(d.source or file, "factory", str(e)))

    seen = {}
    declared: set[str] = set()
    classes_checked: set[str] = set()  # entries whose class was imported and checked (once each)
    for i, o in enumerate(spec.optimizers):
        where = f"optimizers[{i}]"
        if o.key in seen:
            problems.append(
                Problem(
                    file,
                    f"{where}.name",
                    f"duplicate optimizer entry {o.key!r} (also optimizers[{seen[o.key]}]); "
                    "give one a distinct 'label'",
                )
            )
        seen[o.key] = i
        if o.name not in catalog.optimizers:
            problems.append(
                Problem(
                    file,
                    f"{where}.name",
                    f"unknown optimizer {o.name!r}; known: {', '.join(sorted(catalog.optimizers))}",
                )
            )
            continue
        d = catalog.optimizers[o.name]
        declared |= set(d.hyperparameters)
        for section, values in (("grid", o.grid), ("hparams", o.hparams)):
            for k, v in values.items():
                field = f"{where}.{section}.{k}"
                if k not in d.hyperparameters:
                    problems.append(
                        Problem(
                            file,
                            field,
                            f"unknown hyperparameter of {o.name}; known: {', '.join(sorted(d.hyperparameters))}",
                        )
                    )
                    continue
                if section == "hparams":
                    problems += _check_value(d.hyperparameters[k], v, file, field)
                    if k in o.grid:
                        problems.append(Problem(file, field, "also given in grid: give a hyperparameter one place"))
                    continue
                vals = _axis_values(v)
                if not vals:
                    problems.append(Problem(file, field, "empty grid: give at least one value"))
                for j, x in enumerate(vals):
                    problems += _check_value(d.hyperparameters[k], x, file, f"{field}[{j}]")
        for k, v in spec.shared.items():
            if k in d.hyperparameters:
                problems += _check_value(d.hyperparameters[k], v, file, f"shared.{k}")
        if o.name not in classes_checked:
            classes_checked.add(o.name)
            try:
                problems += signature_problems(d, optimizer_class(d.cls, catalog.dirs), d.source or file)
            except (ImportError, TypeError) as e:
                problems.append(Problem(d.source or file, "class", str(e)))
    for k in spec.shared:
        if declared and k not in declared:
            problems.append(Problem(file, f"shared.{k}", "no optimizer of this sweep has this hyperparameter"))
    return problems


def grid_points(entry: OptimizerEntry) -> list[dict[str, Any]]:
    """Cartesian product of the entry's grid axes (in the order written)."""
    names = list(entry.grid)
    axes = [_axis_values(entry.grid[n]) for n in names]
    return [dict(zip(names, combo)) for combo in itertools.product(*axes)]


def expand(spec: SweepSpec, catalog: Catalog) -> list[TrialSpec]:
    """All trials of a grid sweep: tasks x optimizers x grid points x seeds."""
    trials = []
    for t in spec.tasks:
        for o in spec.optimizers:
            trials += [trial_spec(spec, catalog, t, o, point, seed) for point in grid_points(o) for seed in spec.seeds]
    return trials


def trial_spec(
    spec: SweepSpec, catalog: Catalog, t: Any, o: OptimizerEntry, point: dict[str, Any], seed: int
) -> TrialSpec:
    """One resolved trial: catalog defaults < shared < fixed hparams < grid point."""
    td, od = catalog.tasks[t.name], catalog.optimizers[o.name]
    shared = {k: v for k, v in spec.shared.items() if k in od.hyperparameters}
    hp = {**od.defaults(), **shared, **o.hparams, **point}
    hp = {k: od.hyperparameters[k].coerce(v) for k, v in hp.items()}
    params = {**td.defaults(), **t.params}
    params = {k: td.params[k].coerce(v) for k, v in params.items()}
    split_matrix = [*(t.split.matrix if t.split else []), *(o.split.matrix if o.split else [])]
    split_other = [*(t.split.other if t.split else []), *(o.split.other if o.split else [])]
    return TrialSpec(
        sweep=spec.name,
        task=t.key,
        task_name=t.name,
        task_factory=td.factory,
        task_params=params,
        optimizer=o.key,
        optimizer_name=o.name,
        optimizer_class=od.cls,
        hparams=hp,
        optimizer_tuples=od.tuples,
        swept=list(o.grid),
        seed=seed,
        steps=t.steps or spec.budget.steps or td.steps,
        eval_every=spec.budget.eval_every,
        log_every=spec.budget.log_every,
        accumulate=spec.budget.accumulate,
        grad_clip=spec.budget.grad_clip,
        timeout_s=t.timeout_s or spec.budget.timeout_s,
        schedule=spec.schedule,
        divergence_threshold=spec.divergence.threshold,
        split_matrix=split_matrix,
        split_other=split_other,
        cpus=spec.resources.cpus,
        gpus=spec.resources.gpus,
        import_paths=catalog.dirs,
    )
