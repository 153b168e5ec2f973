"""Authorization: Casbin policies (RBAC with departments) deciding who may use which model for what.

    authorizer = Authorizer.from_config(config.policy, config_dir)
    reloader = PolicyReloader(authorizer, config.policy.reload_interval)
    reloader.start()                                   # on the worker's event loop
    decision = authorizer.authorize(principal.department, principal.service, principal.roles,
                                    parsed.model, operation.value)   # raises PermissionDenied (403)

policies/README.md explains the files; snapshot.py how decisions stay fast at thousands of lines.
"""

from gateway.authz.actions import ACTIONS, ADMIN, ANY_MODEL, MODEL_ACTIONS, USAGE_READ
from gateway.authz.authorizer import Authorizer
from gateway.authz.decision import DENIED_BY_DEFAULT, Decision
from gateway.authz.errors import PermissionDenied, PolicyError
from gateway.authz.grants import grant_refusal
from gateway.authz.loading import compile_policy, load_policy
from gateway.authz.matching import wildcard_match
from gateway.authz.reloader import PolicyReloader
from gateway.authz.settings import PolicyConfig
from gateway.authz.snapshot import DEFAULT_CACHE_SIZE, PolicySnapshot

__all__ = [
    "ACTIONS",
    "ADMIN",
    "ANY_MODEL",
    "DEFAULT_CACHE_SIZE",
    "DENIED_BY_DEFAULT",
    "MODEL_ACTIONS",
    "USAGE_READ",
    "Authorizer",
    "Decision",
    "PermissionDenied",
    "PolicyConfig",
    "PolicyError",
    "PolicyReloader",
    "PolicySnapshot",
    "compile_policy",
    "grant_refusal",
    "load_policy",
    "wildcard_match",
]
