"""Adaptive sweeps without Ray: what a round adds (grid closing within declared bounds, bisection to
the resolution, seeds only for open claims), the limits, provenance, bad `adaptive:` fields.

The losses are synthetic, a known function of the hyperparameters, turned into the store's own rows
(sweeps/rows.py trial_row) and analysed by the real analysis; the rounds then run as adaptive/driver.py runs them.
"""

from __future__ import annotations

import json
import math
import warnings
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import yaml

from optbasin.adaptive import driver as adaptive
from optbasin.adaptive.axis_step import beyond
from optbasin.adaptive.points import Addition, plan_round
from optbasin.analysis import sequential
from optbasin.analysis.analyze import analyze, pair_states
from optbasin.analysis.specs import MetricSpec
from optbasin.cli import main
from optbasin.config import AdaptiveSpec, HParamDef
from optbasin.dashboards.rounds import rounds_html
from optbasin.sweeps.rows import trial_row
from optbasin.sweeps.run_status import adaptive_lines
from optbasin.sweeps.spec import expand, load_sweep_doc
from optbasin.sweeps.store import ResultsStore

TASK = {"name": "quadratic", "steps": 40, "params": {"d_in": 16, "d_out": 8}}


def sweep(tmp_path, optimizers, seeds=2, claims=(), **adaptive_limits):
    doc = {
        "name": "adapt",
        "output": str(tmp_path / "run"),
        "seeds": seeds,
        "tasks": [TASK],
        "optimizers": optimizers,
        "claims": list(claims),
        "population": 1,
    }
    if adaptive_limits:
        doc["adaptive"] = adaptive_limits
    spec, catalog = load_sweep_doc(doc, "(test)", tmp_path)
    return spec, catalog


def bowl(best_lr=0.03, width=1.0, **others):
    """Loss: a parabola in log10 lr around best_lr (other hyperparameters add a linear term each),
    plus a small per-seed offset; 5.0 at initialization."""

    def loss(t):
        x = math.log10(t.hparams["lr"]) - math.log10(best_lr)
        extra = sum(slope * t.hparams[k] for k, slope in others.items())
        return 0.3 + 0.2 * (x / width) ** 2 + extra + 0.001 * t.seed

    return loss


def rows(planned, loss):
    summary = {
        "status": "completed",
        "init_loss": 5.0,
        "final_train_loss": 0.0,
        "best_val_loss": 0.0,
        "steps_done": 40,
        "wall_time": 1.0,
        "cpu_time": 1.0,
        "device": "cpu",
    }
    out = []
    for t in planned:
        v = min(loss(t), 5.0)
        out.append(trial_row(t, {**summary, "final_val_loss": v, "final_train_loss": v, "best_val_loss": v}))
    return pd.DataFrame(out)


def run_rounds(spec, catalog, loss, settings, states=lambda planned: [], max_rounds=30, analysis_settings=None):
    """The rounds adaptive.py runs, on synthetic losses: (planned trials, rounds recorded, analysis);
    rounds[0]["stopped_by_budget"] says whether the last round planned was cut by max_trials.
    states: the pair states a round reads, from the planned trials; None: the analysis' own (as the
    driver reads them), judged at analysis_settings with the seed limit of ``settings``."""
    p = SimpleNamespace(spec=spec, catalog=catalog)
    declared = expand(spec, catalog)
    rounds = [{"round": 0, "added": []}]
    for _ in range(max_rounds):
        planned = adaptive.planned_trials(p, declared, rounds)
        if states is None:
            analysis = analyze(
                rows(planned, loss), None, spec.claims, analysis_settings, settings.max_seeds, catalog=catalog
            )
            now = pair_states(analysis)
        else:
            analysis = analyze(rows(planned, loss), None, claims=spec.claims, catalog=catalog)
            now = states(planned)
        adds, notes = plan_round(spec, catalog, planned, analysis, now, settings)
        adds, cut = adaptive.within_budget(adds, settings.max_trials - len(planned))
        if not adds:
            rounds[0]["stopped_by_budget"] = cut
            return planned, rounds, analysis
        rounds.append(adaptive.round_entry(len(rounds), adds, "max_trials" if cut else None, notes))
    raise AssertionError("the rounds did not settle")


def lr_slice(analysis, opt):
    row = analysis.leaderboard.set_index("optimizer").loc[opt]
    pts = analysis.points[analysis.points["optimizer"] == opt]
    return row, sorted(pts["hp.lr"].astype(float).unique())


def decades(a, b):
    return abs(math.log10(b) - math.log10(a))


