"""``POST /v1/messages`` and ``POST /v1/messages/count_tokens``: Anthropic's Messages API on a generation
model, as vLLM 0.32 serves it (the plan and the answer's shape are in ``messages_plan``)."""

from __future__ import annotations

import time
from typing import Any

from backends.simulator import errors
from backends.simulator.asgi import send_response
from backends.simulator.chat_template import render_chat_prompt
from backends.simulator.engine import Engine
from backends.simulator.messages_plan import (
    CountTokensRequest,
    anthropic_error,
    chat_messages,
    check_schema,
    plan_messages,
    stop_reason,
    tools_of,
)
from backends.simulator.messages_stream import MessagesStreamEvents
from backends.simulator.protocol import decode_request
from backends.simulator.serving import HTTPRequest, encode_json, new_id, resolve_model
from backends.simulator.streaming import stream_answer
from backends.simulator.tokenizer import count_tokens


async def serve_messages(engine: Engine, http: HTTPRequest) -> None:
    """Answer one Messages request, streamed or whole."""
    plan = plan_messages(engine, http)
    failed = engine.draw_failure()
    if failed and not plan.request.stream:
        engine.record_failure()
        raise anthropic_error(errors.internal_error())
    admission = await engine.admit(
        http.watch,
        prompt=plan.prompt,
        prompt_tokens=plan.prompt_tokens,
        max_output_tokens=plan.choice.num_tokens,
        extra_delay=http.extra_delay,
    )
    if admission is None:
        return
    if plan.request.stream:
        events = MessagesStreamEvents(engine, plan)
        try:
            await stream_answer(engine, http, admission, [plan.choice], events, failed=failed)
        except errors.SimulatorHTTPError as error:
            # Raised only before the stream starts (the engine died in prefill): it is still a JSON
            # answer, which vLLM's Anthropic router sends in Anthropic's shape.
            raise anthropic_error(error) from None
        return
    choice = plan.choice
    decode_time = admission.inter_token_latency * max(choice.num_tokens - 1, 0)
    try:
        alive = await http.watch.sleep(admission.time_to_first_token + decode_time)
    except BaseException:
        engine.abort(admission, generated_tokens=0)
        raise
    if not alive:
        engine.abort(admission, generated_tokens=0)
        return
    if engine.is_dead():
        engine.fail(admission)
        raise anthropic_error(errors.engine_dead())
    engine.first_token(admission, at=time.monotonic() - decode_time)
    engine.finish(admission, finish_reasons=[choice.finish_reason], tokens_per_choice=[choice.num_tokens])
    reason, sequence = stop_reason(choice)
    answer: dict[str, Any] = {
        "id": new_id("chatcmpl"),
        "type": "message",
        "role": "assistant",
        # An empty answer is one empty text block, never an empty list: clients read content[0].
        "content": [{"type": "text", "text": choice.text}],
        "model": plan.model,
        "stop_reason": reason,
    }
    if sequence is not None:  # vLLM dumps this answer without its null fields
        answer["stop_sequence"] = sequence
    answer["usage"] = {"input_tokens": plan.prompt_tokens, "output_tokens": choice.num_tokens}
    await send_response(http.send, 200, encode_json(answer))


async def serve_count_tokens(engine: Engine, http: HTTPRequest) -> None:
    """The prompt's tokens, as ``count_tokens`` renders the messages for the chat template."""
    request = decode_request(http.body, CountTokensRequest)
    check_schema(request)
    try:
        resolve_model(engine, request.model, "generation")
    except errors.SimulatorHTTPError as error:
        raise anthropic_error(error) from None
    tokens = count_tokens(render_chat_prompt(chat_messages(request), tools_of(request)))
    answer = {"input_tokens": tokens, "context_management": {"original_input_tokens": tokens}}
    await send_response(http.send, 200, encode_json(answer))
