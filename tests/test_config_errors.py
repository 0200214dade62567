"""Bad input: each kind gives `file: field: reason` on stderr, exit code 2, and no traceback."""

from __future__ import annotations

import pytest

from optbasin.cli import main
from tests.conftest import base_sweep


def run_validate(path, capsys):
    code = main(["validate", str(path)])
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return code, err


def with_optimizer(tmp_path, **entry):
    doc = base_sweep(tmp_path / "run")
    doc["optimizers"] = [entry]
    return doc


def test_valid_sweep_passes(write_sweep, capsys):
    assert main(["validate", str(write_sweep())]) == 0
    assert "ok" in capsys.readouterr().out


@pytest.mark.parametrize(
    "entry, field, reason",
    [
        ({"name": "nosuchopt"}, "optimizers[0].name", "unknown optimizer 'nosuchopt'; known: "),
        ({"name": "sgd", "grid": {"lrr": [0.1]}}, "optimizers[0].grid.lrr", "unknown hyperparameter of sgd"),
        ({"name": "sgd", "grid": {"lr": ["fast"]}}, "optimizers[0].grid.lr[0]", "expected a float > 0"),
        ({"name": "sgd", "grid": {"lr": [0.1, -0.5]}}, "optimizers[0].grid.lr[1]", "got -0.5, expected a float > 0"),
        ({"name": "sgd", "grid": {"lr": [0.0]}}, "optimizers[0].grid.lr[0]", "got 0.0, expected a float > 0"),
        ({"name": "sgd", "grid": {"lr": []}}, "optimizers[0].grid.lr", "empty grid"),
        (
            {"name": "sgd", "grid": {"lr": {"log_range": [0.1, 0.01], "points": 3}}},
            "optimizers[0].grid.lr",
            "low <= high",
        ),
        ({"name": "sgd", "hparams": {"momentum": 1.5}}, "optimizers[0].hparams.momentum", "< 1"),
        ({"name": "sgd", "hparams": {"nesterov": "yes"}}, "optimizers[0].hparams.nesterov", "expected a bool"),
        (
            {"name": "namo_d", "grid": {"clamp_c": [0.4, -0.5]}},
            "optimizers[0].grid.clamp_c[1]",
            "got -0.5, expected a float >= 0 and <= 1 (column-scale clamp c",
        ),
    ],
)
def test_bad_optimizer_entry(tmp_path, write_sweep, capsys, entry, field, reason):
    path = write_sweep(with_optimizer(tmp_path, **entry))
    code, err = run_validate(path, capsys)
    assert code == 2
    assert f"{path}: {field}: " in err and reason in err


@pytest.mark.parametrize(
    "override, field, reason",
    [
        ({"tasks": ["nosuchtask"]}, "tasks[0].name", "unknown task 'nosuchtask'"),
        (
            {"tasks": [{"name": "quadratic", "params": {"dims": 3}}]},
            "tasks[0].params.dims",
            "unknown parameter of task quadratic",
        ),
        ({"tasks": [{"name": "quadratic", "steps": 0}]}, "tasks[0].steps", "greater than 0"),
        ({"budget": {"steps": -5}}, "budget.steps", "greater than 0"),
        (
            {"schedule": {"kind": "exponential"}},
            "schedule.kind",
            "'constant', 'warmup_cosine', 'warmup_linear' or 'wsd'",
        ),
        ({"seeds": []}, "seeds", "at least one seed"),
        ({"optimizers": []}, "optimizers", "at least 1 item"),
        ({"resources": {"cpus": 0}}, "resources.cpus", "greater than 0"),
        ({"colour": "blue"}, "colour", "unknown field"),
        ({"shared": {"clamp": 0.5}}, "shared.clamp", "no optimizer of this sweep has this hyperparameter"),
    ],
)
def test_bad_sweep_field(write_sweep, capsys, override, field, reason):
    path = write_sweep(**override)
    code, err = run_validate(path, capsys)
    assert code == 2
    assert f"{path}: {field}: " in err and reason in err