# ---- the next value beyond an edge ----------------------------------------------------------------
@pytest.mark.parametrize(
    "values, side, log, bounds, expected",
    [
        ([1e-3, 1e-2], "high", True, {"gt": 0}, 0.1),  # log axis: the ratio
        ([1e-3, 1e-2], "low", True, {"gt": 0}, 1e-4),
        ([0.0, 0.125, 0.25], "high", False, {"ge": 0}, 0.375),  # linear axis: the step
        ([0.0, 0.125, 0.25], "low", False, {"ge": 0}, None),  # f_star = 0 is its declared bound: interior
        ([0.75, 0.9], "high", False, {"ge": 0, "le": 1}, 1.0),  # 1.05 would pass c <= 1: stops at the bound
        ([0.9, 1.0], "high", False, {"ge": 0, "le": 1}, None),  # at the bound: nothing beyond
        ([0.8, 0.9], "high", False, {"ge": 0, "lt": 1}, 0.95),  # open bound (momentum < 1): halfway to it
        ([0.12, 0.4], "low", False, {"gt": 0}, 0.06),  # open lower bound: halfway to it
    ],
)
def test_beyond_keeps_the_spacing_and_the_declared_bounds(values, side, log, bounds, expected):
    got = beyond(values, side, log, HParamDef(type="float", **bounds))
    assert got == (None if expected is None else pytest.approx(expected, rel=1e-5))


def test_beyond_an_int_axis_stays_an_int_within_bounds():
    h = HParamDef(type="int", ge=1, le=6)
    assert beyond([3, 5], "high", False, h) == 6  # 7 would pass le: 6, the bound
    assert beyond([1, 3], "low", False, h) is None


def test_builtin_entries_declare_natural_bounds(tmp_path):
    _, catalog = sweep(tmp_path, [{"name": "sgd", "grid": {"lr": [0.1]}}])
    hp = {n: d.hyperparameters for n, d in catalog.optimizers.items()}
    assert hp["namo_d"]["clamp_c"].le == 1 and hp["namo_d"]["clamp_c"].ge == 0
    for name in ("momo", "momo_adam", "muonadam_momo", "muonmax_momo"):
        assert hp[name]["f_star"].ge == 0, name
    for name in ("sgd", "muon", "namo", "adamw", "nesgd"):
        mom = hp[name].get("momentum") or hp[name]["beta1"]
        assert mom.lt == 1, name


# ---- closing the grid and bisecting -------------------------------------------------------------
def test_lr_edge_is_extended_until_the_optimum_is_interior(tmp_path):
    spec, catalog = sweep(tmp_path, [{"name": "sgd", "grid": {"lr": [1e-4, 1e-3]}}])
    settings = AdaptiveSpec(resolution=1.0)
    planned, rounds, analysis = run_rounds(spec, catalog, bowl(best_lr=0.03), settings)
    row, lrs = lr_slice(analysis, "sgd")
    assert row["best_at_edge"] == ""
    assert lrs[:4] == pytest.approx([1e-4, 1e-3, 1e-2, 1e-1])  # one decade at a time, the grid's own ratio
    assert any("edge lr high" in r.get("added_for", {}) for r in rounds[1:])
    assert all(len({t.seed for t in planned if t.hparams["lr"] == lr}) == 2 for lr in lrs)  # every seed


@pytest.mark.parametrize("resolution", [0.5, 0.2])
def test_bisection_reaches_the_resolution_at_both_basin_edges(tmp_path, resolution):
    spec, catalog = sweep(tmp_path, [{"name": "sgd", "grid": {"lr": {"log_range": [1e-4, 1.0], "points": 5}}}])
    settings = AdaptiveSpec(resolution=resolution)
    _, rounds, analysis = run_rounds(spec, catalog, bowl(best_lr=0.01, width=0.5), settings)
    col = MetricSpec("basin_width", eps=analysis.settings.eps[0]).column
    row, lrs = lr_slice(analysis, "sgd")
    lo, hi = row[f"{col}_lr_low"], row[f"{col}_lr_high"]
    assert np.isfinite(lo) and np.isfinite(hi) and not row[f"{col}_cut"]
    for edge in (lo, hi):
        below = max(x for x in lrs if x <= edge)
        above = min(x for x in lrs if x >= edge)
        assert decades(below, above) <= resolution + 1e-6
    assert decades(lrs[0], lrs[1]) == pytest.approx(1.0, rel=1e-4)  # far from the edges: not refined
    assert any(k.startswith("bisect basin edge") for r in rounds[1:] for k in r["added_for"])


