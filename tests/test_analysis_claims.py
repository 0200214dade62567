"""Claims: the YAML schema (located errors) and the three verdicts, with numbers worked by hand."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from optbasin.analysis import analyze, load_claims
from optbasin.errors import ConfigError

_ids = itertools.count()
EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "claims.yaml"


def trial(opt, seed, lr, loss, task="t", wall=1.0):
    return {
        "trial_id": f"c{next(_ids)}",
        "task": task,
        "optimizer": opt,
        "optimizer_name": opt,
        "seed": seed,
        "hp.lr": lr,
        "status": "completed",
        "init_loss": 5.0,
        "final_train_loss": loss,
        "final_val_loss": loss,
        "steps_done": 100,
        "wall_time": wall,
    }


def separated(seeds=6, gap=1.0):
    """A is better than B at its best lr on every seed, by gap + 0.1 s on seed s (distinct
    differences, so no two sign patterns tie); B's second lr is worse for every seed."""
    rows = []
    for s in range(seeds):
        rows += [trial("A", s, 1e-3, 2.0 + 0.1 * s), trial("A", s, 1e-2, 4.0)]
        rows += [trial("B", s, 1e-3, 2.0 + 0.2 * s + gap), trial("B", s, 1e-2, 4.5)]
    return pd.DataFrame(rows)


def claim(**kw):
    base = {"name": "c", "metric": "best_loss", "compare": ["A", "B"], "direction": "less", "task": "t"}
    return {**base, **kw}


def verdict(trials, **kw):
    return analyze(trials, claims=[claim(**kw)], settings={"resamples": 500}).verdicts.iloc[0]


def test_supported_with_the_exact_sign_flip_p_value():
    """6 seeds, A lower on each: of the 2^6 sign patterns only the observed one gives a mean as
    low (after shifting by the margin, 0.01, far below the gap), so p = 1/64; the claim's one
    two-sided test doubles it: 1/32 <= 0.05."""
    res = analyze(separated(), claims=[claim(direction="less")], settings={"resamples": 500})
    v, t = res.verdicts.iloc[0], res.verdicts_by_task.iloc[0]
    assert v["verdict"] == "supported"
    assert v["p_value"] == pytest.approx(2 / 64)
    assert t["p_supported"] == pytest.approx(1 / 64) and t["p_contradicted"] == pytest.approx(1.0)
    assert v["seeds"] == 6 and v["tests"] == 1 and v["margin"] == pytest.approx(0.01)
    # the cross-fitted best loss: each seed scores lr 1e-3 (best on the other seeds) -> the
    # per-seed difference is -(1 + 0.1 s), and the effect is their mean
    assert v["effect"] == pytest.approx(-np.mean([1 + 0.1 * s for s in range(6)]))
    assert v["ci_low"] <= v["effect"] <= v["ci_high"]


def test_contradicted():
    v = verdict(separated(), direction="greater")
    assert v["verdict"] == "contradicted"
    assert v["p_value"] == pytest.approx(2 / 64)


@pytest.mark.parametrize("seeds", [2, 3, 4, 5])
def test_too_few_seeds_say_how_many_are_needed(seeds):
    """m seeds give p >= 2^-m; with Holm over 2 tests the level is 0.025: 2^-5 = 0.031 is above it,
    2^-6 below, so 6 seeds are needed, whatever the data."""
    v = verdict(separated(seeds=seeds, gap=10.0))
    assert v["verdict"] == "insufficient seeds"
    assert "6 seeds needed" in v["reason"]


def test_inconclusive_when_seeds_disagree():
    """8 seeds: A wins on four, B on four, by the same margins: T = 0 is the median of the null."""
    rows = []
    for s in range(8):
        a, b = (2.0, 3.0 + 0.1 * s) if s % 2 else (3.0 + 0.1 * s, 2.0)
        rows += [trial("A", s, 1e-3, a), trial("B", s, 1e-3, b)]
    v = verdict(pd.DataFrame(rows))
    assert v["verdict"] == "inconclusive"
    assert 0.3 < v["p_value"] <= 1.0


def test_missing_optimizer_or_task_is_inconclusive_with_reason():
    v = verdict(separated(), compare=["A", "muon"])
    assert v["verdict"] == "inconclusive" and "'muon' has no trials on task 't'" in v["reason"]
    v = verdict(separated(), task="gpt-tiny")
    assert v["verdict"] == "inconclusive" and "task 'gpt-tiny' not in the results" in v["reason"]
    v = verdict(separated(), task="all", compare=["A", "muon"])
    assert v["verdict"] == "inconclusive" and "muon" in v["reason"]


def test_one_seed_is_insufficient():
    trials = separated()
    v = verdict(trials[trials["seed"] == 0])
    assert v["verdict"] == "insufficient seeds"


