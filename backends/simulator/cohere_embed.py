"""``POST /v2/embed``: Cohere's embed API on an embedding model, as vLLM 0.32 serves it."""

from __future__ import annotations

from typing import Any

from msgspec import Struct

from backends.simulator import errors
from backends.simulator.asgi import send_response
from backends.simulator.embeddings import embedding_vector, encode_base64
from backends.simulator.engine import Engine
from backends.simulator.pooling_support import check_prompt, resolve_pooling_model, run_pooling, text_tokens
from backends.simulator.protocol import decode_request, field_error
from backends.simulator.serving import HTTPRequest, encode_json, new_id

EMBEDDING_TYPES = ("float", "binary", "ubinary", "base64")
TRUNCATE_VALUES = ("NONE", "START", "END")


class CohereEmbedBody(Struct, kw_only=True):
    """``CohereEmbedRequest``: exactly one of ``texts``, ``images`` or ``inputs``."""

    model: str | None = None
    texts: list[str] | None = None
    images: list[str] | None = None
    inputs: list[dict[str, Any]] | None = None
    embedding_types: list[str] | None = None
    truncate: str = "END"
    input_type: str | None = None


async def serve_cohere_embed(engine: Engine, http: HTTPRequest) -> None:
    """Answer one Cohere-style embedding request."""
    body = decode_request(http.body, CohereEmbedBody)
    _check_body(body)
    model = resolve_pooling_model(engine, body.model, ("embedding",))
    texts = _texts(body)
    counts = [text_tokens(text) for text in texts]
    for text, tokens in zip(texts, counts, strict=True):
        check_prompt(engine, text, tokens)
    prompt_tokens = sum(counts)
    if not await run_pooling(
        engine, http, prompt="".join(texts), prompt_tokens=prompt_tokens, outputs=len(texts)
    ):
        return
    vectors = [embedding_vector(model.name, text, engine.settings.embedding_dim) for text in texts]
    embeddings: dict[str, Any] = {}
    for kind in EMBEDDING_TYPES:  # vLLM's field order, whatever the request's order
        if kind in (body.embedding_types or ["float"]):
            embeddings[kind] = _typed(vectors, kind)
    answer: dict[str, Any] = {"id": new_id("embd"), "embeddings": embeddings}
    if body.texts is not None:
        answer["texts"] = body.texts
    answer["meta"] = {
        "api_version": {"version": "2"},
        "billed_units": {"input_tokens": prompt_tokens, "image_tokens": 0},
    }
    answer["response_type"] = "embeddings_by_type"
    await send_response(http.send, 200, encode_json(answer))


def _check_body(body: CohereEmbedBody) -> None:
    for name, values, allowed in (
        ("embedding_types", body.embedding_types or [], EMBEDDING_TYPES),
        ("truncate", [body.truncate], TRUNCATE_VALUES),
    ):
        for index, value in enumerate(values):
            if value in allowed:
                continue
            expected = ", ".join(f"'{item}'" for item in allowed[:-1]) + f" or '{allowed[-1]}'"
            loc: tuple[str | int, ...] = (name, index) if name == "embedding_types" else (name,)
            raise errors.request_validation_failed(
                [
                    {
                        **field_error(loc, f"Input should be {expected}", value, "literal_error"),
                        "ctx": {"expected": expected},
                    }
                ]
            )
    provided = [field for field in (body.texts, body.images, body.inputs) if field is not None]
    if len(provided) != 1 or not provided[0]:
        raise errors.request_validation_failed(
            [
                field_error(
                    (),
                    "Value error, Exactly one of texts, images, or inputs must be provided, and it must be non-empty",
                    None,
                )
            ]
        )


def _texts(body: CohereEmbedBody) -> list[str]:
    """The texts to embed; images need a multimodal model, which the simulator does not imitate."""
    if body.texts is not None:
        return body.texts
    texts = []
    for item in body.inputs or []:
        content = item.get("content")
        parts = content if isinstance(content, list) else []
        if not parts or any(not isinstance(part, dict) or part.get("type") != "text" for part in parts):
            raise errors.bad_request("The simulated embedding model reads text only.")
        texts.append("\n".join(str(part.get("text", "")) for part in parts))
    if body.images is not None:
        raise errors.bad_request("The simulated embedding model reads text only.")
    return texts


def _typed(vectors: list[list[float]], kind: str) -> list[Any]:
    if kind == "float":
        return vectors
    if kind == "base64":
        return [encode_base64(vector) for vector in vectors]
    # Binary: one bit per dimension (set when positive), eight to a byte, the first dimension in the
    # highest bit; ``binary`` is the signed reading of the same byte.
    packed_vectors = []
    for vector in vectors:
        row = []
        for start in range(0, len(vector), 8):
            byte = 0
            for offset, value in enumerate(vector[start : start + 8]):
                if value > 0:
                    byte |= 0x80 >> offset
            row.append(byte - 128 if kind == "binary" else byte)
        packed_vectors.append(row)
    return packed_vectors
