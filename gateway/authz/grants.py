"""Which roles an administrator may put on a key it creates: never more than it has itself.

A key's roles are subjects of the policy like its service, so a role is a bundle of rights. An
administrator who could hand out any role could mint a key that reaches what its own key may not. Two
checks, in the department the key is made in, keep a new key within its maker's reach:

1. every role given is one the maker holds: on its own key, or through the policy's `g` lines for
   its service or its roles (`g, department-admin, analyst, *` is how a policy lets department
   administrators hand out `analyst`);
2. the roles given, on their own, allow nothing the maker is refused on any configured model: this
   catches a role the maker holds whose reach a `deny` line takes away from the maker alone.

Platform administrators are not asked: they may grant every role (gateway/admin/access.py decides who they are).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable

from gateway.authz.actions import ADMIN, ANY_MODEL, MODEL_ACTIONS, USAGE_READ
from gateway.authz.authorizer import Authorizer

__all__ = ["grant_refusal"]

_NO_SERVICE = ""
"""In a decision, a subject that matches no line: the roles are then decided on their own."""


def _held(authorizer: Authorizer, department: str, service: str, roles: Collection[str]) -> set[str]:
    snapshot = authorizer.snapshot  # one policy for every question
    held = set(roles)
    for subject in (service, *roles):
        held.update(snapshot.roles_held(subject, department))
    return held


def _quoted(names: Iterable[str]) -> str:
    return ", ".join(f"`{name}`" for name in names)


def grant_refusal(
    authorizer: Authorizer,
    *,
    department: str,
    service: str,
    roles: Collection[str],
    granted: Collection[str],
    models: Iterable[str],
) -> str | None:
    """Why the key of `service` with `roles` in `department` may not give a key the roles `granted`,
    or None when it may. `models` are the configured model names the reach is compared on."""
    missing = sorted(set(granted) - _held(authorizer, department, service, roles))
    if missing:
        return (
            f"Your key may not grant the role(s) {_quoted(missing)}: an administrator grants only roles "
            "it holds itself."
        )
    wanted = tuple(sorted(set(granted)))
    if not wanted:
        return None
    questions = [(model, action) for model in models for action in MODEL_ACTIONS]
    questions += [(ANY_MODEL, ADMIN), (ANY_MODEL, USAGE_READ)]
    for model, action in questions:
        if not authorizer.decide(department, _NO_SERVICE, wanted, model, action).allowed:
            continue
        if not authorizer.decide(department, service, roles, model, action).allowed:
            what = f"the model `{model}` for {action}" if model != ANY_MODEL else f"`{action}`"
            return (
                f"Your key may not grant the role(s) {_quoted(wanted)}: they would allow {what}, "
                "which your own key may not do."
            )
    return None
