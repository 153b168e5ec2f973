"""The authorization errors.

GatewayError (gateway.errors)
└── PermissionDenied    403 permission_denied: the policy refuses this key this model or action

PolicyError             the policy files cannot be used (never sent to a client)
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from gateway.authz.actions import ANY_MODEL
from gateway.authz.decision import Decision
from gateway.errors import GatewayError

__all__ = ["PermissionDenied", "PolicyError"]


class PermissionDenied(GatewayError):
    """The key is authenticated but the policy does not let it do this.

    OpenAI answers such requests with 403 and `type: invalid_request_error` (the OpenAI SDKs raise
    `PermissionDeniedError` from the status alone). The message names the model and the operation the
    client asked for and nothing of the policy; the deciding rule stays in `decision` for the audit.
    """

    status_code = 403
    error_type = "invalid_request_error"
    code = "permission_denied"

    def __init__(self, model: str, operation: str, decision: Decision | None = None) -> None:
        if model == ANY_MODEL:
            message = f"Your key is not allowed to perform `{operation}` in its department."
            param = None
        else:
            message = f"Your key is not allowed to use the model `{model}` for {operation}."
            param = "model"
        super().__init__(message, param=param)
        self.model = model
        self.operation = operation
        self.decision = decision


class PolicyError(Exception):
    """A model or policy file that cannot be loaded; every problem names the file and, when it can,
    the line."""

    def __init__(self, path: Path, problems: Sequence[str]) -> None:
        self.path = path
        self.problems = tuple(problems) or ("cannot be loaded",)
        super().__init__("\n".join(f"{path}: {problem}" for problem in self.problems))
