"""The small JSON schemas the declarations give of their bodies (`Operation.body_schema`), for the
API reference (`/openapi.json`, `/docs`).

A schema says what the gateway itself checks (required fields, their types, the bounds of
`parse_request`), nothing more: every other field goes to vLLM as sent and is described by vLLM's
and OpenAI's or Anthropic's own references, so every body stays open (`additionalProperties: true`).
`model` is not listed: the reference adds it to every operation, as `parse_request` checks it for all.
"""

from __future__ import annotations

from collections.abc import Sequence
from types import MappingProxyType
from typing import Any

__all__ = [
    "CHOICES",
    "MAX_TOKENS",
    "STREAM",
    "STREAM_OPTIONS",
    "array",
    "body",
    "boolean",
    "integer",
    "obj",
    "string",
    "text_or_array",
]

Schema = dict[str, Any]


def body(
    *, required: Sequence[str] = (), any_of: Sequence[Sequence[str]] = (), **properties: Schema
) -> MappingProxyType[str, Any]:
    """A request body: `required` fields, `properties`, and `any_of`, sets of fields of which the body
    has at least one whole set (score's four spellings, `input` or `messages`)."""
    schema: Schema = {"type": "object", "properties": properties, "additionalProperties": True}
    if required:
        schema["required"] = list(required)
    if any_of:
        schema["anyOf"] = [{"required": list(fields)} for fields in any_of]
    return MappingProxyType(schema)


def string(description: str) -> Schema:
    return {"type": "string", "description": description}


def integer(description: str, *, minimum: int | None = None) -> Schema:
    schema: Schema = {"type": "integer", "description": description}
    if minimum is not None:
        schema["minimum"] = minimum
    return schema


def boolean(description: str) -> Schema:
    return {"type": "boolean", "description": description}


def obj(description: str) -> Schema:
    return {"type": "object", "description": description}


def array(description: str, items: Schema | None = None, *, min_items: int = 0) -> Schema:
    schema: Schema = {"type": "array", "description": description}
    if items is not None:
        schema["items"] = items
    if min_items:
        schema["minItems"] = min_items
    return schema


def text_or_array(description: str) -> Schema:
    """What `require_text_or_array` accepts: a text, or an array (of texts, token ids or parts)."""
    return {"type": ["string", "array"], "description": description}


STREAM = boolean("Answer with server-sent events (`text/event-stream`) as the text is generated.")
STREAM_OPTIONS = obj(
    "`include_usage`: end the stream with a usage chunk (the gateway always asks vLLM for it, and "
    "passes it on only when asked)."
)
MAX_TOKENS = integer(
    "Most tokens to generate; when absent the gateway adds the model's limit, reserved on the "
    "caller's budgets until the answer says what was used.",
    minimum=1,
)
CHOICES = integer("Choices generated at once, at most the gateway's `server.max_choices`.", minimum=1)
