"""The operations the gateway serves: one declaration each, and the registry everything else reads.

Adding an operation is one module here declaring an `Operation`, and its entry in `OPERATIONS`: the
routes, the policy action, the metrics and traces, the quota bounds and the PII scan follow from it.
"""

from __future__ import annotations

from gateway.operations.audio import TRANSCRIPTIONS, TRANSLATIONS
from gateway.operations.base import ErrorFormat, Operation, StreamProtocol
from gateway.operations.chat import CHAT
from gateway.operations.classify import CLASSIFY
from gateway.operations.completions import COMPLETIONS
from gateway.operations.embeddings import EMBEDDINGS
from gateway.operations.messages import COUNT_TOKENS, MESSAGES
from gateway.operations.pooling import POOLING
from gateway.operations.rerank import RERANK
from gateway.operations.responses import RESPONSES
from gateway.operations.score import SCORE
from gateway.operations.tokenizer import DETOKENIZE, TOKENIZE

__all__ = [
    "CHAT",
    "CLASSIFY",
    "COMPLETIONS",
    "COUNT_TOKENS",
    "DETOKENIZE",
    "EMBEDDINGS",
    "MESSAGES",
    "OPERATIONS",
    "POOLING",
    "RERANK",
    "RESPONSES",
    "SCORE",
    "TOKENIZE",
    "TRANSCRIPTIONS",
    "TRANSLATIONS",
    "ErrorFormat",
    "Operation",
    "StreamProtocol",
]

OPERATIONS: tuple[Operation, ...] = (
    CHAT,
    COMPLETIONS,
    EMBEDDINGS,
    RESPONSES,
    MESSAGES,
    COUNT_TOKENS,
    RERANK,
    SCORE,
    CLASSIFY,
    POOLING,
    TOKENIZE,
    DETOKENIZE,
    TRANSCRIPTIONS,
    TRANSLATIONS,
)
"""Every operation served, in the order of the policy actions (`MODEL_ACTIONS`)."""
