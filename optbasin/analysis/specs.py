"""Names of the metrics an optimizer gets per task, and the column each one is stored under."""

from __future__ import annotations

from dataclasses import dataclass

# metric name -> True when a lower value is the better one (robustness.md numbering in brackets)
LOWER_IS_BETTER = {
    "best_loss": True,               # l* (1)
    "basin_width": False,            # decades of lr within tolerance (2)
    "lr_sensitivity": True,          # Wortsman (3)
    "expected_best_k": True,         # Dodge (4)
    "tunability": True,              # Sivaprasad CP on a loss (5)
    "alpha_tunability": True,        # fraction of the budget to get within alpha of the peak (5)
    "divergence_rate": True,         # fraction of trials (grid points x seeds) that diverged (6)
    "divergence_rate_points": True,  # fraction of grid points where some seed diverged (6)
    "time_per_step": True,           # median wall time per step (s)
}
METRICS = tuple(LOWER_IS_BETTER)


@dataclass(frozen=True)
class MetricSpec:
    """One metric with its parameters; ``column`` is its name in the leaderboard."""

    name: str
    eps: float | None = None        # basin_width, relative tolerance
    delta: float | None = None      # basin_width, absolute tolerance
    k: int | None = None            # expected_best_k
    weighting: str | None = None    # tunability: early | uniform | late
    alpha: float | None = None      # alpha_tunability

    @property
    def column(self) -> str:
        if self.name == "basin_width":
            return f"basin_width_rel{self.eps:g}" if self.eps is not None else f"basin_width_abs{self.delta:g}"
        if self.name == "expected_best_k":
            return f"expected_best_k{self.k}"
        if self.name == "tunability":
            return f"tunability_{self.weighting}"
        if self.name == "alpha_tunability":
            return f"alpha_tunability_{self.alpha:g}"
        return self.name

    @property
    def lower_is_better(self) -> bool:
        return LOWER_IS_BETTER[self.name]


def default_specs(settings) -> list[MetricSpec]:
    """The leaderboard's metrics for the given AnalysisSettings."""
    specs = [MetricSpec("best_loss")]
    specs += [MetricSpec("basin_width", eps=e) for e in settings.eps]
    specs += [MetricSpec("basin_width", delta=d) for d in settings.delta]
    specs += [MetricSpec("lr_sensitivity")]
    specs += [MetricSpec("expected_best_k", k=k) for k in settings.ks]
    specs += [MetricSpec("tunability", weighting=w) for w in ("early", "uniform", "late")]
    specs += [MetricSpec("alpha_tunability", alpha=settings.alpha)]
    specs += [MetricSpec("divergence_rate"), MetricSpec("divergence_rate_points"), MetricSpec("time_per_step")]
    return specs
