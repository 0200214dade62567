"""Claims: the YAML schema (located errors) and the three verdicts, with numbers worked by hand."""

from __future__ import annotations

import itertools
from pathlib import Path

import pandas as pd
import pytest

from optbasin.analysis import analyze, load_claims
from optbasin.errors import ConfigError

_ids = itertools.count()
EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "claims.yaml"


def trial(opt, seed, lr, loss, task="t", wall=1.0):
    return {"trial_id": f"c{next(_ids)}", "task": task, "optimizer": opt, "optimizer_name": opt, "seed": seed,
            "hp.lr": lr, "status": "completed", "init_loss": 5.0, "final_train_loss": loss,
            "final_val_loss": loss, "steps_done": 100, "wall_time": wall}


def separated():
    """A is better than B at its best lr in every seed: A's l* = median(2.0, 2.1, 2.2, 2.3) = 2.15,
    B's l* = median(3.0, 3.1, 3.2, 3.3) = 3.15 (B's second lr is worse for every seed)."""
    rows = []
    for s in range(4):
        rows += [trial("A", s, 1e-3, 2.0 + 0.1 * s), trial("A", s, 1e-2, 4.0)]
        rows += [trial("B", s, 1e-3, 3.0 + 0.1 * s), trial("B", s, 1e-2, 4.5)]
    return pd.DataFrame(rows)


def claim(**kw):
    base = {"name": "c", "metric": "best_loss", "compare": ["A", "B"], "direction": "less", "task": "t"}
    return {**base, **kw}


def verdict(trials, **kw):
    return analyze(trials, claims=[claim(**kw)], settings={"resamples": 500}).verdicts.iloc[0]


def test_supported():
    v = verdict(separated(), direction="less")
    assert v["verdict"] == "supported"
    assert v["effect"] == pytest.approx(2.15 - 3.15)
    assert (v["value_a"], v["value_b"]) == (pytest.approx(2.15), pytest.approx(3.15))
    # every resample draws the same seeds for both: A - B lies in [2.0 - 3.0, 2.3 - 3.3] = -1 exactly
    assert v["ci_low"] == pytest.approx(-1.0) and v["ci_high"] == pytest.approx(-1.0)


def test_contradicted():
    v = verdict(separated(), direction="greater")
    assert v["verdict"] == "contradicted"
    assert v["effect"] == pytest.approx(-1.0)


def test_inconclusive_when_interval_contains_zero():
    """A wins on seeds 0 and 2, B on seeds 1 and 3 (one lr each): the resample that draws only
    seeds 0 and 2 (probability 1/16 > 2.5%) gives A - B = -1, only 1 and 3 gives +1."""
    rows = []
    for s, (a, b) in enumerate([(2.0, 3.0), (3.0, 2.0), (2.0, 3.0), (3.0, 2.0)]):
        rows += [trial("A", s, 1e-3, a), trial("B", s, 1e-3, b)]
    v = verdict(pd.DataFrame(rows))
    assert v["verdict"] == "inconclusive"
    assert v["effect"] == pytest.approx(0.0)  # medians 2.5 and 2.5
    assert v["ci_low"] == pytest.approx(-1.0) and v["ci_high"] == pytest.approx(1.0)


def test_missing_optimizer_or_task_is_inconclusive_with_reason():
    v = verdict(separated(), compare=["A", "muon"])
    assert v["verdict"] == "inconclusive" and "'muon' has no trials on task 't'" in v["reason"]
    v = verdict(separated(), task="gpt-tiny")
    assert v["verdict"] == "inconclusive" and "task 'gpt-tiny' not in the results" in v["reason"]
    v = verdict(separated(), task="all", compare=["A", "muon"])
    assert v["verdict"] == "inconclusive" and "muon" in v["reason"]


def test_one_seed_is_inconclusive():
    trials = separated()
    v = verdict(trials[trials["seed"] == 0])
    assert v["verdict"] == "inconclusive" and "one seed" in v["reason"]


