"""From a verified token's claims to a `Principal`, by the configuration's rules.

The first rule whose `when` holds decides; a token that no rule matches, or whose claim-given
department or service is not a valid name, maps to nothing and is refused by the caller.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from gateway.identity.records import Principal
from gateway.oidc.settings import NAME_PATTERN, ClaimRule

__all__ = ["claim_value", "map_claims", "usable_subject"]

_NAME = re.compile(NAME_PATTERN)
_SUBJECT = re.compile(r"[\x21-\x7e]{1,200}")
"""Printable ASCII without spaces: a subject that cannot forge a log line or a CSV cell."""


def claim_value(claims: Mapping[str, Any], name: str) -> Any:
    """The claim `name`, a dotted name reading inside object claims; None when absent."""
    value: Any = claims
    for part in name.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


def usable_subject(claims: Mapping[str, Any], name: str) -> str | None:
    """The claim that names the caller in records (`<provider>:<it>`), if it is safe to show there."""
    value = claim_value(claims, name)
    return value if isinstance(value, str) and _SUBJECT.fullmatch(value) else None


def _holds(claims: Mapping[str, Any], name: str, expected: str) -> bool:
    value = claim_value(claims, name)
    if isinstance(value, str):
        return value == expected
    if isinstance(value, list):
        return expected in value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value) == expected
    return False


def _name_from(claims: Mapping[str, Any], literal: str | None, claim: str | None) -> str | None:
    if literal is not None:
        return literal
    assert claim is not None  # one of the two, by ClaimRule's validation
    value = claim_value(claims, claim)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = str(value)
    if isinstance(value, str):
        value = value.lower()
        if _NAME.fullmatch(value):
            return value
    return None


def map_claims(claims: Mapping[str, Any], rules: Sequence[ClaimRule], key_id: str) -> Principal | None:
    """The principal the first matching rule gives, named `key_id` in records; None if none does."""
    for rule in rules:
        if all(_holds(claims, name, expected) for name, expected in rule.when.items()):
            department = _name_from(claims, rule.department, rule.department_claim)
            service = _name_from(claims, rule.service, rule.service_claim)
            if department is None or service is None:
                return None
            return Principal(key_id=key_id, department=department, service=service, roles=tuple(rule.roles))
    return None
