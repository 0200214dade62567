"""The anytime-valid sequential test (optbasin/analysis/sequential.py, docs/statistics.md section 8):
its error rate under peeking after every seed, checked by simulation against the bound (and shown
to catch the naive fixed-n test re-run after every look), power, futility, decisions that never
revert, and the states of real analyses (claims.py's per-seed effects, families, gating)."""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pandas as pd
import pytest

from optbasin.analysis import analyze
from optbasin.analysis.analyze import adaptive_max_seeds
from optbasin.analysis.sequential import (
    COLUMNS,
    STATES,
    PairState,
    e_processes,
    seeds_to_reach,
    sequential_decisions,
    threshold,
)
from tests.conftest import result_row

LEVEL = 0.05
LIMIT = 30  # peeking after every seed up to 30
REPS = 4000  # Monte Carlo repetitions per null
C = threshold(1, LEVEL)
FINDING = {s: i for i, s in enumerate(STATES)}


def slack(p: float, n: int = REPS) -> float:
    """p + 3 Monte Carlo standard errors."""
    return p + 3 * math.sqrt(p * (1 - p) / n)


def states_of(e: np.ndarray, margin: float, limit: int | None = LIMIT, c: float = C) -> np.ndarray:
    return sequential_decisions(e, margin, c, limit)["state"]


def share(states: np.ndarray, *names: str) -> float:
    return float(np.isin(states, [FINDING[n] for n in names]).mean())


# --- calibration under peeking ------------------------------------------------------------------

NULLS = {  # symmetric per-seed effects (normal, heavy-tailed, bounded) in sd units
    "normal": lambda rng, size: rng.normal(size=size),
    "t3": lambda rng, size: rng.standard_t(3, size=size),
    "uniform": lambda rng, size: rng.uniform(-1.7, 1.7, size=size),
}


@pytest.mark.parametrize("noise", sorted(NULLS))
@pytest.mark.parametrize("centre", [0.5, -0.5])
def test_no_false_finding_beyond_the_level_at_the_margin_s_boundary(noise, centre):
    """Margin 0.5 sd, true effect exactly +0.5 (supported's and equivalence's null boundary: no
    finding is true) or -0.5 (contradicted's and equivalence's). Peeking after every seed to 30,
    any finding is false: its rate stays under the level + 3 Monte Carlo standard errors."""
    rng = np.random.default_rng([7, int(centre > 0), len(noise)])
    e = centre + NULLS[noise](rng, (REPS, LIMIT))
    states = states_of(e, 0.5)
    false = share(states, "supported", "contradicted", "equivalent")
    assert false <= slack(LEVEL)
    # each one-sided process alone is bounded by 1 / c = level / 2 (Ville)
    boundary = "supported" if centre > 0 else "contradicted"
    assert share(states, boundary) <= slack(LEVEL / 2)
    assert share(states, "equivalent") <= slack(LEVEL / 2)


def test_no_false_finding_with_a_zero_margin_and_no_difference():
    """Margin 0 and no difference: supported and contradicted are both false, equivalence is
    impossible (|effect| < 0 never holds)."""
    e = np.random.default_rng(3).normal(size=(REPS, LIMIT))
    states = states_of(e, 0.0)
    assert share(states, "supported", "contradicted", "equivalent") <= slack(LEVEL)
    assert share(states, "equivalent") == 0.0


def test_the_family_s_threshold_keeps_the_family_s_error_rate():
    """Four pairs under the null at the boundary, c = 2 x 4 / level: a false finding on any of the
    four has probability at most the level."""
    rng = np.random.default_rng(11)
    c4 = threshold(4, LEVEL)
    states = np.stack([states_of(0.5 + rng.normal(size=(REPS, LIMIT)), 0.5, c=c4) for _ in range(4)])
    any_false = np.isin(states, [FINDING[f] for f in ("supported", "contradicted", "equivalent")]).any(axis=0)
    assert any_false.mean() <= slack(LEVEL)


def naive_supported(e: np.ndarray, margin: float, first: int = 6) -> np.ndarray:
    """The fixed-n one-sided sign test of e - margin at level / 2 (the fixed design's share of the
    level per direction), re-run after every seed from `first` on: supported at the first look it
    rejects."""
    reps, n = e.shape
    wins = np.cumsum(e - margin > 0, axis=1)
    out = np.zeros(reps, dtype=bool)
    for m in range(first, n + 1):
        tail = np.array([sum(math.comb(m, i) for i in range(k, m + 1)) / 2**m for k in range(m + 2)])
        out |= tail[wins[:, m - 1]] <= LEVEL / 2
    return out


