"""``POST /classify`` on a cross-encoder: one probability per prompt for its single label."""

from __future__ import annotations

from typing import Any

from msgspec import Struct

from backends.simulator.asgi import send_response
from backends.simulator.engine import Engine
from backends.simulator.pooling_support import (
    CLASSIFIER_LABEL,
    classifier_probability,
    created_now,
    pooling_prompts,
    resolve_pooling_model,
    run_pooling,
    usage_info,
)
from backends.simulator.protocol import ChatMessage, decode_request
from backends.simulator.serving import HTTPRequest, encode_json, new_id


class ClassifyBody(Struct, kw_only=True):
    """``ClassificationCompletionRequest`` (``input``) or ``ClassificationChatRequest`` (``messages``)."""

    input: Any = None
    messages: list[ChatMessage] | None = None
    model: str | None = None
    add_special_tokens: bool = True


async def serve_classify(engine: Engine, http: HTTPRequest) -> None:
    """Answer one classification request."""
    body = decode_request(http.body, ClassifyBody)
    model = resolve_pooling_model(engine, body.model, ("cross-encoder",))
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
    data = [
        {
            "index": index,
            "label": CLASSIFIER_LABEL,
            "probs": [classifier_probability(model.name, text)],
            "num_classes": 1,
        }
        for index, (text, _, _) in enumerate(prompts)
    ]
    answer = {
        "id": new_id("classify"),
        "object": "list",
        "created": created_now(),
        "model": model.name,
        "data": data,
        "usage": usage_info(prompt_tokens),
    }
    await send_response(http.send, 200, encode_json(answer))
