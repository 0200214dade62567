"""`optbasin export RUN_DIR --to mlflow | tensorboard | wandb`, against the real libraries offline:
a local MLflow file store read back with MLflow's client, TensorBoard event files read back with
TensorBoard's event reader, W&B offline runs read back from their files. The run directory is
written with the results store (12 trials, one diverged, one failed; step rows with a diagnostic),
so the expected values come from those rows, not from the exporter."""

from __future__ import annotations

import json
import math
import shutil
import struct
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from optbasin.cli import main
from optbasin.sweeps.store import ResultsStore

SWEEP = "exp-test"
CLAIMS = [{"name": "adamw-better-best-loss", "metric": "best_loss", "compare": ["adamw", "sgd"], "direction": "less"}]


def _trial(i: int, opt: str, seed: int, lr: float, status: str) -> tuple[dict, list[dict]]:
    final = 0.5 + lr + 0.1 * seed + (0.0 if opt == "adamw" else 0.3)
    row = {
        "trial_id": f"t{i:02d}{opt}",
        "sweep": SWEEP,
        "task": "quadratic",
        "task_name": "quadratic",
        "optimizer": opt,
        "optimizer_name": opt,
        "seed": seed,
        "steps": 40,
        "swept": json.dumps(["lr"]),
        "origin": "grid",
        "task_params": "{}",
        "error": "boom: out of memory" if status == "failed" else "",
        "hp.lr": lr,
        "hp.weight_decay": 0.01,
        "status": status,
        "init_loss": 2.0,
        "final_train_loss": final if status == "completed" else math.nan,
        "final_val_loss": final if status == "completed" else math.nan,
        "best_val_loss": final,
        "steps_done": 40 if status == "completed" else 20,
        "wall_time": 1.5,
        "cpu_time": 1.2,
    }
    n = 4 if status == "completed" else 2
    steps = [
        {
            "step": 10 * (k + 1),
            "train_loss": 2.0 - 0.1 * k + lr,
            "lr": lr * (1 - k / 8),
            "val_loss": (1.9 - 0.1 * k) if k % 2 else math.nan,
            "diag.clamp": 0.25 * k,
        }
        for k in range(n)
    ]
    if status == "diverged":
        steps[-1]["train_loss"] = math.inf
    return row, steps


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("exportrun") / "run"
    store = ResultsStore(d)
    store.prepare()
    i = 0
    for opt in ("sgd", "adamw"):
        for lr in (0.01, 0.1, 1.0):
            for seed in (0, 1):
                status = (
                    "diverged"
                    if (opt, lr, seed) == ("sgd", 1.0, 1)
                    else "failed"
                    if (opt, lr, seed) == ("adamw", 1.0, 0)
                    else "completed"
                )
                store.record(*_trial(i, opt, seed, lr, status))
                i += 1
    sweep_yaml = yaml.safe_dump({"name": SWEEP, "claims": CLAIMS})
    store.write_meta({"sweep": SWEEP, "sweep_yaml": sweep_yaml, "sweep_file": str(d / "sweep.yaml")})
    return d


def expected(run_dir):
    store = ResultsStore(run_dir)
    return store.trials().set_index("trial_id"), store.steps()


