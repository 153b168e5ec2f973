"""`POST /v1/messages` and `POST /v1/messages/count_tokens`: Anthropic's Messages API, as vLLM serves it.

The clients are Anthropic's SDKs, so everything they can see speaks Anthropic: errors in its shape
(`ErrorFormat.ANTHROPIC`), the key also accepted bare in `x-api-key`, streams of named events
(`StreamProtocol.MESSAGE_EVENTS`) whose usage is split between `message_start` (input) and
`message_delta` (output).

`count_tokens` is an operation of its own (policy action `count_tokens`), not a second route of
`messages`: it generates nothing and runs no model, so its records and metrics must not count as
generations, and a policy may grant it more widely than `messages` (or not at all). It reserves no
token (only request counts and concurrency limits apply) and is charged nothing.
"""

from __future__ import annotations

from typing import Any

import msgspec

from gateway.errors import InvalidRequest
from gateway.operations.base import ErrorFormat, Operation, StreamProtocol, single_choice
from gateway.operations.schema import MAX_TOKENS, STREAM, array, body, string
from gateway.parsing import type_error
from gateway.token_bounds import TEMPLATE_TOKENS_PER_MESSAGE, TEMPLATE_TOKENS_PER_REQUEST, content_bytes
from gateway.usage import Usage, usage_object

__all__ = ["COUNT_TOKENS", "MESSAGES", "usage_from_anthropic"]

_encode = msgspec.json.Encoder().encode
# Blocks whose tokens `content_bytes` bounds well (text bytes, a fixed allowance per image); any other
# block (tool_use, tool_result, document...) is bounded by its whole JSON encoding, keys included,
# since the chat template writes its structure into the prompt.
_MEASURED_BLOCKS = frozenset({"text", "image"})
_KEY_HEADER = "x-api-key"


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0


def usage_from_anthropic(block: Any) -> Usage | None:
    """From Anthropic's `usage`, where `input_tokens` leaves out the tokens read from or written to
    the prefix cache (vLLM subtracts them): the prompt is the three together."""
    if not isinstance(block, dict):
        return None
    cached = _int(block.get("cache_read_input_tokens"))
    prompt = _int(block.get("input_tokens")) + cached + _int(block.get("cache_creation_input_tokens"))
    return Usage(prompt, _int(block.get("output_tokens")), cached)


def _usage_in_answer(body: bytes) -> Usage | None:
    return usage_from_anthropic(usage_object(body))


_COUNTED = Usage(0, 0)


def _count_usage(body: bytes) -> Usage:
    """A count is charged nothing, yet settled (not released) so that it counts as a request."""
    return _COUNTED


def _check_content(field: str, content: Any) -> None:
    if not isinstance(content, str | list):
        raise type_error(field, "a string or an array of content blocks", content)
    if isinstance(content, list):
        for index, block in enumerate(content):
            if not isinstance(block, dict):
                raise type_error(f"{field}[{index}]", "an object", block)


def _check_conversation(payload: dict[str, Any]) -> None:
    """The fields both routes read: `messages` (required, not empty) and `system`."""
    if "messages" not in payload:
        raise InvalidRequest("messages: Field required", param="messages")
    messages = payload["messages"]
    if not isinstance(messages, list):
        raise type_error("messages", "an array", messages)
    if not messages:
        raise InvalidRequest("messages: at least one message is required", param="messages")
    for index, message in enumerate(messages):
        field = f"messages.{index}"
        if not isinstance(message, dict):
            raise type_error(field, "an object", message)
        role = message.get("role")
        if not isinstance(role, str):
            if role is None:
                raise InvalidRequest(f"{field}.role: Field required", param=f"{field}.role")
            raise type_error(f"{field}.role", "a string", role)
        if "content" not in message:
            raise InvalidRequest(f"{field}.content: Field required", param=f"{field}.content")
        _check_content(f"{field}.content", message["content"])
    system = payload.get("system")
    if system is not None:
        _check_content("system", system)


def _check_message(payload: dict[str, Any]) -> None:
    # Anthropic requires `max_tokens`: there is no default to reserve, so a request without one is
    # refused as Anthropic refuses it. Its type and minimum are checked by `parse_request`.
    _check_conversation(payload)
    if payload.get("max_tokens") is None:
        raise InvalidRequest("max_tokens: Field required", param="max_tokens")


def _check_count(payload: dict[str, Any]) -> None:
    _check_conversation(payload)
    if payload.get("stream"):
        # A count is one JSON answer; relaying it as a stream would never end cleanly.
        raise InvalidRequest("stream: Extra inputs are not permitted", param="stream")


def _content_bound(content: Any) -> int:
    if not isinstance(content, list):
        return content_bytes(content)
    total = 0
    for block in content:
        if isinstance(block, dict) and block.get("type") in _MEASURED_BLOCKS:
            total += content_bytes([block])
        else:
            total += len(_encode(block))
    return total


