"""The Python API (optbasin/api.py): a sweep from a dict or a YAML path, with the CLI's validation
and errors; a run directory opened as an object whose tables and figures are the analysis' and
the report's."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest
import yaml

if TYPE_CHECKING:
    import nbformat

import optbasin
from optbasin.analysis import analyze_runs
from optbasin.cli import main
from optbasin.dashboards.report import collect_figures
from optbasin.errors import ConfigError, StoreError
from optbasin.sweeps import sweep as S
from tests.conftest import base_sweep

CLAIM = {"name": "adamw-beats-sgd", "metric": "best_loss", "compare": ["adamw", "sgd"], "direction": "less"}


def small(output) -> dict:
    """sgd over lr x momentum (2 axes: importance), adamw over lr; 2 seeds: 14 trials."""
    doc = base_sweep(output)
    doc["optimizers"] = [
        {"name": "sgd", "grid": {"lr": [0.01, 0.1], "momentum": [0.0, 0.9]}},
        {"name": "adamw", "grid": {"lr": {"log_range": [1e-3, 1e-1], "points": 3}}},
    ]
    return doc


NOTEBOOK = Path(__file__).resolve().parents[1] / "examples" / "quickstart.ipynb"
NOTEBOOK_DOC = {
    "name": "notebook-quickstart",
    "output": "runs/notebook-quickstart",
    "seeds": 2,
    "tasks": [{"name": "quadratic", "steps": 40, "params": {"d_in": 16, "d_out": 8}}],
    "optimizers": [
        {"name": "sgd", "grid": {"lr": [0.01, 0.1], "momentum": [0.0, 0.9]}},
        {"name": "adamw", "grid": {"lr": {"log_range": [1e-3, 1e-1], "points": 3}}},
    ],
    "budget": {"eval_every": 20, "log_every": 10},
}  # the notebook's sweep, as it writes it


def execute_notebook(path: Path, cwd: Path) -> nbformat.NotebookNode:
    """Run every cell of a notebook in a real Jupyter kernel: this venv's python (a kernelspec of
    our own, so that no other python on PATH is picked), working directory ``cwd``; a cell that
    raises fails the test. A last cell reports the kernel's python."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell("import sys; print(sys.executable)"))
    spec = cwd / "jupyter" / "kernels" / "optbasin-venv"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(
        json.dumps(
            {
                "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                "display_name": "optbasin venv",
                "language": "python",
            }
        )
    )
    env = {"JUPYTER_PATH": str(cwd / "jupyter"), "JUPYTER_RUNTIME_DIR": str(cwd / "jupyter" / "runtime")}
    before = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        NotebookClient(
            nb, kernel_name="optbasin-venv", timeout=300, resources={"metadata": {"path": str(cwd)}}
        ).execute()
    finally:
        for k, v in before.items():
            os.environ.pop(k) if v is None else os.environ.__setitem__(k, v)
    return nb


@pytest.fixture(scope="module")
def notebook(tmp_path_factory):
    """examples/quickstart.ipynb executed: its cells with their outputs, and the run it made."""
    cwd = tmp_path_factory.mktemp("notebook")
    nb = execute_notebook(NOTEBOOK, cwd)
    return nb, cwd / NOTEBOOK_DOC["output"]


@pytest.fixture(scope="module")
def run(notebook):
    """The notebook's run directory, opened from here."""
    return optbasin.open_run(notebook[1]), NOTEBOOK_DOC


def outputs(cell) -> dict:
    """mime type -> text of a cell's outputs (streams as text/plain)."""
    out = {}
    for o in cell.get("outputs", []):
        if o["output_type"] == "stream":
            out["text/plain"] = out.get("text/plain", "") + o["text"]
        for mime, data in o.get("data", {}).items():
            out[mime] = data if isinstance(data, (str, dict)) else "".join(data)
    return out


