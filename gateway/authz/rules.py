"""Reading policy.csv into rules, with the line each came from, or every problem it has.

Casbin's own file adapter skips lines it does not understand (an unknown rule type, a misspelled
action) and only fails on a wrong field count at the first request that reaches the line. A security
team editing the file deserves better: every line is checked here, and a file with any problem is
refused as a whole, each problem reported with its line number.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from gateway.authz.actions import ACTIONS, ANY
from gateway.authz.errors import PolicyError

__all__ = ["Grant", "ParsedPolicy", "Permission", "parse_policy"]

# Names of subjects and roles: no wildcard (a wildcard subject would be a role everybody holds
# without anyone having granted it) and nothing that could be confused with the CSV syntax.
_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.:@/+-]*")
# Departments and models may carry `*` wildcards.
_PATTERN = re.compile(r"[A-Za-z0-9_.:@/+*-]+")
_EFFECTS = ("allow", "deny")
_MAX_PROBLEMS = 50


@dataclass(frozen=True, slots=True)
class Permission:
    """A `p` line: SUBJECT may (or may not) do OPERATION on MODEL in DEPARTMENT."""

    line: int
    subject: str
    department: str
    model: str
    action: str
    effect: str

    @property
    def row(self) -> list[str]:
        """The line's fields as Casbin holds them (without the leading `p`)."""
        return [self.subject, self.department, self.model, self.action, self.effect]


@dataclass(frozen=True, slots=True)
class Grant:
    """A `g` line: SUBJECT holds ROLE in DEPARTMENT (a pattern; `*` is every department)."""

    line: int
    subject: str
    role: str
    department: str

    @property
    def row(self) -> list[str]:
        return [self.subject, self.role, self.department]


@dataclass(frozen=True, slots=True)
class ParsedPolicy:
    permissions: tuple[Permission, ...]
    grants: tuple[Grant, ...]


def _check_name(value: str, column: str, problems: list[str], line: int) -> None:
    if not _NAME.fullmatch(value):
        if "*" in value:
            problems.append(f"line {line}: {column} `{value}` cannot contain `*`; grant a role instead")
        else:
            problems.append(
                f"line {line}: {column} `{value}` must be letters, digits and . _ - : / @ + "
                "(starting with a letter, digit or _)"
            )


def _check_pattern(value: str, column: str, problems: list[str], line: int) -> None:
    if not _PATTERN.fullmatch(value):
        problems.append(f"line {line}: {column} `{value}` must be letters, digits, . _ - : / @ + and `*`")


def _parse_permission(fields: list[str], line: int, problems: list[str]) -> Permission | None:
    if len(fields) != 5:
        problems.append(
            f"line {line}: a `p` line has 5 fields after `p` (subject, department, model, operation, "
            f"effect), found {len(fields)}"
        )
        return None
    subject, department, model, action, effect = fields
    before = len(problems)
    _check_name(subject, "subject", problems, line)
    _check_pattern(department, "department", problems, line)
    _check_pattern(model, "model", problems, line)
    if action != ANY and action not in ACTIONS:
        known = ", ".join(sorted(ACTIONS))
        problems.append(f"line {line}: unknown operation `{action}` (expected one of {known}, or *)")
    if effect not in _EFFECTS:
        problems.append(f"line {line}: effect `{effect}` must be `allow` or `deny`")
    if len(problems) != before:
        return None
    return Permission(line, subject, department, model, action, effect)


def _parse_grant(fields: list[str], line: int, problems: list[str]) -> Grant | None:
    if len(fields) != 3:
        problems.append(
            f"line {line}: a `g` line has 3 fields after `g` (subject, role, department), found {len(fields)}"
        )
        return None
    subject, role, department = fields
    before = len(problems)
    _check_name(subject, "subject", problems, line)
    _check_name(role, "role", problems, line)
    _check_pattern(department, "department", problems, line)
    if subject == role and not problems[before:]:
        problems.append(f"line {line}: `{subject}` is granted itself")
    if len(problems) != before:
        return None
    return Grant(line, subject, role, department)


def parse_policy(text: str, path: Path) -> ParsedPolicy:
    """Every rule of a policy file, or a `PolicyError` listing every problem (up to fifty)."""
    permissions: list[Permission] = []
    grants: list[Grant] = []
    problems: list[str] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        stripped = raw.strip()
        if not stripped or stripped.startswith("#"):
            continue
        kind, *fields = (field.strip() for field in stripped.split(","))
        if kind == "p":
            permission = _parse_permission(fields, number, problems)
            if permission is not None:
                permissions.append(permission)
        elif kind == "g":
            grant = _parse_grant(fields, number, problems)
            if grant is not None:
                grants.append(grant)
        else:
            problems.append(f"line {number}: unknown rule type `{kind}` (a line starts with `p`, `g` or `#`)")
        if len(problems) >= _MAX_PROBLEMS:
            problems.append("too many problems; stopped reading")
            break
    if problems:
        raise PolicyError(path, problems)
    return ParsedPolicy(tuple(permissions), tuple(grants))
