"""``optbasin validate``: check any optbasin YAML file (sweep, optimizer, task, claims)."""

from __future__ import annotations

from pathlib import Path

from optbasin.analysis.claims import load_claims, metric_problems
from optbasin.catalog import Catalog, optimizer_class, task_factory
from optbasin.class_check import signature_problems
from optbasin.config import MAX_TRIALS, read_yaml
from optbasin.errors import ConfigError, Problem


def validate_file(path: Path, catalog_dirs: list[str], max_trials: int = MAX_TRIALS) -> list[Problem]:
    """Every problem of one file (empty when valid). The kind comes from its ``kind`` field
    (a file without one is a sweep, or a claims file when ``claims`` is its only content)."""
    from optbasin.sweeps.spec import load_sweep

    try:
        doc = read_yaml(path)
        kind = doc.get("kind", "sweep") if isinstance(doc, dict) else "sweep"
        if kind in ("optimizer", "task"):
            cat = Catalog.load(catalog_dirs)  # the parent of an ``extends`` entry may be any catalog entry
            cat.dirs.append(str(path.parent.resolve()))
            cat.add(doc, str(path))
            cat.resolve()
            cat.announce()  # this file replacing a built-in entry
            if kind == "optimizer":
                d = cat.optimizer(doc["name"])
                problems = signature_problems(d, optimizer_class(d.cls, cat.dirs), str(path))
                if problems:
                    return problems
            else:
                task_factory(cat.task(doc["name"]).factory, cat.dirs)
        elif isinstance(doc, dict) and set(doc) == {"claims"}:
            load_claims(path)
        else:
            claims = doc.get("claims") if isinstance(doc, dict) else None
            problems = metric_problems(claims, str(path))  # the analysis's part of the schema
            try:
                load_sweep(path, catalog_dirs, max_trials=max_trials)
            except ConfigError as e:
                return e.problems + problems
            return problems
    except ConfigError as e:
        return e.problems
    except (ImportError, TypeError) as e:
        field = "class" if kind == "optimizer" else "factory"
        return [Problem(str(path), field, str(e))]
    return []


def validate_files(files: list[str], catalog_dirs: list[str], max_trials: int = MAX_TRIALS) -> list[Problem]:
    return [p for f in files for p in validate_file(Path(f), catalog_dirs, max_trials)]


def fairness_warnings(files: list[str], catalog_dirs: list[str], max_trials: int = MAX_TRIALS) -> list[Problem]:
    """Per claim of each valid sweep file (without claims: per pair of its optimizers, which its
    leaderboard ranks side by side): hyperparameters of one role that the two run with different
    unswept values (see fairness.py), and claims its seeds can never decide
    (analysis/feasibility.py). Call after validate_files found nothing."""
    from optbasin.analysis.feasibility import sweep_warnings
    from optbasin.fairness import unmatched_hyperparameters
    from optbasin.sweeps.spec import load_sweep

    warnings = []
    for f in files:
        doc = read_yaml(f)
        if not (isinstance(doc, dict) and doc.get("kind", "sweep") == "sweep" and "optimizers" in doc):
            continue
        spec, catalog = load_sweep(f, catalog_dirs, max_trials=max_trials)
        pairs = [(f"claims[{i}] ({c.name})", *c.compare) for i, c in enumerate(spec.claims)] or [
            ("optimizers (ranked side by side)", a.key, b.key)
            for i, a in enumerate(spec.optimizers)
            for b in spec.optimizers[i + 1 :]
        ]
        warnings += unmatched_hyperparameters(spec, catalog, pairs)
        warnings += [f"{f}: {w}" for w in sweep_warnings(spec)]
    return warnings
