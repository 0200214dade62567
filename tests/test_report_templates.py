"""The report's page and sections are Jinja2 templates and its CSS and JS static files
(optbasin/dashboards/templates/, static/), inlined into the one page, and shipped with the
package (pyproject's package data)."""

from __future__ import annotations

import fnmatch
from pathlib import Path

import pytest

import optbasin.dashboards.report as R

PACKAGE = Path(R.__file__).parent
REPO = PACKAGE.parents[1]


def page(**overrides):
    base = {
        "title": "optbasin report: <x&y>",
        "status": "generated <b>now</b>",
        "running": False,
        "nav": "",
        "nav_rev": "r0",
        "sections": [{"id": "notes", "html": "<p>n</p>", "rev": "r1"}],
        "figs": [{"id": "fig-a", "section": "notes", "height": 300, "rev": "r2", "data": [], "layout": {}}],
        "template": {},
    }
    return {**base, **overrides}


def test_the_page_inlines_the_static_files_and_escapes_text():
    html = R.render_page(page())
    css, js = (PACKAGE / "static/report.css").read_text(), (PACKAGE / "static/report.js").read_text()
    assert f"<style>{css}</style>" in html and html.count(js) == 1 and "function sortTable" in js
    assert "<title>optbasin report: &lt;x&amp;y&gt;</title>" in html  # text is escaped
    assert '<p id="status">generated <b>now</b></p>' in html  # a section's html is not
    assert (
        '<section id="notes" data-rev="r1"><div class="body"><p>n</p></div><div class="grid"><div class="fig" '
        'id="fig-a" style="height:300px"></div></div></section></main>' in html
    )  # no text node between siblings
    rest = html.replace(R.get_plotlyjs(), "")
    assert html.count(R.get_plotlyjs()) == 1 and "{{" not in rest and "{%" not in rest  # every tag rendered


def test_a_table_escapes_text_cells_and_sort_keys_and_keeps_html_cells():
    rows = [[('x"y', "<i>1</i>")], [(float("nan"), R.Markup("<i>2</i>"))], [(1.5, R._num(float("nan")))]]
    html = R._table(["a<b"], rows, tid="t", group=0)
    assert html == (
        '<table class="sortable" data-group="0" id="t"><thead><tr><th title="click to sort">a&lt;b</th>'
        '</tr></thead><tbody><tr><td data-v="x&#34;y">&lt;i&gt;1&lt;/i&gt;</td></tr>'
        '<tr><td data-v=""><i>2</i></td></tr><tr><td data-v="1.5">&ndash;</td></tr></tbody></table>'
    )


def test_cells_escape_their_text():
    assert R._cell("small", "<x>") == '<span class="small">&lt;x&gt;</span>'
    assert R._cell("best_lr", R._num(0.01, ".3g"), "lr:high") == (
        '0.01 <span class="warn" title="optimum at the grid edge: lr:high">&#9888; lr:high</span>'
    )
    assert R._cell("or_dash", "") == "&ndash;" and R._cell("or_dash", "a&b") == "a&amp;b"


def test_the_runs_section_escapes_the_sweep_file_and_says_when_no_meta_is_found():
    html = R._section("runs", [], True, "", "")
    assert html == '<h2>Runs</h2><p class="muted">No meta.json found.</p>'
    html = R._section(
        "runs",
        [
            {
                "sweep": "s",
                "dir": "d",
                "command": "c",
                "sweep_file": "f",
                "times": "t",
                "elapsed": "e",
                "counts": "n",
                "versions": "v",
                "machine": "m",
                "yaml": "a: <b>",
            }
        ],
        False,
        "",
        "",
    )
    assert "<pre>a: &lt;b&gt;</pre>" in html and "<td><code>c</code></td>" in html


def test_every_template_and_static_file_is_package_data():
    tomllib = pytest.importorskip("tomllib")  # Python >= 3.11
    data = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    patterns = data["optbasin.dashboards"]
    files = [p.relative_to(PACKAGE).as_posix() for d in ("templates", "static") for p in (PACKAGE / d).iterdir()]
    assert files and all(any(fnmatch.fnmatch(f, pat) for pat in patterns) for f in files), (files, patterns)