def test_ratio_effect_with_threshold_over_all_tasks():
    """A's time per step is 1.05 x B's on two tasks: 'A costs less than 1.1 x B' is supported,
    'less than B' is contradicted (the geometric mean ratio, 1.05, is above 1)."""
    rows = []
    for task in ("t", "u"):
        for s in range(3):
            rows += [trial("A", s, 1e-3, 2.0, task=task, wall=105.0), trial("B", s, 1e-3, 2.0, task=task, wall=100.0)]
    trials = pd.DataFrame(rows)
    v = verdict(trials, metric="time_per_step", effect="ratio", threshold=1.1, task="all")
    assert v["verdict"] == "supported" and v["effect"] == pytest.approx(1.05) and v["tasks"] == "t,u"
    v = verdict(trials, metric="time_per_step", effect="ratio", task="all")
    assert v["verdict"] == "contradicted"


def test_basin_claim_uses_its_tolerance():
    """A: losses 2.0 at lr 1e-3 and 2.1 at 1e-2 (both within 10%), 4.0 at 1e-1; B: 2.0 at 1e-3
    only, 4.0 at 1e-2 and 1e-1. With tolerance 0.1 A's basin is wider."""
    rows = []
    for s in range(3):
        for lr, la, lb in ((1e-4, 4.0, 4.0), (1e-3, 2.0, 2.0), (1e-2, 2.1, 4.0), (1e-1, 4.0, 4.0)):
            rows += [trial("A", s, lr, la + 0.01 * s), trial("B", s, lr, lb + 0.01 * s)]
    v = verdict(pd.DataFrame(rows), metric="basin_width", tolerance=0.1, direction="greater")
    assert v["metric"] == "basin_width_rel0.1"
    # medians = seed 1's values (4.01, 2.01, 2.11, 4.01 for A); l* = 2.01, T = 2.01 * 1.1 = 2.211.
    # A: left crossing on (-4, 4.01)-(-3, 2.01): -3 - 0.201 / 2.0; right on (-2, 2.11)-(-1, 4.01): -2 + 0.101 / 1.9.
    # B: -3 -/+ 0.201 / 2.0 on both sides.
    width_a = (-2 + 0.101 / 1.9) - (-3 - 0.201 / 2.0)
    width_b = 2 * 0.201 / 2.0
    assert v["effect"] == pytest.approx(width_a - width_b)
    assert v["verdict"] == "supported"


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
    assert {("muonmax", "muon"), ("muonadam_momo", "muonadam"), ("muonmax_momo", "muonmax"),
            ("namo", "muon"), ("namo_d", "namo")} <= pairs


def test_bad_claims_are_located(tmp_path):
    path = write(tmp_path, """
claims:
  - {name: a, metric: basin_wdth, compare: [x, y], direction: greater}
  - {name: b, metric: best_loss, compare: [x, y], direction: greater, tolerance: 0.1}
  - {name: c, metric: best_loss, compare: [x, y, z], direction: up}
  - {name: d, metric: expected_best_k, compare: [x, x], direction: less}
  - {name: a, metric: best_loss, compare: [x, y], direction: less, colour: red}
""")
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


def test_duplicate_names_and_missing_list(tmp_path):
    path = write(tmp_path, "claims:\n  - {name: a, metric: best_loss, compare: [x, y], direction: less}\n"
                           "  - {name: a, metric: best_loss, compare: [y, x], direction: less}\n")
    assert problems(path) == [("claims[1].name", "duplicate claim name 'a'")]
    assert problems(write(tmp_path, "name: sweep\n"))[0][0] == "claims"
    assert problems(write(tmp_path, "claims: 3\n"))[0][0] == "claims"
    assert problems(tmp_path / "absent.yaml") == [("(file)", "no such file")]


def test_sweep_file_claims_are_read(tmp_path):
    path = write(tmp_path, "name: s\ntasks: [quadratic]\noptimizers: [sgd]\n"
                           "claims:\n  - {name: a, metric: divergence_rate, compare: [sgd, adamw], direction: less}\n")
    (c,) = load_claims(path)
    assert c.metric == "divergence_rate" and c.task == "all"
