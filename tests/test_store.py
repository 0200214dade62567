"""The results store: round trip, last attempt wins, compaction, atomicity under kill -9."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from optbasin.errors import StoreError
from optbasin.sweeps.store import ResultsStore, load_runs


def trial(tid, status="completed", loss=1.0, **extra):
    return {
        "trial_id": tid,
        "task": "t",
        "optimizer": "o",
        "seed": 0,
        "hp.lr": 0.1,
        "status": status,
        "init_loss": 2.0,
        "final_val_loss": loss,
        **extra,
    }


def steps(n, loss=1.0):
    return [{"step": 10 * (i + 1), "train_loss": loss, "val_loss": float("nan"), "lr": 0.1} for i in range(n)]


def test_round_trip(tmp_path):
    store = ResultsStore(tmp_path)
    store.prepare()
    store.record(trial("a", loss=0.5, **{"hp.orth": "svd"}), steps(3, 0.5))
    store.record(trial("b", status="diverged", loss=float("nan")), steps(1))
    t, s = store.trials(), store.steps()
    assert sorted(t.trial_id) == ["a", "b"]
    assert t.set_index("trial_id").loc["a", "final_val_loss"] == 0.5
    assert t.set_index("trial_id").loc["a", "hp.orth"] == "svd"
    assert len(s[s.trial_id == "a"]) == 3 and list(s[s.trial_id == "a"].step) == [10, 20, 30]
    assert store.done_ids() == {"a", "b"}


def test_failed_trials_are_not_done_and_last_attempt_wins(tmp_path):
    store = ResultsStore(tmp_path)
    store.prepare()
    store.record(trial("a", status="failed", loss=float("nan"), error="boom"), steps(2, 9.0))
    assert store.done_ids() == set()
    store.record(trial("a", loss=0.25), steps(4, 0.25))
    t, s = store.trials(), store.steps()
    assert len(t) == 1 and t.status[0] == "completed"
    assert len(s) == 4 and set(s.train_loss) == {0.25}  # the failed attempt's rows are gone


def test_compaction_keeps_content(tmp_path):
    store = ResultsStore(tmp_path)
    store.prepare()
    for i in range(5):
        store.record(trial(f"t{i}", loss=float(i)), steps(2, float(i)))
    before_t, before_s = store.trials(), store.steps()
    store.compact()
    assert len(list((tmp_path / "trials.parquet").glob("part-*"))) == 1
    after_t, after_s = store.trials(), store.steps()
    assert sorted(after_t.trial_id) == sorted(before_t.trial_id) and len(after_s) == len(before_s)


def test_load_runs_merges_directories_by_trial_id(tmp_path):
    a, b = ResultsStore(tmp_path / "a"), ResultsStore(tmp_path / "b")
    a.prepare(), b.prepare()
    a.record(trial("shared", loss=1.0), steps(1))
    a.record(trial("only_a"), steps(1))
    b.record(trial("shared", loss=2.0), steps(1))
    t, s = load_runs([tmp_path / "a", tmp_path / "b"])
    assert sorted(t.trial_id) == ["only_a", "shared"]
    assert t.set_index("trial_id").loc["shared", "final_val_loss"] == 2.0  # b written last
    assert len(s) == 2


def test_corrupt_part_is_reported_clearly(tmp_path):
    store = ResultsStore(tmp_path)
    store.prepare()
    store.record(trial("a"), steps(1))
    (tmp_path / "trials.parquet" / "part-zzz.parquet").write_bytes(b"PAR1 not really")
    with pytest.raises(StoreError, match="part-zzz.parquet: corrupt results file"):
        store.trials()


def test_unwritable_directory(tmp_path):
    if os.geteuid() == 0:
        target = tmp_path / "file-not-dir"
        target.write_text("x")
        with pytest.raises(StoreError, match="not writable"):
            ResultsStore(target / "run").prepare()
    else:
        tmp_path.chmod(0o500)
        with pytest.raises(StoreError, match="not writable"):
            ResultsStore(tmp_path / "run").prepare()


WRITER = textwrap.dedent("""
    import sys
    from optbasin.sweeps.store import ResultsStore
    store = ResultsStore(sys.argv[1])
    store.prepare()
    i = 0
    while True:
        store.record({"trial_id": f"t{i}", "status": "completed", "final_val_loss": 1.0, "init_loss": 2.0},
                     [{"step": s, "train_loss": 1.0} for s in range(200)])
        i += 1
        print(i, flush=True)  # committed: the test kills on this event, not after a fixed time
        if i % 25 == 0:
            store.compact()