def cell_with(nb, source: str):
    cells = [c for c in nb.cells if c.cell_type == "code" and source in c.source]
    assert len(cells) == 1, f"one code cell with {source!r}"
    return cells[0]


# ---- the example notebook, run in a real kernel -----------------------------------------------
def test_the_notebook_runs_in_the_venv_kernel_and_shows_its_results(notebook):
    nb, root = notebook
    assert outputs(nb.cells[-1])["text/plain"].strip() == sys.executable
    assert (
        "Run(runs/notebook-quickstart: 14 trials, 1 task(s), 2 optimizer(s))"
        in outputs(cell_with(nb, "run = optbasin.run_sweep(sweep)"))["text/plain"]
    )
    err = outputs(cell_with(nb, "except ConfigError"))["text/plain"]
    assert "(sweep dict): optimizers[0].grid.lr[1]: got -1.0, expected a float > 0" in err
    board = outputs(cell_with(nb, "board = run.leaderboard()"))["text/html"]
    assert board.count("</tr>") == 3 and "<td>adamw</td>" in board and "<td>sgd</td>" in board  # header + 2 rows
    fig = outputs(cell_with(nb, 'run.figure("quadratic-sensitivity-lr")'))
    plotted = fig["application/vnd.plotly.v1+json"]  # drawn inline by Jupyter's plotly renderer
    assert {t.get("name") for t in plotted["data"]} >= {"adamw", "sgd"}
    verdict = outputs(cell_with(nb, "run.verdicts([claim])"))["text/html"]
    assert "adamw-beats-sgd" in verdict
    imp = outputs(cell_with(nb, 'run.figure("quadratic-importance")'))["application/vnd.plotly.v1+json"]
    assert [t["name"] for t in imp["data"]] == ["sgd"] and sorted(imp["data"][0]["x"]) == ["lr", "momentum"]
    assert (root / "meta.json").exists()


def test_the_notebook_sweep_is_the_one_these_tests_read():
    import nbformat

    nb = nbformat.read(NOTEBOOK, as_version=4)
    scope: dict = {}
    exec(cell_with(nb, "sweep = {").source.split("run = ")[0].replace("import optbasin", ""), scope)
    assert scope["sweep"] == NOTEBOOK_DOC


# ---- a sweep from Python: the CLI's validation and errors -------------------------------------
BAD = [
    ({"name": "nosuchopt"}, "optimizers[0].name", "unknown optimizer 'nosuchopt'; known: "),
    ({"name": "sgd", "grid": {"lr": [0.1, -0.5]}}, "optimizers[0].grid.lr[1]", "got -0.5, expected a float > 0"),
    ({"name": "sgd", "grid": {"lr": [0.1]}, "colour": "red"}, "optimizers[0].colour", "unknown field"),
]


@pytest.mark.parametrize("entry, field, reason", BAD)
def test_a_bad_dict_names_the_field_as_the_cli_names_it_in_a_file(tmp_path, capsys, entry, field, reason):
    doc = base_sweep(tmp_path / "run")
    doc["optimizers"] = [entry]
    with pytest.raises(ConfigError) as err:
        optbasin.plan_sweep(doc)
    problems = [(p.file, p.field, p.reason) for p in err.value.problems]
    assert [(f, r[: len(reason)]) for _, f, r in problems] == [(field, reason)]
    assert problems[0][0] == "(sweep dict)"
    assert str(err.value).startswith(f"(sweep dict): {field}: {reason}")
    path = tmp_path / "sweep.yaml"
    path.write_text(yaml.safe_dump(doc))
    with pytest.raises(ConfigError) as from_file:
        optbasin.plan_sweep(path)
    assert [(p.field, p.reason) for p in from_file.value.problems] == [(f, r) for _, f, r in problems]
    assert main(["run", str(path)]) == 2 and f"{path}: {field}: {reason}" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()  # nothing written


