"""The live report's hook in a sweep: the page and its data file exist from the sweep's start,
before any trial ends (Ray is not started: the trial runner is replaced)."""

from __future__ import annotations

from optbasin.cli import _live_report
from optbasin.dashboards.report import data_path
from optbasin.sweeps import sweep
from optbasin.sweeps.callback import Outcome


def test_live_report_exists_before_the_first_trial(write_sweep, monkeypatch):
    p = sweep.plan(write_sweep())
    page = p.store.root / "report.html"
    seen = {}

    def no_trials(trials, store, **kw):
        seen["page"] = page.read_text() if page.exists() else None
        seen["data"] = data_path(page).read_text() if data_path(page).exists() else None
        return Outcome()

    monkeypatch.setattr(sweep, "run_trials", no_trials)
    sweep.execute(p, progress=False, on_commit=_live_report(p.store.root))
    assert seen["page"] is not None and seen["data"] is not None
    assert "No trials recorded yet" in seen["page"] and f"0 of {len(p.trials)} trials done" in seen["data"]
    assert '"on": true, "running": true' in seen["page"]  # it will poll its data file