# ----------------------------------------------------------------------------------------------
def test_mlflow_file_store_holds_every_trial_once(run_dir, tmp_path, monkeypatch, capsys):
    pytest.importorskip("mlflow", reason="mlflow-skinny is in the test extra: pip install -e '.[test]'")
    from mlflow.tracking import MlflowClient

    monkeypatch.setenv("MLFLOW_TRACKING_URI", (tmp_path / "mlruns").as_uri())
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")  # MLflow 3 keeps the file store behind this switch
    trials, steps = expected(run_dir)
    for _ in range(2):  # twice: idempotent
        assert main(["export", str(run_dir), "--to", "mlflow"]) == 0
    out = capsys.readouterr().out
    assert "12 trials" in out and "0 written, 12 unchanged" in out  # the second export

    client = MlflowClient()
    exp = client.get_experiment_by_name(SWEEP)
    runs = client.search_runs([exp.experiment_id], max_results=100)
    trial_runs = [r for r in runs if r.data.tags.get("optbasin.kind") == "trial"]
    sweep_runs = [r for r in runs if r.data.tags.get("optbasin.kind") == "sweep"]
    assert len(sweep_runs) == 1 and len(trial_runs) == len(trials) == 12
    assert sorted(r.data.tags["trial_id"] for r in trial_runs) == sorted(trials.index)
    for r in trial_runs:
        t = trials.loc[r.data.tags["trial_id"]]
        assert {k: r.data.tags[k] for k in ("sweep", "task", "optimizer", "seed", "status")} == {
            "sweep": SWEEP,
            "task": "quadratic",
            "optimizer": t.optimizer,
            "seed": str(t.seed),
            "status": t.status,
        }
        assert r.data.params["lr"] == str(t["hp.lr"]) and r.data.params["weight_decay"] == "0.01"
        assert r.data.tags["mlflow.parentRunId"] == sweep_runs[0].info.run_id
        assert r.info.status == ("FAILED" if t.status == "failed" else "FINISHED")
        s = steps[steps.trial_id == r.data.tags["trial_id"]].sort_values("step")
        hist = client.get_metric_history(r.info.run_id, "train_loss")
        finite = s[np.isfinite(s.train_loss)]
        assert [(m.step, m.value) for m in hist] == list(zip(finite.step, finite.train_loss))
        val = client.get_metric_history(r.info.run_id, "val_loss")
        assert [m.step for m in val] == list(s.step[s.val_loss.notna()])  # evaluation steps only
        assert [m.value for m in client.get_metric_history(r.info.run_id, "diag.clamp")] == list(s["diag.clamp"])
        if t.status == "completed":
            assert r.data.metrics["summary.final_val_loss"] == pytest.approx(t.final_val_loss)
        else:
            assert "summary.final_val_loss" not in r.data.metrics  # NaN: no value, the status says why
        if t.status == "failed":
            assert r.data.tags["error"] == "boom: out of memory"
    artifacts = {a.path for a in client.list_artifacts(sweep_runs[0].info.run_id)}
    assert {"leaderboard.csv", "verdicts.csv", "verdicts_by_task.csv", "analysis.md"} <= artifacts
    verdicts = client.download_artifacts(sweep_runs[0].info.run_id, "verdicts.csv", str(tmp_path))
    assert "adamw-better-best-loss" in open(verdicts).read()


def test_mlflow_replaces_a_rerun_trial(run_dir, tmp_path, monkeypatch):
    pytest.importorskip("mlflow", reason="mlflow-skinny is in the test extra: pip install -e '.[test]'")
    from mlflow.tracking import MlflowClient

    run = tmp_path / "run"
    shutil.copytree(run_dir, run)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", (tmp_path / "mlruns").as_uri())
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")  # MLflow 3 keeps the file store behind this switch
    assert main(["export", str(run), "--to", "mlflow"]) == 0
    row, steps = _trial(99, "adamw", 0, 1.0, "completed")  # the failed trial, run again: a new attempt
    row["trial_id"] = ResultsStore(run).trials().query("status == 'failed'").trial_id.iloc[0]
    ResultsStore(run).record(row, steps)
    assert main(["export", str(run), "--to", "mlflow"]) == 0
    client = MlflowClient()
    exp = client.get_experiment_by_name(SWEEP)
    runs = client.search_runs([exp.experiment_id], f"tags.trial_id = '{row['trial_id']}'")
    assert len(runs) == 1 and runs[0].data.tags["status"] == "completed" and runs[0].info.status == "FINISHED"


# ----------------------------------------------------------------------------------------------
def test_tensorboard_event_files_hold_every_trial(run_dir, tmp_path):
    pytest.importorskip("tensorboard", reason="tensorboard is in the test extra: pip install -e '.[test]'")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from tensorboard.plugins.hparams import plugin_data_pb2

    trials, steps = expected(run_dir)
    logdir = tmp_path / "tb"
    for _ in range(2):
        assert main(["export", str(run_dir), "--to", "tensorboard", "--out", str(logdir)]) == 0
    dirs = sorted(p.name for p in (logdir / SWEEP).iterdir() if p.name != "analysis")
    assert dirs == sorted(trials.index)
    for tid in trials.index:
        events = list((logdir / SWEEP / tid).glob("events.out.tfevents.*"))
        assert len(events) == 1  # rewritten, not appended to
        acc = EventAccumulator(str(logdir / SWEEP / tid), size_guidance={"scalars": 0, "tensors": 0})
        acc.Reload()
        s = steps[steps.trial_id == tid].sort_values("step")
        finite = s[np.isfinite(s.train_loss)]
        got = [(e.step, e.value) for e in acc.Scalars("train_loss")]
        assert [g[0] for g in got] == list(finite.step)
        assert [g[1] for g in got] == pytest.approx(list(finite.train_loss), rel=1e-6)  # float32 in the file
        assert [e.step for e in acc.Scalars("val_loss")] == list(s.step[s.val_loss.notna()])
        assert [e.value for e in acc.Scalars("diag.clamp")] == pytest.approx(list(s["diag.clamp"]))
        t = trials.loc[tid]
        tags = acc.Tensors("tags/text_summary")[0].tensor_proto.string_val[0].decode()
        assert f"- trial_id: {tid}" in tags and f"- status: {t.status}" in tags and f"- seed: {t.seed}" in tags
        if t.status == "completed":
            assert acc.Scalars("summary/final_val_loss")[0].value == pytest.approx(t.final_val_loss)
        hp = plugin_data_pb2.HParamsPluginData()
        hp.ParseFromString(acc.summary_metadata["_hparams_/session_start_info"].plugin_data.content)
        values = hp.session_start_info.hparams
        assert values["lr"].number_value == t["hp.lr"] and values["optimizer"].string_value == t.optimizer
        assert values["status"].string_value == t.status
    analysis = logdir / SWEEP / "analysis"
    assert "adamw-better-best-loss" in (analysis / "verdicts.csv").read_text()
    acc = EventAccumulator(str(analysis))
    acc.Reload()
    assert "adamw-better-best-loss" in acc.Tensors("analysis/text_summary")[0].tensor_proto.string_val[0].decode()


