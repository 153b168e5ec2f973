"""A streamed Messages answer: Anthropic's named events, framed as vLLM 0.32 frames them.

Each event is ``event: <type>\\ndata: <json>\\n\\n``; there is no ``ping`` and no ``[DONE]``. The order:
``message_start`` (usage with the prompt's tokens), then, when there is text, one text block
(``content_block_start``, a ``content_block_delta`` per token, ``content_block_stop``), then
``message_delta`` (the stop reason and the final usage) and ``message_stop``.

A loop of its own for now: it joins the shared streaming loop of chat, completions and responses
once that exists.
"""

from __future__ import annotations

from typing import Any

from backends.simulator import errors
from backends.simulator.engine import Admission, Engine
from backends.simulator.messages_plan import MessagesPlan, anthropic_error, stop_reason
from backends.simulator.serving import HTTPRequest, encode_json, new_id
from backends.simulator.sse import EventWriter, StreamBroken, stamp_text


def named_event(name: str, payload: dict[str, Any]) -> bytes:
    """One SSE event with its ``event:`` line (vLLM's JSON is compact)."""
    return b"event: " + name.encode() + b"\ndata: " + encode_json(payload) + b"\n\n"


def _error_event() -> bytes:
    # vLLM's converter cannot read the chat layer's error chunk and reports its own internal error.
    return named_event(
        "error",
        {"type": "error", "error": {"type": "internal_error", "message": errors.INTERNAL_ERROR_MESSAGE}},
    )


async def stream_messages(
    engine: Engine, http: HTTPRequest, plan: MessagesPlan, admission: Admission, *, failed: bool
) -> None:
    """Send the answer token by token as Anthropic stream events."""
    choice = plan.choice
    stamp = engine.settings.stamp_events
    writer = EventWriter(http.send, http.break_after, b"", batched=not stamp)
    watch = http.watch
    sent = 0
    try:
        if not await watch.sleep(admission.time_to_first_token):
            engine.abort(admission, generated_tokens=0)
            return
        if engine.is_dead():
            engine.fail(admission)
            raise anthropic_error(errors.engine_dead())
        engine.first_token(admission)
        await writer.start()
        message: dict[str, Any] = {
            "id": new_id("chatcmpl"),
            "type": "message",
            "role": "assistant",
            "content": [],
            "model": plan.model,
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {"input_tokens": plan.prompt_tokens, "output_tokens": 0},
        }
        await writer.add(named_event("message_start", {"type": "message_start", "message": message}))
        if failed:
            await writer.add(_error_event())
            await writer.finish()
            engine.fail(admission)
            return
        itl = admission.inter_token_latency
        for step, piece in enumerate(choice.pieces):
            if step:
                if itl > 0:
                    await writer.flush()
                    if not await watch.sleep(itl):
                        engine.abort(admission, generated_tokens=sent)
                        return
                if engine.is_dead():
                    await writer.add(_error_event())
                    await writer.finish()
                    engine.fail(admission)
                    return
            else:
                block = {"type": "text", "text": ""}
                await writer.add(
                    named_event(
                        "content_block_start",
                        {"type": "content_block_start", "content_block": block, "index": 0},
                    )
                )
            sent += 1
            delta = {"type": "text_delta", "text": stamp_text() if stamp else piece}
            await writer.add(
                named_event(
                    "content_block_delta", {"type": "content_block_delta", "delta": delta, "index": 0}
                )
            )
        if choice.pieces:
            await writer.add(named_event("content_block_stop", {"type": "content_block_stop", "index": 0}))
        reason, sequence = stop_reason(choice)
        usage = {"input_tokens": plan.prompt_tokens, "output_tokens": choice.num_tokens}
        await writer.add(
            named_event(
                "message_delta",
                {
                    "type": "message_delta",
                    "delta": {"stop_reason": reason, "stop_sequence": sequence},
                    "usage": usage,
                },
            )
        )
        await writer.add(named_event("message_stop", {"type": "message_stop"}))
        engine.finish(admission, finish_reasons=[choice.finish_reason], tokens_per_choice=[choice.num_tokens])
        await writer.finish()
    except StreamBroken:
        engine.abort(admission, generated_tokens=sent)
    except BaseException:
        engine.abort(admission, generated_tokens=sent)
        raise
