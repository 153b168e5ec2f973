"""What `/classify` and `/pooling` share: an `input` (texts or token ids) or a chat `messages` list,
encoded without generating."""

from __future__ import annotations

from typing import Any

from gateway.errors import InvalidRequest
from gateway.operations.schema import array, body, text_or_array
from gateway.parsing import require_text_or_array, type_error
from gateway.token_bounds import fields_token_bound, messages_token_bound, prompt_count

__all__ = [
    "INPUT_OR_MESSAGES",
    "check_input_or_messages",
    "input_or_messages_bound",
    "input_or_messages_prompts",
]

_INPUT_FIELDS = ("input",)

INPUT_OR_MESSAGES = body(
    any_of=(("input",), ("messages",)),
    input=text_or_array("A text or token ids, or an array of them (a batch)."),
    messages=array("A chat conversation, encoded with the model's chat template.", min_items=1),
)
"""The body `check_input_or_messages` accepts."""


def check_input_or_messages(payload: dict[str, Any]) -> None:
    if "messages" in payload:
        messages = payload["messages"]
        if not isinstance(messages, list):
            raise type_error("messages", "an array", messages)
        if not messages:
            raise InvalidRequest(
                "Invalid 'messages': empty array. Expected an array with minimum length 1.", param="messages"
            )
        return
    if "input" not in payload:
        raise InvalidRequest("Missing required parameter: 'input' (or 'messages').", param="input")
    require_text_or_array(payload, "input")


def input_or_messages_bound(payload: dict[str, Any]) -> int:
    if "messages" in payload:
        return messages_token_bound(payload["messages"])
    return fields_token_bound(payload, _INPUT_FIELDS)


def input_or_messages_prompts(payload: dict[str, Any]) -> int:
    return 1 if "messages" in payload else prompt_count(payload.get("input"))