def test_tensorboard_needs_out(run_dir, capsys):
    pytest.importorskip("tensorboard", reason="tensorboard is in the test extra: pip install -e '.[test]'")
    assert main(["export", str(run_dir), "--to", "tensorboard"]) == 2
    assert "--out DIR is required" in capsys.readouterr().err


# ----------------------------------------------------------------------------------------------
def _wandb_records(path):
    """(kind, record) of a W&B offline run's .wandb file: the LevelDB log format (32 KiB blocks of
    chunks with a 7-byte header: crc, length, type full/first/middle/last) after W&B's 7-byte file
    header, each record a protobuf parsed with W&B's own Record class. (wandb >= 0.2x no longer
    ships a Python reader; its Go core writes these files.)"""
    from wandb.proto import wandb_internal_pb2

    data, block = Path(path).read_bytes(), 32768
    assert data[:4] == b":W&B", f"{path}: not a W&B run file"
    pos, chunk, out = 7, b"", []
    while pos + 7 <= len(data):
        left = block - pos % block
        _, n, kind = struct.unpack("<IHB", data[pos : pos + 7]) if left >= 7 else (0, 0, 0)
        if n == 0 and kind == 0:  # the block's zero padding
            pos += left
            continue
        chunk += data[pos + 7 : pos + 7 + n]
        pos += 7 + n
        if kind in (1, 4):  # full, last
            rec = wandb_internal_pb2.Record()
            rec.ParseFromString(chunk)
            out.append((rec.WhichOneof("record_type"), rec))
            chunk = b""
    return out


def _key(item) -> str:
    return item.key or ".".join(item.nested_key)


def test_wandb_offline_runs_hold_every_trial_once(run_dir, tmp_path, monkeypatch):
    pytest.importorskip("wandb", reason="wandb is in the test extra: pip install -e '.[test]'")
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_DIR", str(tmp_path))
    monkeypatch.setenv("WANDB_SILENT", "true")
    trials, steps = expected(run_dir)
    for _ in range(2):
        assert main(["export", str(run_dir), "--to", "wandb"]) == 0
    runs = sorted((tmp_path / "wandb").glob("offline-run-*"))
    ids = [p.name.split("-", 3)[3] for p in runs]
    assert sorted(i for i in ids if "analysis" not in i) == sorted(trials.index)  # once each, after two exports
    assert sum("analysis" in i for i in ids) == 1
    for p in runs:
        tid = p.name.split("-", 3)[3]
        if tid not in trials.index:
            continue
        t = trials.loc[tid]
        recs = _wandb_records(next(p.glob("run-*.wandb")))
        run_rec = next(r.run for k, r in recs if k == "run")
        config = {item.key: json.loads(item.value_json) for item in run_rec.config.update}
        assert config["lr"] == t["hp.lr"] and config["trial_id"] == tid and config["seed"] == t.seed
        assert config["optimizer"] == t.optimizer and config["sweep"] == SWEEP
        assert f"status:{t.status}" in list(run_rec.tags) and run_rec.run_group == SWEEP
        history = [{_key(i): json.loads(i.value_json) for i in r.history.item} for k, r in recs if k == "history"]
        s = steps[steps.trial_id == tid].sort_values("step")
        assert [h["_step"] for h in history] == list(s.step)
        finite = s[np.isfinite(s.train_loss)]
        assert [h["train_loss"] for h in history if "train_loss" in h] == list(finite.train_loss)
        assert [h["diag.clamp"] for h in history] == list(s["diag.clamp"])
        summary = {_key(i): json.loads(i.value_json) for k, r in recs if k == "summary" for i in r.summary.update}
        assert summary["status"] == t.status
        if t.status == "completed":
            assert summary["final_val_loss"] == pytest.approx(t.final_val_loss)
        exit_code = [r.exit.exit_code for k, r in recs if k == "exit"]
        assert exit_code == [1 if t.status == "failed" else 0]
    analysis = next(p for p in runs if "analysis" in p.name)
    recs = _wandb_records(next(analysis.glob("run-*.wandb")))
    art = next(r.artifact for k, r in recs if k == "artifact")
    assert art.type == "analysis" and {"leaderboard.csv", "verdicts.csv"} <= {m.path for m in art.manifest.contents}


# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("to, package", [("mlflow", "mlflow"), ("tensorboard", "tensorboard"), ("wandb", "wandb")])
def test_a_missing_package_names_its_extra(run_dir, tmp_path, monkeypatch, capsys, to, package):
    monkeypatch.setitem(sys.modules, package, None)  # import fails as if not installed
    assert main(["export", str(run_dir), "--to", to, *(["--out", str(tmp_path)] if to == "tensorboard" else [])]) == 2
    err = capsys.readouterr().err
    assert f"pip install 'optbasin[{to}]'" in err and "Traceback" not in err


def test_export_of_a_directory_that_is_no_run(tmp_path, capsys):
    pytest.importorskip("tensorboard", reason="tensorboard is in the test extra: pip install -e '.[test]'")
    assert main(["export", str(tmp_path), "--to", "tensorboard", "--out", str(tmp_path / "tb")]) == 2
    assert f"{tmp_path}: not a run directory" in capsys.readouterr().err


def test_mlflow_refusing_the_store_is_a_clear_error(run_dir, tmp_path, monkeypatch, capsys):
    pytest.importorskip("mlflow", reason="mlflow-skinny is in the test extra: pip install -e '.[test]'")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", (tmp_path / "mlruns").as_uri())
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "false")  # MLflow 3 refuses a file store without the switch
    assert main(["export", str(run_dir), "--to", "mlflow"]) == 2
    err = capsys.readouterr().err
    assert f"MLflow at {(tmp_path / 'mlruns').as_uri()}" in err and "MLFLOW_ALLOW_FILE_STORE" in err
    assert "Traceback" not in err


# ----------------------------------------------------------------------------------------------
def test_sweep_file_trackers_export_while_the_sweep_runs(tmp_path, monkeypatch):
    pytest.importorskip("tensorboard", reason="tensorboard is in the test extra: pip install -e '.[test]'")
    from optbasin.export import live
    from tests.conftest import base_sweep

    doc = base_sweep(tmp_path / "run")
    doc["optimizers"] = [{"name": "sgd", "grid": {"lr": [0.01, 0.1]}}]  # 4 trials
    doc |= {"population": 1, "trackers": ["tensorboard"]}  # one trial per commit
    (tmp_path / "sweep.yaml").write_text(yaml.safe_dump(doc))
    seen = []  # committed trials at each export
    real = live.export_all
    monkeypatch.setattr(
        live, "export_all", lambda run, trackers: (seen.append(len(ResultsStore(run).trials())), real(run, trackers))
    )
    assert main(["run", str(tmp_path / "sweep.yaml"), "--quiet"]) == 0
    assert 0 < seen[0] < 4 and seen[-1] == 4  # during the run (at the first commit), and at the end
    trials = ResultsStore(tmp_path / "run").trials()
    logdir = tmp_path / "run" / "tensorboard" / "tiny"
    assert sorted(p.name for p in logdir.iterdir() if p.name != "analysis") == sorted(trials.trial_id)


def test_sweep_file_tracker_without_its_package_stops_before_running(tmp_path, monkeypatch, capsys):
    from tests.conftest import base_sweep

    doc = base_sweep(tmp_path / "run") | {"trackers": ["wandb"]}
    (tmp_path / "sweep.yaml").write_text(yaml.safe_dump(doc))
    monkeypatch.setitem(sys.modules, "wandb", None)
    assert main(["run", str(tmp_path / "sweep.yaml"), "--quiet"]) == 2
    assert "pip install 'optbasin[wandb]'" in capsys.readouterr().err
    assert not list((tmp_path / "run").glob("trials.parquet/part-*"))  # nothing ran