def test_too_many_trials_and_a_non_sweep_are_refused(tmp_path):
    with pytest.raises(ConfigError, match=r"\(sweep dict\): \(sweep\): 12 trials .* exceed the limit of 5"):
        optbasin.plan_sweep(base_sweep(tmp_path / "run"), max_trials=5)
    with pytest.raises(TypeError, match="a dict or the path"):
        optbasin.plan_sweep(["not", "a", "sweep"])


def test_a_dict_and_its_yaml_file_plan_the_same_trials(tmp_path):
    doc = small(tmp_path / "run")
    path = tmp_path / "sweep.yaml"
    path.write_text(yaml.safe_dump(doc))
    from_dict, from_file = optbasin.plan_sweep(doc), optbasin.plan_sweep(path)
    assert len(from_dict.trials) == 14
    assert [t.trial_id for t in from_dict.trials] == [t.trial_id for t in from_file.trials]
    assert from_dict.store.root == from_file.store.root == tmp_path / "run"


def test_planning_a_dict_leaves_it_as_it_was(tmp_path):
    doc = small(tmp_path / "run")
    given = json.loads(json.dumps(doc))
    optbasin.plan_sweep(doc)
    assert doc == given


def test_run_from_a_dict_keeps_it_as_the_run_directory_sweep_file(run, monkeypatch):
    r, doc = run
    root = r.dirs[0]
    monkeypatch.chdir(root.parent.parent)  # where the notebook ran: its relative output is there
    meta = json.loads((root / "meta.json").read_text())
    assert meta["sweep_file"] == str((root / S.SWEEP_COPY).resolve())
    assert yaml.safe_load((root / S.SWEEP_COPY).read_text())["optimizers"] == doc["optimizers"]
    resumed = S.resume_plan(root)  # what `optbasin resume` plans: the same trials
    assert [t.trial_id for t in resumed.trials] == [t.trial_id for t in optbasin.plan_sweep(doc).trials]
    again = optbasin.run_sweep(doc, progress=False)  # rerunning skips every complete trial (no Ray)
    assert again.outcome.skipped == 14 and sum(again.outcome.counts.values()) == 0
    assert json.loads((root / "meta.json").read_text())["counts"] == meta["counts"]


# ---- a run directory as an object -------------------------------------------------------------
def test_tables_are_the_analysis_tables(run):
    r, _ = run
    assert r.trials["status"].isin(["completed", "diverged"]).all()
    root = r.dirs[0]
    same = optbasin.open_run(root)
    cli = analyze_runs([root])  # what `optbasin analyze` computes
    pd.testing.assert_frame_equal(same.leaderboard(), cli.leaderboard)
    assert sorted(r.leaderboard()["optimizer"]) == ["adamw", "sgd"]
    assert len(r.trials) == 14 and {"loss", "l0", "diverged", "failed", "point_id"} <= set(r.trials.columns)
    assert set(r.steps["trial_id"]) == set(r.trials["trial_id"])
    assert "14 trials" in repr(r)


def test_per_seed_best_loss_is_chosen_on_the_other_seed(run):
    """Two seeds: seed j's best loss is its loss at the point best on the other seed."""
    r, _ = run
    ps = r.per_seed("quadratic", "adamw")
    assert list(ps["seed"]) == [0, 1] and ps["ran"].all() and (ps["optimizer"] == "adamw").all()
    t = r.trials[r.trials["optimizer"] == "adamw"]
    loss = t.pivot_table(index="point_id", columns="seed", values="loss")
    for j, other in ((0, 1), (1, 0)):
        assert ps.loc[ps["seed"] == j, "best_loss"].item() == pytest.approx(loss.loc[loss[other].idxmin(), j])
    assert set(r.per_seed()["optimizer"]) == {"adamw", "sgd"}
    with pytest.raises(KeyError, match="known: quadratic/adamw, quadratic/sgd"):
        r.per_seed("quadratic", "nosuch")


