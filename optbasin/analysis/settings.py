"""Settings of the analysis (tolerances, budgets, bootstrap), validated like every YAML document."""

from __future__ import annotations

from typing import Any

from pydantic import Field, field_validator, model_validator

from optbasin.config import Strict, parse


class AnalysisSettings(Strict):
    """Every knob of the robustness metrics (docs/statistics.md).

    eps: relative basin tolerances, loss <= l* + eps |l*|; the first one is the primary one
         (the report shades it, claims use it unless they name another).
    delta: absolute basin tolerances, loss <= l* + delta.
    lr_decades: width (decades) of the lr range of the Wortsman LR sensitivity, centred on each
         optimizer's own best lr; lr_range instead fixes one range [a, b] for every optimizer.
    ks: budgets k at which the leaderboard reports Dodge's expected best after k trials.
    tunability_budget: K of Sivaprasad's tunability (P(k) for k = 1..K); alpha: alpha-tunability.
         Both are undefined (NaN) when k or K exceeds N, the number of trials run (grid points x
         seeds on the leaderboard; grid points for one seed in the claims' per-seed values).
    resamples, seed, confidence: the bootstrap over seeds (leaderboard: percentile intervals;
         claims: studentized bootstrap intervals of the effect).
    level: the error rate of the claims' verdicts (Holm over every one-sided test of the analysis).
    curve_points: most k values of the expected-best curve stored (log-spaced beyond that).
    extrapolate_n: the parameter count at which the trend with model size reports its fitted
         line (an extrapolation, not measured; default GPT-2 small's 124e6).
    """

    eps: list[float] = Field(default_factory=lambda: [0.1, 0.02], min_length=1)
    delta: list[float] = Field(default_factory=lambda: [0.1])
    lr_decades: float = Field(default=3.0, gt=0)
    lr_range: tuple[float, float] | None = None
    ks: list[int] = Field(default_factory=lambda: [1, 5, 10, 20], min_length=1)
    tunability_budget: int = Field(default=10, ge=1)
    alpha: float = Field(default=0.01, ge=0)
    resamples: int = Field(default=1000, ge=1)
    seed: int = 0
    confidence: float = Field(default=0.95, gt=0, lt=1)
    level: float = Field(default=0.05, gt=0, lt=1)
    curve_points: int = Field(default=256, ge=2)
    extrapolate_n: float = Field(default=124e6, gt=0)

    @field_validator("eps", "delta")
    @classmethod
    def _non_negative(cls, v: list[float]) -> list[float]:
        if any(x < 0 for x in v):
            raise ValueError(f"tolerances must be >= 0, got {v}")
        return v

    @field_validator("ks")
    @classmethod
    def _positive(cls, v: list[int]) -> list[int]:
        if any(k < 1 for k in v):
            raise ValueError(f"budgets k must be >= 1, got {v}")
        return sorted(set(v))

    @model_validator(mode="after")
    def _range(self) -> AnalysisSettings:
        if self.lr_range is not None and not (0 < self.lr_range[0] < self.lr_range[1]):
            raise ValueError(f"lr_range must be [a, b] with 0 < a < b, got {list(self.lr_range)}")
        return self


def make_settings(settings: AnalysisSettings | dict[str, Any] | None, file: str = "(settings)") -> AnalysisSettings:
    """Settings from None (defaults), a mapping (validated; ConfigError on bad fields) or a model."""
    if settings is None:
        return AnalysisSettings()
    if isinstance(settings, AnalysisSettings):
        return settings
    return parse(AnalysisSettings, settings, file)