def test_the_simulation_catches_the_naive_fixed_n_test_re_run_after_every_look():
    """The same simulation, with the naive rule: at one fixed n the sign test holds its level, but
    re-run after every seed from 6 to 30 it is 'supported' far more often than the level allows,
    where the e-process stays under it: the calibration tests above can fail."""
    e = 0.5 + np.random.default_rng(5).normal(size=(REPS, LIMIT))
    assert naive_supported(e[:, :LIMIT], 0.5, first=LIMIT).mean() <= slack(LEVEL / 2)  # one look: valid
    naive = naive_supported(e, 0.5).mean()
    assert naive > slack(LEVEL / 2) and naive > 2 * (LEVEL / 2)  # 6.6%: more than twice its level
    assert share(states_of(e, 0.5), "supported") <= slack(LEVEL / 2)


# --- power, futility, finality --------------------------------------------------------------------


def test_power_at_a_difference_well_beyond_the_margin():
    """True effect 2 sd beyond a 0.5 sd margin: supported within 30 seeds in >= 80%; never another
    finding. No difference with a 1.5 sd margin: equivalent in >= 80%."""
    rng = np.random.default_rng(13)
    states = states_of(2.5 + rng.normal(size=(1000, LIMIT)), 0.5)
    assert share(states, "supported") >= 0.8 and share(states, "contradicted", "equivalent") == 0.0
    states = states_of(rng.normal(size=(1000, LIMIT)), 1.5)
    assert share(states, "equivalent") >= 0.8 and share(states, "supported", "contradicted") == 0.0


def test_futility_stops_early_where_no_finding_is_true_and_only_where_none_is_reachable():
    """At the boundary (effect = margin: no finding true) most pairs stop as futile before the
    limit. Futility is a deterministic bound: appending the remaining seeds as the most favourable
    run for supported or contradicted (each seed an effect of +-1e6) decides nothing."""
    rng = np.random.default_rng(17)
    e = 0.5 + rng.normal(size=(2000, LIMIT))
    d = sequential_decisions(e, 0.5, C, LIMIT)
    futile = d["state"] == FINDING["futile"]
    assert futile.mean() >= 0.9
    assert d["at"][futile].mean() < LIMIT - 3
    for i in np.flatnonzero(futile)[:200]:
        seen = e[i, : d["at"][i]]
        for sign in (1.0, -1.0):
            best = np.concatenate([seen, np.full(LIMIT - seen.size, sign * 1e6)])
            assert sequential_decisions(best, 0.5, C, None)["state"][0] == FINDING["open"]


def test_a_seed_limit_too_small_for_any_decision_is_insufficient_seeds():
    """c = 40: the first bet at most x1.5, then x2 a seed: 6 seeds reach 48, 5 only 24."""
    assert seeds_to_reach(C) == 6
    e = np.full((1, 5), 9.0)
    assert sequential_decisions(e, 0.5, C, 5)["state"][0] == FINDING["insufficient seeds"]
    assert sequential_decisions(np.full((1, 6), 9.0), 0.5, C, 6)["state"][0] == FINDING["supported"]


def test_decisions_never_revert_as_seeds_are_added():
    """Looking after every seed of the same series: once a pair is decided (or futile), every later
    look gives the same state at the same seed, whatever the later seeds say."""
    rng = np.random.default_rng(19)
    e = rng.normal(rng.uniform(-2, 2, size=(600, 1)), 1.0, size=(600, LIMIT))
    final = np.full(600, -1)
    at = np.zeros(600, dtype=int)
    for n in range(1, LIMIT + 1):
        d = sequential_decisions(e[:, :n], 0.5, C, LIMIT)
        done = final >= 0
        assert (d["state"][done] == final[done]).all() and (d["at"][done] == at[done]).all()
        new = (d["state"] != FINDING["open"]) & ~done
        final[new], at[new] = d["state"][new], d["at"][new]
    assert (final > 0).mean() > 0.9  # nearly all decided or futile by the limit


