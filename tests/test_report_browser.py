"""Render the HTML report in headless Chromium: no JavaScript errors, every plot has data, the
leaderboard sorts within each task, every trial is in the parallel-coordinates view and the trial
table, a live page keeps its zoom and legend across a data update, and a screenshot is written.
Skipped when chromium/chromedriver are absent."""

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
    for arg in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--window-size=1400,1000",
    ):
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
    meta = {
        "sweep": "synthetic",
        "command": ["optbasin", "run", "s.yaml"],
        "sweep_file": "s.yaml",
        "versions": {"optbasin": "0.1.0"},
        "machine": {"cpus": 2},
        "started_at": "2026-01-01T00:00:00",
        "finished_at": None,
        "elapsed_s": 12.0,
        "counts": {"completed": len(trials)},
    }
    out = tmp_path_factory.mktemp("report") / "report.html"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return build_report(a, steps, [(Path("runs/synthetic"), meta)], out)


@pytest.fixture(scope="module")
def n_trials():
    trials, _ = synthetic_results(n_tasks=2, seeds=3, missing=0.03, failed=0.01)
    return len(trials)


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
        "return Array.from(document.querySelectorAll('.js-plotly-plot')).map(e => (e.data || []).length)"
    )
    assert n_divs > 10 and len(lengths) == n_divs
    assert all(n > 0 for n in lengths)
    shot = tmp_path / "report.png"
    assert browser.save_screenshot(str(shot)) and shot.stat().st_size > 10_000


def test_leaderboard_sorts_on_click(browser, report):
    browser.get(report.as_uri())
    wait_for_plots(browser)
    col = browser.execute_script(
        "const ths = Array.from(document.querySelectorAll('#leaderboard-table th'));"
        "const i = ths.findIndex(t => t.textContent === 'best loss'); ths[i].click(); return i;"
    )
    rows = (
        "return Array.from(document.querySelectorAll('#leaderboard-table tbody tr'))"
        f".map(r => [r.cells[0].dataset.v, parseFloat(r.cells[{col}].dataset.v)])"
    )
    values = browser.execute_script(rows)
    assert len(values) == 16 and values == sorted(values)  # by task, then by best loss within it
    browser.execute_script(f"document.querySelectorAll('#leaderboard-table th')[{col}].click()")
    values = browser.execute_script(rows)
    assert values == sorted(values, key=lambda v: (v[0], -v[1]))  # tasks stay together


def test_every_trial_in_parallel_coordinates_and_table(browser, report, n_trials):
    browser.get(report.as_uri())
    wait_for_plots(browser)
    per_task = browser.execute_script(
        "return Array.from(document.querySelectorAll('.js-plotly-plot')).filter(e => e.data[0].type === 'parcoords')"
        ".map(e => e.data[0].dimensions[0].values.length)"
    )
    assert len(per_task) == 2 and sum(per_task) == n_trials
    rows = browser.execute_script("return document.querySelectorAll('#trials-table tbody tr').length")
    assert rows == n_trials
    browser.execute_script(
        "const i = document.querySelector('input.filter'); i.value = 'diverged muon';"
        "i.dispatchEvent(new Event('input'))"
    )
    shown = browser.execute_script(
        "return Array.from(document.querySelectorAll('#trials-table tbody tr'))"
        ".filter(r => r.style.display !== 'none').map(r => r.textContent)"
    )
    assert len(shown) == 20 + 12 and all("diverged" in r and "muon" in r for r in shown)  # muon, muonadam


def test_live_page_updates_in_place_keeping_zoom_and_legend(browser, tmp_path):
    """The page is written before any trial ends; each rebuild writes report.data.js, which the
    page loads and applies with Plotly.react: no reload, the reader's zoom and legend survive."""
    from selenium.webdriver.common.action_chains import ActionChains

    from optbasin.dashboards.report import data_path

    trials, steps = synthetic_results(n_tasks=1, optimizers=["adamw", "muon"], seeds=2)
    meta = {
        "sweep": "live",
        "started_at": "2026-01-01T00:00:00+00:00",
        "finished_at": None,
        "trials_planned": len(trials),
    }
    out = tmp_path / "report.html"
    first = trials[trials["seed"] == 0]
    build_report(analyze(first, steps, settings={"resamples": 20}), steps, [(tmp_path, meta)], out, live=True)
    browser.get(out.as_uri())
    wait_for_plots(browser)
    assert f"{len(first)} of {len(trials)} trials done" in browser.find_element("id", "status").text
    fig = "document.getElementById('fig-gpt-tiny-training')"
    browser.execute_script(f"window.marker = 1; Plotly.relayout({fig}, {{'xaxis.range': [50, 120]}})")
    toggle = browser.execute_script(f"return {fig}.querySelectorAll('.legendtoggle')[1]")
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", toggle)
    ActionChains(browser).click(toggle).perform()  # a reader's click on the legend hides muon
    time.sleep(1.0)  # plotly waits out the double-click delay before it toggles
    hidden = browser.execute_script(f"return {fig}.data.map(t => t.visible === 'legendonly')")
    assert any(hidden)
    build_report(analyze(trials, steps, settings={"resamples": 20}), steps, [(tmp_path, meta)], out, live=True)
    assert data_path(out).exists()
    before = browser.execute_script("return document.body.dataset.updates")
    browser.execute_script("optbasinPoll()")
    t0 = time.time()
    while browser.execute_script("return document.body.dataset.updates") == before:
        assert time.time() - t0 < 30, "the live data file was not applied"
        time.sleep(0.05)
    assert browser.execute_script("return window.marker") == 1  # the same page: not reloaded
    assert f"{len(trials)} of {len(trials)} trials done" in browser.find_element("id", "status").text
    assert browser.execute_script(f"return {fig}.layout.xaxis.range") == [50, 120]
    assert browser.execute_script(f"return {fig}.data.map(t => t.visible === 'legendonly')") == hidden
    assert browser.execute_script("return document.querySelectorAll('#trials-table tbody tr').length") == len(trials)
    # the same data again: nothing to redraw
    draws = "return Array.from(document.querySelectorAll('div.fig')).map(e => e.dataset.draws)"
    before, counts = browser.execute_script("return document.body.dataset.updates"), browser.execute_script(draws)
    browser.execute_script("optbasinPoll()")
    while browser.execute_script("return document.body.dataset.updates") == before:
        assert time.time() - t0 < 60, "the live data file was not applied"
        time.sleep(0.05)
    assert browser.execute_script(draws) == counts


def test_nav_link_lands_below_the_sticky_nav_and_first_paint_is_content(browser, report):
    browser.get(report.as_uri())
    wait_for_plots(browser)
    browser.execute_script("document.querySelector('nav a[href=\"#leaderboard\"]').click()")
    time.sleep(0.3)
    nav_bottom, heading_top = browser.execute_script(
        "return [document.querySelector('nav').getBoundingClientRect().bottom,"
        " document.querySelector('#leaderboard h2').getBoundingClientRect().top]"
    )
    assert browser.execute_script("return window.scrollY") > 0 and heading_top >= nav_bottom
    # plotly.js comes after the content: the tables are in the document before any script runs
    order = browser.execute_script(
        "const all = Array.from(document.querySelectorAll('#leaderboard table, script'));return all.map(e => e.tagName)"
    )
    assert order[0] == "TABLE"
