"""What ``/v1/responses`` writes: the response object, its output items, its usage, its stream events.

vLLM 0.32 builds these from the OpenAI SDK's pydantic types and its own ``ResponsesResponse`` and dumps
them whole (``model_dump(mode="json", by_alias=True)``): every declared field is present, ``null``
when unset, in declaration order. The dictionaries below list the fields in that order; the item
types follow the OpenAI SDK installed beside vLLM (newer SDKs add fields such as ``phase`` or
``caller``). Streams are ``event: <type>`` plus ``data: <json>`` blocks with no ``[DONE]``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import msgspec

from backends.simulator.generation import TokenLogprob
from backends.simulator.responses_protocol import ResponsesRequest

_encode = msgspec.json.encode

CACHE_BLOCK_TOKENS = 16
"""vLLM's default KV block size: the prefix cache stores (and so "writes") whole blocks only."""

_DECLARED_FIELDS: dict[str, tuple[str, ...]] = {
    # The OpenAI SDK types vLLM echoes request values through, fields in declaration order
    # (``async`` and ``schema`` are the aliases of ``async_`` and ``schema_``).
    "function": (
        "name",
        "parameters",
        "strict",
        "type",
        "allowed_callers",
        "async",
        "defer_loading",
        "description",
        "output_schema",
    ),
    "reasoning": ("context", "effort", "generate_summary", "mode", "summary"),
    "text": ("format", "verbosity"),
    "json_schema": ("name", "schema", "type", "description", "strict"),
}


def as_declared(value: dict[str, Any], kind: str) -> dict[str, Any]:
    """``value`` as pydantic dumps it into the SDK type ``kind``: every declared field (``null`` when
    absent) in order, then the extra fields the type allows, in the order sent."""
    fields = _DECLARED_FIELDS[kind]
    dumped = {name: value.get(name) for name in fields}
    dumped.update((name, item) for name, item in value.items() if name not in dumped)
    return dumped


def usage_object(prompt_tokens: int, cached_tokens: int, output_tokens: int) -> dict[str, Any]:
    """vLLM's ``ResponseUsage``; per-turn lists stay empty for a plain (non-Harmony) model."""
    full_blocks = prompt_tokens // CACHE_BLOCK_TOKENS * CACHE_BLOCK_TOKENS
    return {
        "input_tokens": prompt_tokens,
        "input_tokens_details": {
            "cached_tokens": cached_tokens,
            "cache_write_tokens": max(full_blocks - cached_tokens, 0),
            "input_tokens_per_turn": [],
            "cached_tokens_per_turn": [],
        },
        "output_tokens": output_tokens,
        "output_tokens_details": {
            "reasoning_tokens": 0,
            "tool_output_tokens": 0,
            "output_tokens_per_turn": [],
            "tool_output_tokens_per_turn": [],
        },
        "total_tokens": prompt_tokens + output_tokens,
    }


def output_text(text: str, logprobs: list[dict[str, Any]] | None) -> dict[str, Any]:
    """A ``ResponseOutputText`` content part."""
    return {"annotations": [], "text": text, "type": "output_text", "logprobs": logprobs}


def message_item(item_id: str, status: str, content: list[dict[str, Any]]) -> dict[str, Any]:
    """A ``ResponseOutputMessage``."""
    return {
        "id": item_id,
        "content": content,
        "role": "assistant",
        "status": status,
        "type": "message",
        "phase": None,
    }


def function_call_item(item_id: str, call_id: str, name: str, arguments: str, status: str) -> dict[str, Any]:
    """A ``ResponseFunctionToolCall``."""
    return {
        "arguments": arguments,
        "call_id": call_id,
        "name": name,
        "type": "function_call",
        "id": item_id,
        "async": None,
        "caller": None,
        "namespace": None,
        "status": status,
    }


def output_logprobs(entries: list[TokenLogprob], top_logprobs: int) -> list[dict[str, Any]]:
    """``ResponseOutputText.logprobs``: each token with its bytes and up to ``top_logprobs`` alternatives."""
    return [
        {
            "token": entry.token,
            "bytes": list(entry.token.encode("utf-8")),
            "logprob": entry.logprob,
            "top_logprobs": [
                {"token": token, "bytes": list(token.encode("utf-8")), "logprob": logprob}
                for token, logprob in entry.top[:top_logprobs]
            ],
        }
        for entry in entries
    ]


