"""TensorBoard: under ``--out DIR`` (the log directory to give ``tensorboard --logdir``), one
directory per trial, ``DIR/<sweep>/<trial_id>``, with its per-step scalars, its summary
(``summary/<name>``), its hyperparameters and summary in the HParams tab, and its tags as text.
TensorBoard has no artifacts: ``DIR/<sweep>/analysis`` holds the leaderboard and verdicts as
text (the Markdown tables, shown in the Text tab) and as CSV files next to it. Idempotent: each
trial's directory is deleted and rewritten (event files are append-only logs)."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

from optbasin.errors import OptbasinError
from optbasin.export.common import RunExport, TrialRecord, require


def _writer():
    require("tensorboard", "tensorboard")
    from torch.utils.tensorboard import SummaryWriter
    from torch.utils.tensorboard.summary import hparams

    return SummaryWriter, hparams


def _write_trial(SummaryWriter, hparams, d: Path, t: TrialRecord) -> None:
    shutil.rmtree(d, ignore_errors=True)
    last = int(t.summary.get("steps_done", 0))
    summary = {f"summary/{k}": v for k, v in t.summary.items()}
    with SummaryWriter(str(d)) as w:
        for step, values in t.step_values():
            for k, v in values.items():
                w.add_scalar(k, v, step)
        for k, v in summary.items():
            w.add_scalar(k, v, last)
        hp = {k: v if isinstance(v, (int, float, str, bool)) else str(v) for k, v in t.params.items()}
        for part in hparams({**hp, "status": t.status}, summary):
            w.file_writer.add_summary(part)
        tags = "\n".join(f"- {k}: {v}" for k, v in t.tags.items()) + (f"\n- error: {t.error}" if t.error else "")
        w.add_text("tags", f"{t.name}\n\n{tags}", 0)


def export(run: RunExport, out: str | None, log: Callable[[str], None]) -> dict:
    SummaryWriter, hparams = _writer()
    root = Path(out).expanduser() / run.sweep
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise OptbasinError(f"{root}: cannot write the TensorBoard logs: {e.strerror or e}") from None
    for t in run.trials:
        _write_trial(SummaryWriter, hparams, root / t.trial_id, t)
    analysis = root / "analysis"
    shutil.rmtree(analysis, ignore_errors=True)
    analysis.mkdir()
    with SummaryWriter(str(analysis)) as w:
        w.add_text("analysis", (run.analysis_dir / "analysis.md").read_text(), 0)
    for path in run.analysis_files():
        shutil.copy(path, analysis / path.name)
    return {
        "destination": f"{root} (tensorboard --logdir {Path(out).expanduser()})",
        "written": len(run.trials),
        "unchanged": 0,
    }