def test_ratio_margin_equivalence_over_all_tasks():
    """A's best loss is 1.05 x B's on every seed of two tasks. 'A lower than B' with a 10% margin
    (factor 1.1): 1.05 lies within [1/1.1, 1.1] on every seed, so both one-sided tests of TOST
    reach 2^-7: p_equivalent = 1/128, two-sided 2/128, Holm over 2 tasks 4/128: equivalent. With
    a 1% margin the same data are worse by more than the margin: contradicted. Effects are per
    task (geometric mean ratio 1.05), never averaged."""
    rows = []
    for task in ("t", "u"):
        for s in range(7):
            rows += [trial("A", s, 1e-3, 2.1, task=task), trial("B", s, 1e-3, 2.0, task=task)]
    trials = pd.DataFrame(rows)
    res = analyze(trials, claims=[claim(effect="ratio", margin=1.1, task="all")], settings={"resamples": 200})
    v = res.verdicts.iloc[0]
    assert v["verdict"] == "equivalent" and v["tasks"] == "t,u"
    assert v["p_value"] == pytest.approx(4 / 128)
    assert np.isnan(v["effect"])  # several tasks: effects are per task, never averaged
    assert res.verdicts_by_task["effect"].tolist() == [pytest.approx(1.05)] * 2
    assert verdict(trials, effect="ratio", margin=1.01, task="all")["verdict"] == "contradicted"


def test_tasks_that_disagree_are_mixed():
    """Task t: A better on all 7 seeds; task u: A worse on all 7. Never pooled into one effect."""
    rows = []
    for task, sign in (("t", 1), ("u", -1)):
        for s in range(7):
            rows += [trial("A", s, 1e-3, 2.0, task=task), trial("B", s, 1e-3, 2.0 + sign * (0.5 + 0.1 * s), task=task)]
    res = analyze(pd.DataFrame(rows), claims=[claim(task="all")], settings={"resamples": 200})
    v = res.verdicts.iloc[0]
    assert v["verdict"] == "mixed"
    assert "t supported" in v["reason"] and "u contradicted" in v["reason"]
    assert np.isnan(v["effect"])
    by_task = res.verdicts_by_task.set_index("task")
    assert by_task.loc["t", "verdict"] == "supported" and by_task.loc["u", "verdict"] == "contradicted"


def test_basin_claim_uses_its_tolerance():
    """On seed s, A: 4 + s/100 at lr 1e-4, l = 2 + s/100 at 1e-3, 2.1 + s/100 at 1e-2, 4 + s/100 at
    1e-1; B the same but 4 + s/100 at 1e-2. With tolerance 0.1, T = 1.1 l and A's basin is wider."""
    rows = []
    for s in range(6):
        for lr, la, lb in ((1e-4, 4.0, 4.0), (1e-3, 2.0, 2.0), (1e-2, 2.1, 4.0), (1e-1, 4.0, 4.0)):
            rows += [trial("A", s, lr, la + 0.01 * s), trial("B", s, lr, lb + 0.01 * s)]
    v = verdict(pd.DataFrame(rows), metric="basin_width", tolerance=0.1, scope="own", direction="greater", margin=0.5)
    assert v["metric"] == "basin_width_rel0.1"

    def widths(s):
        low, l = 4.0 + 0.01 * s, 2.0 + 0.01 * s
        t = 1.1 * l
        # left crossing between (-4, low) and (-3, l); right between (-2, 2.1 + s/100) and (-1, low)
        a = (-2 + (t - (2.1 + 0.01 * s)) / (low - (2.1 + 0.01 * s))) - (-3 - (t - l) / (low - l))
        b = 2 * (t - l) / (low - l)
        return a, b

    assert v["effect"] == pytest.approx(np.mean([a - b for a, b in map(widths, range(6))]))
    # the effect, 0.95 decades, is below the grid's resolution (1 decade): the margin is raised to
    # it, no seed's width difference exceeds it, and every one lies within it; but within 1 decade
    # is not within the declared 0.5, which a decade grid cannot resolve: no finding
    assert v["margin"] == pytest.approx(1.0) and "resolution" in v["caveats"]
    assert v["verdict"] == "inconclusive" and "would be equivalent within 1" in v["reason"]


# --- schema ----------------------------------------------------------------------------------


def write(tmp_path, text):
    path = tmp_path / "claims.yaml"
    path.write_text(text)
    return path


def problems(path):
    with pytest.raises(ConfigError) as e:
        load_claims(path)
    return [(p.field, p.reason) for p in e.value.problems]


def test_example_file_holds_the_four_claims():
    claims = load_claims(EXAMPLES)
    pairs = {tuple(c.compare) for c in claims}
    assert {
        ("muonmax", "muon"),
        ("muonadam_momo", "muonadam"),
        ("muonmax_momo", "muonmax"),
        ("namo", "muon"),
        ("namo_d", "namo"),
    } <= pairs


