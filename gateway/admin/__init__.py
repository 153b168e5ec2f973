"""The admin API under `/admin`: keys, usage, request records and the policy in force, for the roles
the policy allows.

Who may administer what is decided by the same Casbin policy as everything else, operation
`admin`, always in the caller's own department. Another department is reachable only by platform
administrators (role `admin`, or the bootstrap key), and their rights are then decided in that
department. Only they may hand out the `admin` role, or any role at will: a department administrator
grants only roles it holds, and none that reaches what its own key may not (gateway/authz/grants.py),
so it cannot mint a key more powerful than its own.

    router.py   the `/admin` Router: its guard (authentication, once), dependencies, error mapping
    access.py   the guard, the `principal` dependency, and the checks of who may administer what
    errors.py   the admin API's errors, and the one mapping of the management errors to them
    keys.py     GET/POST /admin/keys, DELETE /admin/keys/{key_id}
    records.py  GET /admin/requests/{request_id}, GET /admin/usage
    policy.py   GET /admin/policy, POST /admin/policy/reload
"""

from gateway.admin.access import PLATFORM_ROLE
from gateway.admin.router import admin_router

__all__ = ["PLATFORM_ROLE", "admin_router"]