def test_every_seeds_basin_edges_are_bisected_on_its_own_slice(tmp_path):
    """A basin claim's paired test measures each seed's basin on the lr slice through that seed's
    own best point, and raises its margin to the widest gap holding any seed's edge. Here even
    seeds are best at momentum 0 and odd ones at 0.5: both slices' edges are bisected to the
    resolution, so no seed's edge lies in a wider gap and the declared margin stands."""
    resolution = 0.25

    def loss(t):
        x = math.log10(t.hparams["lr"]) - math.log10(0.01)
        target = 0.0 if t.seed % 2 == 0 else 0.5
        return 0.3 + 0.2 * (x / 0.5) ** 2 + 0.05 * (t.hparams.get("momentum", 0.0) - target) ** 2 + 0.001 * t.seed

    lrs = {"log_range": [1e-4, 1.0], "points": 5}
    claim = {"name": "b", "metric": "basin_width", "compare": ["sgd", "adamw"], "direction": "greater"}
    spec, catalog = sweep(
        tmp_path,
        [{"name": "sgd", "grid": {"lr": lrs, "momentum": [0.0, 0.5, 0.9]}}, {"name": "adamw", "grid": {"lr": lrs}}],
        seeds=4,
        claims=[{**claim, "margin": resolution}],
    )
    _, rounds, analysis = run_rounds(spec, catalog, loss, AdaptiveSpec(resolution=resolution))
    col = claim_column(analysis)
    r = analysis.per_seed[("quadratic", "sgd")]
    best_momentum = r.group.points.iloc[r.best_rows]["hp.momentum"].to_numpy()
    assert set(best_momentum[0::2]) == {0.0} and set(best_momentum[1::2]) == {0.5}  # two slices
    assert np.isfinite(r.steps[col]).all() and (r.steps[col] <= resolution + 1e-6).all()
    assert any("bisect a seed's basin edge" in r.get("added_for", {}) for r in rounds[1:])
    v = analysis.verdicts_by_task.iloc[0]
    assert v["margin"] == pytest.approx(resolution) and "basin edges" not in v["caveats"]


def claim_column(analysis) -> str:
    return analysis.verdicts_by_task.iloc[0]["metric"]


def test_non_lr_edges_stop_at_declared_bounds(tmp_path):
    optimizers = [
        {"name": "namo_d", "grid": {"lr": [1e-3, 1e-2, 1e-1], "clamp_c": [0.75, 0.9]}},
        {"name": "muonadam_momo", "grid": {"lr": [1e-3, 1e-2, 1e-1], "f_star": [0.0, 0.125]}},
    ]
    spec, catalog = sweep(tmp_path, optimizers)
    loss = lambda t: bowl(best_lr=0.01)(t) - 0.05 * t.hparams.get("clamp_c", 0) + 0.05 * t.hparams.get("f_star", 0)
    planned, rounds, analysis = run_rounds(spec, catalog, loss, AdaptiveSpec(resolution=1.0))
    cs = sorted({t.hparams["clamp_c"] for t in planned if t.optimizer == "namo_d"})
    fs = sorted({t.hparams["f_star"] for t in planned if t.optimizer == "muonadam_momo"})
    assert cs == [0.75, 0.9, 1.0]  # 0.9 + 0.15 would pass c <= 1: the bound, and nothing beyond it
    assert fs == [0.0, 0.125]  # the best f_star is 0, its declared bound: no value below
    board = analysis.leaderboard.set_index("optimizer")
    assert json.loads(board.loc["namo_d", "best_point"]) == {"clamp_c": 1.0, "lr": 0.01}
    assert json.loads(board.loc["muonadam_momo", "best_point"]) == {"f_star": 0.0, "lr": 0.01}
    # the grid's last c (first f_star) but the bound the catalog declares (le: 1, ge: 0): no edge, no note
    assert "clamp_c" not in board.loc["namo_d", "best_at_edge"]
    assert "f_star" not in board.loc["muonadam_momo", "best_at_edge"]
    assert not any("namo_d: optimum at the grid's edge" in n for n in analysis.notes)
    blind = analyze(rows(planned, loss), None, claims=spec.claims)  # no catalog: no bound known
    assert "clamp_c:high" in blind.leaderboard.set_index("optimizer").loc["namo_d", "best_at_edge"]
    new_c = [t for t in planned if t.hparams.get("clamp_c") == 1.0]
    assert {t.hparams["lr"] for t in new_c} == {1e-3, 1e-2, 1e-1}  # the new c at every lr of the best slice
    assert {t.added_for for t in new_c} == {"edge clamp_c high"} and {t.round for t in new_c} == {1}


