"""The progress view of a running sweep (replaces Ray's console output): a tqdm bar on a terminal,
plain lines (at most one every 15 s) when the output is not a terminal (a log file, a pipe, a
notebook)."""

from __future__ import annotations

import os
import shutil
import sys
import time
from collections import Counter
from typing import Any, TextIO


def _clock(seconds: float) -> str:
    seconds = int(max(0, seconds))
    h, rem = divmod(seconds, 3600)
    return (f"{h}:" if h else "") + f"{rem // 60:02d}:{rem % 60:02d}"


def _size(stream: TextIO) -> tuple[int, int]:
    """(columns, lines) of the terminal; one that reports 0 (a pty of size 0, as `script` or a
    container makes) gets $COLUMNS / $LINES or 80 x 24: tqdm draws nothing at a size of 0."""
    try:
        size = os.get_terminal_size(stream.fileno())
    except (AttributeError, ValueError, OSError):
        size = os.terminal_size((0, 0))
    fallback = shutil.get_terminal_size()
    return size.columns or fallback.columns, size.lines or fallback.lines


class Progress:
    """Counts trials by state; shows them at most every ``interval`` s: a tqdm bar on a TTY (rate and
    ETA averaged over the whole run, smoothing=0, as the plain line's; the running / diverged /
    failed counts after it), else a plain line."""

    def __init__(self, total: int, skipped: int = 0, stream: TextIO | None = None, enabled: bool = True):
        self.total, self.skipped = total, skipped
        self._stream = stream  # None: sys.stderr, looked up when writing (Ray pickles callbacks)
        self.enabled = enabled
        self.tty = self.stream.isatty()
        self.interval = 0.5 if self.tty else 15.0
        self.counts: Counter[str] = Counter()
        self.running = 0
        self.start = time.monotonic()
        self._last = 0.0
        self._bar: Any = None  # the tqdm bar: from the start (its clock counts Ray's start too)
        if enabled and self.tty:
            self.show(force=True)

    @property
    def stream(self) -> TextIO:
        return self._stream or sys.stderr

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_stream": None, "_bar": None}

    def finished(self, status: str) -> None:
        self.counts[status] += 1
        self.show()

    @property
    def done(self) -> int:
        return sum(self.counts.values())

    def line(self) -> str:
        elapsed = time.monotonic() - self.start
        eta = elapsed / self.done * (self.total - self.done) if self.done else float("nan")
        eta_s = _clock(eta) if eta == eta else "--:--"
        skipped = f" ({self.skipped} already in store)" if self.skipped else ""
        return (
            f"[{self.done}/{self.total} done{skipped} | {self.running} running | "
            f"{self.counts['diverged']} diverged | {self.counts['failed']} failed | "
            f"{_clock(elapsed)} elapsed | ETA {eta_s}]"
        )

    def _states(self) -> str:
        skipped = f", {self.skipped} already in store" if self.skipped else ""
        return f"{self.running} running, {self.counts['diverged']} diverged, {self.counts['failed']} failed{skipped}"

    def _show_bar(self, force: bool) -> None:
        if self._bar is None:  # (again after unpickling)
            from tqdm import tqdm

            cols, rows = _size(self.stream)
            self._bar = tqdm(
                total=self.total,
                file=self.stream,
                unit="trial",
                desc="sweep",
                ncols=cols,
                nrows=rows,
                mininterval=self.interval,
                smoothing=0,
                postfix=self._states(),
                leave=True,
            )
        self._bar.ncols, self._bar.nrows = _size(self.stream)  # follows a resized terminal
        self._bar.n = self.done
        self._bar.set_postfix_str(self._states(), refresh=False)
        if force:
            self._bar.refresh()
        else:
            self._bar.update(0)  # redraws when mininterval has passed

    def show(self, force: bool = False) -> None:
        if not self.enabled:
            return
        if self.tty:
            self._show_bar(force)
            return
        now = time.monotonic()
        if not force and now - self._last < self.interval:
            return
        self._last = now
        self.stream.write(self.line() + "\n")
        self.stream.flush()

    def close(self) -> None:
        self.show(force=True)
        if self._bar is not None:
            self._bar.close()  # leaves the bar's last state on its line, and a newline
            self._bar = None
