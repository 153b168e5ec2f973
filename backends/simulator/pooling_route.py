"""``POST /pooling``: the raw output of a pooling model's default task (an embedding model's vector, a
cross-encoder's class probabilities)."""

from __future__ import annotations

from typing import Any

from msgspec import Struct

from backends.simulator import errors
from backends.simulator.asgi import send_response
from backends.simulator.embeddings import embedding_vector, encode_base64
from backends.simulator.engine import Engine
from backends.simulator.pooling_support import (
    SUPPORTED_TASKS,
    PoolingModel,
    classifier_probability,
    created_now,
    pooling_prompts,
    resolve_pooling_model,
    run_pooling,
    usage_info,
)
from backends.simulator.protocol import ChatMessage, decode_request, field_error
from backends.simulator.serving import HTTPRequest, encode_json, new_id

POOLING_FORMATS = ("float", "base64", "bytes", "bytes_only")
TASKS = ("embed", "classify", "token_embed", "token_classify", "plugin", "embed&token_classify")
"""``task`` values vLLM 0.32's schema accepts."""


class PoolingBody(Struct, kw_only=True):
    """``PoolingCompletionRequest`` or ``PoolingChatRequest``."""

    input: Any = None
    messages: list[ChatMessage] | None = None
    model: str | None = None
    task: str | None = None
    encoding_format: str = "float"
    dimensions: int | None = None
    add_special_tokens: bool = True


async def serve_pooling(engine: Engine, http: HTTPRequest) -> None:
    """Answer one pooling request."""
    body = decode_request(http.body, PoolingBody)
    _check_literals(body)
    model = resolve_pooling_model(engine, body.model, ("embedding", "cross-encoder"))
    _check_task(model, body)
    if body.encoding_format not in ("float", "base64"):
        raise errors.openai_error(
            501, f"encoding_format={body.encoding_format!r} is not simulated.", "NotImplementedError"
        )
    prompts = pooling_prompts(engine, body.input, body.messages, add_special_tokens=body.add_special_tokens)
    prompt_tokens = sum(tokens for _, tokens, _ in prompts)
    if not await run_pooling(
        engine,
        http,
        prompt="".join(text for text, _, _ in prompts),
        prompt_tokens=prompt_tokens,
        outputs=len(prompts),
    ):
        return
    data = []
    for index, (text, _, _) in enumerate(prompts):
        output = (
            embedding_vector(model.name, text, engine.settings.embedding_dim)
            if model.kind == "embedding"
            else [classifier_probability(model.name, text)]
        )
        encoded: list[float] | str = encode_base64(output) if body.encoding_format == "base64" else output
        data.append({"index": index, "object": "pooling", "data": encoded})
    answer = {
        "id": new_id("pool"),
        "object": "list",
        "created": created_now(),
        "model": model.name,
        "data": data,
        "usage": usage_info(prompt_tokens),
    }
    await send_response(http.send, 200, encode_json(answer))


def _check_literals(body: PoolingBody) -> None:
    for name, value, allowed in (
        ("encoding_format", body.encoding_format, POOLING_FORMATS),
        ("task", body.task, TASKS),
    ):
        if value is None or value in allowed:
            continue
        expected = ", ".join(f"'{item}'" for item in allowed[:-1]) + f" or '{allowed[-1]}'"
        raise errors.request_validation_failed(
            [
                {
                    **field_error((name,), f"Input should be {expected}", value, "literal_error"),
                    "ctx": {"expected": expected},
                }
            ]
        )


def _check_task(model: PoolingModel, body: PoolingBody) -> None:
    """vLLM's checks of ``dimensions`` and ``task`` against what the model was started for."""
    if body.dimensions is not None:
        raise errors.bad_request("dimensions is currently not supported", "dimensions")
    supported = SUPPORTED_TASKS[model.kind]
    task = body.task or supported[0]
    if task == supported[0]:
        return
    if task == "plugin":
        raise errors.bad_request(
            "No IOProcessor plugin installed. Please refer to the documentation and to the "
            "'prithvi_geospatial_mae_io_processor' offline inference example for more details.",
            "task",
        )
    if task in supported:
        raise errors.bad_request(
            f"Try switching the model's pooling_task via --pooler-config.task {task}.", "task"
        )
    raise errors.bad_request(f"Unsupported task: {task!r} Supported tasks: {supported}", "task")
