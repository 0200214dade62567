"""Populations: K hyperparameter points trained as one stacked model agree with K separate trials.

The reference is run_trial with the optimizer's own class (torch.optim.SGD/AdamW, optbasin's Muon,
NAMO, ... which tests/test_optim_*.py check against torch.optim.Muon, momo-opt and the authors'
arithmetic); the population runs the same points through population_step and vmap. The two round
differently (batched products, per-member reductions, no fused multiply-add), so a member agrees
with its trial within the float32 drift of tests/rounding.py where the run is not chaotic, and at
chaotic or diverging learning rates on the status, the step it ended at and its first steps.
"""

from __future__ import annotations

import pytest
import yaml

from optbasin.cli import main
from optbasin.errors import ConfigError
from optbasin.sweeps.populations import population_size, run_populations
from optbasin.sweeps.spec import expand, load_sweep
from optbasin.sweeps.store import ResultsStore
from optbasin.training.build import build_task
from optbasin.training.grouping import group_key, populations
from optbasin.training.population import run_population
from optbasin.training.single import run_trial
from tests.conftest import base_sweep, kill_driver_after_parts
from tests.rounding import agree, drift

DIGITS = {"name": "digits-mlp", "steps": 50, "params": {"hidden": 32}}
# One entry per optimizer family: four learning rates where a 50-step run on digits-mlp is not
# chaotic (rounding differences between member and trial stay flat over the steps; PolarGrad at
# lr 0.01 is chaotic there: they grow x10 every 10 steps, so it is in CHAOTIC below, not here).
FAMILIES = {
    "sgd": [0.01, 0.03, 0.1, 0.2],
    "adamw": [1e-4, 3e-4, 1e-3, 3e-3],
    "muon": [1e-3, 3e-3, 1e-2, 3e-2],
    "namo": [3e-3, 1e-2, 3e-2, 1e-1],
    "namo_d": [3e-3, 1e-2, 3e-2, 1e-1],
    "muonadam": [2e-3, 3e-3, 5e-3, 1e-2],
    "scion": [2e-3, 3e-3, 5e-3, 1e-2],
    "muonmax": [1e-3, 1.5e-3, 2e-3, 3e-3],
    "polargrad": [1e-3, 2e-3, 3e-3, 5e-3],
    "muonadam_momo": [3e-3, 1e-2, 3e-2, 1e-1],
    "muonmax_momo": [1e-3, 3e-3, 1e-2, 3e-2],
    "momo": [0.1, 0.3, 1.0, 3.0],
    "momo_adam": [1e-3, 3e-3, 1e-2, 3e-2],
}
# Chaotic or diverging learning rates (divergence: train loss above 5x the initial loss, or not
# finite): completed ones where rounding grows by x10 to x1000 every 10 steps, diverged ones at
# steps 2 to 13.
CHAOTIC = [
    ("sgd", [0.5, 1.0, 5.0]),
    ("adamw", [0.1, 1.0]),
    ("muon", [0.3, 3.0]),
    ("scion", [0.03, 1.0]),
    ("muonmax", [0.03, 1.0]),
    ("namo", [0.3, 1.0, 10.0]),
    ("polargrad", [0.01]),
]
FIRST_STEPS = 5  # where chaos has not yet amplified rounding (NAMO at lr 1: x2 a step) past drift()
FEW_STEPS = 3  # the step of divergence may move this much: the loss crosses the threshold a step earlier


def specs_for(write_sweep, tmp_path, task: dict, optimizers: list[dict], seeds=1) -> list:
    doc = base_sweep(tmp_path / "run")
    doc.update(tasks=[task], optimizers=optimizers, seeds=seeds, budget={"eval_every": 25, "log_every": 10})
    return expand(*load_sweep(write_sweep(doc)))


def separately(specs) -> list[tuple[dict, list[dict]]]:
    out = []
    for s in specs:
        rows: list[dict] = []
        out.append((run_trial(s, emit=rows.extend), rows))
    return out


