"""Pydantic models of every YAML document optbasin reads, and safe loading with located errors.

Three documents:
- an optimizer definition (``kind: optimizer``): a torch optimizer class plus its hyperparameters;
- a task definition (``kind: task``): a factory returning a Task plus its parameters;
- a sweep: tasks x optimizers x hyperparameter grids x seeds, with budget, schedule, resources.

Every error is reported as ``file: field: reason`` (see errors.Problem), all at once.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Any, Literal, Union

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from optbasin.errors import ConfigError, Problem, short

Scalar = Union[bool, int, float, str]

# Limits, checked before anything is expanded (README "Reliability" lists them).
MAX_YAML_BYTES = 1 << 20  # a YAML file larger than 1 MiB is refused unread
MAX_YAML_NODES = 100_000  # values in a YAML document once its aliases are expanded
MAX_SEEDS = 100_000  # seeds of a sweep (a count, or the length of the list)
MAX_AXIS_POINTS = 100_000  # points of one log_range grid axis
MAX_TRIALS = 100_000  # trials of a sweep; `--max-trials N` raises it
SEED_BOUND = 2**63  # seeds are integers in [0, 2^63)


# What a hyperparameter is, declared in its entry (``role:``); the fairness check (fairness.py)
# compares two optimizers' hyperparameters of one role, whatever their names.
ROLES = {
    "learning_rate": "learning rate",
    "momentum": "momentum, an EMA of the gradient m <- b m + (1 - b) g (Adam's beta1, Muon's momentum, Lion's beta2)",
    "heavy_ball_momentum": "heavy-ball momentum, b <- mu b + g (torch.optim.SGD)",
    "second_moment": "EMA coefficient of the squared gradient (Adam's beta2)",
    "epsilon": "added to a denominator",
    "decoupled_weight_decay": "decoupled weight decay, p <- (1 - lr wd) p apart from the gradient (AdamW, Muon)",
    "coupled_weight_decay": "coupled (L2) weight decay, g <- g + wd p (torch.optim.SGD, Adam, RAdam)",
}
Role = Literal[
    "learning_rate",
    "momentum",
    "heavy_ball_momentum",
    "second_moment",
    "epsilon",
    "decoupled_weight_decay",
    "coupled_weight_decay",
]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


# --------------------------------------------------------------------------------------------
# Definitions (catalog entries)
# --------------------------------------------------------------------------------------------
class HParamDef(Strict):
    """One declared hyperparameter: its type, default and allowed values (gt/ge/lt/le, choices)."""

    type: Literal["float", "int", "bool", "str", "path"] = "float"  # path: relative to the sweep file
    default: Any = None
    choices: list[Scalar] | None = None
    gt: float | None = None
    ge: float | None = None
    lt: float | None = None
    le: float | None = None
    log: bool = False
    help: str = ""
    origin: str = ""  # where the default comes from, when not from the entry's ``defaults_from``
    role: Role | None = None  # what it is, for the fairness check (fairness.py): compared by role, not name

    @model_validator(mode="after")
    def _default_allowed(self) -> HParamDef:
        why = None if self.default is None else self.check(self.default)
        if why:
            raise ValueError(f"default: {why}")
        return self

    def allowed(self) -> str:
        """Human description of the allowed values, used in error messages."""
        if self.choices is not None:
            return "one of " + ", ".join(repr(c) for c in self.choices)
        lo = f"> {self.gt:g}" if self.gt is not None else (f">= {self.ge:g}" if self.ge is not None else "")
        hi = f"< {self.lt:g}" if self.lt is not None else (f"<= {self.le:g}" if self.le is not None else "")
        bounds = " and ".join(b for b in (lo, hi) if b)
        return (
            ("an int" if self.type == "int" else f"a {self.type}")
            + (f" {bounds}" if bounds else "")
            + (f" ({self.help})" if self.help else "")
        )

    def check(self, value: Any) -> str | None:
        """Return why ``value`` is not allowed, or None when it is."""
        kinds = {"float": (int, float), "int": (int,), "bool": (bool,), "str": (str,), "path": (str,)}
        if isinstance(value, bool) and self.type != "bool":
            return f"got {value!r}, expected {self.allowed()}"
        if not isinstance(value, kinds[self.type]):
            return f"got {value!r} ({type(value).__name__}), expected {self.allowed()}"
        if self.choices is not None:
            return None if value in self.choices else f"got {value!r}, expected {self.allowed()}"
        if self.type in ("float", "int"):
            if isinstance(value, float) and not math.isfinite(value):
                return f"got {value!r}, expected a finite number"
            if isinstance(value, int) and not -SEED_BOUND <= value < SEED_BOUND:
                return f"got {short(value)}, expected a 64-bit integer"  # what the results store can hold
            bad = (
                (self.gt is not None and not value > self.gt)
                or (self.ge is not None and not value >= self.ge)
                or (self.lt is not None and not value < self.lt)
                or (self.le is not None and not value <= self.le)
            )
            if bad:
                return f"got {value!r}, expected {self.allowed()}"
        return None

    def coerce(self, value: Any) -> Any:
        return (
            float(value) if self.type == "float" and isinstance(value, int) and not isinstance(value, bool) else value
        )

    def at_closed_bound(self, value: float, side: str) -> bool:
        """Whether ``value`` is the closed bound on ``side`` ("low": ge, "high": le): a grid edge
        there is no edge, nothing the hyperparameter allows lies beyond it."""
        bound = self.le if side == "high" else self.ge
        return bound is not None and value == bound


class OptimizerDef(Strict):
    """A catalog entry: ``class`` is ``module:Class`` (a torch.optim.Optimizer subclass).

    ``extends: parent`` starts from the parent entry (class, description, paper, defaults_from,
    hyperparameters); the member's ``hyperparameters`` override the parent's field by field, and
    ``preset`` fixes parent hyperparameters to one value each (a single allowed choice). The
    catalog resolves ``extends`` (catalog.Catalog.resolve) before the entry is parsed here.
    ``defaults_from`` says where the defaults come from (e.g. the authors' code); a
    hyperparameter whose default comes from elsewhere says so in its ``origin``.
    """

    kind: Literal["optimizer"] = "optimizer"
    name: str
    cls: str = Field(alias="class")
    extends: str | None = None
    preset: dict[str, Scalar] = {}
    description: str = ""
    paper: str = ""
    defaults_from: str = ""
    hyperparameters: dict[str, HParamDef]
    # A class argument that is a tuple, built from declared hyperparameters (each set and swept on
    # its own): ``tuples: {betas: [beta1, beta2]}`` calls the class with betas=(beta1, beta2).
    tuples: dict[str, list[str]] = {}
    source: str = ""  # the file it was read from (filled by the catalog)

    @field_validator("hyperparameters")
    @classmethod
    def _needs_lr(cls, v: dict[str, HParamDef]) -> dict[str, HParamDef]:
        if "lr" not in v:
            raise ValueError("every optimizer declares an 'lr' hyperparameter")
        return v

    @field_validator("hyperparameters")
    @classmethod
    def _one_per_role(cls, v: dict[str, HParamDef]) -> dict[str, HParamDef]:
        owner: dict[str, str] = {}
        for k, h in v.items():
            if h.role is not None and h.role in owner:
                raise ValueError(f"{owner[h.role]} and {k} both declare role {h.role}: a role names one hyperparameter")
            if h.role is not None:
                owner[h.role] = k
        return v

    @field_validator("tuples")
    @classmethod
    def _tuples_of_declared(cls, v: dict[str, list[str]], info: ValidationInfo) -> dict[str, list[str]]:
        hps = info.data.get("hyperparameters")
        if hps is None:  # the hyperparameters are invalid: reported on their own
            return v
        seen: dict[str, str] = {}
        for arg, members in v.items():
            if arg in hps:
                raise ValueError(
                    f"{arg}: also a hyperparameter; name the tuple after the class argument and "
                    "declare its members (e.g. betas: [beta1, beta2])"
                )
            if not members:
                raise ValueError(f"{arg}: give the hyperparameters it is built from, e.g. [beta1, beta2]")
            for m in members:
                if m not in hps:
                    raise ValueError(f"{arg}: {m!r} is not a declared hyperparameter; known: {', '.join(sorted(hps))}")
                if m in seen:
                    raise ValueError(f"{arg}: {m!r} is also a member of {seen[m]}")
                if hps[m].default is None:
                    raise ValueError(f"{arg}: member {m!r} needs a default (the class gets every member)")
                seen[m] = arg
        return v

    def defaults(self) -> dict[str, Any]:
        return {k: h.default for k, h in self.hyperparameters.items() if h.default is not None}


class TaskDef(Strict):
    """A catalog entry: ``factory`` is ``module:function`` returning a Task."""

    kind: Literal["task"] = "task"
    name: str
    factory: str
    description: str = ""
    steps: int = Field(default=200, gt=0)  # default step budget of a trial
    params: dict[str, HParamDef] = {}
    source: str = ""

    def defaults(self) -> dict[str, Any]:
        return {k: h.default for k, h in self.params.items() if h.default is not None}


# --------------------------------------------------------------------------------------------
# Claims (verdicts: optbasin/analysis/claims.py; statistics: docs/statistics.md)
# --------------------------------------------------------------------------------------------
CLAIM_OPTIONS = ("tolerance", "delta", "scope", "k", "weighting", "alpha", "window", "tuning_seeds")


class Claim(Strict):
    """One claim: ``compare: [A, B]`` with ``direction: greater`` reads "metric(A) > metric(B) by
    more than ``margin``" (docs/statistics.md, section 5). Each metric's options (tolerance, k,
    window, ...) are those its registry entry lists; ``margin`` defaults to the metric's entry.
    The schema knows no metric: the analysis checks ``metric`` and its options against its registry
    (optbasin/analysis/claims.py, metric_problems), run by parse_claims, `validate` and `run`."""

    name: str = Field(min_length=1)
    metric: str
    compare: tuple[str, str]
    direction: Literal["greater", "less"]
    task: Union[str, list[str]] = "all"
    margin: Union[Annotated[float, Field(ge=0)], dict[str, Annotated[float, Field(ge=0)]], None] = None
    # smallest effect of interest (ratio: >= 1), or one per task label
    primary: bool = False  # primary claims form their own Holm family
    given: str | None = None  # decided only when claim `given` is supported
    tolerance: float | None = Field(default=None, ge=0)  # basin_width: eps
    delta: float | None = Field(default=None, ge=0)  # basin_width: absolute delta
    scope: Literal["floor", "own", "task"] | None = None  # basin_width: l* + eps (l_ref - l*) (floor), or
    # around own l* or the task's best
    k: int | None = Field(default=None, ge=1)  # expected_best_k
    weighting: Literal["early", "uniform", "late"] | None = None  # tunability
    alpha: float | None = Field(default=None, ge=0)  # alpha_tunability
    window: Union[tuple[float, float], dict[str, tuple[float, float]], None] = None  # lr_sensitivity:
    # one fixed lr range [a, b], or {A: [a, b], B: [c, d]} of equal width
    tuning_seeds: int | None = Field(default=None, ge=1)  # best_loss: select on the first n seeds
    effect: Literal["difference", "ratio"] = "difference"
    threshold: Any = None  # replaced by margin (an error that says so)
    description: str = ""

    @field_validator("threshold")
    @classmethod
    def _no_threshold(cls, v: Any) -> Any:
        if v is not None:
            raise ValueError(
                "'threshold' is replaced by 'margin': the smallest effect of interest, in the "
                "metric's unit (a ratio >= 1 for effect: ratio); supported means better by more "
                "than the margin (docs/statistics.md)"
            )
        return v

    @model_validator(mode="after")
    def _consistent(self) -> Claim:
        a, b = self.compare
        if a == b:
            raise ValueError(f"compare needs two different optimizer labels, got [{a}, {b}]")
        if self.tolerance is not None and self.delta is not None:
            raise ValueError("give basin_width either 'tolerance' (relative) or 'delta' (absolute), not both")
        if self.delta is not None and self.scope == "floor":
            raise ValueError(
                "scope: floor is a tolerance relative to the reference loss: give 'tolerance', not 'delta'"
            )
        if self.metric == "expected_best_k" and self.k is None:
            raise ValueError("metric expected_best_k needs 'k' (the number of trials)")
        if self.metric == "lr_sensitivity" and self.window is None:
            raise ValueError(
                "metric lr_sensitivity needs 'window: [a, b]': one lr range, fixed before the runs and "
                "the same for every seed and optimizer compared (Wortsman et al. 2023)"
            )
        ranges = self.window.values() if isinstance(self.window, dict) else [self.window] if self.window else []
        for w in ranges:
            if not (0 < w[0] < w[1]):
                raise ValueError(f"window must be [a, b] with 0 < a < b, got {list(w)}")
        if isinstance(self.window, dict):
            if set(self.window) != set(self.compare):
                raise ValueError(
                    f"window: a mapping gives one range per compared optimizer ({a}, {b}), got {', '.join(self.window)}"
                )
            widths = [math.log10(w[1] / w[0]) for w in self.window.values()]
            if abs(widths[0] - widths[1]) > 1e-3:
                raise ValueError(
                    f"window: each optimizer's range must span as many decades (centred on its pilot "
                    f"optimum, fixed before the study seeds run), got {widths[0]:.3g} and {widths[1]:.3g}"
                )
        margins = (
            self.margin.values() if isinstance(self.margin, dict) else [] if self.margin is None else [self.margin]
        )
        if self.effect == "ratio" and any(m < 1 for m in margins):
            raise ValueError(f"a ratio's margin is a factor >= 1 (1.05: 5%), got {min(margins):g}")
        if self.given == self.name:
            raise ValueError("given: a claim cannot be gated on itself")
        if isinstance(self.task, list) and not self.task:
            raise ValueError("task: give a label, a list of labels, or 'all'")
        return self


def claim_problems(
    claims: list[Claim], file: str, optimizers: list[str] | None = None, tasks: list[str] | None = None
) -> list[Problem]:
    """What a list of valid claims gets wrong as a whole: duplicate names and, when the sweep's
    labels are given, optimizer or task labels that the sweep does not run."""
    problems, seen = [], set()
    for i, c in enumerate(claims):
        if c.name in seen:
            problems.append(Problem(file, f"claims[{i}].name", f"duplicate claim name {c.name!r}"))
        if c.given is not None and c.given not in seen:
            problems.append(
                Problem(
                    file,
                    f"claims[{i}].given",
                    f"{c.given!r} is not the name of a claim listed "
                    "before this one (a claim is gated on an earlier claim)",
                )
            )
        seen.add(c.name)
        if optimizers is not None:
            for label in c.compare:
                if label not in optimizers:
                    problems.append(
                        Problem(
                            file,
                            f"claims[{i}].compare",
                            f"{label!r} is not an optimizer label of "
                            f"this sweep; expected one of {', '.join(optimizers)}",
                        )
                    )
        if tasks is not None and c.task != "all":
            for label in [c.task] if isinstance(c.task, str) else c.task:
                if label not in tasks:
                    problems.append(
                        Problem(
                            file,
                            f"claims[{i}].task",
                            f"{label!r} is not a task label of this sweep; expected 'all' or one of {', '.join(tasks)}",
                        )
                    )
    return problems


# --------------------------------------------------------------------------------------------
# The sweep document
# --------------------------------------------------------------------------------------------
class LogRange(Strict):
    """``{log_range: [lo, hi], points: n}``: n points evenly spaced in log10 between lo and hi."""

    log_range: tuple[float, float]
    points: int = Field(ge=1, le=MAX_AXIS_POINTS)

    @model_validator(mode="after")
    def _ordered(self) -> LogRange:
        lo, hi = self.log_range
        if not (lo > 0 and hi > 0):
            raise ValueError(f"log_range bounds must be > 0, got [{lo:g}, {hi:g}]")
        if hi < lo:
            raise ValueError(f"log_range must be [low, high] with low <= high, got [{lo:g}, {hi:g}]")
        return self

    def __len__(self) -> int:
        return self.points

    def values(self) -> list[float]:
        lo, hi = (math.log10(v) for v in self.log_range)
        if self.points == 1:
            return [float(10**lo)]
        return [float(f"{10 ** (lo + i * (hi - lo) / (self.points - 1)):.6g}") for i in range(self.points)]


def _axis_kind(v: Any) -> str:
    return "log_range_axis" if isinstance(v, (dict, LogRange)) else "values_axis"


# A grid axis: an explicit list of values, or {log_range: [lo, hi], points: n}.
GridAxis = Annotated[
    Union[Annotated[LogRange, Tag("log_range_axis")], Annotated[list[Scalar], Tag("values_axis")]],
    Discriminator(_axis_kind),
]
UNION_BRANCHES = {"log_range_axis", "values_axis", "bool", "int", "float", "str"}


class ParamSplit(Strict):
    """Overrides of the matrix/other parameter split: regexes matched against parameter names."""

    matrix: list[str] = []
    other: list[str] = []


class OptimizerEntry(Strict):
    name: str
    label: str | None = None  # distinguishes two entries of one optimizer; defaults to name
    grid: dict[str, GridAxis] = {}
    hparams: dict[str, Scalar] = {}
    split: ParamSplit | None = None

    @property
    def key(self) -> str:
        return self.label or self.name


class TaskEntry(Strict):
    name: str
    label: str | None = None
    params: dict[str, Any] = {}
    steps: int | None = Field(default=None, gt=0)
    timeout_s: float | None = Field(default=None, gt=0)  # this task's trials; default budget.timeout_s
    split: ParamSplit | None = None

    @property
    def key(self) -> str:
        return self.label or self.name


class Schedule(Strict):
    """Learning-rate multiplier over the run.

    constant; warmup_cosine (linear warmup then cosine to final_ratio); warmup_linear (warmup then
    linear decay to final_ratio); wsd (warmup, stable, then linear decay over the last decay_frac).
    warmup is a fraction of the steps.
    """

    kind: Literal["constant", "warmup_cosine", "warmup_linear", "wsd"] = "constant"
    warmup: float = Field(default=0.0, ge=0.0, lt=1.0)
    decay_frac: float = Field(default=0.4, gt=0.0, le=1.0)
    final_ratio: float = Field(default=0.1, ge=0.0, le=1.0)


class Budget(Strict):
    steps: int | None = Field(default=None, gt=0)  # None: each task's default
    eval_every: int = Field(default=50, gt=0)
    log_every: int = Field(default=10, gt=0)
    accumulate: int = Field(default=1, gt=0)  # micro-batches per optimizer step (gradient accumulation)
    grad_clip: float | None = Field(default=None, gt=0)  # clip the global gradient norm to this
    timeout_s: float | None = Field(default=None, gt=0)  # a trial running longer is failed; None: no limit


class Divergence(Strict):
    """A trial diverges when its loss is NaN/inf or exceeds threshold x its initial loss."""

    threshold: float = Field(default=5.0, gt=1.0)


class Resources(Strict):
    cpus: float = Field(default=1, gt=0)
    gpus: float = Field(default=0, ge=0)


class SearchSpec(Strict):
    """``grid`` (default) runs every grid point; ``optuna`` samples ``trials`` points with TPE."""

    method: Literal["grid", "optuna"] = "grid"
    trials: int = Field(default=20, gt=0)
    metric: Literal["val_loss", "train_loss"] = "val_loss"


class AdaptiveSpec(Strict):
    """``adaptive:`` of a sweep run with ``optbasin run SWEEP --adaptive`` (optbasin/adaptive/driver.py):
    rounds that close the grid, bisect basin edges and lr-sensitivity windows to ``resolution``
    decades of lr, and add ``seeds_per_round`` seeds where a claim is still open, until nothing is
    left to settle or a limit is reached."""

    max_trials: int = Field(default=10_000, ge=1)  # trials of the run in all, the declared grid included
    max_rounds: int = Field(default=10, ge=1)  # rounds after the declared grid (round 0)
    max_wall_s: float | None = Field(default=None, gt=0)  # no new round once the run has taken this long
    resolution: float = Field(default=0.1, gt=0, le=10)  # decades of lr: basin edges and windows this fine
    seeds_per_round: int = Field(default=2, ge=1, le=MAX_SEEDS)  # seeds added to a cell of an open claim
    max_seeds: int = Field(default=20, ge=2, le=MAX_SEEDS)  # seeds of a cell, at most
    # The error rate of this run's sequential decisions. A study split into k runs (one per model
    # size, say) gives each level / k: analysed together, their level is the sum (analysis/analyze.py,
    # adaptive_level), so the study's family-wise error rate stays at the total (Bonferroni).
    level: float = Field(default=0.05, gt=0, lt=1)


class SweepSpec(Strict):
    kind: Literal["sweep"] = "sweep"
    name: str = Field(min_length=1)
    description: str = ""
    output: str | None = None  # default runs/<name>, relative to the working directory
    catalog: list[str] = []  # extra catalog directories, relative to the sweep file
    seeds: Union[list[int], int] = [0]
    tasks: list[TaskEntry] = Field(min_length=1)  # an entry may be just a name
    optimizers: list[OptimizerEntry] = Field(min_length=1)
    shared: dict[str, Scalar] = {}
    budget: Budget = Budget()
    schedule: Schedule = Schedule()
    divergence: Divergence = Divergence()
    resources: Resources = Resources()
    search: SearchSpec = SearchSpec()
    retries: int = Field(default=0, ge=0)
    # Trials differing only in float hyperparameters train together as one stacked model of up to
    # K members: auto (K from the model's size, the memory `resources:` grant and the slots; 1 for
    # tasks that are not built in), a number K >= 1, or 1 (every trial alone). optbasin/training/population.py.
    population: Union[Literal["auto"], Annotated[int, Field(ge=1)]] = "auto"
    claims: list[Claim] = []  # checked against the sweep's labels (cross_problems)
    trackers: list[Literal["mlflow", "tensorboard", "wandb"]] = []  # live export: optbasin/export/live.py
    adaptive: AdaptiveSpec | None = None  # limits of `optbasin run --adaptive` (optbasin/adaptive/driver.py)
    source: str = ""  # the file it was read from

    @field_validator("name")
    @classmethod
    def _plain_name(cls, v: str) -> str:
        if v in (".", "..") or any(c in v for c in "/\\\0"):
            raise ValueError(
                f"got {short(v)}: a sweep name is a name, not a path (no '/', '\\', '.' or '..'); "
                "use 'output' to choose the run directory"
            )
        return v

    @field_validator("seeds")
    @classmethod
    def _seeds(cls, v: Union[list[int], int]) -> list[int]:
        n = v if isinstance(v, int) else len(v)
        if n < 1:
            raise ValueError("at least one seed is needed (a list of ints, or a count >= 1)")
        if n > MAX_SEEDS:
            raise ValueError(f"{n} seeds: at most {MAX_SEEDS} are allowed")
        seeds = list(range(v)) if isinstance(v, int) else v
        bad = [s for s in seeds if not 0 <= s < SEED_BOUND]
        if bad:
            raise ValueError(f"got {short(bad[0])}: seeds are integers in [0, 2^63)")
        if len(set(seeds)) != len(seeds):
            raise ValueError(f"seeds must be distinct, got {short(seeds)}")
        return seeds

    @field_validator("tasks", "optimizers", mode="before")
    @classmethod
    def _names_to_entries(cls, v: Any) -> Any:
        return [{"name": e} if isinstance(e, str) else e for e in v] if isinstance(v, list) else v

    def cross_problems(self, file: str) -> list[Problem]:
        """Problems between fields (each located): claims naming labels the sweep does not run, adaptive
        limits below the declared design."""
        problems = claim_problems(self.claims, file, [o.key for o in self.optimizers], [t.key for t in self.tasks])
        a = self.adaptive
        if a is not None and a.max_seeds < len(self.seeds):
            problems.append(
                Problem(
                    file,
                    "adaptive.max_seeds",
                    f"{a.max_seeds} is fewer than the sweep's {len(self.seeds)} seeds; give at least {len(self.seeds)}",
                )
            )
        if a is not None and self.search.method == "grid" and a.max_trials < self.trial_count():
            problems.append(
                Problem(
                    file,
                    "adaptive.max_trials",
                    f"{a.max_trials} is fewer than the declared grid's "
                    f"{self.trial_count()} trials (round 0); give at least {self.trial_count()}",
                )
            )
        if a is not None and self.search.method != "grid":
            problems.append(Problem(file, "adaptive", "adaptive rounds extend a grid: use search.method grid"))
        return problems

    def trial_count(self) -> int:
        """Trials this sweep plans, from the axes' lengths (nothing is expanded)."""
        if self.search.method == "optuna":
            return len(self.tasks) * len(self.optimizers) * self.search.trials
        points = sum(math.prod(len(axis) for axis in o.grid.values()) for o in self.optimizers)
        return len(self.tasks) * points * len(self.seeds)

    def check_size(self, max_trials: int = MAX_TRIALS) -> None:
        """Refuse a sweep of more than ``max_trials`` trials (raise ConfigError)."""
        n = self.trial_count()
        if n > max_trials:
            raise ConfigError(
                [
                    Problem(
                        self.source or "(sweep)",
                        "(sweep)",
                        f"{n} trials (tasks x grid points x seeds) exceed the limit of {max_trials}; "
                        "shrink the grid or raise the limit with --max-trials N",
                    )
                ]
            )

    def output_dir(self) -> Path:
        return Path(self.output) if self.output else Path("runs") / self.name