""")


@pytest.mark.parametrize("committed", [1, 13, 25, 40])  # 25: the kill lands in the first compaction
def test_kill_during_writes_leaves_a_readable_store(tmp_path, committed):
    """kill -9 right after the writer reports its n-th commit: it is then inside the next write
    (or the compaction after the 25th), on a fast or a slow machine alike."""
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(tmp_path)], stdout=subprocess.PIPE, text=True)
    for line in proc.stdout:
        if int(line) >= committed:
            break
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    proc.stdout.close()
    store = ResultsStore(tmp_path)
    t, s = store.trials(), store.steps()  # no torn file: reading must not raise
    assert len(t) >= committed  # every commit the writer reported is there
    counts = s.groupby("trial_id").size()
    assert (counts.reindex(t.trial_id) == 200).all()  # every committed trial has all its steps


def full_disk(monkeypatch, when=lambda path: True):
    """Writes of matching parts fail as on a full disk: a 0-byte temporary file, then ENOSPC."""
    import errno

    import pyarrow.parquet as pq

    real = pq.write_table

    def write_table(table, where, *a, **k):
        if not when(Path(where)):
            return real(table, where, *a, **k)
        Path(where).write_bytes(b"")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(pq, "write_table", write_table)


def test_disk_full_is_a_clear_error_and_leaves_nothing_behind(tmp_path, monkeypatch):
    store = ResultsStore(tmp_path)
    store.prepare()
    store.record(trial("a"), steps(2))
    full_disk(monkeypatch, when=lambda p: "trials.parquet" in str(p))
    with pytest.raises(StoreError, match=r"disk full writing .*trials.parquet.*part-b-.*: free space and resume"):
        store.record(trial("b"), steps(2))
    assert not list(tmp_path.rglob("*.tmp"))  # no 0-byte temporary file stays
    assert sorted(store.trials().trial_id) == ["a"] and set(store.raw()[1].trial_id) == {"a"}  # no orphan steps


def test_compaction_is_skipped_when_there_is_no_room_for_the_merged_copy(tmp_path, monkeypatch):
    store = ResultsStore(tmp_path)
    store.prepare()
    for i in range(3):
        store.record(trial(f"t{i}"), steps(2))
    full_disk(monkeypatch, when=lambda p: "merged" in p.name)
    assert store.compact() is False
    assert len(list((tmp_path / "trials.parquet").glob("part-*"))) == 3 and not list(tmp_path.rglob("*.tmp"))
    assert sorted(store.trials().trial_id) == ["t0", "t1", "t2"] and len(store.steps()) == 6


def test_a_row_that_cannot_be_written_leaves_no_orphan_steps(tmp_path):
    store = ResultsStore(tmp_path)
    store.prepare()
    with pytest.raises((OverflowError, ValueError)):  # pyarrow: an int beyond int64
        store.record(trial("big", **{"hp.width": 10**23}), steps(2))
    assert not list(tmp_path.rglob("part-*")) and not list(tmp_path.rglob("*.tmp"))


def test_foreign_schema_part_is_a_clear_error(tmp_path):
    import pandas as pd

    store = ResultsStore(tmp_path)
    store.prepare()
    store.record(trial("a"), steps(1))
    pd.DataFrame({"x": [1]}).to_parquet(tmp_path / "trials.parquet" / "part-foreign.parquet")
    with pytest.raises(
        StoreError,
        match=r"part-foreign.parquet: not an optbasin trials.parquet part "
        r"\(no column trial_id, status, attempt, written_at\)",
    ):
        store.trials()


def test_finished_trials_without_steps_are_named(tmp_path):
    from optbasin.sweeps.store import MissingStepsWarning

    store = ResultsStore(tmp_path)
    store.prepare()
    store.record(trial("a"), steps(2))
    store.record(trial("b"), steps(2))
    store.record(trial("c", status="failed"), [])  # a failed trial has no steps: not missing
    part_b = next((tmp_path / "steps.parquet").glob("part-b-*"))
    part_b.rename(tmp_path / "aside.parquet")  # "move the corrupt part aside"
    with pytest.warns(MissingStepsWarning, match=r"1 finished trial\(s\) have no step rows .*trial b"):
        load_runs([tmp_path])
