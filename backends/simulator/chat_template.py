"""A plain chat template: turns messages (and tool definitions) into the prompt text that is counted.

Real templates differ per model; what matters to a gateway is that every part of a message that a
real template would render (text parts, tool calls and their arguments, tool results, tool
definitions) costs tokens here too, so ``prompt_tokens`` moves with everything the client sends.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec

from backends.simulator.protocol import ChatMessage, ChatTool

_ROLE_TOKENS = {
    "system": "<|system|>",
    "developer": "<|developer|>",
    "user": "<|user|>",
    "assistant": "<|assistant|>",
    "tool": "<|tool|>",
}
_END = "<|end|>\n"
_GENERATION_PROMPT = "<|assistant|>\n"


def content_text(content: str | list[Any] | None) -> str:
    """The text of a message's content: a string, or the ``text`` of its text parts joined by newlines."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    texts = []
    for part in content:
        if isinstance(part, str):
            texts.append(part)
        elif isinstance(part, dict):
            text = part.get("text")
            if isinstance(text, str):
                texts.append(text)
    return "\n".join(texts)


def _tool_calls_text(tool_calls: list[dict[str, Any]]) -> str:
    rendered = []
    for call in tool_calls:
        function = call.get("function")
        if isinstance(function, dict):
            rendered.append(f"{function.get('name', '')} {function.get('arguments', '')}")
    return "\n".join(rendered)


def render_chat_prompt(
    messages: Sequence[ChatMessage],
    tools: Sequence[ChatTool] | None = None,
    *,
    add_generation_prompt: bool = True,
) -> str:
    """The prompt text a chat request becomes; starts with the beginning-of-sequence token."""
    parts = ["<s>"]
    if tools:
        definitions = msgspec.json.encode([tool.function for tool in tools]).decode("utf-8")
        parts.append(f"<|tools|>\n{definitions}{_END}")
    for message in messages:
        body = content_text(message.content)
        if message.tool_calls:
            calls = _tool_calls_text(message.tool_calls)
            body = f"{body}\n{calls}" if body else calls
        if message.name:
            body = f"{message.name}: {body}"
        parts.append(f"{_ROLE_TOKENS.get(message.role, '<|user|>')}\n{body}{_END}")
    if add_generation_prompt:
        parts.append(_GENERATION_PROMPT)
    return "".join(parts)


def last_user_text(messages: Sequence[ChatMessage]) -> str:
    """The text of the last ``user`` message (what echo mode answers with), or ``""``."""
    for message in reversed(messages):
        if message.role == "user":
            return content_text(message.content)
    return ""