def test_lr_window_gets_its_ends_and_is_bisected(tmp_path):
    claim = {
        "name": "s",
        "metric": "lr_sensitivity",
        "window": [3e-3, 3e-1],
        "compare": ["sgd", "adamw"],
        "direction": "less",
    }
    opts = [{"name": "sgd", "grid": {"lr": [1e-2, 1e-1]}}, {"name": "adamw", "grid": {"lr": [1e-2, 1e-1]}}]
    spec, catalog = sweep(tmp_path, opts, claims=[claim])
    _, _, analysis = run_rounds(spec, catalog, bowl(best_lr=0.03), AdaptiveSpec(resolution=0.3))
    for opt in ("sgd", "adamw"):
        _, lrs = lr_slice(analysis, opt)
        inside = [x for x in lrs if 3e-3 * (1 - 1e-6) <= x <= 3e-1 * (1 + 1e-6)]
        assert inside[0] == pytest.approx(3e-3) and inside[-1] == pytest.approx(3e-1)
        assert max(decades(a, b) for a, b in zip(inside, inside[1:])) <= 0.3 + 1e-6


def test_max_trials_stops_the_rounds(tmp_path):
    spec, catalog = sweep(tmp_path, [{"name": "sgd", "grid": {"lr": [1e-6, 1e-5]}}])
    settings = AdaptiveSpec(max_trials=9, resolution=1.0)
    planned, rounds, _ = run_rounds(spec, catalog, bowl(best_lr=0.03), settings)
    assert len(planned) == 8  # 4 declared, then 2 per round: a point comes whole, with its 2 seeds
    assert rounds[0]["stopped_by_budget"] and len(rounds) == 3


def test_the_trial_cap_keeps_a_claims_new_seeds_whole_in_both_cells_of_its_pair():
    """A cap that falls inside one claim's new seeds drops them all, in both cells of its pair: a
    seed run on part of a grid would take its best and basin over a different grid than the cell's
    other seeds, and a seed run by one optimizer of the pair only cannot be paired."""
    point = [Addition("t", "sgd", {"lr": 1.0}, (0, 1), "edge lr high")]
    cell_a = [Addition("t", "adamw", {"lr": lr}, (2, 3), "seeds: claim x open") for lr in (1e-3, 1e-2)]
    cell_b = [Addition("t", "sgd", {"lr": lr}, (2, 3), "seeds: claim x open") for lr in (1e-3, 1e-2, 1.0)]
    cell_c = [Addition("t", "muon", {"lr": lr}, (2, 3), "seeds: claim y open") for lr in (1e-3, 1e-2)]
    adds = point + cell_a + cell_b + cell_c
    kept, cut = adaptive.within_budget(adds, room=2 + 4 + 4)  # cell a fits, the other cell of its pair does not
    assert cut and kept == point
    kept, cut = adaptive.within_budget(adds, room=2 + 4 + 6 + 2)  # claim x's pair fits, half of claim y's cell
    assert cut and kept == point + cell_a + cell_b
    kept, cut = adaptive.within_budget(adds, room=2 + 4 + 6 + 4)
    assert not cut and kept == adds


def test_capped_rounds_run_every_seed_of_a_pair_at_every_point(tmp_path):
    spec, catalog = sweep(tmp_path, OPTS, claims=CLAIMS)
    settings = AdaptiveSpec(max_trials=18 + 12 + 4, resolution=1.0, seeds_per_round=2)
    planned, rounds, _ = run_rounds(spec, catalog, bowl(best_lr=0.01), settings, states=lambda planned: states())
    assert rounds[0]["stopped_by_budget"] and len(planned) == 18 + 12  # one pair's 2 new seeds x 3 points x 2 cells
    seeds = {}
    for opt in ("sgd", "adamw", "muon"):
        cell = [t for t in planned if t.optimizer == opt]
        points = {t.hparams["lr"] for t in cell}
        seeds[opt] = {t.seed for t in cell}
        for seed in seeds[opt]:
            assert {t.hparams["lr"] for t in cell if t.seed == seed} == points
    assert seeds["adamw"] == seeds["sgd"] == {0, 1, 2, 3}  # the open pair, both cells
    assert seeds["muon"] == {0, 1}


def test_limit_reached_by_rounds_and_wall_time():
    store = SimpleNamespace(read_meta=lambda: {"elapsed_s": 50.0})
    p = SimpleNamespace(store=store)
    assert adaptive.limit_reached(p, [{}] * 3, AdaptiveSpec(max_rounds=2)) == "max_rounds"
    assert adaptive.limit_reached(p, [{}] * 2, AdaptiveSpec(max_rounds=2)) is None
    assert adaptive.limit_reached(p, [{}], AdaptiveSpec(max_wall_s=40)) == "max_wall_s"
    assert adaptive.limit_reached(p, [{}], AdaptiveSpec(max_wall_s=60)) is None


# ---- seeds where a verdict is open ----------------------------------------------------------------
CLAIMS = [
    {"name": "open-one", "metric": "best_loss", "compare": ["adamw", "sgd"], "direction": "less"},
    {"name": "decided", "metric": "best_loss", "compare": ["muon", "sgd"], "direction": "less"},
    {"name": "hopeless", "metric": "best_loss", "compare": ["muon", "adamw"], "direction": "less"},
]
OPTS = [
    {"name": "sgd", "grid": {"lr": [1e-3, 1e-2, 1e-1]}},
    {"name": "adamw", "grid": {"lr": [1e-3, 1e-2, 1e-1]}},
    {"name": "muon", "grid": {"lr": [1e-3, 1e-2, 1e-1]}},
]


