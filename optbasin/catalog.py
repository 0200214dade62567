"""The catalog: every optimizer and task optbasin knows, each described by a YAML file.

Built-ins live in optbasin/optimizers/catalog and optbasin/tasks/catalog. A user adds entries with
a directory of YAML files (``--catalog DIR`` or ``catalog:`` in the sweep file); each file holds one
document with ``kind: optimizer`` or ``kind: task``. A user entry with a built-in's name replaces it.

An optimizer entry may extend another (``extends: nesgd`` plus a ``preset`` and the defaults it
changes): a family member is a few lines. Members are resolved once every file is read, so a parent
may live in any catalog directory (a user's replacement of a built-in parent is the one extended).
A replacement is announced (a CatalogNote warning naming both files).

Values are checked once, where they enter optbasin, against the entry in use (the user's when it
replaces a built-in): a sweep's by its loader (sweeps/spec.py), ``optimizers.build``'s there,
and a class constructed directly by its own constructor against its built-in entry
(``check_hparams``). optbasin constructs classes from checked values ``with values_checked()``:
their constructors then do not check them again against a built-in entry that is not in use.
"""

from __future__ import annotations

import importlib
import sys
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from optbasin.config import HParamDef, OptimizerDef, TaskDef, parse, read_yaml
from optbasin.errors import ConfigError, Problem

PACKAGE_DIR = Path(__file__).parent
BUILTIN_DIRS = (PACKAGE_DIR / "optimizers" / "catalog", PACKAGE_DIR / "tasks" / "catalog")


class CatalogNote(UserWarning):
    """Something a user should know about the catalog in use (a user entry replacing a built-in)."""


@dataclass
class Catalog:
    optimizers: dict[str, OptimizerDef] = field(default_factory=dict)
    tasks: dict[str, TaskDef] = field(default_factory=dict)
    dirs: list[str] = field(default_factory=list)  # user directories, put on sys.path for imports
    pending: dict[str, tuple[dict, str]] = field(default_factory=dict)  # entries with ``extends``, unresolved
    builtin_files: dict[tuple[str, str], str] = field(default_factory=dict)  # (kind, name) -> built-in file
    replaced: dict[tuple[str, str], tuple[str, str]] = field(default_factory=dict)  # -> (user file, built-in file)

    @classmethod
    def load(cls, extra_dirs: list[str | Path] = ()) -> Catalog:
        """The built-in entries, then each directory's (a later entry of the same name replaces an
        earlier one); a user entry replacing a built-in is announced with a CatalogNote."""
        cat = cls(dirs=[str(Path(d).resolve()) for d in extra_dirs])
        problems: list[Problem] = []
        for d in [*BUILTIN_DIRS, *map(Path, extra_dirs)]:
            if not d.is_dir():
                problems.append(Problem(str(d), "(catalog)", "not a directory"))
                continue
            for path in sorted(d.glob("*.y*ml")):
                try:
                    cat.add(read_yaml(path), str(path), builtin=d in BUILTIN_DIRS)
                except ConfigError as e:
                    problems.extend(e.problems)
        try:
            cat.resolve()
        except ConfigError as e:
            problems.extend(e.problems)
        if problems:
            raise ConfigError(problems)
        cat.announce()
        return cat

    def announce(self) -> None:
        """A CatalogNote per user entry that replaces a built-in one."""
        for (kind, name), (user, original) in self.replaced.items():
            warnings.warn(
                CatalogNote(
                    f"{user} replaces the built-in {kind} {name!r} ({original}): "
                    "sweeps, trials and build() use the replacement"
                ),
                stacklevel=3,
            )

    def add(self, doc: Any, file: str, builtin: bool = False) -> None:
        kind = doc.get("kind") if isinstance(doc, dict) else None
        if kind in ("optimizer", "task") and isinstance(doc.get("name"), str):
            key = (kind, doc["name"])
            if builtin:
                self.builtin_files[key] = file
            elif key in self.builtin_files and Path(file).resolve() != Path(self.builtin_files[key]).resolve():
                self.replaced[key] = (file, self.builtin_files[key])
        if kind == "optimizer" and "extends" in doc:
            self.pending[str(doc.get("name"))] = (doc, file)
        elif kind == "optimizer":
            d = parse(OptimizerDef, doc, file)
            self.optimizers[d.name] = d
            self.pending.pop(d.name, None)  # a later file replaces an earlier entry, resolved or not
        elif kind == "task":
            d = parse(TaskDef, doc, file)
            self.tasks[d.name] = d
        elif kind is None and isinstance(doc, dict) and ("class" in doc or "factory" in doc):
            raise ConfigError([Problem(file, "kind", "missing: add 'kind: optimizer' or 'kind: task'")])
        elif kind not in (None, "sweep"):  # sweep and claims files may sit in a catalog directory
            raise ConfigError([Problem(file, "kind", f"got {kind!r}, expected 'optimizer' or 'task'")])

    def resolve(self) -> None:
        """Parse the entries that extend another, parents first; ConfigError for an unknown parent."""
        problems: list[Problem] = []
        while self.pending:
            ready = [n for n, (doc, _) in self.pending.items() if doc["extends"] not in self.pending]
            if not ready:  # only cycles are left
                problems += [
                    Problem(file, "extends", f"{doc['extends']!r} extends back to this entry (a cycle)")
                    for doc, file in self.pending.values()
                ]
                break
            for name in ready:
                doc, file = self.pending.pop(name)
                try:
                    d = parse(OptimizerDef, self._extended(doc, file), file)
                    self.optimizers[d.name] = d
                except ConfigError as e:
                    problems.extend(e.problems)
        if problems:
            raise ConfigError(problems)

    def _extended(self, doc: dict, file: str) -> dict:
        """The member's full document: the parent's, with the member's fields, hyperparameter
        overrides (field by field) and preset (each a single allowed value) on top."""
        parent_name = doc["extends"]
        if parent_name not in self.optimizers:
            raise ConfigError(
                [
                    Problem(
                        file,
                        "extends",
                        f"unknown optimizer {parent_name!r}; known: {', '.join(sorted(self.optimizers))}",
                    )
                ]
            )
        parent = self.optimizers[parent_name]
        hps = {k: h.model_dump(exclude_unset=True) for k, h in parent.hyperparameters.items()}
        overrides, preset = doc.get("hyperparameters") or {}, doc.get("preset") or {}
        problems = [
            Problem(file, f, "expected a mapping")
            for f, v in (("hyperparameters", overrides), ("preset", preset))
            if not isinstance(v, dict)
        ]
        problems += [
            Problem(file, f"hyperparameters.{k}", "expected a mapping of fields (type, default, ...)")
            for k, o in (overrides.items() if not problems else ())
            if not isinstance(o, dict)
        ]
        if problems:
            raise ConfigError(problems)
        for k, o in overrides.items():
            hps[k] = {**hps.get(k, {}), **o}
        for k, v in preset.items():
            why = (
                f"not a hyperparameter of {parent_name}; known: {', '.join(sorted(parent.hyperparameters))}"
                if k not in parent.hyperparameters
                else parent.hyperparameters[k].check(v)
            )
            if why:
                problems.append(Problem(file, f"preset.{k}", why))
                continue
            hps[k] = {
                **hps[k],
                "default": v,
                "choices": [v],
                "origin": f"{doc.get('name')}'s preset",
                "help": f"fixed by {doc.get('name')}'s preset; {hps[k].get('help', '')}",
            }
        if problems:
            raise ConfigError(problems)
        inherited = {
            "class": parent.cls,
            "description": parent.description,
            "paper": parent.paper,
            "defaults_from": parent.defaults_from,
            "tuples": parent.tuples,
        }
        return {**inherited, **doc, "hyperparameters": hps}

    def optimizer(self, name: str) -> OptimizerDef:
        if name not in self.optimizers:
            raise KeyError(f"unknown optimizer {name!r}; known: {', '.join(sorted(self.optimizers))}")
        return self.optimizers[name]

    def task(self, name: str) -> TaskDef:
        if name not in self.tasks:
            raise KeyError(f"unknown task {name!r}; known: {', '.join(sorted(self.tasks))}")
        return self.tasks[name]


