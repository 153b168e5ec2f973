"""The authorization step: may this key's service and roles do this operation on this model?

Every decision is taken in the department of the calling key. The principal's subjects are its
service and each role its key carries; the request is allowed when a policy line allows one of them
and no line denies any of them (an explicit deny on any subject wins). Roles granted to a subject in
the policy (`g` lines) count as that subject's own.

The `Authorizer` holds one immutable `PolicySnapshot` and replaces it whole on reload, by a single
reference assignment: a decision in progress finishes on the snapshot it started with, and the next
one sees the new policy, never a mixture.
"""

from __future__ import annotations

import os
from collections.abc import Collection, Iterable
from pathlib import Path

from gateway.authz.actions import MODEL_ACTIONS
from gateway.authz.decision import Decision
from gateway.authz.errors import PermissionDenied
from gateway.authz.loading import load_policy
from gateway.authz.settings import PolicyConfig
from gateway.authz.snapshot import DEFAULT_CACHE_SIZE, PolicySnapshot

__all__ = ["Authorizer"]


class Authorizer:
    """Answers authorization questions from the current policy snapshot."""

    def __init__(self, snapshot: PolicySnapshot) -> None:
        snapshot.version = snapshot.version or 1
        self._snapshot = snapshot

    @classmethod
    def from_files(
        cls,
        model_file: str | os.PathLike[str],
        policy_file: str | os.PathLike[str],
        *,
        cache_size: int = DEFAULT_CACHE_SIZE,
    ) -> Authorizer:
        """Load both files, or raise `PolicyError` naming the file and the problem."""
        return cls(load_policy(model_file, policy_file, cache_size=cache_size))

    @classmethod
    def from_config(cls, config: PolicyConfig, base_dir: Path) -> Authorizer:
        """Load the files a `policy` section names, relative paths taken from `base_dir`."""
        model_file, policy_file = config.resolve(base_dir)
        return cls.from_files(model_file, policy_file, cache_size=config.decision_cache_size)

    @property
    def snapshot(self) -> PolicySnapshot:
        return self._snapshot

    @property
    def version(self) -> int:
        """1 for the policy loaded at start, one more for each reload."""
        return self._snapshot.version

    @property
    def loaded_at(self) -> float:
        """When the current policy was built (seconds since the epoch)."""
        return self._snapshot.loaded_at

    @property
    def digest(self) -> str:
        """SHA-256 over both files of the current policy, to tell which policy a worker runs."""
        return self._snapshot.digest

    def install(self, snapshot: PolicySnapshot) -> None:
        """Make `snapshot` the policy in force (the reloader calls this with a checked snapshot)."""
        snapshot.version = self._snapshot.version + 1
        self._snapshot = snapshot

    def decide(
        self, department: str, service: str, roles: Collection[str], model: str, operation: str
    ) -> Decision:
        """The decision for `service` of `department`, whose key carries `roles`, doing `operation`
        (an action name: `Operation.value`, `admin`, `usage:read`) on `model` (`ANY_MODEL` for the
        actions that concern no model)."""
        return self._snapshot.decide(department, service, roles, model, operation)

    def authorize(
        self, department: str, service: str, roles: Collection[str], model: str, operation: str
    ) -> Decision:
        """`decide`, raising `PermissionDenied` (403) when the answer is no; the decision that is
        returned or carried by the exception is for the audit record."""
        decision = self._snapshot.decide(department, service, roles, model, operation)
        if not decision.allowed:
            raise PermissionDenied(model, operation, decision)
        return decision

    def visible_models(
        self, department: str, service: str, roles: Collection[str], models: Iterable[str]
    ) -> list[str]:
        """The `models` (in their order) the principal may use for at least one model operation:
        what `GET /v1/models` lists for it."""
        snapshot = self._snapshot  # one policy for the whole list
        return [
            model
            for model in models
            if any(
                snapshot.decide(department, service, roles, model, action).allowed for action in MODEL_ACTIONS
            )
        ]
