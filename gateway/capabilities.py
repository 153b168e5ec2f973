"""Which operations a model serves: the default of each kind of model, and the refusal of the others.

vLLM registers only the routes its model's runner serves, so a request for another operation used to
travel to the backend to be refused there (a bare 404, or a 501). The configuration now says what
each model serves (`models[].kind`, or an explicit `models[].operations` list), and the pipeline
refuses the rest before anything is reserved or forwarded, with the same 400 the backend's refusal
maps to.

The defaults are operation names (policy actions), not declarations: the configuration is read
before, and independently of, the request path.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from gateway.errors import InvalidRequest

if TYPE_CHECKING:
    from gateway.operations import Operation

__all__ = [
    "ANY_KIND",
    "CROSS_ENCODER_OPERATIONS",
    "EMBEDDING_OPERATIONS",
    "GENERATIVE_OPERATIONS",
    "KIND_OPERATIONS",
    "TRANSCRIPTION_OPERATIONS",
    "ModelKind",
    "operation_not_supported",
]

ModelKind = Literal["any", "generative", "embedding", "cross-encoder", "transcription"]

ANY_KIND = "any"
"""The kind of a model whose configuration names none: every operation is forwarded and the backend
decides (what every model did before kinds existed)."""

# Every vLLM server answers /tokenize and /detokenize, whatever its model: each kind serves them.
_TOKENIZER = ("tokenize", "detokenize")

GENERATIVE_OPERATIONS: tuple[str, ...] = (
    "chat",
    "completions",
    "responses",
    "messages",
    "count_tokens",
    *_TOKENIZER,
)
"""A generation model (vLLM's `generate` runner)."""

EMBEDDING_OPERATIONS: tuple[str, ...] = ("embeddings", "pooling", "score", "rerank", *_TOKENIZER)
"""An embedding model (vLLM's pooling runner, `embed` task): it scores and reranks by similarity."""

CROSS_ENCODER_OPERATIONS: tuple[str, ...] = ("rerank", "score", "classify", "pooling", *_TOKENIZER)
"""A cross-encoder (vLLM's pooling runner, `score`/`classify` tasks), e.g. a reranker."""

TRANSCRIPTION_OPERATIONS: tuple[str, ...] = ("transcriptions", "translations", *_TOKENIZER)
"""A speech-to-text model (vLLM's transcription runner, e.g. Whisper)."""

KIND_OPERATIONS: dict[str, tuple[str, ...]] = {
    "generative": GENERATIVE_OPERATIONS,
    "embedding": EMBEDDING_OPERATIONS,
    "cross-encoder": CROSS_ENCODER_OPERATIONS,
    "transcription": TRANSCRIPTION_OPERATIONS,
}
"""The operations each kind serves unless `models[].operations` says otherwise (`any`: all of them)."""


def operation_not_supported(model: str, operation: Operation) -> InvalidRequest:
    """The caller asked a model for an operation it does not serve: its mistake, in OpenAI's shape,
    whether the configuration or the backend said so."""
    return InvalidRequest(
        f"The model `{model}` does not serve the `{operation.value}` operation "
        f"({', '.join(operation.routes)}).",
        param="model",
        code="operation_not_supported",
    )
