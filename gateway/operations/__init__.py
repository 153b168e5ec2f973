"""The operations the gateway serves: one declaration each, and the registry everything else reads.

Adding an operation is one module here declaring an `Operation`, and its entry in `OPERATIONS`: the
routes, the policy action, the metrics and traces, the quota bounds and the PII scan follow from it.
"""

from __future__ import annotations

from gateway.operations.base import ErrorFormat, Operation, StreamProtocol
from gateway.operations.chat import CHAT
from gateway.operations.completions import COMPLETIONS
from gateway.operations.embeddings import EMBEDDINGS
from gateway.operations.messages import COUNT_TOKENS, MESSAGES
from gateway.operations.responses import RESPONSES

__all__ = [
    "CHAT",
    "COMPLETIONS",
    "COUNT_TOKENS",
    "EMBEDDINGS",
    "MESSAGES",
    "OPERATIONS",
    "RESPONSES",
    "ErrorFormat",
    "Operation",
    "StreamProtocol",
]

OPERATIONS: tuple[Operation, ...] = (CHAT, COMPLETIONS, EMBEDDINGS, RESPONSES, MESSAGES, COUNT_TOKENS)
"""Every operation served, in the order of the policy actions (`MODEL_ACTIONS`)."""
