"""Who may see and change what in the console: the same rules, and the same Casbin decisions, as the
admin API (`gateway/admin/`).

- Every decision is taken by the policy in force, operation `usage:read` (figures, request log) or
  `admin` (keys), in the department concerned.
- A department administrator reaches only its own department: another department's pages answer
  403, and its rows are filtered out of every list before anything is rendered.
- Platform administrators (role `admin`, or the bootstrap key whose department is `*`) reach every
  department, and they alone see the backends and the policy, and hand out any role. A department
  administrator hands out only the roles it holds, and none that reaches further than its own key
  (gateway/authz/grants.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from gateway.admin import PLATFORM_ROLE
from gateway.authz import ADMIN, ANY_MODEL, USAGE_READ, Authorizer, grant_refusal
from gateway.identity import Principal

__all__ = ["EVERY_DEPARTMENT", "Administrator", "Forbidden"]

EVERY_DEPARTMENT = "*"


class Forbidden(Exception):
    """403: the signed-in key may not see or do this."""


@dataclass(frozen=True, slots=True)
class Administrator:
    """The signed-in key, with the questions pages ask about it."""

    principal: Principal
    authorizer: Authorizer
    nonce: str
    """The session's nonce, which CSRF tokens are bound to."""
    models: tuple[str, ...] = ()
    """The configured model names, on which the reach of roles to grant is compared."""

    @property
    def department(self) -> str:
        return self.principal.department

    @property
    def is_platform(self) -> bool:
        return self.principal.department == EVERY_DEPARTMENT or PLATFORM_ROLE in self.principal.roles

    def _allowed(self, department: str, operation: str) -> bool:
        principal = self.principal
        if department != principal.department and not self.is_platform:
            return False
        domain = principal.department if department == EVERY_DEPARTMENT else department
        return self.authorizer.decide(
            domain, principal.service, principal.roles, ANY_MODEL, operation
        ).allowed

    def may_read_usage(self, department: str) -> bool:
        """Figures and request records of `department` (`*`: of every department)."""
        return self._allowed(department, USAGE_READ)

    def may_manage_keys(self, department: str) -> bool:
        return self._allowed(department, ADMIN)

    def may_use_console(self) -> bool:
        """Whether the key may sign in at all: it reads usage or manages keys in its own department."""
        own = self.principal.department
        return self.may_read_usage(own) or self.may_manage_keys(own)

    def may_see_platform(self) -> bool:
        """Backends and policy: platform administrators, if the policy lets them administer."""
        return self.is_platform and self._allowed(EVERY_DEPARTMENT, ADMIN)

    def may_grant(self, roles: tuple[str, ...]) -> bool:
        """Platform administrators hand out any role; others only what `grant_refusal` allows, and
        never the platform role."""
        if self.is_platform:
            return True
        if PLATFORM_ROLE in roles:
            return False
        principal = self.principal
        refusal = grant_refusal(
            self.authorizer,
            department=principal.department,
            service=principal.service,
            roles=principal.roles,
            granted=roles,
            models=self.models,
        )
        return refusal is None

    def require(self, allowed: bool) -> None:
        if not allowed:
            raise Forbidden()

    def usage_scope(self) -> str:
        """The department whose figures this person reads by default: theirs, or every one."""
        return (
            EVERY_DEPARTMENT
            if self.is_platform and self.may_read_usage(EVERY_DEPARTMENT)
            else self.department
        )