@lru_cache(maxsize=1)
def builtin() -> Catalog:
    """The built-in catalog, read once per process."""
    return Catalog.load()


def check_values(owner: str, defs: dict[str, HParamDef], values: dict[str, Any]) -> None:
    """The one bounds check of optbasin's own classes: ``HParamDef.check`` (the sweep loader's
    check) of every value against its catalog definition; ValueError naming the class, the name,
    the value and what is allowed. An optional value (declared without a default) may be None."""
    for name, value in values.items():
        h = defs[name]
        if value is None and h.default is None:
            continue
        why = h.check(value)
        if why:
            raise ValueError(f"{owner}: {name}={value!r} is not allowed: {why}")


_VALUES_CHECKED: ContextVar[bool] = ContextVar("optbasin_values_checked", default=False)


@contextmanager
def values_checked() -> Iterator[None]:
    """Construct classes from values already checked against the entry in use (a sweep's trial,
    ``optimizers.build``): their constructors skip ``check_hparams`` / ``check_task_params``."""
    token = _VALUES_CHECKED.set(True)
    try:
        yield
    finally:
        _VALUES_CHECKED.reset(token)


def check_hparams(owner: type, entry: str, values: dict[str, Any]) -> None:
    """An optimizer constructor's arguments against built-in entry ``entry``'s hyperparameters,
    unless optbasin constructs it from values checked against the entry in use (values_checked)."""
    if not _VALUES_CHECKED.get():
        check_values(owner.__name__, builtin().optimizer(entry).hyperparameters, values)


def check_task_params(owner: type, entry: str, values: dict[str, Any]) -> None:
    """A task constructor's arguments against built-in entry ``entry``'s params (see check_hparams)."""
    if not _VALUES_CHECKED.get():
        check_values(owner.__name__, builtin().task(entry).params, values)


def import_object(target: str, import_paths: list[str] = ()) -> Any:
    """Import ``module:attr``. ``import_paths`` (user catalog directories) are tried too."""
    module_name, _, attr = target.partition(":")
    if not module_name or not attr:
        raise ImportError(f"{target!r} is not of the form 'module:Name'")
    for p in import_paths:
        if p not in sys.path:
            sys.path.append(p)
    try:
        module = importlib.import_module(module_name)
    except Exception as e:  # any failure while importing user code is the user's to fix
        raise ImportError(f"cannot import module {module_name!r}: {e.__class__.__name__}: {e}") from None
    try:
        return getattr(module, attr)
    except AttributeError:
        raise ImportError(f"module {module_name!r} has no attribute {attr!r}") from None


def optimizer_class(target: str, import_paths: list[str] = ()) -> type:
    """The torch optimizer class ``module:Class``; ImportError/TypeError say what is wrong."""
    import torch

    obj = import_object(target, import_paths)
    if not (isinstance(obj, type) and issubclass(obj, torch.optim.Optimizer)):
        raise TypeError(f"{target!r} is not a torch.optim.Optimizer subclass")
    return obj


def task_factory(target: str, import_paths: list[str] = ()) -> Callable[..., Any]:
    """The task factory ``module:function``; ImportError/TypeError say what is wrong."""
    obj = import_object(target, import_paths)
    if not callable(obj):
        raise TypeError(f"{target!r} is not callable")
    return obj
