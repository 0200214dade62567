"""Typed errors. Library code raises these; only cli.py turns them into messages and exit codes."""

from __future__ import annotations

import errno
import reprlib
from dataclasses import dataclass
from typing import Any

MAX_REASON_CHARS = 500  # a message never repeats a huge input in full
NO_SPACE = (errno.ENOSPC, errno.EDQUOT)  # an OSError's errno for a full disk or quota (store, shards)

_repr = reprlib.Repr()
_repr.maxstring, _repr.maxother, _repr.maxlist, _repr.maxdict, _repr.maxlevel = 60, 60, 6, 6, 3


def short(value: Any) -> str:
    """``repr(value)`` shortened for messages: long strings and lists are cut with '...'."""
    return _repr.repr(value)


@dataclass(frozen=True)
class Problem:
    """One problem with a user's input: where it is and what is allowed."""

    file: str
    field: str
    reason: str

    def __str__(self) -> str:
        reason = self.reason if len(self.reason) <= MAX_REASON_CHARS else self.reason[:MAX_REASON_CHARS] + "..."
        return f"{self.file}: {self.field}: {reason}"


class OptbasinError(Exception):
    """Base of every error that is the user's to fix (the CLI exits with code 2)."""


class ConfigError(OptbasinError):
    """Bad YAML input: carries every problem found, not only the first."""

    def __init__(self, problems: list[Problem]):
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


class DataError(OptbasinError):
    """A data file a task needs is missing or malformed."""


class StoreError(OptbasinError):
    """A results directory that cannot be used: corrupt, unwritable, full, locked or holding another sweep."""


class Interrupted(Exception):
    """SIGINT or SIGTERM stopped a sweep; ``signum`` says which (the CLI exits 128 + signum)."""

    def __init__(self, signum: int):
        self.signum = signum
        super().__init__(f"interrupted by signal {signum}")