def together(specs) -> list[tuple[dict, list[dict]]]:
    out: dict[int, tuple[dict, list[dict]]] = {}
    run_population(specs, lambda i, rows, summary: out.__setitem__(i, (summary, rows)))
    assert sorted(out) == list(range(len(specs)))  # every member reported, once
    return [out[i] for i in range(len(specs))]


SCALES = {"diag.scale_spread": 1.0}  # NAMO-D's std / mean of column scales: 0 at clamp_c 1, up to rounding


def reductions(spec) -> int:
    """The longest reduction of one step: an inner product over all the model's parameters (longer
    than the batch, the val set and any layer's fan-in for these tasks)."""
    return sum(p.numel() for p in build_task(spec).build_model(spec.seed).parameters())


def assert_same_trial(sep: tuple[dict, list[dict]], pop: tuple[dict, list[dict]], n: int) -> None:
    """Not chaotic: the same status and rows; every number within the drift of the steps taken."""
    (s, rows_s), (p, rows_p) = sep, pop
    assert p["status"] == s["status"] and p["steps_done"] == s["steps_done"]
    for key in ("init_loss", "final_train_loss", "final_val_loss", "best_val_loss"):
        assert agree(p[key], s[key], drift(s["steps_done"], n)), (key, p[key], s[key])
    assert [r["step"] for r in rows_p] == [r["step"] for r in rows_s]
    assert set(rows_p[0]) == set(rows_s[0])  # same columns (diagnostics included)
    for a, b in zip(rows_s, rows_p):
        assert all(agree(b[k], a[k], drift(a["step"], n), SCALES.get(k, 0.0)) for k in a), (a, b)


def assert_same_start(sep: tuple[dict, list[dict]], pop: tuple[dict, list[dict]], n: int) -> None:
    """Chaotic or diverging: the same status, the same end within a few steps, the same first steps."""
    (s, rows_s), (p, rows_p) = sep, pop
    assert p["status"] == s["status"] and abs(p["steps_done"] - s["steps_done"]) <= FEW_STEPS
    assert agree(p["init_loss"], s["init_loss"], drift(0, n))
    first = [(a, b) for a, b in zip(rows_s, rows_p) if a["step"] <= FIRST_STEPS]
    for a, b in first:
        assert a["step"] == b["step"]
        assert all(agree(b[k], a[k], drift(a["step"], n)) for k in ("train_loss", "val_loss")), (a, b)


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_population_of_four_lrs_equals_four_trials(write_sweep, tmp_path, family):
    specs = specs_for(write_sweep, tmp_path, DIGITS, [{"name": family, "grid": {"lr": FAMILIES[family]}}])
    assert len(specs) == 4 and len({group_key(s) for s in specs}) == 1
    pop = together(specs)
    for sep, mem in zip(separately(specs), pop):
        assert_same_trial(sep, mem, reductions(specs[0]))
    assert {p["population_size"] for p, _ in pop} == {4}


@pytest.mark.parametrize("family, lrs", CHAOTIC)
def test_chaotic_and_diverging_lrs_agree_on_status_end_and_first_steps(write_sweep, tmp_path, family, lrs):
    """Logged every step, so that divergence is judged at every step and the first steps are rows."""
    doc = base_sweep(tmp_path / "run")
    doc.update(
        tasks=[DIGITS],
        optimizers=[{"name": family, "grid": {"lr": lrs}}],
        seeds=1,
        budget={"eval_every": 25, "log_every": 1},
    )
    specs = expand(*load_sweep(write_sweep(doc)))
    for sep, mem in zip(separately(specs), together(specs)):
        assert [r["step"] for r in sep[1][:FIRST_STEPS]] == list(range(1, FIRST_STEPS + 1))[: len(sep[1])]
        assert_same_start(sep, mem, reductions(specs[0]))


