"""Anthropic's Messages API: the request, its conversion to a chat prompt, and the answer it gets.

vLLM turns the request into a chat completion and the answer back, so the simulator does the same:
the prompt is the chat template's, the text is the chat answer's, and the answer keeps the chat
completion's id (``chatcmpl-...``). Errors its serving layer raises take Anthropic's shape
(``{"type": "error", "error": {"type", "message"}}``, ``type`` still vLLM's class name); a body that
does not fit the request's schema gets the OpenAI-shaped 400 of every route.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import msgspec
from msgspec import Struct

from backends.simulator import errors
from backends.simulator.chat_template import last_user_text, render_chat_prompt
from backends.simulator.engine import Engine
from backends.simulator.generation import ChoiceOutput, choice_rng, plan_text_choice
from backends.simulator.protocol import ChatMessage, ChatTool, FunctionDefinition, decode_request, field_error
from backends.simulator.serving import (
    HTTPRequest,
    check_sampling,
    encode_json,
    most_choices,
    output_limit,
    resolve_model,
)
from backends.simulator.tokenizer import count_tokens, split_pieces

ROLES = ("user", "assistant", "system")
MAX_STOP_SEQUENCES = 64
"""vLLM's ``VLLM_MAX_STOP_STRINGS`` default bound on ``stop_sequences``."""


class AnthropicMessage(Struct, kw_only=True):
    """One message: ``content`` is a string or a list of content blocks."""

    role: str
    content: str | list[dict[str, Any]]


class AnthropicTool(Struct, kw_only=True):
    """A tool the model may call (counted in the prompt; the simulated model never calls it)."""

    name: str
    input_schema: dict[str, Any]
    description: str | None = None


class CountTokensRequest(Struct, kw_only=True):
    """``AnthropicCountTokensRequest``."""

    model: str
    messages: list[AnthropicMessage]
    system: str | list[dict[str, Any]] | None = None
    tools: list[AnthropicTool] | None = None


class MessagesRequest(CountTokensRequest, kw_only=True):
    """``AnthropicMessagesRequest``: ``max_tokens`` is required, as in Anthropic's API."""

    max_tokens: int
    stop_sequences: list[str] | None = None
    stream: bool | None = False
    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None


@dataclass(slots=True)
class MessagesPlan:
    """Everything decided before any time passes."""

    request: MessagesRequest
    model: str
    prompt: str
    prompt_tokens: int
    choice: ChoiceOutput


def anthropic_error(error: errors.SimulatorHTTPError) -> errors.SimulatorHTTPError:
    """An OpenAI-shaped error from vLLM's serving layer in the shape its Anthropic router sends;
    FastAPI's own answers (``{"detail": ...}``) pass unchanged."""
    try:
        body = msgspec.json.decode(error.body)
    except msgspec.DecodeError:
        return error
    inner = body.get("error") if isinstance(body, dict) else None
    if not isinstance(inner, dict):
        return error
    converted = {"type": "error", "error": {"type": inner.get("type"), "message": inner.get("message")}}
    return errors.SimulatorHTTPError(error.status, encode_json(converted))


def chat_messages(request: CountTokensRequest) -> list[ChatMessage]:
    """The chat messages vLLM converts an Anthropic request to: the system text (top-level and inline)
    first, then each message's text blocks, tool uses as tool calls and tool results as tool messages."""
    system_parts: list[str] = []
    if isinstance(request.system, str):
        system_parts.append(request.system)
    elif request.system:
        system_parts.extend(_block_texts(request.system))
    converted: list[ChatMessage] = []
    for message in request.messages:
        if message.role == "system":
            content = message.content
            system_parts.extend([content] if isinstance(content, str) else _block_texts(content))
            continue
        if isinstance(message.content, str):
            converted.append(ChatMessage(role=message.role, content=message.content))
            continue
        tool_calls = []
        for block in message.content:
            if block.get("type") == "tool_use":
                arguments = msgspec.json.encode(block.get("input") or {}).decode("utf-8")
                tool_calls.append({"function": {"name": block.get("name") or "", "arguments": arguments}})
            elif block.get("type") == "tool_result" and message.role == "user":
                result = block.get("content")
                text = result if isinstance(result, str) else "\n".join(_block_texts(result or []))
                converted.append(
                    ChatMessage(role="tool", content=text, tool_call_id=block.get("tool_use_id"))
                )
        text = "".join(_block_texts(message.content))
        if text or tool_calls:
            converted.append(
                ChatMessage(role=message.role, content=text or None, tool_calls=tool_calls or None)
            )
    if system_parts:
        converted.insert(0, ChatMessage(role="system", content="".join(system_parts)))
    return converted