def test_each_bet_is_fair_under_the_symmetric_null():
    """Given the past seeds, flipping the sign of seed j's shifted effect (the symmetric null's
    other, equally likely value) turns its factor 1 + g into 1 - g: the two average to exactly 1,
    for every seed and every past. Centred below 0, the process loses on average."""
    from optbasin.analysis.sequential import bet_factors
    from tests.rounding import agree

    rng = np.random.default_rng(23)
    x = rng.standard_t(2, size=(500, 12))
    for j in range(12):
        flipped = x.copy()
        flipped[:, j] *= -1
        mean = (bet_factors(x)[:, j] + bet_factors(flipped)[:, j]) / 2
        assert all(agree(float(v), 1.0, 1e-12) for v in mean)  # float64: one rounding of 1 + g
    assert e_processes(rng.normal(-0.5, 1, size=(4000, 10)), 0.0)["sup"][:, -1].mean() < 0.8


# --- the states of an analysis --------------------------------------------------------------------


def row(opt, seed, lr, loss, task="t", l0=5.0):
    return {**result_row(opt, seed, lr, loss, task=task), "init_loss": l0}


def claim(**kw):
    return {
        "name": "c",
        "metric": "best_loss",
        "compare": ["A", "B"],
        "direction": "less",
        "task": "t",
        "tuning_seeds": 1,
        **kw,
    }


def paired(seeds: int, gap=lambda s: 1.0, task="t") -> list[dict]:
    rows = []
    for s in range(seeds):
        rows += [row("A", s, 1e-3, 2.0 + 0.1 * s, task), row("B", s, 1e-3, 2.0 + 0.1 * s + gap(s), task)]
    return rows


def states(rows, claims, max_seeds=None) -> pd.DataFrame:
    return analyze(pd.DataFrame(rows), claims=claims, settings={"resamples": 100}, max_seeds=max_seeds).sequential


def test_the_analysis_has_a_sequential_table_beside_the_fixed_verdicts():
    """A better than B by 1 on every seed (margin 0.01), tuning seed 0, scored on seeds 1..: two
    pairs in the family, c = 80; every bet after the first is tanh(2) (x constant), so supported's
    wealth is 1.5 x 1.96^(n-1), >= 80 at the 7th scored seed, the fewest any run could need; a
    best loss without tuning seeds (cross-fitted, same grid) has no anytime-valid test."""
    a = analyze(
        pd.DataFrame(paired(10)),
        claims=[claim(name="held"), claim(name="xfit", tuning_seeds=None)],
        settings={"resamples": 100},
        max_seeds=20,
    )
    seq = a.sequential.set_index("claim")
    assert list(a.sequential.columns) == COLUMNS
    assert seq.loc["held", "state"] == "supported" and seq.loc["held", "optimizers"] == ("A", "B")
    assert seq.loc["held", "e_value"] >= threshold(2, LEVEL)  # two pairs in the exploratory family
    assert seq.loc["held", "n_seeds"] == seeds_to_reach(threshold(2, LEVEL)) == 7
    assert seq.loc["xfit", "state"] == "undefined" and "tuning_seeds" in seq.loc["xfit", "reason"]
    assert math.isnan(seq.loc["xfit", "e_value"])
    assert set(a.verdicts["verdict"]) == {"supported"}  # the fixed design, unchanged
    assert json.dumps(a.to_dict()["sequential"])  # JSON-ready (NaN -> null)


def test_a_basin_width_claim_is_decided_on_its_per_seed_widths():
    """A's valley is about 2 decades wider than B's on every seed of a half-decade grid (margin
    raised to the grid's 0.5 decades): supported, sequentially as by the fixed design, no sooner
    than the fewest seeds c = 40 allows."""
    lrs = 10.0 ** np.arange(-4, 0.1, 0.5)
    rows = []
    for s in range(9):
        u = 0.01 * s
        for lr, la, lb in zip(lrs, (5, 3, 2 + u, 2, 2, 2, 2 + u, 3, 5), (5, 5, 5, 3, 2 + u, 3 - u, 5, 5, 5)):
            rows += [row("A", s, float(lr), la), row("B", s, float(lr), lb)]
    a = analyze(
        pd.DataFrame(rows),
        claims=[claim(metric="basin_width", direction="greater", tuning_seeds=None)],
        settings={"resamples": 100},
        max_seeds=20,
    )
    s = a.sequential.iloc[0]
    assert a.verdicts.iloc[0]["verdict"] == "supported" and a.verdicts_by_task.iloc[0]["margin"] == pytest.approx(0.5)
    assert s["state"] == "supported" and seeds_to_reach(C) <= s["n_seeds"] <= 9


