"""SIGINT and SIGTERM during a sweep: stop cleanly, keep every committed trial, say so.

Ray Tune installs its own SIGINT handler in ``Tuner.fit()`` and then returns normally, as if the
sweep had finished; ``ray.init`` installs a SIGTERM handler that exits from wherever the driver
is. optbasin switches Tune's off (TUNE_DISABLE_SIGINT_HANDLER, set in ray_session.py) and installs
its own after ``ray.init``:

- while Ray Tune runs (``graceful``): the first signal asks Tune to stop every trial (a Stopper
  reads ``requested``); the runner then raises Interrupted. A second signal raises at once;
- elsewhere: Interrupted is raised at once.

The CLI turns Interrupted into the resume hint and exit code 128 + signal (130, 143).
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager

from optbasin.errors import Interrupted

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class StopRequest:
    """The signal received (None until one arrives) and whether Tune is running."""

    def __init__(self) -> None:
        self.requested: int | None = None
        self.graceful = False

    def handle(self, signum: int, frame: object) -> None:
        if self.graceful and self.requested is None:
            self.requested = signum
            return
        raise Interrupted(self.requested or signum)

    def check(self) -> None:
        """Raise Interrupted if a signal arrived."""
        if self.requested is not None:
            raise Interrupted(self.requested)


@contextmanager
def stop_on_signals(request: StopRequest) -> Iterator[StopRequest]:
    """Route SIGINT and SIGTERM to ``request`` (main thread only; restored afterwards)."""
    try:
        before = {s: signal.signal(s, request.handle) for s in SIGNALS}
    except ValueError:  # not the main thread: leave signals alone
        yield request
        return
    try:
        yield request
    finally:
        for s, h in before.items():
            signal.signal(s, h)


@contextmanager
def graceful(request: StopRequest) -> Iterator[None]:
    """While Ray Tune runs: a first signal only asks it to stop."""
    request.graceful = True
    try:
        yield
    finally:
        request.graceful = False
