"""The sweep's progress view: a tqdm bar on a terminal, plain lines elsewhere."""

from __future__ import annotations

import io
import pickle
import re

from optbasin.sweeps.progress import Progress


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_plain_lines_when_not_a_terminal():
    out = io.StringIO()
    p = Progress(4, skipped=2, stream=out)
    assert not p.tty and p.interval == 15.0
    p.running = 1
    p.finished("completed")  # the first one prints at once
    p.finished("failed")  # within 15 s of the last: not printed
    p.close()  # the final state, always
    lines = out.getvalue().splitlines()
    assert len(lines) == 2 and "\r" not in out.getvalue() and "\x1b" not in out.getvalue()
    assert re.fullmatch(
        r"\[1/4 done \(2 already in store\) \| 1 running \| 0 diverged \| 0 failed \| "
        r"00:00 elapsed \| ETA 00:0\d\]",
        lines[0],
    ), lines[0]
    assert lines[1].startswith("[2/4 done (2 already in store) | 1 running | 0 diverged | 1 failed |")


def test_a_terminal_gets_a_tqdm_bar_with_the_counts(monkeypatch):
    monkeypatch.setenv("COLUMNS", "160")  # a terminal that reports no size: $COLUMNS
    out = Terminal()
    p = Progress(10, skipped=3, stream=out)
    assert p.tty
    p.running = 2
    for status in ("completed", "completed", "diverged", "failed"):
        p.finished(status)
    p.close()
    text = out.getvalue()
    last = text.replace("\n", "\r").split("\r")[-2]  # the bar as close() left it
    # tqdm's own meter: "desc:  40%|####      | 4/10 [00:00<00:00, 123.4trial/s, <postfix>]"
    assert re.search(r"sweep: +40%\|.*\| 4/10 \[\d\d:\d\d<\d\d:\d\d, .*trial/s, ", last), last
    assert last.rstrip().endswith("2 running, 1 diverged, 1 failed, 3 already in store]"), last
    assert text.endswith("\n") and text.count("\n") == 1  # one line, redrawn in place, then a newline
    assert max(len(line) for line in text.replace("\n", "\r").split("\r")) == 160


def test_a_terminal_of_size_zero_still_gets_a_bar(monkeypatch):
    """A pty that reports 0 x 0 (as `script` or a container makes): tqdm would draw nothing."""
    import os

    monkeypatch.delenv("COLUMNS", raising=False)
    monkeypatch.setattr(os, "get_terminal_size", lambda *a: os.terminal_size((0, 0)))
    out = Terminal()
    out.fileno = lambda: 2  # a terminal's descriptor, whose size reads 0 x 0
    p = Progress(2, stream=out)
    p.finished("completed")
    p.close()
    assert "1/2 [" in out.getvalue() and "0 failed" in out.getvalue()


def test_disabled_prints_nothing():
    out = Terminal()
    p = Progress(3, stream=out, enabled=False)
    p.finished("completed")
    p.close()
    assert out.getvalue() == ""


def test_pickles_without_its_stream_or_bar():
    p = Progress(5, stream=Terminal())
    p.finished("completed")  # the bar exists now
    q = pickle.loads(pickle.dumps(p))  # Ray pickles the callbacks that hold it
    assert q.done == 1 and q._bar is None and q._stream is None
