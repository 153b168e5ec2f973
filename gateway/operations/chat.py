"""`POST /v1/chat/completions`: a conversation of messages, answered with `n` choices."""

from __future__ import annotations

from typing import Any

import msgspec

from gateway.errors import InvalidRequest
from gateway.operations.base import Operation, StreamProtocol
from gateway.operations.schema import CHOICES, MAX_TOKENS, STREAM, STREAM_OPTIONS, array, body, string
from gateway.parsing import type_error
from gateway.token_bounds import TEMPLATE_TOKENS_PER_MESSAGE, TEMPLATE_TOKENS_PER_REQUEST, content_bytes

__all__ = ["CHAT"]

_encode = msgspec.json.Encoder().encode


def _check_messages(payload: dict[str, Any]) -> None:
    if "messages" not in payload:
        raise InvalidRequest("Missing required parameter: 'messages'.", param="messages")
    messages = payload["messages"]
    if not isinstance(messages, list):
        raise type_error("messages", "an array", messages)
    if not messages:
        raise InvalidRequest(
            "Invalid 'messages': empty array. Expected an array with minimum length 1.", param="messages"
        )
    for index, message in enumerate(messages):
        field = f"messages[{index}]"
        if not isinstance(message, dict):
            raise type_error(field, "an object", message)
        role = message.get("role")
        if not isinstance(role, str):
            if role is None:
                raise InvalidRequest(f"Missing required parameter: '{field}.role'.", param=f"{field}.role")
            raise type_error(f"{field}.role", "a string", role)
        content = message.get("content")
        if content is not None and not isinstance(content, str | list):
            raise type_error(f"{field}.content", "a string or an array of content parts", content)


def _input_token_bound(payload: dict[str, Any]) -> int:
    messages = payload.get("messages") or []
    total = TEMPLATE_TOKENS_PER_REQUEST
    for message in messages:
        if isinstance(message, dict):
            total += TEMPLATE_TOKENS_PER_MESSAGE + content_bytes(message.get("content"))
            calls = message.get("tool_calls")
            if calls is not None:
                total += len(_encode(calls))  # names and arguments, as the template will write them
    tools = payload.get("tools")
    if tools is not None:
        total += len(_encode(tools))  # the JSON schemas the template puts in the prompt
    return total


def _message_text(message: Any) -> str:
    if not isinstance(message, dict):
        return ""
    content = message.get("content")
    if isinstance(content, str):
        return f"{message.get('role')}:{content}\n"
    if isinstance(content, list):
        parts = [part.get("text", "") for part in content if isinstance(part, dict)]
        return f"{message.get('role')}:{''.join(p for p in parts if isinstance(p, str))}\n"
    return f"{message.get('role')}:\n"


def _affinity_text(payload: dict[str, Any], max_chars: int) -> str:
    """The messages up to and including the first user message: the system prompt and the opening
    question, which every later turn of the conversation repeats."""
    text = ""
    for message in payload.get("messages", ()):
        text += _message_text(message)
        if len(text) >= max_chars or (isinstance(message, dict) and message.get("role") == "user"):
            break
    return text


def _tokenize_prompt(payload: dict[str, Any]) -> dict[str, Any]:
    return {"messages": payload["messages"]}


# What `_check_messages` verifies of each message.
_MESSAGE = {
    "type": "object",
    "required": ["role"],
    "properties": {
        "role": string("`system`, `user`, `assistant`, `tool`..."),
        "content": {"type": ["string", "array", "null"], "description": "A text or an array of parts."},
    },
    "additionalProperties": True,
}
_BODY = body(
    required=("messages",),
    messages=array("The conversation, oldest message first.", _MESSAGE, min_items=1),
    max_tokens=MAX_TOKENS,
    max_completion_tokens=MAX_TOKENS,
    n=CHOICES,
    stream=STREAM,
    stream_options=STREAM_OPTIONS,
)


CHAT = Operation(
    vllm_priority_field=True,
    value="chat",
    routes=("/v1/chat/completions",),
    upstream_path="/v1/chat/completions",
    check_body=_check_messages,
    input_token_bound=_input_token_bound,
    genai_name="chat",
    pii_read_first=("messages",),
    output_limit_field="max_tokens",
    stream_usage_option=True,
    stream_protocol=StreamProtocol.CHUNKS,
    tokenize_prompt=_tokenize_prompt,
    affinity_text=_affinity_text,
    summary="Answer a conversation with the next message (OpenAI's Chat Completions).",
    body_schema=_BODY,
)