def _block_texts(blocks: list[Any]) -> list[str]:
    return [
        block["text"]
        for block in blocks
        if isinstance(block, dict) and block.get("type") == "text" and isinstance(block.get("text"), str)
    ]


def tools_of(request: CountTokensRequest) -> list[ChatTool] | None:
    if not request.tools:
        return None
    return [
        ChatTool(
            function=FunctionDefinition(
                name=tool.name, description=tool.description, parameters=tool.input_schema
            )
        )
        for tool in request.tools
    ]


def check_schema(request: CountTokensRequest) -> None:
    """The validators of vLLM's request models (reported like any schema error)."""
    entries: list[dict[str, Any]] = []
    for index, message in enumerate(request.messages):
        if message.role not in ROLES:
            entries.append(
                {
                    **field_error(
                        ("messages", index, "role"),
                        "Input should be 'user', 'assistant' or 'system'",
                        message.role,
                        "literal_error",
                    ),
                    "ctx": {"expected": "'user', 'assistant' or 'system'"},
                }
            )
    if not request.model:
        entries.append(field_error(("model",), "Value error, Model is required", request.model))
    if isinstance(request, MessagesRequest):
        if request.max_tokens <= 0:
            entries.append(
                field_error(("max_tokens",), "Value error, max_tokens must be positive", request.max_tokens)
            )
        if request.stop_sequences is not None and len(request.stop_sequences) > MAX_STOP_SEQUENCES:
            entries.append(
                field_error(
                    ("stop_sequences",),
                    f"List should have at most {MAX_STOP_SEQUENCES} items after validation, not {len(request.stop_sequences)}",
                    request.stop_sequences,
                    "too_long",
                )
            )
    if entries:
        raise errors.request_validation_failed(entries)


def plan_messages(engine: Engine, http: HTTPRequest) -> MessagesPlan:
    """Validate the request and decide the answer (raises the error vLLM would send)."""
    request = decode_request(http.body, MessagesRequest)
    check_schema(request)
    settings = engine.settings
    try:
        model = resolve_model(engine, request.model, "generation")
        if engine.is_dead():
            raise errors.engine_dead()
        messages = chat_messages(request)
        prompt = render_chat_prompt(messages, tools_of(request))
        max_model_len = settings.max_model_len
        errors.check_prompt_characters(prompt, max_model_len)
        prompt_tokens = count_tokens(prompt)
        if prompt_tokens > max_model_len:
            raise errors.context_length_exceeded(max_model_len, prompt_tokens)
        room = max_model_len - prompt_tokens
        # vLLM sets both chat limits from ``max_tokens``; the chat layer reads ``max_completion_tokens``.
        max_tokens = output_limit(
            request.max_tokens, "max_completion_tokens", room=room, max_model_len=max_model_len
        )
        check_sampling(
            n=1,
            temperature=request.temperature,
            top_p=request.top_p,
            max_tokens=max_tokens,
            most_n=most_choices(settings),
        )
    except errors.SimulatorHTTPError as error:
        raise anthropic_error(error) from None
    user_text = last_user_text(messages)
    choice = plan_text_choice(
        choice_rng(settings.seed, None, prompt, 0),
        mode=settings.mode,
        echo_pieces=split_pieces(user_text) if settings.mode == "echo" else [],
        max_tokens=max_tokens,
        room=room,
        stops=request.stop_sequences or [],
        include_stop=False,
        top_logprobs=None,
    )
    return MessagesPlan(request, model, prompt, prompt_tokens, choice)


def stop_reason(choice: ChoiceOutput) -> tuple[str, str | None]:
    """Anthropic's ``stop_reason`` and ``stop_sequence`` for a chat finish reason."""
    if choice.finish_reason == "length":
        return "max_tokens", None
    if choice.stop_reason is not None:
        return "stop_sequence", choice.stop_reason
    return "end_turn", None