def delta_logprobs(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The lighter logprobs of ``response.output_text.delta`` (no ``bytes``)."""
    return [
        {
            "token": entry["token"],
            "logprob": entry["logprob"],
            "top_logprobs": [
                {"token": top["token"], "logprob": top["logprob"]} for top in entry["top_logprobs"]
            ],
        }
        for entry in entries
    ]


@dataclass(slots=True)
class ResponseHead:
    """What every rendering of one response shares: its id, creation time, model and sampling echo
    (``max_output_tokens``, ``temperature`` and ``top_p`` as vLLM's ``SamplingParams`` ended up)."""

    response_id: str
    created_at: int
    model: str
    request: ResponsesRequest
    max_output_tokens: int
    temperature: float
    top_p: float

    def render(
        self, status: str, output: list[dict[str, Any]], usage: dict[str, Any] | None
    ) -> dict[str, Any]:
        """vLLM's ``ResponsesResponse.from_request`` dumped in field order (``metrics`` is left out when
        unset, as its ``exclude_if`` says)."""
        request = self.request
        return {
            "id": self.response_id,
            "created_at": self.created_at,
            "incomplete_details": {"reason": "max_output_tokens"} if status == "incomplete" else None,
            "instructions": request.instructions,
            "metadata": request.metadata,
            "model": self.model,
            "object": "response",
            "output": output,
            "parallel_tool_calls": True
            if request.parallel_tool_calls is None
            else request.parallel_tool_calls,
            "temperature": self.temperature,
            "tool_choice": _tool_choice(request.tool_choice),
            "tools": [_tool(tool) for tool in request.tools],
            "top_p": self.top_p,
            "background": bool(request.background),
            "max_output_tokens": self.max_output_tokens,
            "max_tool_calls": request.max_tool_calls,
            "previous_response_id": request.previous_response_id,
            "prompt": None,
            "reasoning": _reasoning(request.reasoning),
            "service_tier": request.service_tier,
            "status": status,
            "text": _text(request.text),
            # The sampling ``logprobs``: ``top_logprobs`` only when ``include`` asks for logprobs.
            "top_logprobs": (request.top_logprobs or 0) if request.wants_logprobs else None,
            "truncation": request.truncation,
            "usage": usage,
            "user": request.user,
            "presence_penalty": 0.0 if request.presence_penalty is None else request.presence_penalty,
            "frequency_penalty": 0.0 if request.frequency_penalty is None else request.frequency_penalty,
            "kv_transfer_params": None,
            "ec_transfer_params": None,
            "input_messages": None,
            "output_messages": None,
        }


def _tool_choice(choice: str | dict[str, Any]) -> str | dict[str, Any]:
    if isinstance(choice, dict) and choice.get("type") == "function":
        return {"name": choice.get("name"), "type": "function"}
    return choice


def _tool(tool: dict[str, Any]) -> dict[str, Any]:
    """A function tool as the SDK's ``FunctionTool`` dumps it; other tool types as sent."""
    return as_declared(tool, "function") if tool.get("type") == "function" else tool


def _reasoning(reasoning: dict[str, Any] | None) -> dict[str, Any] | None:
    return as_declared(reasoning, "reasoning") if reasoning is not None else None


def _text(text: dict[str, Any] | None) -> dict[str, Any] | None:
    """``ResponseTextConfig``; a JSON-schema format is dumped with its declared fields too."""
    if text is None:
        return None
    dumped = as_declared(text, "text")
    text_format = dumped["format"]
    if isinstance(text_format, dict) and text_format.get("type") == "json_schema":
        dumped["format"] = as_declared(text_format, "json_schema")
    return dumped


class ResponseEvents:
    """Builds the SSE events of one streamed response and numbers them from 0, as vLLM does.

    Each event lists its fields in the SDK type's declaration order (``sequence_number`` is not always
    next to last); fields vLLM passes that the type does not declare come last, as pydantic dumps
    extras. Token deltas are the hot path: they are assembled from byte pieces fixed when the item
    opens instead of encoding a dictionary per token.
    """

    def __init__(self) -> None:
        self.sequence_number = 0
        self._delta_head = b""
        self._delta_tail = b""
        self._delta_index = b""

    def _emit(self, body: dict[str, Any]) -> bytes:
        body["sequence_number"] = self.sequence_number
        self.sequence_number += 1
        event_type: str = body["type"]
        return b"event: " + event_type.encode() + b"\ndata: " + _encode(body) + b"\n\n"

    def response_event(self, event_type: str, response: dict[str, Any]) -> bytes:
        """``response.created``, ``response.in_progress``, ``response.completed``."""
        return self._emit({"response": response, "sequence_number": 0, "type": event_type})

    def _item_event(self, event_type: str, output_index: int, item: dict[str, Any]) -> bytes:
        return self._emit(
            {"item": item, "output_index": output_index, "sequence_number": 0, "type": event_type}
        )

    def open_text(self, output_index: int, item_id: str) -> list[bytes]:
        """``output_item.added`` (an empty in-progress message) and ``content_part.added``."""
        self._delta_head = b'event: response.output_text.delta\ndata: {"content_index":0,"delta":'
        self._delta_tail = b',"item_id":"%s","logprobs":' % item_id.encode()
        self._delta_index = b',"output_index":%d,"sequence_number":' % output_index
        part_added = {
            "content_index": 0,
            "item_id": item_id,
            "output_index": output_index,
            "part": output_text("", []),
            "sequence_number": 0,
            "type": "response.content_part.added",
        }
        return [
            self._item_event(
                "response.output_item.added", output_index, message_item(item_id, "in_progress", [])
            ),
            self._emit(part_added),
        ]

    def text_delta(self, piece: str, logprobs: list[dict[str, Any]] | None) -> bytes:
        """``response.output_text.delta`` for one token (``logprobs`` ``[]`` unless asked for)."""
        number = self.sequence_number
        self.sequence_number += 1
        return (
            self._delta_head
            + _encode(piece)
            + self._delta_tail
            + (_encode(logprobs) if logprobs else b"[]")
            + self._delta_index
            + b'%d,"type":"response.output_text.delta"}\n\n' % number
        )

    def close_text(self, output_index: int, item: dict[str, Any], part: dict[str, Any]) -> list[bytes]:
        """``output_text.done`` (whose ``logprobs`` vLLM always leaves ``[]``), ``content_part.done``,
        ``output_item.done``."""
        item_id = item["id"]
        text_done = {
            "content_index": 0,
            "item_id": item_id,
            "logprobs": [],
            "output_index": output_index,
            "sequence_number": 0,
            "text": part["text"],
            "type": "response.output_text.done",
        }
        part_done = {
            "content_index": 0,
            "item_id": item_id,
            "output_index": output_index,
            "part": part,
            "sequence_number": 0,
            "type": "response.content_part.done",
        }
        return [
            self._emit(text_done),
            self._emit(part_done),
            self._item_event("response.output_item.done", output_index, item),
        ]

    def open_call(self, output_index: int, item: dict[str, Any]) -> bytes:
        """``output_item.added`` for a function call (no arguments yet)."""
        return self._item_event("response.output_item.added", output_index, item)

    def call_delta(self, output_index: int, item_id: str, piece: str) -> bytes:
        """``response.function_call_arguments.delta``."""
        return self._emit(
            {
                "delta": piece,
                "item_id": item_id,
                "output_index": output_index,
                "sequence_number": 0,
                "type": "response.function_call_arguments.delta",
            }
        )

    def close_call(self, output_index: int, item: dict[str, Any]) -> list[bytes]:
        """``function_call_arguments.done`` and ``output_item.done``. vLLM passes the function ``name``,
        which the SDK's event type does not declare, so pydantic dumps it last."""
        arguments_done = {
            "arguments": item["arguments"],
            "item_id": item["id"],
            "output_index": output_index,
            "sequence_number": 0,
            "type": "response.function_call_arguments.done",
            "name": item["name"],
        }
        return [
            self._emit(arguments_done),
            self._item_event("response.output_item.done", output_index, item),
        ]