def test_open_while_a_finding_is_reachable_then_final():
    """Three scored seeds, unanimous: open (a finding needs 6 at c = 40), with a limit of 20 or
    none; with a limit of 4 seeds no run could decide: insufficient seeds."""
    few = states(paired(4), [claim()], max_seeds=20).iloc[0]
    assert few["state"] == "open" and few["n_seeds"] == 3
    assert states(paired(4), [claim()], max_seeds=4).iloc[0]["state"] == "insufficient seeds"
    assert states(paired(4), [claim()]).iloc[0]["state"] == "open"  # no limit: never futile


def test_states_of_a_growing_study_never_revert():
    """The real pipeline, seed by seed: B worse by 0.5 +- 0.4 (margin 0.01): once supported, the
    state stays supported with the same seed count, though later seeds are mixed."""
    rng = np.random.default_rng(29)
    gaps = list(0.5 + 0.4 * rng.normal(size=16)) + [-2.0] * 6
    seen = None
    for n in range(3, len(gaps) + 1):
        s = states(paired(n, gap=lambda j: gaps[j]), [claim()], max_seeds=30).iloc[0]
        if seen is not None:
            assert (s["state"], s["n_seeds"]) == seen
        elif s["state"] != "open":
            seen = (s["state"], s["n_seeds"])
    assert seen is not None and seen[0] == "supported"


def test_a_later_undefined_seed_does_not_undo_a_decision():
    """A ratio claim (B / A > 1.05 by every seed's loss ratio) and a last seed whose ratio is
    undefined (B's loss there is not positive): the fixed design becomes inconclusive, the
    sequential state keeps the decision taken on the seeds before it and says so."""
    bad = {"final_train_loss": -1.0, "final_val_loss": -1.0}
    rows = [{**r, **bad} if (r["optimizer"], r["seed"]) == ("B", 11) else r for r in paired(12)]
    a = analyze(pd.DataFrame(rows), claims=[claim(effect="ratio")], settings={"resamples": 100}, max_seeds=20)
    assert a.verdicts.iloc[0]["verdict"] == "inconclusive" and "positive" in a.verdicts.iloc[0]["reason"]
    s = a.sequential.iloc[0]
    assert s["state"] == "supported" and "later seeds not used" in s["reason"]
    assert s["n_seeds"] <= 10  # seeds 1..10 scored, seed 11 left out


def test_a_gated_claim_waits_for_its_gate_and_is_futile_when_the_gate_fails():
    rows = paired(12)
    got = states(rows, [claim(name="gate"), claim(name="then", given="gate")], max_seeds=20).set_index("claim")
    assert list(got["state"]) == ["supported", "supported"]
    got = states(
        rows, [claim(name="gate", direction="greater"), claim(name="then", given="gate")], max_seeds=20
    ).set_index("claim")
    assert got.loc["gate", "state"] == "contradicted"
    assert got.loc["then", "state"] == "futile" and "alone: supported" in got.loc["then", "reason"]
    got = states(paired(5), [claim(name="gate"), claim(name="then", given="gate")], max_seeds=20).set_index("claim")
    assert list(got["state"]) == ["open", "open"]


def test_missing_optimizer_is_undefined_with_the_reason():
    got = states(paired(8), [claim(compare=["A", "Z"])], max_seeds=20).iloc[0]
    assert got["state"] == "undefined" and "Z" in got["reason"]


def test_a_metric_undefined_from_the_first_seed_is_undefined_not_futile():
    """B never learns (every loss above l0 = 5): its basin does not exist, so the pair has no
    effect to test; "futile" would say that more seeds were judged unable to decide it."""
    rows = []
    for s in range(8):
        rows += [row("A", s, lr, 2.0 + 0.1 * s + abs(i - 1), "t") for i, lr in enumerate((1e-4, 1e-3, 1e-2))]
        rows += [row("B", s, lr, 6.0, "t") for lr in (1e-4, 1e-3, 1e-2)]
    got = states(rows, [claim(metric="basin_width", direction="greater", tuning_seeds=None)], max_seeds=20).iloc[0]
    assert got["state"] == "undefined" and "nothing was learned" in got["reason"]