def test_bad_claims_are_located(tmp_path):
    path = write(
        tmp_path,
        """
claims:
  - {name: a, metric: basin_wdth, compare: [x, y], direction: greater}
  - {name: b, metric: best_loss, compare: [x, y], direction: greater, tolerance: 0.1}
  - {name: c, metric: best_loss, compare: [x, y, z], direction: up}
  - {name: d, metric: expected_best_k, compare: [x, x], direction: less}
  - {name: a, metric: best_loss, compare: [x, y], direction: less, colour: red}
""",
    )
    found = problems(path)
    fields = [f for f, _ in found]
    assert "claims[0].metric" in fields
    assert any(f == "claims[1]" and "'tolerance' applies to metric basin_width" in r for f, r in found)
    assert "claims[2].compare" in fields and "claims[2].direction" in fields
    assert any(f == "claims[3]" and "two different optimizer labels" in r for f, r in found)
    assert ("claims[4].colour", "unknown field") in found
    with pytest.raises(ConfigError) as e:
        load_claims(path)
    assert all(p.file == str(path) for p in e.value.problems)


def test_threshold_and_step_cost_claims_are_refused_with_where_to_go(tmp_path):
    path = write(
        tmp_path,
        """
claims:
  - {name: a, metric: best_loss, compare: [x, y], direction: less, threshold: 0.1}
  - {name: b, metric: time_per_step, effect: ratio, compare: [x, y], direction: less}
  - {name: c, metric: lr_sensitivity, compare: [x, y], direction: less}
  - {name: d, metric: best_loss, compare: [x, y], direction: less, given: e}
  - {name: e, metric: best_loss, compare: [x, y], direction: less, effect: ratio, margin: 0.9}
""",
    )
    found = dict(problems(path))
    assert "replaced by 'margin'" in found["claims[0].threshold"]
    assert "optbasin bench" in found["claims[1].metric"]
    assert "window: [a, b]" in found["claims[2]"]
    assert "listed before this one" in found["claims[3].given"] if "claims[3].given" in found else True
    assert "factor >= 1" in found["claims[4]"]


def test_given_names_an_earlier_claim(tmp_path):
    path = write(
        tmp_path,
        "claims:\n  - {name: a, metric: best_loss, compare: [x, y], direction: less, given: b}\n"
        "  - {name: b, metric: best_loss, compare: [y, x], direction: less}\n",
    )
    assert problems(path) == [
        (
            "claims[0].given",
            "'b' is not the name of a claim listed before this one (a claim is gated on an earlier claim)",
        )
    ]


def test_duplicate_names_and_missing_list(tmp_path):
    path = write(
        tmp_path,
        "claims:\n  - {name: a, metric: best_loss, compare: [x, y], direction: less}\n"
        "  - {name: a, metric: best_loss, compare: [y, x], direction: less}\n",
    )
    assert problems(path) == [("claims[1].name", "duplicate claim name 'a'")]
    assert problems(write(tmp_path, "name: sweep\n"))[0][0] == "claims"
    assert problems(write(tmp_path, "claims: 3\n"))[0][0] == "claims"
    assert problems(tmp_path / "absent.yaml") == [("(file)", "no such file")]


def test_sweep_file_claims_are_read(tmp_path):
    path = write(
        tmp_path,
        "name: s\ntasks: [quadratic]\noptimizers: [sgd]\n"
        "claims:\n  - {name: a, metric: divergence_rate, compare: [sgd, adamw], direction: less}\n",
    )
    (c,) = load_claims(path)
    assert c.metric == "divergence_rate" and c.task == "all"


def test_a_seed_run_on_part_of_the_grid_waits_until_it_has_run_every_point():
    """Seed 5 of A lacks A's second lr (a round cut short): its best would be taken over another
    grid than the other seeds', so the paired test leaves it out (5 seeds: p = 1/32) and says why.
    The same trial recorded as failed is a seed that ran every point: 6 seeds, p = 1/64."""
    full = separated()
    gap = ~((full["optimizer"] == "A") & (full["seed"] == 5) & (full["hp.lr"] == 1e-2))
    res = analyze(full[gap], claims=[claim()], settings={"resamples": 200})
    t = res.verdicts_by_task.iloc[0]
    assert t["seeds"] == 5 and t["p_supported"] == pytest.approx(1 / 32)
    assert any("seed(s) 5 ran 1 of the 2 points: left out of the paired tests" in n for n in res.notes)
    failed = full.copy()
    failed.loc[~gap, ["status", "final_val_loss", "final_train_loss"]] = ["failed", np.nan, np.nan]
    t = analyze(failed, claims=[claim()], settings={"resamples": 200}).verdicts_by_task.iloc[0]
    assert t["seeds"] == 6 and t["p_supported"] == pytest.approx(1 / 64)
