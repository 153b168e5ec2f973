"""The generator's one error."""

from __future__ import annotations

__all__ = ["ConfigDocsError"]


class ConfigDocsError(Exception):
    """The reference cannot be written as things are; the message says what to change."""
