"""A one-line progress view of a running sweep (replaces Ray's console output)."""

from __future__ import annotations

import sys
import time
from collections import Counter
from typing import TextIO


def _clock(seconds: float) -> str:
    seconds = int(max(0, seconds))
    h, rem = divmod(seconds, 3600)
    return (f"{h}:" if h else "") + f"{rem // 60:02d}:{rem % 60:02d}"


class Progress:
    """Counts trials by state; prints at most every ``interval`` s (a rewritten line on a TTY)."""

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

    @property
    def stream(self) -> TextIO:
        return self._stream or sys.stderr

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_stream": None}

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
        return (f"[{self.done}/{self.total} done{skipped} | {self.running} running | "
                f"{self.counts['diverged']} diverged | {self.counts['failed']} failed | "
                f"{_clock(elapsed)} elapsed | ETA {eta_s}]")

    def show(self, force: bool = False) -> None:
        now = time.monotonic()
        if not self.enabled or (not force and now - self._last < self.interval):
            return
        self._last = now
        if self.tty:
            self.stream.write("\r" + self.line() + "\x1b[K")
        else:
            self.stream.write(self.line() + "\n")
        self.stream.flush()

    def close(self) -> None:
        self.show(force=True)
        if self.enabled and self.tty:
            self.stream.write("\n")
            self.stream.flush()
