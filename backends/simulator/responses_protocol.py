"""``POST /v1/responses`` requests: the body vLLM 0.32's ``ResponsesRequest`` accepts, its checks, and
the chat messages the input becomes.

vLLM validates ``input`` items against the whole union of the OpenAI SDK's item types; the simulator
checks the item kinds a gateway sends (messages, function calls and their outputs, reasoning) and
reports a missing field the way pydantic does. Like vLLM's renderer, ``instructions`` becomes a
system message, a string input one user message, function calls assistant tool calls (merged into
the preceding assistant message) and function call outputs tool messages.
"""

from __future__ import annotations

from typing import Any

from msgspec import Struct, field

from backends.simulator import errors
from backends.simulator.chat_template import content_text
from backends.simulator.protocol import (
    ChatMessage,
    ChatTool,
    FunctionDefinition,
    RequestValidationFailure,
    field_error,
)
from backends.simulator.serving import model_validator_error

INCLUDE_VALUES = (
    "code_interpreter_call.outputs",
    "computer_call_output.output.image_url",
    "file_search_call.results",
    "message.input_image.image_url",
    "message.output_text.logprobs",
    "reasoning.encrypted_content",
)
LOGPROBS_INCLUDE = "message.output_text.logprobs"
TOOL_CHOICE_OPTIONS = ("none", "auto", "required")
MESSAGE_ROLES = ("user", "assistant", "system", "developer")


class ResponsesRequest(Struct, kw_only=True):
    """The fields of vLLM's ``ResponsesRequest`` the simulator acts on or echoes; others are ignored."""

    input: str | list[Any]
    model: str | None = None
    instructions: str | None = None
    max_output_tokens: int | None = None
    max_tool_calls: int | None = None
    metadata: dict[str, str] | None = None
    parallel_tool_calls: bool | None = True
    previous_response_id: str | None = None
    prompt: Any = None
    reasoning: dict[str, Any] | None = None
    service_tier: str = "auto"
    priority: int = 0
    store: bool | None = True
    background: bool | None = False
    stream: bool | None = False
    temperature: float | None = None
    top_p: float | None = None
    presence_penalty: float | None = None
    frequency_penalty: float | None = None
    text: dict[str, Any] | None = None
    tool_choice: str | dict[str, Any] = "auto"
    tools: list[dict[str, Any]] = field(default_factory=list)
    include: list[str] | None = None
    top_logprobs: int | None = 0
    truncation: str | None = "disabled"
    user: str | None = None
    seed: int | None = None
    stop: str | list[str] | None = None
    include_stop_str_in_output: bool = False

    @property
    def wants_logprobs(self) -> bool:
        """``include`` asks for output logprobs (vLLM's ``is_include_output_logprobs``)."""
        return self.include is not None and LOGPROBS_INCLUDE in self.include


def check_responses_request(request: ResponsesRequest) -> None:
    """The schema checks msgspec cannot express, then vLLM's model validators; normalizes ``tool_choice``."""
    _check_literals(request)
    _check_tools(request.tools)
    if isinstance(request.input, list):
        _check_input_items(request.input)
    if request.background and request.store is False:
        raise model_validator_error("background can only be used when `store` is true", "background")
    if request.prompt is not None:
        raise model_validator_error("prompt template is not supported", "prompt")
    _check_tool_usage(request)


def _literal_error(loc: tuple[str | int, ...], value: object, allowed: tuple[str, ...]) -> dict[str, Any]:
    expected = ", ".join(repr(option) for option in allowed[:-1]) + f" or {allowed[-1]!r}"
    entry = field_error(loc, f"Input should be {expected}", value, "literal_error")
    entry["ctx"] = {"expected": expected}
    return entry


def _check_literals(request: ResponsesRequest) -> None:
    checks: list[tuple[tuple[str | int, ...], object, tuple[str, ...]]] = [
        (("service_tier",), request.service_tier, ("auto", "default", "flex", "scale", "priority")),
    ]
    if request.truncation is not None:
        checks.append((("truncation",), request.truncation, ("auto", "disabled")))
    if isinstance(request.tool_choice, str):
        checks.append((("tool_choice",), request.tool_choice, TOOL_CHOICE_OPTIONS))
    for index, included in enumerate(request.include or []):
        checks.append((("include", index), included, INCLUDE_VALUES))
    for loc, value, allowed in checks:
        if value not in allowed:
            raise RequestValidationFailure([_literal_error(loc, value, allowed)])


def _check_tools(tools: list[dict[str, Any]]) -> None:
    for index, tool in enumerate(tools):
        if "type" not in tool:
            raise RequestValidationFailure([_missing(("tools", index, "type"), tool)])
        if tool["type"] == "function" and not isinstance(tool.get("name"), str):
            raise RequestValidationFailure([_missing(("tools", index, "name"), tool)])


def _missing(loc: tuple[str | int, ...], value: object) -> dict[str, Any]:
    return field_error(loc, "Field required", value, "missing")