def test_verdicts_for_given_claims(run, tmp_path):
    r, _ = run
    v = r.verdicts([CLAIM])
    assert list(v["claim"]) == ["adamw-beats-sgd"]
    assert isinstance(v["verdict"].iloc[0], str) and v["verdict"].iloc[0]
    path = tmp_path / "claims.yaml"
    path.write_text(yaml.safe_dump({"claims": [CLAIM]}))
    pd.testing.assert_frame_equal(r.verdicts(str(path)), v)
    cli = analyze_runs(r.dirs, claims_file=path).verdicts  # what `optbasin analyze --claims` says
    pd.testing.assert_frame_equal(v, cli)
    assert r.verdicts().empty  # the sweep file has no claims
    with pytest.raises(ConfigError, match=r"\(claims\): claims\[0\]\.direction"):
        r.verdicts([{**CLAIM, "direction": "sideways"}])


def test_every_report_figure_by_name(run):
    r, _ = run
    figs = r.figures()
    assert list(figs) == [k for _, k, _ in collect_figures(r.analysis, r.steps)]
    assert {"quadratic-sensitivity-lr", "quadratic-importance", "quadratic-sgd-lr-x-momentum"} <= set(figs)
    fig = r.figure("quadratic-sensitivity-lr")
    assert isinstance(fig, go.Figure) and {t.name for t in fig.data} >= {"adamw", "sgd"}
    with pytest.raises(KeyError, match="quadratic-sensitivity-lr"):
        r.figure("nosuch")


def test_importance_only_for_the_optimizer_with_two_axes(run):
    r, _ = run
    imp = r.importance()
    assert set(imp["optimizer"]) == {"sgd"} and set(imp["param"]) == {"lr", "momentum"}
    assert imp["importance"].sum() == pytest.approx(1.0) and np.isfinite(imp["importance"]).all()


def test_report_and_a_directory_that_is_not_a_run(run, tmp_path):
    r, _ = run
    out = r.report(tmp_path / "r.html")
    assert out.exists() and "fig-quadratic-importance" in out.read_text()
    with pytest.raises(StoreError, match="not an optbasin run directory"):
        optbasin.open_run(tmp_path)


# ---- adaptive: the same driver as `optbasin run --adaptive` (Ray replaced by synthetic results) -----
@pytest.mark.filterwarnings("ignore")  # no step rows in these stores
def test_run_sweep_adaptive_runs_rounds_through_the_cli_driver(tmp_path, monkeypatch, capsys):
    import contextlib

    from optbasin.adaptive import driver
    from tests.test_adaptive import adaptive_plan, bowl, fake_execute

    monkeypatch.setattr(driver, "ray_session", lambda *a: contextlib.nullcontext())
    monkeypatch.setattr(driver, "execute", fake_execute(bowl(best_lr=0.01)))
    adaptive_plan(tmp_path, "api")
    adaptive_plan(tmp_path, "cli")
    run = optbasin.run_sweep(tmp_path / "api.yaml", adaptive=True, progress=False)
    rounds = run.meta[0]["rounds"]
    assert len(rounds) >= 3 and run.meta[0]["adaptive_stopped"]["reason"]
    assert {t for r in rounds[1:] for t in r["added_for"]}  # each round added something, and says why
    assert sorted(run.trials["round"].unique()) == list(range(len(rounds)))
    assert main(["run", str(tmp_path / "cli.yaml"), "--adaptive", "--quiet"]) == 0
    cli = json.loads((tmp_path / "cli" / "meta.json").read_text())
    assert [r["added"] for r in cli["rounds"]] == [r["added"] for r in rounds]  # the same rounds


def test_run_sweep_adaptive_refuses_a_search_as_the_cli_does(tmp_path):
    doc = base_sweep(tmp_path / "run")
    doc["search"] = {"method": "optuna", "trials": 2}
    with pytest.raises(ConfigError) as e:
        optbasin.run_sweep(doc, adaptive=True)
    assert str(e.value.problems[0]).startswith("(sweep dict): search.method: --adaptive extends a grid")
    assert not (tmp_path / "run").exists()
