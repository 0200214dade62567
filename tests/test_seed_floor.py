"""The seed floor (docs/statistics.md, section 8, "How many seeds any valid test needs"): n_min and
the e-process's n_seq against brute force, no finding of the e-process before n_seq seeds whatever
the data, the bench's ceiling on the trials ratio against its formula written out, and `optbasin
validate` judging an adaptive sweep's claims by the sequential test (adaptive.max_seeds)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import yaml

from optbasin.analysis.feasibility import seeds_floor, sequential_floor
from optbasin.analysis.sequential import STATES, sequential_decisions, threshold
from optbasin.bench.adaptive import cell_seeds, trials_ceiling
from optbasin.cli import main
from optbasin.config import Claim
from tests.conftest import base_sweep

DESIGNS = [(f, level) for f in (1, 2, 3, 4, 5, 8, 20, 40) for level in (0.1, 0.05, 0.0166666, 0.01, 1 / 16)]
FINDINGS = [STATES.index(s) for s in ("supported", "contradicted", "equivalent")]


def brute_n_min(family: int, level: float) -> int:
    """The smallest n with 2^-n <= level / (2F)."""
    n = 1
    while 2.0**-n > level / (2 * family):
        n += 1
    return n


def brute_n_seq(family: int, level: float) -> int:
    """The smallest n with 1.5 x 2^(n-1) >= 2F / level (first bet 1 + 0.5, later factors < 2)."""
    n = 1
    while 1.5 * 2.0 ** (n - 1) < 2 * family / level:
        n += 1
    return n


@pytest.mark.parametrize("family, level", DESIGNS)
def test_floors_are_the_smallest_n_found_by_brute_force(family, level):
    assert seeds_floor(family, level) == brute_n_min(family, level)
    assert sequential_floor(family, level) == brute_n_seq(family, level)
    assert seeds_floor(family, level) <= sequential_floor(family, level) <= seeds_floor(family, level) + 1


def test_bench_designs_floors():
    # examples/claims-cpu-quadratic.yaml: 4 primary pairs, 5 exploratory; adaptive-bench-small: 3 exploratory
    assert (seeds_floor(4, 0.05), sequential_floor(4, 0.05)) == (8, 8)  # 2^8 = 256 >= 160; 1.5 x 2^7 = 192 >= 160
    assert (seeds_floor(5, 0.05), sequential_floor(5, 0.05)) == (8, 9)  # 1.5 x 2^7 = 192 < 200 <= 1.5 x 2^8
    assert (seeds_floor(3, 0.05), sequential_floor(3, 0.05)) == (7, 8)  # 2^7 = 128 >= 120; 1.5 x 2^6 = 96 < 120


def growing(n: int, sign: float) -> np.ndarray:
    """Unanimous effects, each 10^4 times the one before: every bet after the first is tanh(2 x 10^4) = 1."""
    return sign * 10.0 ** (4 * np.arange(1, n + 1))


@pytest.mark.parametrize("family, level", [(1, 0.05), (3, 0.05), (4, 0.05), (5, 0.05), (8, 0.05), (5, 0.0166666)])
def test_no_finding_before_n_seq_seeds_whatever_the_effects(family, level):
    n = brute_n_seq(family, level)
    c = threshold(family, level)
    for sign in (1.0, -1.0):
        short = sequential_decisions(growing(n - 1, sign)[None], 0.1, c)
        assert STATES[int(short["state"][0])] == "open"
    # equivalence: both of its processes bet on Delta -+ e; a huge margin and no difference
    assert STATES[int(sequential_decisions(np.zeros((1, n - 1)), 1e6, c)["state"][0])] == "open"
    rng = np.random.default_rng(7)
    e = rng.choice([-1.0, 1.0], size=(20000, n - 1)) * 10.0 ** rng.uniform(-3, 8, size=(20000, n - 1))
    shifts = (0.0, 0.5, 1e3)
    for shift in shifts:
        d = sequential_decisions(e, shift, c)
        assert not np.isin(d["state"], FINDINGS).any()
    # the floor is reached, not only bounded: the same unanimous effects decide at seed n
    full = sequential_decisions(growing(n, 1.0)[None], 0.1, c)
    assert STATES[int(full["state"][0])] == "supported" and int(full["at"][0]) == n


def claim(name, a, b, metric="basin_width", primary=False, **kw):
    return Claim(name=name, metric=metric, compare=(a, b), direction="less", primary=primary, **kw)


CLAIMS = [
    claim("basin", "A", "B", primary=True),
    claim("loss", "B", "C", metric="best_loss", tuning_seeds=2),
    claim("crossfit", "C", "D", metric="best_loss"),  # no anytime-valid test
]
POINTS = {("t", "A"): 4, ("t", "B"): 4, ("t", "C"): 8, ("t", "D"): 2}
FIXED = (7 + 7 + 14 + 3) * 12  # fixed points x 12 seeds


def test_ceiling_is_fixed_trials_over_points_times_the_seeds_each_cell_needs():
    n_p, n_e = brute_n_seq(1, 0.05), brute_n_seq(2, 0.05)  # primary family: 1 pair; exploratory: 2
    need, untestable = cell_seeds(CLAIMS, ["t"], 0.05, sequential=True)
    assert need == {("t", "A"): n_p, ("t", "B"): max(n_p, n_e + 2), ("t", "C"): n_e + 2}
    assert untestable == ["crossfit on t"]
    expected = FIXED / (4 * n_p + 4 * max(n_p, n_e + 2) + 8 * (n_e + 2) + 2 * 3)  # D keeps the 3 start seeds
    assert trials_ceiling(FIXED, POINTS, 3, need) == pytest.approx(expected)
    # any valid test: n_min, and the cross-fitted best loss counts (its fixed design has an exact test)
    m_p, m_e = brute_n_min(1, 0.05), brute_n_min(2, 0.05)
    need, _ = cell_seeds(CLAIMS, ["t"], 0.05, sequential=False)
    assert need == {("t", "A"): m_p, ("t", "B"): max(m_p, m_e + 2), ("t", "C"): m_e + 2, ("t", "D"): m_e}
    # only the pairs the fixed design decided need the floor; the others the start's seeds
    need, _ = cell_seeds(CLAIMS, ["t"], 0.05, sequential=True, decided={("basin", "t")})
    assert trials_ceiling(FIXED, POINTS, 3, need) == pytest.approx(FIXED / (4 * n_p + 4 * n_p + 8 * 3 + 2 * 3))


def test_one_n_for_every_cell_gives_fixed_points_seeds_over_adaptive_points_n():
    points = {("t", "A"): 4, ("t", "B"): 5}
    assert trials_ceiling(112 * 12, points, 4, {("t", "A"): 9, ("t", "B"): 9}) == pytest.approx(112 * 12 / (9 * 9))


# ---- optbasin validate on an adaptive sweep -------------------------------------------------------
def sweep_file(tmp_path, adaptive=None, claims=None):
    doc = base_sweep(tmp_path / "run")
    doc["claims"] = claims or [
        {"name": "wider", "metric": "basin_width", "primary": True, "compare": ["adamw", "sgd"], "direction": "less"},
        {
            "name": "lower",
            "metric": "best_loss",
            "tuning_seeds": 2,
            "primary": True,
            "compare": ["adamw", "sgd"],
            "direction": "less",
        },
    ]
    if adaptive is not None:
        doc["adaptive"] = adaptive
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def validate(path, capsys) -> str:
    assert main(["validate", str(path)]) == 0
    return capsys.readouterr().err


def test_adaptive_sweep_is_judged_by_max_seeds_not_seeds(tmp_path, capsys):
    # 2 primary pairs at 0.05: c = 80, n_seq = 7 (1.5 x 2^6 = 96 >= 80); the best loss needs 7 + 2
    assert brute_n_seq(2, 0.05) == 7
    path = sweep_file(tmp_path, adaptive={"max_seeds": 9})
    err = validate(path, capsys)
    assert "can never decide" not in err and "adaptive.max_seeds" not in err  # 2 seeds, but up to 9 added
    path = sweep_file(tmp_path)
    assert "2 seed(s) can never decide it" in validate(path, capsys)  # the fixed design: seeds is the limit


def test_adaptive_sweep_warns_when_max_seeds_cannot_decide(tmp_path, capsys):
    path = sweep_file(tmp_path, adaptive={"max_seeds": 8})
    lines = [w for w in validate(path, capsys).splitlines() if "decide" in w]
    assert lines == [
        f"warning: {path}: claims[1] (lower): adaptive.max_seeds 8 cannot decide it: the sequential test "
        "needs >= 7 scored seeds + 2 tuning seed(s) in the primary family of 2 pair(s) (e-value c = 2 x 2 / "
        "0.05 = 80); raise max_seeds to 9 or more (or fewer claims in the family)"
    ]
    # the adaptive level counts: at 0.01, c = 400 and n_seq = 10 (1.5 x 2^8 = 384 < 400)
    path = sweep_file(tmp_path, adaptive={"max_seeds": 9, "level": 0.01})
    err = validate(path, capsys)
    assert "claims[0] (wider): adaptive.max_seeds 9 cannot decide it: the sequential test needs >= 10" in err


def test_adaptive_sweep_warns_about_a_claim_with_no_sequential_test(tmp_path, capsys):
    crossfit = [{"name": "xf", "metric": "best_loss", "compare": ["adamw", "sgd"], "direction": "less"}]
    err = validate(sweep_file(tmp_path, adaptive={"max_seeds": 20}, claims=crossfit), capsys)
    assert f"{tmp_path / 's.yaml'}: claims[0] (xf): adaptive: the sequential test can never decide it" in err
    assert "declare tuning_seeds: n" in err


def test_run_warns_by_the_test_it_will_be_judged_by(tmp_path, capsys):
    path = sweep_file(tmp_path, adaptive={"max_seeds": 8})
    assert main(["run", str(path), "--dry-run", "--adaptive"]) == 0
    err = capsys.readouterr().err
    assert "claims[1] (lower): adaptive.max_seeds 8 cannot decide it" in err and "can never decide" not in err
    assert main(["run", str(path), "--dry-run"]) == 0  # the declared grid alone: its 2 seeds are the limit
    err = capsys.readouterr().err
    assert "claims[0] (wider): 2 seed(s) can never decide it" in err and "adaptive.max_seeds" not in err


# ---- the bench reports the ceiling (Ray replaced by synthetic results) -------------------------------
@pytest.mark.filterwarnings("ignore")  # no step rows in these stores
def test_bench_reports_the_ceiling_next_to_the_measured_ratio(tmp_path, monkeypatch):
    import contextlib

    from optbasin.adaptive import driver
    from optbasin.bench import adaptive as bench
    from optbasin.sweeps import sweep
    from tests.test_adaptive import TASK, bowl, fake_execute

    fake = fake_execute(bowl(best_lr=0.01))
    monkeypatch.setattr(sweep, "execute", lambda p, **kw: fake(p))
    monkeypatch.setattr(driver, "execute", fake)
    monkeypatch.setattr(driver, "ray_session", lambda *a: contextlib.nullcontext())
    monkeypatch.setattr(bench, "simulated", lambda: {})
    doc = {
        "name": "b",
        "seeds": 3,
        "tasks": [TASK],
        "population": 1,
        "optimizers": [
            {"name": "sgd", "grid": {"lr": [1e-4, 1e-3, 1e-2]}},
            {"name": "adamw", "grid": {"lr": [1e-3, 1e-2, 1e-1]}},
        ],
        "claims": [{"name": "w", "metric": "basin_width", "compare": ["adamw", "sgd"], "direction": "greater"}],
    }
    path = tmp_path / "fixed.yaml"
    path.write_text(yaml.safe_dump(doc))
    r = bench.bench_adaptive(path, tmp_path / "runs")
    n = brute_n_seq(1, 0.05)
    assert r["floor"]["families"] == {"exploratory": {"pairs": 1, "n_min": brute_n_min(1, 0.05), "n_seq": n}}
    # fixed: 2 x 3 points x 3 seeds; the adaptive start: every other lr (2 per cell), 2 seeds, each cell needs n
    assert r["fixed_trials"] == 18
    assert r["floor"]["ceilings"]["e_process/every_pair/start"] == pytest.approx(round(18 / (2 * 2 * max(2, n)), 2))
    assert f"ratio {r['ratio']}x measured; ceiling" in bench.table(r)
    assert json.loads(json.dumps(r))["floor"] == r["floor"]
