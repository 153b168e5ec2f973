"""A streamed Messages answer: Anthropic's named events, framed as vLLM 0.32 frames them.

Each event is ``event: <type>\\ndata: <json>\\n\\n``; there is no ``ping`` and no ``[DONE]``. The order:
``message_start`` (usage with the prompt's tokens), then, when there is text, one text block
(``content_block_start``, a ``content_block_delta`` per token, ``content_block_stop``), then
``message_delta`` (the stop reason and the final usage) and ``message_stop``. The shared streaming
loop decides when each is due; ``MessagesStreamEvents`` only says what they look like.
"""

from __future__ import annotations

from typing import Any

from backends.simulator import errors
from backends.simulator.engine import Engine
from backends.simulator.messages_plan import MessagesPlan, stop_reason
from backends.simulator.serving import encode_json, new_id
from backends.simulator.sse import json_string, stamp_text


def named_event(name: str, payload: dict[str, Any]) -> bytes:
    """One SSE event with its ``event:`` line (vLLM's JSON is compact)."""
    return b"event: " + name.encode() + b"\ndata: " + encode_json(payload) + b"\n\n"


# vLLM's converter cannot read the chat layer's error chunk and reports its own internal error,
# whatever the engine's error was.
_ERROR_EVENT = named_event(
    "error",
    {"type": "error", "error": {"type": "internal_error", "message": errors.INTERNAL_ERROR_MESSAGE}},
)

# A text delta is this prefix, the token as a JSON string and the suffix: the same bytes as encoding
# the event's dictionary, without building and encoding one per token.
_DELTA_HEAD = (
    b'event: content_block_delta\ndata: {"type":"content_block_delta","delta":{"type":"text_delta","text":'
)
_DELTA_TAIL = b'},"index":0}\n\n'


class MessagesStreamEvents:
    """Anthropic stream events of one answer (one choice, one text block at index 0).

    ``message_start`` comes at the first token, and a failed request's error right after it: vLLM
    converts the chat stream, whose role chunk opens the message before the engine error arrives.
    The text block opens only once there is text, so an empty or failed answer has none.
    """

    terminator = b""
    empty_choice_sends_an_event = False

    def __init__(self, engine: Engine, plan: MessagesPlan) -> None:
        self._plan = plan
        self._pieces = plan.choice.pieces
        self._stamp = engine.settings.stamp_events

    def prelude(self) -> list[bytes]:
        return []

    def opening(self) -> list[bytes]:
        plan = self._plan
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
        return [named_event("message_start", {"type": "message_start", "message": message})]

    def content_opening(self) -> list[bytes]:
        if not self._pieces:
            return []
        block = {"type": "text", "text": ""}
        return [
            named_event(
                "content_block_start", {"type": "content_block_start", "content_block": block, "index": 0}
            )
        ]

    def token(self, index: int, step: int) -> bytes:
        # A stamp is taken last, right before the event is sent.
        text = stamp_text() if self._stamp else self._pieces[step]
        return _DELTA_HEAD + json_string(text) + _DELTA_TAIL

    def closing(self) -> list[bytes]:
        choice = self._plan.choice
        events = []
        if choice.pieces:
            events.append(named_event("content_block_stop", {"type": "content_block_stop", "index": 0}))
        reason, sequence = stop_reason(choice)
        usage = {"input_tokens": self._plan.prompt_tokens, "output_tokens": choice.num_tokens}
        delta = {"stop_reason": reason, "stop_sequence": sequence}
        events.append(named_event("message_delta", {"type": "message_delta", "delta": delta, "usage": usage}))
        events.append(named_event("message_stop", {"type": "message_stop"}))
        return events

    def error_event(self, error: errors.SimulatorHTTPError) -> bytes:
        return _ERROR_EVENT
