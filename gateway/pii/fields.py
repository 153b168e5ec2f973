"""Where personal data can sit in each operation's request: every text a backend will read.

A `Slot` points at one string in the decoded payload (`container[key]`) so that it can be read and
replaced in place. Tool-call arguments are JSON documents inside a string: their own strings (and
numbers, which may be identifiers written without quotes) are slots too, so that a replacement never
turns valid arguments into invalid JSON.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from gateway.operations import Operation

__all__ = ["Slot", "text_slots"]


class Slot:
    """One scannable value: `container[key]`, a string (or a JSON number inside tool arguments)."""

    __slots__ = ("container", "key", "path")

    def __init__(self, container: Any, key: Any, path: str) -> None:
        self.container = container
        self.key = key
        self.path = path

    @property
    def text(self) -> str:
        value = self.container[self.key]
        return value if isinstance(value, str) else str(value)

    def replace(self, text: str) -> None:
        self.container[self.key] = text


def _content(message: dict[str, Any], path: str) -> Iterator[Slot]:
    """A message's `content`: a string, or content parts whose text is in `text`."""
    content = message.get("content")
    if isinstance(content, str):
        yield Slot(message, "content", f"{path}.content")
    elif isinstance(content, list):
        for index, part in enumerate(content):
            if isinstance(part, dict) and isinstance(part.get("text"), str):
                yield Slot(part, "text", f"{path}.content[{index}].text")
            elif isinstance(part, str):
                yield Slot(content, index, f"{path}.content[{index}]")


def _chat(payload: dict[str, Any]) -> Iterator[Slot]:
    for index, message in enumerate(payload["messages"]):
        path = f"messages[{index}]"
        yield from _content(message, path)
        for field in ("reasoning_content", "reasoning"):
            if isinstance(message.get(field), str):
                yield Slot(message, field, f"{path}.{field}")
        calls = message.get("tool_calls")
        if isinstance(calls, list):
            for number, call in enumerate(calls):
                function = call.get("function") if isinstance(call, dict) else None
                if isinstance(function, dict) and isinstance(function.get("arguments"), str):
                    yield Slot(function, "arguments", f"{path}.tool_calls[{number}].function.arguments")


def _strings(payload: dict[str, Any], field: str) -> Iterator[Slot]:
    """`prompt` or `input`: a string or a list of strings (token id lists hold no text)."""
    value = payload[field]
    if isinstance(value, str):
        yield Slot(payload, field, field)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            if isinstance(item, str):
                yield Slot(value, index, f"{field}[{index}]")


def _responses(payload: dict[str, Any]) -> Iterator[Slot]:
    if isinstance(payload.get("instructions"), str):
        yield Slot(payload, "instructions", "instructions")
    value = payload["input"]
    if isinstance(value, str):
        yield Slot(payload, "input", "input")
        return
    for index, item in enumerate(value):
        path = f"input[{index}]"
        if isinstance(item, str):
            yield Slot(value, index, path)
            continue
        if not isinstance(item, dict):
            continue
        yield from _content(item, path)
        if isinstance(item.get("arguments"), str):  # a function_call item
            yield Slot(item, "arguments", f"{path}.arguments")
        output = item.get("output")  # a function_call_output item
        if isinstance(output, str):
            yield Slot(item, "output", f"{path}.output")
        elif isinstance(output, list):
            for number, part in enumerate(output):
                if isinstance(part, dict) and isinstance(part.get("text"), str):
                    yield Slot(part, "text", f"{path}.output[{number}].text")


def text_slots(operation: Operation, payload: dict[str, Any]) -> Iterator[Slot]:
    """Every text of the request that reaches the model, in the order the model reads it."""
    if operation is Operation.CHAT:
        return _chat(payload)
    if operation is Operation.COMPLETIONS:
        return _strings(payload, "prompt")
    if operation is Operation.EMBEDDINGS:
        return _strings(payload, "input")
    return _responses(payload)


def json_slots(document: Any, path: str) -> Iterator[Slot]:
    """The strings and integers inside a decoded JSON document (object keys are left alone)."""
    if isinstance(document, dict):
        items: Iterator[tuple[Any, Any]] = iter(document.items())
    elif isinstance(document, list):
        items = enumerate(document)
    else:
        return
    for key, value in items:
        inner = f"{path}.{key}" if isinstance(document, dict) else f"{path}[{key}]"
        if isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool)):
            yield Slot(document, key, inner)
        elif isinstance(value, dict | list):
            yield from json_slots(value, inner)