def test_namo_d_clamp_per_member(write_sweep, tmp_path):
    """clamp_c differs between members (1 clamps every column to the mean, 0 turns clamping off)."""
    specs = specs_for(write_sweep, tmp_path, DIGITS, [{"name": "namo_d", "grid": {"clamp_c": [0.0, 0.25, 0.75, 1.0]}}])
    pop = together(specs)
    for sep, mem in zip(separately(specs), pop):
        assert_same_trial(sep, mem, reductions(specs[0]))
    fracs = [rows[-1]["diag.clamped_frac"] for _, rows in pop]
    assert fracs[0] == 0 and fracs[3] > fracs[2] > fracs[1]


@pytest.mark.parametrize("family, lr", [("muonmax_momo", 0.1), ("momo", 10.0)])
def test_momo_tau_per_member(write_sweep, tmp_path, family, lr):
    """f_star differs between members: each member's Momo step size tau is its own. tau's numerator
    is h - f_star, h near the loss (about 1.5 to 2.3 here): its rounding is amplified by
    |h| / |h - f_star|, so f_star stays at most 1 (a factor of at most 3; f_star 1.5 would be 10 or
    more, and tau then agrees to less than drift())."""
    specs = specs_for(
        write_sweep, tmp_path, DIGITS, [{"name": family, "grid": {"lr": [lr], "f_star": [0.0, 0.25, 0.5, 1.0]}}]
    )
    pop = together(specs)
    for sep, mem in zip(separately(specs), pop):
        assert_same_trial(sep, mem, reductions(specs[0]))
    taus = [rows[-1]["diag.tau_over_lr"] for _, rows in pop]
    assert len(set(taus)) == 4


def test_diverging_member_is_frozen_and_the_others_unchanged(write_sweep, tmp_path):
    task = {"name": "quadratic", "steps": 60, "params": {"d_in": 16, "d_out": 8}}
    specs = specs_for(write_sweep, tmp_path, task, [{"name": "sgd", "grid": {"lr": [0.01, 0.1, 100.0, 0.3]}}])
    pop = together(specs)
    sep = separately(specs)
    for i, (s, p) in enumerate(zip(sep, pop)):
        (assert_same_start if i == 2 else assert_same_trial)(s, p, reductions(specs[0]))
    (summary, rows) = pop[2]
    assert summary["status"] == "diverged" and summary["steps_done"] < 60
    assert rows[-1]["step"] == summary["steps_done"]  # its rows stop where it diverged
    assert all(pop[i][0]["status"] == "completed" and pop[i][0]["steps_done"] == 60 for i in (0, 1, 3))


def test_members_share_everything_but_float_hyperparameters(write_sweep, tmp_path):
    specs = specs_for(
        write_sweep,
        tmp_path,
        DIGITS,
        [
            {"name": "sgd", "grid": {"lr": [0.01, 0.1], "nesterov": [True, False]}},
            {"name": "adamw", "grid": {"lr": [1e-3, 1e-2]}},
        ],
        seeds=2,
    )
    groups = populations(specs, 64)
    # (sgd nesterov, sgd plain, adamw) x 2 seeds, two lrs each
    assert sorted(len(g) for g in groups) == [2] * 6
    for g in groups:
        assert len({(s.optimizer, s.seed, s.hparams.get("nesterov")) for s in g}) == 1
    assert sorted(len(g) for g in populations(specs, 1)) == [1] * 12


