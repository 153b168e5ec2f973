"""One loaded policy: a Casbin enforcer, an index of its lines, and the decisions already taken.

Casbin's `Enforcer.enforce` evaluates the matcher on every line of the policy, in pure Python: about
2 to 6 microseconds a line, so 5 to 12 milliseconds at 2,000 lines, on the event loop.
`FastEnforcer` indexes lines by the exact value of some fields, which skips the lines a request
reaches through a role (`g`) or through a wildcard department (`*`), so it would answer wrongly here.
Instead, before Casbin evaluates anything, this module selects the lines a request can possibly
match: those whose subject is the request's subject or a role that subject holds in the department,
and whose department pattern matches the department. Casbin then runs its own matcher and effect on
those few lines. The selection is exact because the matcher must contain `g(r.sub, p.sub, r.dom)` and
`wildcardMatch(r.dom, p.dom)` as `&&` conditions (casbin_model.py refuses a model without them): a
line left out could not have matched.

Decisions are then cached per full request. A snapshot never changes once built; a reload builds a
new snapshot, with an empty cache, and swaps it in whole (authorizer.py).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Collection
from typing import Any, Literal

from gateway.authz.actions import ACTIONS, ANY, ANY_MODEL
from gateway.authz.decision import DENIED_BY_DEFAULT, Decision
from gateway.authz.matching import wildcard_match
from gateway.authz.rules import ParsedPolicy, Permission
from gateway.authz.sources import PolicyTexts

__all__ = ["DEFAULT_CACHE_SIZE", "PolicySnapshot"]

DEFAULT_CACHE_SIZE = 65_536
"""Decisions kept per snapshot. One entry per distinct (department, service, roles, model, operation),
a few hundred bytes each."""

_SELF_CHECK_LINES = 32

_Effect = Literal["allow", "deny"] | None
_CacheKey = tuple[str, str, Collection[str], str, str]


def _line(permission: Permission) -> int:
    return permission.line


class PolicySnapshot:
    """A policy ready to answer; build it with `loading.compile_policy`.

    `decide` is safe to call from several threads, but it is meant for the event loop: a cached
    decision is a dictionary lookup, and a new one takes the snapshot's lock for the tens of
    microseconds Casbin needs.
    """

    def __init__(self, *, enforcer: Any, policy: ParsedPolicy, texts: PolicyTexts, cache_size: int) -> None:
        self.model_file = texts.model_file
        self.policy_file = texts.policy_file
        self.digest = texts.digest
        self.permissions = policy.permissions
        self.grants = policy.grants
        self.cache_size = cache_size
        self.loaded_at = time.time()
        self.version = 0
        """Set by the `Authorizer` that installs the snapshot: 1 for the first, then one more per reload."""

        self._enforcer = enforcer
        self._assertion = enforcer.model["p"]["p"]
        self._all_rows = self._assertion.policy
        # Lines by (subject, department) for literal departments, by subject for patterns: a service
        # name used in fifty departments must not cost fifty pattern matches.
        self._by_department: dict[tuple[str, str], list[Permission]] = {}
        self._by_pattern: dict[str, list[Permission]] = {}
        for permission in policy.permissions:
            if "*" in permission.department:
                self._by_pattern.setdefault(permission.subject, []).append(permission)
            else:
                self._by_department.setdefault((permission.subject, permission.department), []).append(
                    permission
                )
        self._lines: dict[tuple[str, ...], int] = {}
        for permission in policy.permissions:
            self._lines.setdefault(("p", *permission.row), permission.line)
        self._cache: OrderedDict[_CacheKey, Decision] = OrderedDict()
        self._lock = threading.Lock()

    def decide(
        self, department: str, service: str, roles: Collection[str], model: str, operation: str
    ) -> Decision:
        """Whether `service` of `department`, with the key's `roles`, may do `operation` on `model`.

        Allowed when a line allows one of the subjects (the service, each role) and no line denies any.
        """
        if not isinstance(roles, tuple | frozenset):
            if isinstance(roles, str):
                raise TypeError("roles must be a collection of role names, not one string")
            roles = tuple(roles)
        key = (department, service, roles, model, operation)
        decision = self._cache.get(key)
        if decision is not None:
            return decision
        with self._lock:
            decision = self._evaluate(department, service, roles, model, operation)
            if self.cache_size > 0:
                if len(self._cache) >= self.cache_size:
                    self._cache.popitem(last=False)
                self._cache[key] = decision
        return decision

    def roles_held(self, subject: str, department: str) -> list[str]:
        """The roles `subject` holds in `department`, inherited ones included."""
        with self._lock:
            return list(self._enforcer.get_implicit_roles_for_user(subject, department))

    def line_of(self, rule: tuple[str, ...]) -> int | None:
        """The line of the policy file a decision's rule comes from (its first occurrence)."""
        return self._lines.get(rule)

    def cached_decisions(self) -> int:
        return len(self._cache)

    def self_check(self) -> list[str]:
        """Evaluate a sample of lines through the matcher, so that a matcher that fails only when it
        runs (a function given the wrong arguments, for one) is refused at load time rather than at
        the first request."""
        problems: list[str] = []
        step = max(1, len(self.permissions) // _SELF_CHECK_LINES)
        for permission in self.permissions[::step]:
            department = permission.department.replace("*", "x")
            model = permission.model.replace("*", "x") if permission.model != ANY else ANY_MODEL
            action = permission.action if permission.action != ANY else next(iter(sorted(ACTIONS)))
            try:
                with self._lock:
                    self._enforce(permission.subject, department, model, action)
            except Exception as exc:  # whatever the matcher raises, the model is unusable
                problems.append(
                    f"the matcher fails on {self.policy_file.name} line {permission.line}: "
                    f"{type(exc).__name__}: {exc}"
                )
                break
        return problems

    def _evaluate(
        self, department: str, service: str, roles: Collection[str], model: str, operation: str
    ) -> Decision:
        if operation not in ACTIONS:
            raise ValueError(f"unknown operation {operation!r}; expected one of {sorted(ACTIONS)}")
        allowing: tuple[str, ...] | None = None
        # Sorted roles: the same principal always reports the same allowing rule.
        for subject in dict.fromkeys((service, *sorted(roles))):
            if not subject:
                continue
            effect, rule = self._enforce(subject, department, model, operation)
            if effect == "deny":
                return Decision(allowed=False, rule=rule)
            if effect == "allow" and allowing is None:
                allowing = rule
        return Decision(allowed=True, rule=allowing) if allowing is not None else DENIED_BY_DEFAULT

    def _enforce(
        self, subject: str, department: str, model: str, operation: str
    ) -> tuple[_Effect, tuple[str, ...] | None]:
        """Casbin's verdict for one subject, over the lines it can match. Call with the lock held."""
        names = dict.fromkeys((subject, *self._enforcer.get_implicit_roles_for_user(subject, department)))
        candidates: list[Permission] = []
        for name in names:
            candidates += self._by_department.get((name, department), ())
            candidates += (
                permission
                for permission in self._by_pattern.get(name, ())
                if wildcard_match(department, permission.department)
            )
        if not candidates:
            return None, None
        # File order, so that which line is reported does not depend on how the roles were listed.
        candidates.sort(key=_line)
        self._assertion.policy = [permission.row for permission in candidates]
        try:
            allowed, explain = self._enforcer.enforce_ex(subject, department, model, operation)
        finally:
            self._assertion.policy = self._all_rows
        if not explain:
            return None, None
        rule = ("p", *explain)
        if allowed:
            return "allow", rule
        # With "allow and no deny", a refusal that names a line names the deny line that stopped it.
        return ("deny", rule) if explain[-1] == "deny" else (None, None)