def _input_token_bound(payload: dict[str, Any]) -> int:
    """`system`, every message's content and the tools' schemas, as the chat template writes them."""
    total = TEMPLATE_TOKENS_PER_REQUEST + TEMPLATE_TOKENS_PER_MESSAGE + _content_bound(payload.get("system"))
    for message in payload.get("messages") or ():
        if isinstance(message, dict):
            total += TEMPLATE_TOKENS_PER_MESSAGE + _content_bound(message.get("content"))
    tools = payload.get("tools")
    if tools is not None:
        total += len(_encode(tools))
    return total


def _no_tokens(payload: dict[str, Any]) -> int:
    return 0


def _text(content: Any) -> str | None:
    """A content's text when it is only text (a string, or text blocks); None otherwise."""
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        return None
    texts = [
        block.get("text") for block in content if isinstance(block, dict) and block.get("type") == "text"
    ]
    if len(texts) != len(content) or not all(isinstance(text, str) for text in texts):
        return None
    return "".join(texts)  # type: ignore[arg-type]


def _tokenize_prompt(payload: dict[str, Any]) -> dict[str, Any] | None:
    """The conversation as chat messages for vLLM's /tokenize (a stream cut before its usage); None
    when a block is not text (tool uses, images), which only the bound then counts."""
    messages: list[dict[str, str]] = []
    system = payload.get("system")
    if system is not None:
        text = _text(system)
        if text is None:
            return None
        messages.append({"role": "system", "content": text})
    for message in payload.get("messages") or ():
        text = _text(message.get("content")) if isinstance(message, dict) else None
        if text is None:
            return None
        messages.append({"role": message["role"], "content": text})
    return {"messages": messages}


def _affinity_text(payload: dict[str, Any], max_chars: int) -> str:
    """The system prompt and the first message: what every later turn of the conversation repeats."""
    system = _text(payload.get("system")) or ""
    messages = payload.get("messages") or ()
    first = _text(messages[0].get("content")) if messages and isinstance(messages[0], dict) else None
    return (system + "\n" + (first or ""))[:max_chars]


# What `_check_conversation` verifies: the messages' roles and contents, and `system`.
_CONTENT = {"type": ["string", "array"], "description": "A text, or an array of content blocks (objects)."}
_MESSAGE = {
    "type": "object",
    "required": ["role", "content"],
    "properties": {"role": string("`user` or `assistant`."), "content": _CONTENT},
    "additionalProperties": True,
}
_MESSAGES = array("The conversation, oldest message first.", _MESSAGE, min_items=1)
_SYSTEM = {**_CONTENT, "description": "The system prompt: a text or an array of text blocks."}
_MESSAGE_BODY = body(
    required=("messages", "max_tokens"),
    messages=_MESSAGES,
    system=_SYSTEM,
    max_tokens={**MAX_TOKENS, "description": "Most tokens to generate, reserved on the caller's budgets."},
    stream=STREAM,
)
_COUNT_BODY = body(required=("messages",), messages=_MESSAGES, system=_SYSTEM)


MESSAGES = Operation(
    value="messages",
    routes=("/v1/messages",),
    upstream_path="/v1/messages",
    check_body=_check_message,
    input_token_bound=_input_token_bound,
    genai_name="chat",  # the well-known value: a Messages request generates a chat turn
    pii_read_first=("system", "messages"),
    output_limit_field="max_tokens",
    # vLLM always puts usage in a Messages stream (message_start and message_delta).
    stream_usage_option=False,
    stream_protocol=StreamProtocol.MESSAGE_EVENTS,
    choices=single_choice,  # no `n`: one message per request
    usage_in_answer=_usage_in_answer,
    usage_in_stream=usage_from_anthropic,
    tokenize_prompt=_tokenize_prompt,
    affinity_text=_affinity_text,
    error_format=ErrorFormat.ANTHROPIC,
    key_header=_KEY_HEADER,
    summary="Answer a conversation with the next message (Anthropic's Messages API).",
    body_schema=_MESSAGE_BODY,
)

COUNT_TOKENS = Operation(
    value="count_tokens",
    routes=("/v1/messages/count_tokens",),
    upstream_path="/v1/messages/count_tokens",
    check_body=_check_count,
    input_token_bound=_no_tokens,  # nothing is run on a model: nothing to reserve or charge
    genai_name="count_tokens",
    pii_read_first=("system", "messages"),
    choices=single_choice,
    usage_in_answer=_count_usage,
    error_format=ErrorFormat.ANTHROPIC,
    key_header=_KEY_HEADER,
    summary="Count the input tokens of a Messages request, without running the model.",
    body_schema=_COUNT_BODY,  # no `stream`: a count is refused as a stream
)
