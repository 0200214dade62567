"""One writer per run directory: ``RUN_DIR/.lock``.

The driver (local or joined to a cluster: the driver alone writes the store) holds an exclusive
``flock`` on RUN_DIR/.lock for as long as it runs. The kernel releases the lock when the process
ends, however it ends (exit, Ctrl-C, kill -9), so a lock file left by a dead process is stale by
construction: the next run takes it over. The file records who holds it (pid, host, start
time) so that a second writer is refused with "in use by PID on HOST". flock works within one
machine and on most local filesystems; on a network filesystem shared by several machines it
may not exclude writers on other machines.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import os
import platform
from pathlib import Path

from optbasin.errors import StoreError

LOCK = ".lock"


class RunLock:
    """``with RunLock(run_dir):`` holds the run directory, or raises StoreError naming the holder."""

    def __init__(self, root: str | Path):
        self.path = Path(root) / LOCK
        self.fd: int | None = None

    def acquire(self) -> None:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise StoreError(
                f"{self.path.parent}: in use by {self.holder()}; wait for that run to end "
                "(or stop it), or choose another output directory (--output)"
            ) from None
        me = {
            "pid": os.getpid(),
            "host": platform.node(),
            "since": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        }
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(me).encode(), 0)
        self.fd = fd

    def holder(self) -> str:
        """Who holds the lock, as recorded in the lock file: "PID 123 on HOST (since ...)"."""
        try:
            h = json.loads(self.path.read_text() or "{}")
            return f"PID {h['pid']} on {h['host']} (since {h['since']})"
        except (OSError, ValueError, KeyError):
            return "another process (the lock file does not say which)"

    def release(self) -> None:
        if self.fd is not None:
            os.ftruncate(self.fd, 0)
            fcntl.flock(self.fd, fcntl.LOCK_UN)
            os.close(self.fd)
            self.fd = None

    def __enter__(self) -> RunLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
