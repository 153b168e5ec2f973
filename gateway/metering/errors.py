"""Errors of the metering package; their messages are meant for a person.

    MeteringError
    ├── InvalidUsageQuery   a period, grouping or department that a report refuses (400 at the admin API)
    └── UsageStoreError     the store failed (SQLite or Redis error), mapped at the store's boundary

Recording never raises either of them on the request path: `UsageRecorder.record` only appends to a
buffer; store failures are met by the recorder's background flusher, which keeps retrying.
"""

from __future__ import annotations

__all__ = ["InvalidUsageQuery", "MeteringError", "UsageStoreError"]


class MeteringError(Exception):
    """Base of every metering error."""


class InvalidUsageQuery(MeteringError, ValueError):
    """A report was asked for with a malformed period, an unknown grouping or an unusable department.

    `param` names the offending parameter, as OpenAI's error bodies do."""

    def __init__(self, message: str, param: str) -> None:
        super().__init__(message)
        self.param = param


class UsageStoreError(MeteringError):
    """The usage store cannot be reached or refused an operation."""