def test_duplicate_optimizer_entries(tmp_path, write_sweep, capsys):
    doc = base_sweep(tmp_path / "run")
    doc["optimizers"] = [{"name": "sgd"}, {"name": "sgd", "grid": {"lr": [0.1]}}]
    code, err = run_validate(write_sweep(doc), capsys)
    assert code == 2 and "optimizers[1].name: duplicate optimizer entry 'sgd'" in err


def test_every_problem_reported_at_once(tmp_path, write_sweep, capsys):
    doc = base_sweep(tmp_path / "run")
    doc["optimizers"] = [{"name": "nosuchopt"}, {"name": "sgd", "grid": {"lr": [-1.0]}}]
    doc["tasks"] = ["nosuchtask"]
    code, err = run_validate(write_sweep(doc), capsys)
    assert code == 2
    assert "3 problems found" in err
    assert "optimizers[0].name" in err and "optimizers[1].grid.lr[0]" in err and "tasks[0].name" in err


def test_malformed_yaml(tmp_path, capsys):
    path = tmp_path / "bad.yaml"
    path.write_text("name: x\ntasks: [quadratic\noptimizers: sgd\n")
    code, err = run_validate(path, capsys)
    assert code == 2 and f"{path}: line " in err and "malformed YAML" in err


def test_object_constructing_tag_refused(tmp_path, capsys):
    path = tmp_path / "evil.yaml"
    marker = tmp_path / "pwned"
    path.write_text(
        f"name: !!python/object/apply:os.system ['touch {marker}']\ntasks: [quadratic]\noptimizers: [sgd]\n"
    )
    code, err = run_validate(path, capsys)
    assert code == 2 and "refused" in err
    assert not marker.exists()


def test_missing_file(tmp_path, capsys):
    code, err = run_validate(tmp_path / "nope.yaml", capsys)
    assert code == 2 and "nope.yaml: (file): no such file" in err


def test_run_refuses_bad_input_before_running(tmp_path, write_sweep, capsys):
    path = write_sweep(with_optimizer(tmp_path, name="sgd", grid={"lr": [-1.0]}))
    assert main(["run", str(path)]) == 2
    assert "optimizers[0].grid.lr[0]" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def test_user_optimizer_class_that_is_not_an_optimizer(tmp_path, write_sweep, capsys):
    cat = tmp_path / "cat"
    cat.mkdir()
    (cat / "mymod.py").write_text("class NotAnOptimizer:\n    pass\n")
    (cat / "mine.yaml").write_text(
        "kind: optimizer\nname: mine\nclass: mymod:NotAnOptimizer\nhyperparameters:\n  lr: {default: 0.1, gt: 0}\n"
    )
    (cat / "broken.yaml").write_text(
        "kind: optimizer\nname: broken\nclass: nosuchmodule:Opt\nhyperparameters:\n  lr: {default: 0.1, gt: 0}\n"
    )
    doc = base_sweep(tmp_path / "run")
    doc["optimizers"] = ["mine", "broken"]
    path = write_sweep(doc)
    assert main(["validate", str(path), "--catalog", str(cat)]) == 2
    err = capsys.readouterr().err
    assert f"{cat / 'mine.yaml'}: class: 'mymod:NotAnOptimizer' is not a torch.optim.Optimizer subclass" in err
    assert f"{cat / 'broken.yaml'}: class: cannot import module 'nosuchmodule'" in err


@pytest.mark.parametrize("name", ["../x", "/tmp/abs-name", "a/b", ".."])
def test_a_sweep_name_is_a_name_not_a_path(tmp_path, write_sweep, capsys, name):
    doc = {**base_sweep(tmp_path / "run"), "name": name}
    del doc["output"]
    path = write_sweep(doc)
    code, err = run_validate(path, capsys)
    assert code == 2 and f"{path}: name: " in err and "a sweep name is a name, not a path" in err


def test_output_that_is_not_a_directory(tmp_path, write_sweep, capsys):
    path = write_sweep(output="/dev/null")
    assert main(["run", str(path), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "/dev/null: output is not a directory" in err and "Traceback" not in err


def test_yaml_file_that_is_not_text(tmp_path, capsys):
    path = tmp_path / "sweep.yaml"
    path.write_bytes(b"\xff\xfe\x00binary")
    code, err = run_validate(path, capsys)
    assert code == 2 and f"{path}: (file): cannot read" in err
