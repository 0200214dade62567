"""The report's load in a real browser: first contentful paint and the time until every figure is
drawn, measured by headless Chromium (selenium) on a report of synthetic results shaped like a
two-task sweep of eight optimizers (or of given run directories), plus the file's size.
Medians over repeated loads; a benchmark figure, never asserted in tests.
"""

from __future__ import annotations

import shutil
import statistics
import tempfile
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--window-size=1400,1000")


def _browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    for flag in FLAGS:
        options.add_argument(flag)
    options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    return webdriver.Chrome(service=Service(shutil.which("chromedriver") or "/usr/bin/chromedriver"), options=options)


def _report(run_dirs: Sequence[str | Path] | None, out: Path) -> tuple[Path, int]:
    """The report to load and its number of trials."""
    from optbasin.analysis import analyze
    from optbasin.dashboards import build_report, write_report

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if run_dirs:
            from optbasin.sweeps.store import load_runs

            return write_report(run_dirs, out), len(load_runs([Path(d) for d in run_dirs])[0])
        from optbasin.analysis.synthetic import synthetic_results

        trials, steps = synthetic_results(n_tasks=2, seeds=3)
        a = analyze(trials, steps, settings={"resamples": 200})
        return build_report(a, steps, [(Path("runs/synthetic"), {"sweep": "synthetic", "finished_at": "x"})], out), len(
            trials
        )


def load_times(page: Path, repeats: int = 3, timeout: float = 120.0) -> tuple[list[float], list[float]]:
    """(first contentful paint, all figures drawn) in ms from navigation start, per load; each
    load in a fresh browser (cold caches: what a reader opening the file gets)."""
    paint, drawn = [], []
    for _ in range(repeats):
        driver = _browser()
        try:
            driver.get(page.as_uri())
            t0 = time.monotonic()
            while driver.execute_script("return document.body && document.body.dataset.plotsReady") != "1":
                if time.monotonic() - t0 > timeout:
                    raise RuntimeError(f"{page}: figures not drawn within {timeout:.0f} s")
                time.sleep(0.02)
            paint.append(
                driver.execute_script(
                    "const p = performance.getEntriesByName('first-contentful-paint')[0]; return p ? p.startTime : null"
                )
            )
            drawn.append(driver.execute_script("return performance.now()"))
        finally:
            driver.quit()
    return paint, drawn


def bench_report(run_dirs: Sequence[str | Path] | None = None, repeats: int = 3) -> dict[str, Any]:
    try:
        import selenium  # noqa: F401
    except ImportError:
        return {"skipped": "selenium is not installed"}
    if not (shutil.which("chromium") or Path("/usr/bin/chromium").exists()):
        return {"skipped": "no headless Chromium (Debian packages chromium, chromium-driver)"}
    with tempfile.TemporaryDirectory(prefix="optbasin-bench-report-") as tmp:
        t0 = time.perf_counter()
        page, n = _report(run_dirs, Path(tmp) / "report.html")
        build = time.perf_counter() - t0
        paint, drawn = load_times(page, repeats)
        return {
            "source": ", ".join(map(str, run_dirs)) if run_dirs else "synthetic (2 tasks x 8 optimizers)",
            "trials": n,
            "size_mb": round(page.stat().st_size / 1e6, 2),
            "build_s": round(build, 2),
            "first_paint_ms": round(statistics.median(paint)),
            "all_figures_ms": round(statistics.median(drawn)),
            "loads": repeats,
        }


def table(r: dict[str, Any]) -> str:
    if "skipped" in r:
        return f"report load: skipped ({r['skipped']})"
    return (
        f"report load ({r['source']}, {r['trials']} trials, {r['size_mb']} MB, built in {r['build_s']} s): first "
        f"contentful paint {r['first_paint_ms']} ms, every figure drawn {r['all_figures_ms']} ms "
        f"(headless Chromium, median of {r['loads']} loads, each in a fresh browser)"
    )
