"""Render the HTML report in headless Chromium: no JavaScript errors, every plot has data, the
leaderboard sorts, and a screenshot is written. Skipped when chromium/chromedriver are absent."""

from __future__ import annotations

import shutil
import time
import warnings
from pathlib import Path

import pytest

from optbasin.analysis import analyze, load_claims
from optbasin.analysis.synthetic import synthetic_results
from optbasin.dashboards import build_report

pytestmark = pytest.mark.browser

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
DRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "claims.yaml"


@pytest.fixture(scope="module")
def browser():
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed")
    from selenium.webdriver.chrome.service import Service

    if not (Path(CHROMIUM).exists() and Path(DRIVER).exists()):
        pytest.skip(f"headless Chromium not available (need {CHROMIUM} and {DRIVER}; `make browser` installs them)")
    options = webdriver.ChromeOptions()
    for arg in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--window-size=1400,1000"):
        options.add_argument(arg)
    options.binary_location = CHROMIUM
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    trials, steps = synthetic_results(n_tasks=2, seeds=3, missing=0.03, failed=0.01)
    a = analyze(trials, steps, claims=load_claims(EXAMPLES), settings={"resamples": 200})
    meta = {"sweep": "synthetic", "command": ["optbasin", "run", "s.yaml"], "sweep_file": "s.yaml",
            "versions": {"optbasin": "0.1.0"}, "machine": {"cpus": 2}, "started_at": "2026-01-01T00:00:00",
            "finished_at": None, "elapsed_s": 12.0, "counts": {"completed": len(trials)}}
    out = tmp_path_factory.mktemp("report") / "report.html"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return build_report(a, steps, [(Path("runs/synthetic"), meta)], out)


def wait_for_plots(driver, timeout=60.0):
    t0 = time.time()
    while driver.execute_script("return document.body && document.body.dataset.plotsReady") != "1":
        if time.time() - t0 > timeout:
            raise AssertionError("the report's figures were not all drawn within the timeout")
        time.sleep(0.05)


def test_report_renders_without_errors(browser, report, tmp_path):
    browser.get(report.as_uri())
    wait_for_plots(browser)
    severe = [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]
    assert severe == []
    n_divs = browser.execute_script("return document.querySelectorAll('div.fig').length")
    lengths = browser.execute_script(
        "return Array.from(document.querySelectorAll('.js-plotly-plot')).map(e => (e.data || []).length)")
    assert n_divs > 10 and len(lengths) == n_divs
    assert all(n > 0 for n in lengths)
    shot = tmp_path / "report.png"
    assert browser.save_screenshot(str(shot)) and shot.stat().st_size > 10_000


def test_leaderboard_sorts_on_click(browser, report):
    browser.get(report.as_uri())
    wait_for_plots(browser)
    col = browser.execute_script(
        "const ths = Array.from(document.querySelectorAll('#leaderboard th'));"
        "const i = ths.findIndex(t => t.textContent === 'best loss'); ths[i].click(); return i;")
    values = browser.execute_script(
        f"return Array.from(document.querySelectorAll('#leaderboard tbody tr')).map(r => parseFloat(r.cells[{col}].dataset.v))")
    assert len(values) == 16 and values == sorted(values)
    browser.execute_script(f"document.querySelectorAll('#leaderboard th')[{col}].click()")
    values = browser.execute_script(
        f"return Array.from(document.querySelectorAll('#leaderboard tbody tr')).map(r => parseFloat(r.cells[{col}].dataset.v))")
    assert values == sorted(values, reverse=True)