def states(open_state="open"):
    return [
        sequential.PairState("open-one", "quadratic", ("adamw", "sgd"), open_state, 2, 1.0, ""),
        sequential.PairState("decided", "quadratic", ("muon", "sgd"), "supported", 2, 40.0, ""),
        sequential.PairState("hopeless", "quadratic", ("muon", "adamw"), "futile", 2, 0.1, ""),
    ]


def stored(tmp_path, spec, catalog, loss):
    store = ResultsStore(tmp_path / "run")
    store.prepare()
    planned = expand(spec, catalog)
    for r in rows(planned, loss).to_dict("records"):
        store.record(r, [])
    return SimpleNamespace(spec=spec, catalog=catalog, store=store), planned


def test_seeds_only_for_the_cells_of_open_pairs(tmp_path, monkeypatch):
    spec, catalog = sweep(tmp_path, OPTS, claims=CLAIMS)
    p, planned = stored(tmp_path, spec, catalog, bowl(best_lr=0.01))
    asked = []
    monkeypatch.setattr(adaptive, "pair_states", lambda analysis: asked.append(analysis) or states("open"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # no step rows in this store
        adds, _ = adaptive.next_round(p, planned, AdaptiveSpec(seeds_per_round=3))
    assert len(asked) == 1 and not asked[0].trials.empty  # the states of the store's own analysis
    seeded = [a for a in adds if a.why.startswith("seeds")]
    assert {a.optimizer for a in seeded} == {"adamw", "sgd"}  # not muon: its pairs are decided or futile
    assert all(a.seeds == (2, 3, 4) for a in seeded)  # the same new seeds in both cells: paired
    for opt in ("adamw", "sgd"):  # at every point of the cell
        assert sorted(a.point["lr"] for a in seeded if a.optimizer == opt) == [1e-3, 1e-2, 1e-1]
    assert not [a for a in adds if not a.why.startswith("seeds")]  # the grid is closed already


def test_no_seeds_where_the_seed_limit_cannot_decide(tmp_path, monkeypatch):
    """ "insufficient seeds" is final (sequential.py: no finding within max_seeds): no seeds for it."""
    spec, catalog = sweep(tmp_path, OPTS, claims=CLAIMS)
    p, planned = stored(tmp_path, spec, catalog, bowl(best_lr=0.01))
    monkeypatch.setattr(adaptive, "pair_states", lambda analysis: states("insufficient seeds"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        adds, _ = adaptive.next_round(p, planned, AdaptiveSpec(seeds_per_round=3))
    assert [a for a in adds if a.why.startswith("seeds")] == []


def test_seeds_stop_at_max_seeds(tmp_path, monkeypatch):
    spec, catalog = sweep(tmp_path, OPTS, claims=CLAIMS)
    p, planned = stored(tmp_path, spec, catalog, bowl(best_lr=0.01))
    monkeypatch.setattr(adaptive, "pair_states", lambda analysis: states())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        adds, _ = adaptive.next_round(p, planned, AdaptiveSpec(seeds_per_round=3, max_seeds=3))
        assert {a.seeds for a in adds} == {(2,)}
        adds, notes = adaptive.next_round(p, planned, AdaptiveSpec(seeds_per_round=3, max_seeds=2))
    assert adds == [] and any(n.startswith("max_seeds") for n in notes)


# ---- provenance, status, report -------------------------------------------------------------------
def test_round_and_reason_do_not_change_trial_ids(tmp_path):
    spec, catalog = sweep(tmp_path, [{"name": "sgd", "grid": {"lr": [0.01]}}])
    (t,) = expand(spec, catalog)[:1]
    tagged = t.model_copy(update={"round": 3, "added_for": "edge lr high"})
    assert tagged.trial_id == t.trial_id
    row = trial_row(tagged, {"status": "completed"})
    assert row["round"] == 3 and row["added_for"] == "edge lr high" and row["trial_id"] == t.trial_id


def test_status_and_report_show_the_rounds():
    rounds = [
        {"round": 0, "trials": 10, "added_for": {"declared grid": 10}, "limit": None},
        {"round": 1, "trials": 6, "added_for": {"edge lr high": 2, "seeds: claim x open": 4}, "limit": "max_trials"},
    ]
    meta = {"rounds": rounds, "adaptive_stopped": {"reason": "max_trials", "after_round": 1}}
    lines = adaptive_lines(meta)
    assert lines[0].startswith("round 0: 10 trials") and "2 edge lr high" in lines[1] and "max_trials" in lines[1]
    assert "stopped after round 1: max_trials" in lines[-1]
    assert "not settled" in adaptive_lines({"rounds": rounds})[-1]
    html = rounds_html([("runs/x", meta)])
    assert html.count("<tr>") == 4 and "seeds: claim x open" in html
    assert rounds_html([("runs/y", {})]) == ""


# ---- bad `adaptive:` fields -----------------------------------------------------------------------
@pytest.mark.parametrize(
    "limits, field, reason",
    [
        ({"max_rounds": 0}, "adaptive.max_rounds", "greater than or equal to 1"),
        ({"resolution": -0.1}, "adaptive.resolution", "greater than 0"),
        ({"seeds_per_round": "two"}, "adaptive.seeds_per_round", "integer"),
        ({"max_seeds": 2}, "adaptive.max_seeds", "fewer than the sweep's 3 seeds"),
        ({"max_trials": 5}, "adaptive.max_trials", "fewer than the declared grid's 6 trials"),
        ({"rounds": 3}, "adaptive.rounds", "unknown field"),
    ],
)
def test_bad_adaptive_fields_name_file_and_field(tmp_path, capsys, limits, field, reason):
    doc = {
        "name": "bad",
        "output": str(tmp_path / "run"),
        "seeds": 3,
        "tasks": [TASK],
        "optimizers": [{"name": "sgd", "grid": {"lr": [0.01, 0.1]}}],
        "adaptive": limits,
    }
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(doc))
    assert main(["run", str(path), "--adaptive"]) == 2
    err = capsys.readouterr().err
    assert f"{path}: {field}: " in err and reason in err and "Traceback" not in err
    assert not (tmp_path / "run").exists()  # nothing written


def test_limits_come_from_the_sweep_file_else_the_run_else_defaults(tmp_path):
    spec, _ = sweep(tmp_path, [{"name": "sgd", "grid": {"lr": [0.01]}}], max_rounds=4)
    bare, _ = sweep(tmp_path, [{"name": "sgd", "grid": {"lr": [0.01]}}])
    recorded = {"adaptive": AdaptiveSpec(max_rounds=7).model_dump()}
    assert adaptive.settings_of(SimpleNamespace(spec=spec), recorded).max_rounds == 4
    assert adaptive.settings_of(SimpleNamespace(spec=bare), recorded).max_rounds == 7
    assert adaptive.settings_of(SimpleNamespace(spec=bare), None) == AdaptiveSpec()
    assert not adaptive.is_adaptive({"sweep": "x"}) and adaptive.is_adaptive(recorded)


def test_trials_of_different_rounds_may_share_a_population(tmp_path):
    from optbasin.training.grouping import group_key

    spec, catalog = sweep(tmp_path, [{"name": "sgd", "grid": {"lr": [0.01, 0.1]}}], seeds=1)
    a, b = expand(spec, catalog)
    b = b.model_copy(update={"round": 2, "added_for": "bisect basin edge low"})
    assert group_key(a) == group_key(b)
    assert group_key(a) != group_key(a.model_copy(update={"seed": 5}))


def test_adaptive_refuses_a_search(tmp_path, capsys):
    doc = {
        "name": "s",
        "output": str(tmp_path / "run"),
        "tasks": [TASK],
        "search": {"method": "optuna", "trials": 2},
        "optimizers": [{"name": "sgd", "grid": {"lr": {"log_range": [0.01, 0.1], "points": 2}}}],
    }
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(doc))
    assert main(["run", str(path), "--adaptive"]) == 2
    assert f"{path}: search.method: --adaptive extends a grid" in capsys.readouterr().err


# ---- the driver loop, its record and its resume (Ray replaced by synthetic results) -----------------
def fake_execute(loss, stop_after=None, share=0.5):
    """sweep.execute without Ray: claims the directory as execute does, then records the pending
    trials' synthetic results; with ``stop_after`` = n, the n-th call records ``share`` of them and
    dies (share 1: between rounds)."""
    from optbasin.sweeps.callback import Outcome
    from optbasin.sweeps.sweep import check_directory, claim_directory

    calls = []

    def execute(p, **kw):
        calls.append(1)
        check_directory(p)
        p.store.prepare()
        claim_directory(p)
        done = p.store.done_ids()
        pending = [t for t in p.trials if t.trial_id not in done]
        dying = stop_after is not None and len(calls) == stop_after
        for r in rows(pending[: int(len(pending) * share)] if dying else pending, loss).to_dict("records"):
            p.store.record(r, [])
        if dying:
            raise KeyboardInterrupt
        return Outcome()

    return execute


def adaptive_plan(tmp_path, name):
    from optbasin.sweeps.sweep import plan

    doc = {
        "name": "loop",
        "output": str(tmp_path / name),
        "seeds": 2,
        "tasks": [TASK],
        "population": 1,
        "optimizers": [{"name": "sgd", "grid": {"lr": [1e-5, 1e-4]}}, {"name": "adamw", "grid": {"lr": [1e-2, 1.0]}}],
        "claims": [
            {
                "name": "b",
                "metric": "basin_width",
                "tolerance": 0.1,
                "compare": ["adamw", "sgd"],
                "direction": "greater",
            }
        ],
        "adaptive": {"resolution": 0.5, "max_rounds": 6, "seeds_per_round": 1, "max_seeds": 4},
    }
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(doc))
    return lambda: plan(path)


@pytest.mark.filterwarnings("ignore")  # no step rows in these stores
@pytest.mark.parametrize("stop_after, share", [(3, 0.5), (2, 1.0)])
def test_a_run_killed_inside_or_between_rounds_resumes_to_the_same_rounds(tmp_path, monkeypatch, stop_after, share):
    import contextlib

    monkeypatch.setattr(adaptive, "ray_session", lambda *a: contextlib.nullcontext())
    loss = bowl(best_lr=0.01)
    monkeypatch.setattr(adaptive, "execute", fake_execute(loss))
    whole = adaptive.run_adaptive(adaptive_plan(tmp_path, "whole")(), log=None)
    assert len(whole.rounds) >= 3 and whole.stopped
    monkeypatch.setattr(adaptive, "execute", fake_execute(loss, stop_after=stop_after, share=share))
    killed = adaptive_plan(tmp_path, "killed")
    with pytest.raises(KeyboardInterrupt):
        adaptive.run_adaptive(killed(), log=None)
    meta = ResultsStore(tmp_path / "killed").read_meta()
    assert len(meta["rounds"]) == stop_after and meta["adaptive_stopped"] is None  # the round it died in: recorded
    monkeypatch.setattr(adaptive, "execute", fake_execute(loss))
    resumed = adaptive.run_adaptive(killed(), log=None)
    assert [r["added"] for r in resumed.rounds] == [r["added"] for r in whole.rounds]
    assert resumed.stopped == whole.stopped
    a, b = ResultsStore(tmp_path / "whole").raw()[0], ResultsStore(tmp_path / "killed").raw()[0]
    assert b["trial_id"].is_unique and set(a["trial_id"]) == set(b["trial_id"])
    assert ResultsStore(tmp_path / "killed").read_meta()["adaptive_stopped"]["reason"] == whole.stopped


@pytest.mark.filterwarnings("ignore")  # no step rows in these stores
def test_an_analysis_judges_an_adaptive_run_at_its_last_complete_round(tmp_path, monkeypatch):
    """Killed half way through round 2: round 2's trials in the store are left out (a round adds
    points to every seed and seeds at every point: half of one would compare seeds over different
    grids), with a note; once the round completes, nothing is left out."""
    import contextlib

    from optbasin.sweeps.store import load_runs

    monkeypatch.setattr(adaptive, "ray_session", lambda *a: contextlib.nullcontext())
    loss = bowl(best_lr=0.01)
    monkeypatch.setattr(adaptive, "execute", fake_execute(loss, stop_after=3, share=0.5))
    killed = adaptive_plan(tmp_path, "killed")
    with pytest.raises(KeyboardInterrupt):
        adaptive.run_adaptive(killed(), log=None)
    run = tmp_path / "killed"
    meta = ResultsStore(run).read_meta()
    trials, _ = load_runs([run])
    running = trials[trials["running_round"]]
    assert set(running["round"]) == {2} and 0 < len(running) < meta["rounds"][2]["trials"]
    a = analyze(trials, claims=killed().spec.claims)
    assert not (a.trials["trial_id"].isin(running["trial_id"])).any()
    assert len(a.trials) == len(trials) - len(running)
    assert any("adaptive round 2 is still running" in n for n in a.notes)
    monkeypatch.setattr(adaptive, "execute", fake_execute(loss))
    adaptive.run_adaptive(killed(), log=None)
    assert not load_runs([run])[0]["running_round"].any()


def _run_dir(path, adaptive: dict | None):
    import json

    doc = {"name": path.name, "tasks": ["quadratic"], "optimizers": [{"name": "sgd"}]}
    if adaptive is not None:
        doc["adaptive"] = adaptive
    path.mkdir()
    (path / "meta.json").write_text(json.dumps({"sweep_yaml": yaml.safe_dump(doc)}))
    return path


def test_a_runs_catalog_is_rebuilt_from_its_sweep_file_or_not_at_all(tmp_path):
    from optbasin.analysis.analyze import catalog_from_runs

    plain = _run_dir(tmp_path / "plain", None)
    assert catalog_from_runs([plain]).optimizers["namo_d"].hyperparameters["clamp_c"].le == 1
    user = tmp_path / "mine"
    user.mkdir()
    (user / "wide_c.yaml").write_text(
        "kind: optimizer\nname: wide_c\nextends: namo_d\nhyperparameters:\n  clamp_c: {ge: 0, le: 2}\n"
    )
    meta = {"sweep_yaml": yaml.safe_dump({"catalog": ["mine"]}), "sweep_file": str(tmp_path / "sweep.yaml")}
    (plain / "meta.json").write_text(json.dumps(meta))
    assert catalog_from_runs([plain]).optimizers["wide_c"].hyperparameters["clamp_c"].le == 2  # the user's entry
    (user / "wide_c.yaml").unlink()
    user.rmdir()  # the catalog directory is gone: no bound is known, every edge stays an edge
    assert catalog_from_runs([plain]) is None


def test_a_study_split_over_runs_is_judged_at_the_sum_of_their_levels(tmp_path):
    from optbasin.analysis.analyze import adaptive_settings

    runs = [_run_dir(tmp_path / f"size{i}", {"max_seeds": 16, "level": 0.05 / 3}) for i in range(3)]
    assert adaptive_settings(runs)["level"] == pytest.approx(0.05)
    assert adaptive_settings(runs[:1])["level"] == pytest.approx(0.05 / 3)
    # one run without a declared level: the analysis' default level, not a partial sum
    assert adaptive_settings(runs + [_run_dir(tmp_path / "plain", {"max_seeds": 16})]) is None
    assert adaptive_settings(runs + [_run_dir(tmp_path / "fixed", None)]) is None
    # the e-process threshold is then the same whether the sizes are judged alone or together
    alone = sequential.threshold(5, 0.05 / 3)
    assert alone == pytest.approx(sequential.threshold(15, adaptive_settings(runs)["level"]))


def test_every_entry_point_judges_runs_at_their_adaptive_level_and_seed_limit(tmp_path, monkeypatch):
    """`optbasin analyze`, the report and api.Run read the same level, seed limit and catalog from the
    runs' meta.json: a report of adaptive runs showing other decisions than `analyze` prints (the
    default level, no futility) would be a second, wrong verdict on the same data."""
    import importlib

    analyze_module = importlib.import_module("optbasin.analysis.analyze")  # the package's `analyze` is the function
    report_module = importlib.import_module("optbasin.dashboards.report")
    import optbasin.sweeps.store as store
    from optbasin.api import Run

    runs = [_run_dir(tmp_path / f"size{i}", {"max_seeds": 12, "level": 0.01}) for i in range(2)]
    seen = []

    def fake_analyze(trials, steps, claims=None, settings=None, max_seeds=None, catalog=None):
        seen.append((settings, max_seeds, catalog is not None))
        raise RuntimeError("stop here")

    monkeypatch.setattr(store, "load_runs", lambda dirs: (pd.DataFrame(), None))
    monkeypatch.setattr(analyze_module, "analyze", fake_analyze)
    monkeypatch.setattr(report_module, "analyze", fake_analyze)
    monkeypatch.setattr("optbasin.analysis.analyze", fake_analyze)  # what api.Run imports
    entry_points = {
        "analyze_runs": lambda: analyze_module.analyze_runs(runs),
        "write_report": lambda: report_module.write_report(runs, tmp_path / "report.html"),
        "api.Run": lambda: Run(runs).analysis,
        "run_states": lambda: analyze_module.run_states(runs),
    }
    for call in entry_points.values():
        with pytest.raises(RuntimeError, match="stop here"):
            call()
    assert seen == [({"level": pytest.approx(0.02)}, 12, True)] * len(entry_points)


def test_the_driver_judges_a_round_at_the_adaptive_level(tmp_path, monkeypatch):
    seen = {}

    def fake_analyze(trials, steps, claims=None, settings=None, max_seeds=None, catalog=None):
        seen.update(settings=settings, max_seeds=max_seeds, catalog=catalog)
        raise RuntimeError("stop here")

    monkeypatch.setattr(adaptive, "analyze", fake_analyze)
    monkeypatch.setattr(adaptive, "load_runs", lambda dirs, mark_running: (pd.DataFrame(), None))
    catalog = object()  # the sweep's own catalog: its declared bounds decide which edges are edges
    p = SimpleNamespace(store=SimpleNamespace(root=tmp_path), spec=SimpleNamespace(claims=[]), catalog=catalog)
    with pytest.raises(RuntimeError, match="stop here"):
        adaptive.next_round(p, [], AdaptiveSpec(level=0.01, max_seeds=12))
    assert seen == {"settings": {"level": 0.01}, "max_seeds": 12, "catalog": catalog}
