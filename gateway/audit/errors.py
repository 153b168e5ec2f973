"""The audit log's one error; its message is meant for a person.

`AuditLog.write` never raises it: on the request path a record is only appended to a buffer. It comes
from `AuditLog.start` (the file cannot be opened, claimed or resumed), from `AuditLog.flush` when the
disk refuses the write, and from `verify_chain` when a file cannot be read.
"""

from __future__ import annotations

__all__ = ["AuditError"]


class AuditError(Exception):
    """The audit log cannot be opened, written or read."""