_REQUIRED_ITEM_FIELDS = {
    "message": ("role", "content"),
    "function_call": ("call_id", "name", "arguments"),
    "function_call_output": ("call_id", "output"),
}
_STRING_ITEM_FIELDS = {
    "function_call": ("call_id", "name", "arguments"),
    "function_call_output": ("call_id",),
}


def item_kind(item: dict[str, Any]) -> object:
    """An input item's ``type``; an item without one is a message (the SDK's ``EasyInputMessageParam``)."""
    return item.get("type") or "message"


def _check_input_items(items: list[Any]) -> None:
    """Each item must be an object with the fields its kind needs, of the right types."""
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            raise RequestValidationFailure(
                [field_error(("input", index), "Input should be a valid dictionary", item, "dict_type")]
            )
        kind = item_kind(item)
        if not isinstance(kind, str):
            _check_string(("input", index, "type"), kind)
            continue
        for name in _REQUIRED_ITEM_FIELDS.get(kind, ()):
            if name not in item:
                raise RequestValidationFailure([_missing(("input", index, name), item)])
        for name in _STRING_ITEM_FIELDS.get(kind, ()):
            _check_string(("input", index, name), item[name])
        if kind == "message":
            if item["role"] not in MESSAGE_ROLES:
                raise RequestValidationFailure(
                    [_literal_error(("input", index, "role"), item["role"], MESSAGE_ROLES)]
                )
            _check_content(("input", index, "content"), item["content"])
        elif kind == "function_call_output":
            _check_content(("input", index, "output"), item["output"])


def _check_string(loc: tuple[str | int, ...], value: object) -> None:
    if not isinstance(value, str):
        raise RequestValidationFailure(
            [field_error(loc, "Input should be a valid string", value, "string_type")]
        )


def _check_content(loc: tuple[str | int, ...], value: object) -> None:
    """Text, or a list of content parts (objects); pydantic names the first member of the union."""
    if isinstance(value, list):
        for index, part in enumerate(value):
            if not isinstance(part, dict):
                raise RequestValidationFailure(
                    [field_error((*loc, index), "Input should be a valid dictionary", part, "dict_type")]
                )
        return
    _check_string(loc, value)


def _check_tool_usage(request: ResponsesRequest) -> None:
    """vLLM's ``check_tool_usage``: without tools ``auto`` becomes ``none``; a forced choice needs a tool."""
    choice = request.tool_choice
    named = isinstance(choice, dict) and choice.get("type") in ("function", "custom")
    not_found = "Tool choice 'function' not found in 'tools' parameter."
    if not request.tools:
        if choice in ("auto", "none"):
            request.tool_choice = "none"
        elif choice == "required":
            raise model_validator_error(
                "Tool choice 'required' must be specified with 'tools' parameter.", "tool_choice"
            )
        elif named:
            raise model_validator_error(not_found, "tool_choice")
    elif named and isinstance(choice, dict):
        names = {tool.get("name") for tool in request.tools}
        if not choice.get("name") or choice.get("name") not in names:
            raise model_validator_error(not_found, "tool_choice")


def function_tools(request: ResponsesRequest) -> list[ChatTool]:
    """The request's function tools as chat tools (what the chat template renders and the model may call)."""
    return [
        ChatTool(
            function=FunctionDefinition(
                name=tool["name"], description=tool.get("description"), parameters=tool.get("parameters")
            )
        )
        for tool in request.tools
        if tool.get("type") == "function"
    ]


def input_messages(request: ResponsesRequest) -> list[ChatMessage]:
    """The chat conversation vLLM renders for this request (raises vLLM's error for an unsupported item)."""
    messages: list[ChatMessage] = []
    if request.instructions:
        messages.append(ChatMessage(role="system", content=request.instructions))
    if isinstance(request.input, str):
        messages.append(ChatMessage(role="user", content=request.input))
        return messages
    for item in request.input:
        kind = item_kind(item)
        if kind == "function_call":
            call = {
                "id": item["call_id"],
                "type": "function",
                "function": {"name": item["name"], "arguments": item["arguments"]},
            }
            previous = messages[-1] if messages else None
            if previous is not None and previous.role == "assistant":
                previous.tool_calls = [*(previous.tool_calls or []), call]
            else:
                messages.append(ChatMessage(role="assistant", tool_calls=[call]))
        elif kind == "function_call_output":
            output = item["output"]
            text = output if isinstance(output, str) else content_text(output)
            messages.append(ChatMessage(role="tool", content=text, tool_call_id=item["call_id"]))
        elif kind == "message":
            messages.append(ChatMessage(role=item["role"], content=item["content"]))
        elif kind != "reasoning":
            # Like vLLM's renderer, which runs after the model check: an item it cannot make a message of.
            raise errors.bad_request(f"Unsupported input item type: {kind}", "input")
        # Reasoning items carry the model's earlier thoughts; the simulator's template has no place for them.
    return messages


def last_user_input(request: ResponsesRequest) -> str:
    """What echo mode answers with: the string input, or the text of the last user message."""
    if isinstance(request.input, str):
        return request.input
    for item in reversed(request.input):
        if item_kind(item) == "message" and item.get("role") == "user":
            return content_text(item.get("content"))
    return ""
