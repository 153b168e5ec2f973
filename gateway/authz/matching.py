"""The one wildcard syntax of policies: `*` stands for any run of characters, nothing else is special.

Casbin's own `keyMatch` only honours a trailing `*` (`*-instruct` would match every model) and its
`globMatch` stops `*` at `/` (so `*` would not match `mistralai/Mistral-7B`); model names contain
both, so policies use this function for departments, models and role grants alike.
"""

from __future__ import annotations

import functools
import re

__all__ = ["wildcard_match"]


@functools.lru_cache(maxsize=4096)
def _compile(pattern: str) -> re.Pattern[str]:
    # Patterns come from the policy files only (never from requests), so the cache stays bounded.
    return re.compile(".*".join(re.escape(part) for part in pattern.split("*")), re.DOTALL)


def wildcard_match(value: str, pattern: str) -> bool:
    """Whether `value` (from a request) matches `pattern` (from a policy line)."""
    if value == pattern:
        return True
    if "*" not in pattern:
        return False
    return _compile(pattern).fullmatch(value) is not None
