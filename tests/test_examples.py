"""Every example sweep file validates as shipped (the paper setups with stand-in token shards)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from optbasin.cli import main
from optbasin.sweeps.spec import expand, load_sweep

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


@pytest.mark.parametrize("name", ["quickstart.yaml", "user_task/sweep.yaml", "claims.yaml"])
def test_example_validates(name, capsys):
    assert main(["validate", str(EXAMPLES / name)]) == 0, capsys.readouterr().err


@pytest.mark.parametrize("name, data, trials", [("paper-namo-gpt2.yaml", "openwebtext", 70),
                                                ("paper-muonmax-gpt2.yaml", "fineweb", 4 * 6 + 2 * 9 * 5)])
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


def test_paper_setup_without_shards_is_refused(tmp_path, capsys):
    shutil.copy(EXAMPLES / "paper-namo-gpt2.yaml", tmp_path)
    assert main(["validate", str(tmp_path / "paper-namo-gpt2.yaml")]) == 2
    err = capsys.readouterr().err
    assert "tasks[0].params" in err and str(tmp_path / "data" / "openwebtext") in err