# --------------------------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------------------------
def _expanded_size(node: yaml.Node, memo: dict[int, int | None]) -> int:
    """Values under ``node`` once aliases are expanded (an alias counts its whole target again)."""
    key = id(node)
    if key in memo:
        if memo[key] is None:
            raise ValueError("a recursive alias (an anchor used inside itself)")
        return memo[key]
    memo[key] = None
    if isinstance(node, yaml.MappingNode):
        n = 1 + sum(_expanded_size(k, memo) + _expanded_size(v, memo) for k, v in node.value)
    elif isinstance(node, yaml.SequenceNode):
        n = 1 + sum(_expanded_size(v, memo) for v in node.value)
    else:
        n = 1
    memo[key] = n
    return n


def _bounded_load(text: str) -> Any:
    """yaml.safe_load, refusing documents of more than MAX_YAML_NODES values after alias expansion."""
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        size = _expanded_size(node, {})
        if size > MAX_YAML_NODES:
            raise ValueError(f"{size} values once aliases are expanded; at most {MAX_YAML_NODES} are read")
        return loader.construct_document(node)
    finally:
        loader.dispose()


def read_yaml(path: str | Path) -> Any:
    """Read a YAML file with the safe loader (no object-constructing tags), bounded in size:
    at most MAX_YAML_BYTES bytes and MAX_YAML_NODES values with aliases expanded."""
    path = Path(path)
    try:
        with open(path, "rb") as f:
            raw = f.read(MAX_YAML_BYTES + 1)
        if len(raw) > MAX_YAML_BYTES:
            raise ConfigError(
                [
                    Problem(
                        str(path),
                        "(file)",
                        f"larger than {MAX_YAML_BYTES} bytes: refused "
                        "(a sweep file is small; generate large grids with log_range)",
                    )
                ]
            )
        text = raw.decode()
    except FileNotFoundError:
        raise ConfigError([Problem(str(path), "(file)", "no such file")]) from None
    except (IsADirectoryError, PermissionError, UnicodeDecodeError) as e:
        raise ConfigError([Problem(str(path), "(file)", f"cannot read: {e.__class__.__name__}")]) from None
    try:
        return _bounded_load(text)
    except (ValueError, RecursionError) as e:
        why = str(e) if isinstance(e, ValueError) else "nested too deeply"
        raise ConfigError([Problem(str(path), "(document)", f"refused: {why}")]) from None
    except yaml.constructor.ConstructorError as e:
        where = f"line {e.problem_mark.line + 1}" if e.problem_mark else "(document)"
        raise ConfigError(
            [
                Problem(
                    str(path),
                    where,
                    f"refused: {e.problem} (only plain YAML is read; tags that construct objects are not allowed)",
                )
            ]
        ) from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "(document)"
        reason = getattr(e, "problem", None) or str(e)
        raise ConfigError([Problem(str(path), where, f"malformed YAML: {reason}")]) from None


