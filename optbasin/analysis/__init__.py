"""Robustness analysis of sweep results (docs/statistics.md) and claim verdicts.

analyze(trials, steps, claims=None, settings=None) -> Analysis
analyze_runs(run_dirs, claims_file=None, settings=None) -> Analysis
load_claims(path) -> list[Claim]
"""

from optbasin.analysis.analyze import Analysis, analyze, analyze_runs, read_meta
from optbasin.analysis.claims import Claim, load_claims, parse_claims
from optbasin.analysis.settings import AnalysisSettings

__all__ = [
    "Analysis",
    "AnalysisSettings",
    "Claim",
    "analyze",
    "analyze_runs",
    "load_claims",
    "parse_claims",
    "read_meta",
]
