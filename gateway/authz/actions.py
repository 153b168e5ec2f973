"""The actions a policy can name: one per OpenAI operation, plus administration and usage reading."""

from __future__ import annotations

from gateway.operations import OPERATIONS

__all__ = [
    "ACTIONS",
    "ADMIN",
    "ANY",
    "ANY_MODEL",
    "MODEL_ACTIONS",
    "USAGE_READ",
]

ANY = "*"
"""In a policy's OPERATION column: every action. In its DEPARTMENT and MODEL columns `*` is a wildcard."""

ADMIN = "admin"
"""Manage the API keys of a department."""

USAGE_READ = "usage:read"
"""Read the usage and budget figures of a department."""

MODEL_ACTIONS: tuple[str, ...] = tuple(operation.value for operation in OPERATIONS)
"""The actions that run a model (chat, completions, embeddings, responses); they decide which models a
key sees in `GET /v1/models`. Derived from the registry of operations so that a new operation is a new action."""

ACTIONS: frozenset[str] = frozenset((*MODEL_ACTIONS, ADMIN, USAGE_READ))
"""Every action a request can carry; the OPERATION column accepts these and `*`."""

ANY_MODEL = "*"
"""The object to pass for actions that concern no particular model (`admin`, `usage:read`): only rules
whose MODEL column is `*` match it."""