def _loc(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part not in UNION_BRANCHES:  # pydantic names the union branch it tried: not a field
            out += ("." if out else "") + str(part)
    return out or "(document)"


def problems_from(err: ValidationError, file: str, prefix: str = "") -> list[Problem]:
    out: dict[str, Problem] = {}  # one problem per field (union branches repeat a field)
    for e in err.errors():
        field = _loc(tuple(e["loc"]))
        field = f"{prefix}.{field}" if prefix and field != "(document)" else (prefix or field)
        msg = e["msg"].removeprefix("Value error, ")
        if e["type"] == "extra_forbidden":
            msg = "unknown field"
        elif any(p in UNION_BRANCHES - {"log_range_axis", "values_axis"} for p in e["loc"]):
            msg = f"got {short(e['input'])}, expected a number, a bool or a string"
        out.setdefault(field, Problem(file, field, msg))
    return list(out.values())


def parse(model: type[BaseModel], data: Any, file: str) -> Any:
    """Validate ``data`` against ``model``; raise ConfigError with located problems."""
    if not isinstance(data, dict):
        raise ConfigError([Problem(file, "(document)", f"expected a mapping of fields, got {type(data).__name__}")])
    try:
        obj = model.model_validate({**data, "source": file} if "source" in model.model_fields else data)
    except ValidationError as e:
        raise ConfigError(problems_from(e, file)) from None
    problems = obj.cross_problems(file) if hasattr(obj, "cross_problems") else []
    if problems:
        raise ConfigError(problems)
    return obj