def test_population_size_setting(write_sweep, tmp_path):
    specs = specs_for(write_sweep, tmp_path, DIGITS, [{"name": "sgd", "grid": {"lr": [0.01, 0.03, 0.1, 0.3]}}], seeds=2)
    assert population_size(3, specs, slots=2) == 3 and population_size(1, specs, slots=2) == 1
    assert population_size("auto", specs, slots=2) == 4  # 8 points over 2 slots: memory is no limit here
    assert population_size("auto", specs, slots=1) == 8
    assert load_sweep(write_sweep(base_sweep(tmp_path / "run")))[0].population == "auto"  # the default
    user = [s.model_copy(update={"task_factory": "sine_task:make_task"}) for s in specs]
    assert population_size("auto", user, slots=1) == 1  # a user task is trained alone unless told
    gpt = specs_for(
        write_sweep,
        tmp_path,
        {"name": "gpt-tiny", "steps": 2},
        [{"name": "sgd", "grid": {"lr": [0.01, 0.03, 0.1, 0.3]}}],
        seeds=2,
    )
    assert population_size("auto", gpt, slots=1) == 1  # 0.4M parameters on a CPU: arithmetic-bound, alone
    assert population_size(4, gpt, slots=1) == 4  # unless told


def test_unsupported_population_falls_back_to_one_at_a_time(write_sweep, tmp_path):
    """dropout > 0: vmap refuses the random op, so no member is reported by the population hook;
    the caller then runs each trial alone (the runner does)."""
    task = {"name": "digits-mlp", "steps": 20, "params": {"hidden": 16, "dropout": 0.1}}
    specs = specs_for(write_sweep, tmp_path, task, [{"name": "sgd", "grid": {"lr": [0.01, 0.1]}}])
    reported = []
    assert run_populations(specs, 4, lambda i, rows, summary: reported.append(i)) == set()
    assert reported == []


def test_optimizer_without_population_support_runs_alone(write_sweep, tmp_path):
    """A class without population_step (here torch's own SGD, as a user optimizer would be): no
    population takes its trials; the runner runs them one at a time."""
    specs = specs_for(write_sweep, tmp_path, DIGITS, [{"name": "sgd", "grid": {"lr": [0.01, 0.1]}}])
    plain = [s.model_copy(update={"optimizer_class": "torch.optim:SGD"}) for s in specs]
    assert len(populations(plain, 4)) == 1
    assert run_populations(plain, 4, lambda *a: pytest.fail("no member is reported")) == set()
    assert run_populations(specs, 4, lambda *a: None) == {0, 1}


@pytest.mark.parametrize("value", [0, "fast", 2.5])
def test_population_field_refused(write_sweep, tmp_path, value):
    doc = base_sweep(tmp_path / "run")
    doc["population"] = value
    with pytest.raises(ConfigError) as e:
        load_sweep(write_sweep(doc))
    assert "population" in str(e.value)


@pytest.mark.slow  # a minute of a driver process: bookkeeping, not arithmetic (make test's kernel reruns skip it)
def test_kill_during_a_population_then_resume(tmp_path):
    """kill -9 the driver while a population trains (its diverged members already recorded);
    resume reruns only the unfinished members: every member present once, the recorded ones kept."""
    doc = base_sweep(tmp_path / "run")
    doc.update(seeds=1, population=5, budget={"eval_every": 5000, "log_every": 100})
    doc["tasks"][0]["steps"] = 20000
    doc["optimizers"] = [{"name": "sgd", "grid": {"lr": [100.0, 200.0, 0.01, 0.02, 0.05]}}]
    path = tmp_path / "sweep.yaml"
    path.write_text(yaml.safe_dump(doc))
    kill_driver_after_parts(path, tmp_path / "run", 2)
    before = ResultsStore(tmp_path / "run").trials()
    assert sorted(before["hp.lr"]) == [100.0, 200.0] and set(before.status) == {"diverged"}

    assert main(["resume", str(tmp_path / "run"), "--quiet"]) == 0
    after = ResultsStore(tmp_path / "run").trials()
    assert len(after) == 5 and after.trial_id.is_unique
    assert sorted(after["hp.lr"]) == [0.01, 0.02, 0.05, 100.0, 200.0]
    kept = after.set_index("trial_id").loc[before.trial_id, "attempt"]
    assert list(kept) == list(before.attempt)  # the members recorded before the kill were not run again
    rerun = after[after.status == "completed"]
    assert len(rerun) == 3 and set(rerun.population_size) == {3}  # the unfinished three, as one population
