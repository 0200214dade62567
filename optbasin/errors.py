"""Typed errors. Library code raises these; only cli.py turns them into messages and exit codes."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One problem with a user's input: where it is and what is allowed."""

    file: str
    field: str
    reason: str

    def __str__(self) -> str:
        return f"{self.file}: {self.field}: {self.reason}"


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
    """A results directory that cannot be used: corrupt, unwritable or holding another sweep."""
