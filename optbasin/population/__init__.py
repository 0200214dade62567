"""Populations: K hyperparameter points of one task, optimizer and seed trained as one stacked model."""

from optbasin.population.engine import run_population, supports_population
from optbasin.population.grouping import group_key, populations

__all__ = ["run_population", "supports_population", "group_key", "populations"]