def test_the_seed_limit_comes_from_the_adaptive_block_of_the_sweep(tmp_path):
    (tmp_path / "meta.json").write_text(json.dumps({"sweep_yaml": "name: x\nadaptive:\n  max_seeds: 24\n"}))
    other = tmp_path / "other"
    other.mkdir()
    assert adaptive_max_seeds([tmp_path]) == 24 and adaptive_max_seeds([other]) is None


def test_run_states_reads_the_store_the_claims_and_the_limit(tmp_path):
    """run_states on a real run directory: claims and adaptive: max_seeds from the sweep file kept in
    meta.json; 4 seeds cannot decide within a limit of 5 (insufficient seeds), within 20 they are open."""
    import yaml

    from optbasin.analysis.analyze import run_states
    from optbasin.sweeps.store import ResultsStore

    store = ResultsStore(tmp_path / "run")
    store.prepare()
    for r in paired(4):
        store.record(r, [{"step": 100, "train_loss": r["final_train_loss"], "val_loss": r["final_val_loss"]}])
    sweep = {"name": "x", "adaptive": {"max_seeds": 5}, "claims": [claim()]}
    store.write_meta({"sweep_yaml": yaml.safe_dump(sweep), "sweep_file": "sweep.yaml"})
    got = run_states([store.root])
    assert [(s.claim, s.task, s.optimizers, s.state) for s in got] == [("c", "t", ("A", "B"), "insufficient seeds")]
    assert isinstance(got[0], PairState) and got[0].n_seeds == 3
    assert run_states([store.root], max_seeds=20)[0].state == "open"


def test_pair_state_is_the_contract():
    s = PairState("c", "t", ("A", "B"), "open", 3, 1.2, "why")
    assert COLUMNS == ["claim", "task", "optimizers", "state", "n_seeds", "e_value", "reason"]
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.state = "supported"  # frozen


# --- the simulated benchmark ----------------------------------------------------------------------


def test_simulate_compares_with_a_fixed_design_of_equal_error_and_power():
    """simulate(): the fixed design's seeds reach the target power at the design effect, the
    sequential limit gives at least that power, its false findings stay under the level, and a
    large effect is decided in fewer seeds than the fixed design spends (the ratio > 1)."""
    from optbasin.analysis.power import fixed_power, simulate

    r = simulate(effects=(0.0, 3.0), design_effect=1.5, sims=600, fixed_sims=400)
    d = r["design"]
    assert d["fixed_power"] >= 0.8 > fixed_power(1.5, d["fixed_seeds"] - 1, sims=400)
    assert d["sequential_power"] >= d["fixed_power"]
    null, big = r["effects"]
    assert null["wrong"] <= slack(LEVEL, 600) and big["right"] > 0.95
    assert big["seeds_ratio"] > 1.0 and big["mean_seeds"] < d["fixed_seeds"]


def test_the_docs_sequential_table_is_the_code_s_output():
    """docs/statistics.md's seeds-saved table is power.py's output (`--sequential`), not typed."""
    from pathlib import Path

    from optbasin.analysis.power import sequential_markdown, simulate

    doc = (Path(__file__).resolve().parents[1] / "docs" / "statistics.md").read_text()
    marker = "<!-- sequential table: generated by optbasin/analysis/power.py --sequential -->\n"
    table = doc.split(marker)[1].split("\n<!-- end")[0]
    assert table.strip() == sequential_markdown(simulate()).strip()


def test_the_seed_limit_counts_the_tuning_seeds():
    """One pair, c = 40: a finding needs 6 scored seeds (1.5 x 2^5 = 48 >= 40 > 24). With
    tuning_seeds: 1 a cell of at most 6 seeds scores at most 5: insufficient seeds; 7 seeds can."""
    assert seeds_to_reach(C) == 6
    short = states(paired(4), [claim()], max_seeds=6).iloc[0]
    assert short["state"] == "insufficient seeds" and "6 seeds (5 scored, 1 tuning)" in short["reason"]
    assert states(paired(4), [claim()], max_seeds=7).iloc[0]["state"] == "open"
    basin = claim(metric="basin_width", direction="greater", tuning_seeds=None)  # no tuning seeds
    assert states(paired(4), [basin], max_seeds=6).iloc[0]["state"] != "insufficient seeds"
