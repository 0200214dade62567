"""Plotly figures of an analysis and the self-contained HTML report.

write_report(run_dirs, out, *, claims=None, live=False, png_dir=None) -> Path
"""

from optbasin.dashboards.report import ReportWarning, build_report, write_report

__all__ = ["ReportWarning", "build_report", "write_report"]
