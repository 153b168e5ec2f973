"""Placeholders issued for one request: `<IBAN_1>` stands for the first IBAN value met, and so on.

A `Pseudonyms` object belongs to exactly one request and dies with it: nothing is shared between
requests, so no answer can ever be restored with another caller's values.
"""

from __future__ import annotations

import re

__all__ = ["PLACEHOLDER_SHAPE", "Pseudonyms"]

# What any placeholder looks like. Text of the request already shaped like one is never issued
# again, so that restoring the answer cannot turn the caller's own literal text into a value.
PLACEHOLDER_SHAPE = re.compile(r"<[A-Z][A-Z_]*_[0-9]+>")


class Pseudonyms:
    """The mapping between a request's values and their placeholders, in both directions."""

    __slots__ = ("_by_value", "_counters", "_reserved", "originals")

    def __init__(self) -> None:
        self._by_value: dict[tuple[str, str], str] = {}
        self._counters: dict[str, int] = {}
        self._reserved: set[str] = set()
        self.originals: dict[str, str] = {}
        """Placeholder -> the value it stands for, as first written in the request."""

    def reserve_literals(self, text: str) -> None:
        """Keep placeholder-shaped text the caller wrote from being issued for a value."""
        if "<" in text:
            self._reserved.update(PLACEHOLDER_SHAPE.findall(text))

    def placeholder(self, entity: str, value: str) -> str:
        """The same value of the same type always gets the same placeholder within the request."""
        key = (entity, value)
        found = self._by_value.get(key)
        if found is not None:
            return found
        number = self._counters.get(entity, 0)
        while True:
            number += 1
            candidate = f"<{entity}_{number}>"
            if candidate not in self._reserved:
                break
        self._counters[entity] = number
        self._by_value[key] = candidate
        self.originals[candidate] = value
        return candidate

    def __bool__(self) -> bool:
        return bool(self.originals)
