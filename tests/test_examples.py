"""Every example sweep file validates as shipped (the paper setups with stand-in token shards)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from optbasin.cli import main
from optbasin.sweeps.spec import expand, load_sweep
from optbasin.validate import validate_files

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


@pytest.mark.parametrize("name", ["quickstart.yaml", "user_task/sweep.yaml", "claims.yaml"])
def test_example_validates(name, capsys):
    assert main(["validate", str(EXAMPLES / name)]) == 0, capsys.readouterr().err


@pytest.mark.parametrize(
    "name, data, trials",
    [("paper-namo-gpt2.yaml", "openwebtext", 70), ("paper-muonmax-gpt2.yaml", "fineweb", 4 * 6 + 2 * 9 * 5)],
)
def test_paper_setups_validate(tmp_path, capsys, name, data, trials):
    shutil.copy(EXAMPLES / name, tmp_path / name)
    shards = tmp_path / "data" / data
    shards.mkdir(parents=True)
    for split in ("train", "val"):  # stand-ins for the real nanoGPT shards: uint16 GPT-2 token ids
        np.arange(5000, dtype=np.uint16).tofile(shards / f"{split}.bin")
    assert main(["validate", str(tmp_path / name)]) == 0, capsys.readouterr().err
    spec, catalog = load_sweep(tmp_path / name)
    planned = expand(spec, catalog)
    assert len(planned) == trials
    assert all(t.task_params["data_dir"] == str(shards) for t in planned)
    assert all(t.grad_clip == 1.0 and t.gpus == 1 for t in planned)


@pytest.mark.parametrize(
    "name, data", [("paper-namo-gpt2.yaml", "openwebtext"), ("paper-muonmax-gpt2.yaml", "fineweb")]
)
def test_paper_setup_without_shards_has_one_problem_the_shards(tmp_path, capsys, name, data):
    shutil.copy(EXAMPLES / name, tmp_path)
    problems = validate_files([str(tmp_path / name)], [])
    assert [(p.field, p.reason) for p in problems] == [
        (
            "tasks[0].params",
            f"{tmp_path / 'data' / data}: data_dir not found or not a directory (expected train.bin and val.bin)",
        )
    ]
    assert main(["validate", str(tmp_path / name)]) == 2
    assert "1 problem found" in capsys.readouterr().err
