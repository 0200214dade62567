"""The one status type of a trial, and the one rule for what a trial that did not complete counts as.

A trial ends ``completed`` (trained to its budget), ``diverged`` (its loss went NaN/inf or past
the divergence threshold: a result, not an error) or ``failed`` (an exception, recorded with its
message). Any other value read from a store is treated as failed.
"""

from __future__ import annotations

from enum import Enum


class TrialStatus(str, Enum):
    COMPLETED = "completed"
    DIVERGED = "diverged"
    FAILED = "failed"

    @classmethod
    def of(cls, value: object) -> TrialStatus:
        """The status of a stored value (unknown values are failures)."""
        try:
            return cls(str(value))
        except ValueError:
            return cls.FAILED

    @property
    def is_done(self) -> bool:
        """A finished result (never rerun): completed or diverged; a failure may be retried."""
        return self is not TrialStatus.FAILED

    @property
    def counts_as_l0(self) -> bool:
        """The robustness rule (docs/statistics.md): a trial that did not complete, diverged or
        failed, is scored at its loss at initialization l0, never dropped."""
        return self is not TrialStatus.COMPLETED
