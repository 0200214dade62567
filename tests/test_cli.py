"""The small CLI commands: list, status, dry-run."""

from __future__ import annotations

import re

from optbasin.cli import main

CATALOG_OPTIMIZERS = {
    "sgd",
    "adamw",
    "muon",
    "muonadam",
    "scion",
    "muonmax",
    "polargrad",
    "momo",
    "momo_adam",
    "muonadam_momo",
    "muonmax_momo",
    "namo",
    "namo_d",
}


def test_list_optimizers_and_tasks(capsys):
    assert main(["list", "optimizers"]) == 0
    out = capsys.readouterr().out
    names = set(re.findall(r"^(\S+)", out, flags=re.M))
    assert CATALOG_OPTIMIZERS <= names
    assert "clamp_c=0.75" in out  # hyperparameters with their defaults
    assert main(["list", "tasks"]) == 0
    assert {"quadratic", "digits-mlp", "digits-cnn", "gpt-tiny", "gpt2-small"} <= set(
        re.findall(r"^(\S+)", capsys.readouterr().out, flags=re.M)
    )


def test_list_one_optimizer_shows_every_default_and_its_origin(capsys):
    from optbasin.catalog import Catalog

    assert main(["list", "optimizers", "muonmax_momo"]) == 0
    out = capsys.readouterr().out
    d = Catalog.load().optimizer("muonmax_momo")
    assert "defaults from: the authors' code (GPT-opt, gptopt/optim/muonmax_momo.py)" in out
    rows = {line.split()[0]: line for line in out.splitlines() if line and not line.startswith(" ")}
    for name, h in d.hyperparameters.items():
        assert rows[name].split()[1] == repr(h.default)
    assert "optbasin: the authors always orthogonalize in bfloat16" in rows["orth_dtype"]
    assert "muonmax_momo's preset" in rows["momo"] and "muonmax's preset" in rows["aggregation"]
    assert main(["list", "optimizers", "nosuch"]) == 2
    assert "unknown optimizer 'nosuch'" in capsys.readouterr().err


def test_list_params_shows_the_split(capsys):
    assert main(["list", "params", "digits-mlp"]) == 0
    rows = {line.split()[0]: line.split()[2] for line in capsys.readouterr().out.splitlines()[1:-1]}
    head = max(k for k in rows if k.endswith(".weight"))  # the last Linear: the 10-class head
    assert rows[head] == "other" and sum(v == "matrix" for v in rows.values()) >= 2
    assert all(rows[k] == "other" for k in rows if k.endswith(".bias"))


def test_list_params_unknown_task(capsys):
    assert main(["list", "params", "nosuch"]) == 2
    assert "unknown task 'nosuch'" in capsys.readouterr().err


def test_dry_run_lists_trials_and_writes_nothing(write_sweep, tmp_path, capsys):
    assert main(["run", str(write_sweep()), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "12 trials" in out and len(re.findall(r"^  [0-9a-f]{16} ", out, flags=re.M)) == 12
    assert not (tmp_path / "run").exists()


def test_status_of_a_non_run_directory(tmp_path, capsys):
    assert main(["status", str(tmp_path)]) == 2
    assert "not an optbasin run directory" in capsys.readouterr().err
