"""``POST /v1/embeddings`` for pooling models: deterministic unit vectors from a hash of each input."""

from __future__ import annotations

import base64
import hashlib
import math
import sys
import time
from array import array

from backends.simulator import errors
from backends.simulator.asgi import send_response
from backends.simulator.engine import Engine
from backends.simulator.protocol import EmbeddingRequest, decode_request, field_error
from backends.simulator.serving import HTTPRequest, check_engine_alive, encode_json, new_id, resolve_model
from backends.simulator.tokenizer import Tokenizer, count_tokens

ENCODING_FORMATS = ("float", "base64")
ACCEPTED_FORMATS = "'float', 'base64', 'bytes' or 'bytes_only'"
"""What vLLM 0.32 accepts; the two binary formats are refused by the simulator."""


def embedding_vector(model: str, text: str, dimensions: int) -> list[float]:
    """A unit vector that depends only on the model and the text."""
    digest = hashlib.shake_256(f"{model}\0{text}".encode("utf-8", "surrogatepass")).digest(2 * dimensions)
    raw = array("h", digest)
    norm = math.hypot(*raw)
    if norm == 0.0:
        return [1.0] + [0.0] * (dimensions - 1)
    return [value / norm for value in raw]


def encode_base64(vector: list[float]) -> str:
    """Little-endian float32 bytes in base64, as OpenAI and vLLM send ``encoding_format="base64"``."""
    packed = array("f", vector)
    if sys.byteorder != "little":
        packed.byteswap()
    return base64.b64encode(packed.tobytes()).decode("ascii")


async def serve_embeddings(engine: Engine, http: HTTPRequest) -> None:
    """Answer one embedding request."""
    settings = engine.settings
    request = decode_request(http.body, EmbeddingRequest)
    if request.encoding_format not in ENCODING_FORMATS:
        raise errors.request_validation_failed(
            [
                {
                    **field_error(
                        ("encoding_format",),
                        f"Input should be {ACCEPTED_FORMATS}",
                        request.encoding_format,
                        "literal_error",
                    ),
                    "ctx": {"expected": ACCEPTED_FORMATS},
                }
            ]
        )
    model = resolve_model(engine, request.model, "embedding")
    check_engine_alive(engine)
    if request.dimensions is not None and request.dimensions != settings.embedding_dim:
        raise errors.bad_request(
            f"Model '{model}' does not support Matryoshka embeddings; dimensions must be unset "
            f"(received dimensions={request.dimensions})."
        )
    inputs = _inputs(engine.tokenizer, request)
    for text, tokens, text_input in inputs:
        if text_input:
            errors.check_prompt_characters(text, settings.max_model_len)
        if tokens > settings.max_model_len:
            raise errors.context_length_exceeded(settings.max_model_len, tokens, text=text_input)
    prompt_tokens = sum(tokens for _, tokens, _ in inputs)
    admission = await engine.admit(
        http.watch,
        prompt="".join(text for text, _, _ in inputs),
        prompt_tokens=prompt_tokens,
        max_output_tokens=0,
        extra_delay=http.extra_delay,
    )
    if admission is None:
        return
    try:
        alive = await http.watch.sleep(admission.time_to_first_token)
    except BaseException:
        engine.abort(admission, generated_tokens=0)
        raise
    if not alive:
        engine.abort(admission, generated_tokens=0)
        return
    engine.finish(admission, finish_reasons=["stop"] * len(inputs), tokens_per_choice=[0] * len(inputs))
    as_base64 = request.encoding_format == "base64"
    data = []
    for index, (text, _, _) in enumerate(inputs):
        vector = embedding_vector(model, text, settings.embedding_dim)
        data.append(
            {
                "index": index,
                "object": "embedding",
                "embedding": encode_base64(vector) if as_base64 else vector,
            }
        )
    body = encode_json(
        {
            "id": new_id("embd"),
            "object": "list",
            "created": int(time.time()),
            "model": model,
            "data": data,
            "usage": {
                "prompt_tokens": prompt_tokens,
                "total_tokens": prompt_tokens,
                "completion_tokens": 0,
                "prompt_tokens_details": None,
                "completion_tokens_details": None,
            },
        }
    )
    await send_response(http.send, 200, body)


def _inputs(tokenizer: Tokenizer, request: EmbeddingRequest) -> list[tuple[str, int, bool]]:
    """Each input as (text, token count, whether it was text): a string, strings, token ids, or lists
    of token ids."""
    bos = 1 if request.add_special_tokens else 0
    value = request.input
    if isinstance(value, str):
        return [(value, count_tokens(value) + bos, True)]
    if not value:
        raise errors.bad_request("You must pass at least one prompt")
    if all(isinstance(item, str) for item in value):
        return [(text, count_tokens(text) + bos, True) for text in value]
    if value and all(isinstance(item, int) and not isinstance(item, bool) for item in value):
        return [_token_input(tokenizer, value)]
    if value and all(isinstance(item, list) and item for item in value):
        return [_token_input(tokenizer, item) for item in value]
    raise errors.request_validation_failed(
        [
            field_error(
                ("input",),
                "Input should be a string, a list of strings, a list of token ids or a list of lists of token ids",
                value,
                "union_tag_invalid",
            )
        ]
    )


def _token_input(tokenizer: Tokenizer, token_ids: list[object]) -> tuple[str, int, bool]:
    ids: list[int] = []
    for token_id in token_ids:
        if (
            not isinstance(token_id, int)
            or isinstance(token_id, bool)
            or not 0 <= token_id < tokenizer.vocab_size
        ):
            raise errors.bad_request(f"Token id {token_id} is out of vocabulary")
        ids.append(token_id)
    return tokenizer.decode(ids), len(ids), False
