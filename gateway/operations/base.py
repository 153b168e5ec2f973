"""What one operation is: the declaration every step of the pipeline reads instead of branching.

An `Operation` is a frozen record built once at import; the request path only reads its fields
(a slot each) and calls the functions it holds, so a declaration costs no allocation per request.
Functions rather than methods of subclasses: a declaration is a table a reader takes in at a glance,
and an operation that shares a behaviour with another (most read usage the same way) names the
same function instead of inheriting it.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from gateway.usage import Usage, usage_from_body, usage_from_dict

__all__ = [
    "ErrorFormat",
    "Operation",
    "StreamProtocol",
    "no_affinity_text",
    "nothing_to_tokenize",
    "one_prompt",
    "requested_choices",
    "single_choice",
]

Payload = dict[str, Any]


class StreamProtocol(enum.Enum):
    """How a backend's SSE stream ends and where its usage is (read by the stream relay)."""

    CHUNKS = "chunks"
    """OpenAI chunks: `data: {...}` events, a usage-only chunk (`"choices":[]`) and `data: [DONE]`."""
    RESPONSE_EVENTS = "response_events"
    """Responses API events: a terminal `response.completed`/`incomplete`/`failed` event carries the
    whole response, usage included."""
    MESSAGE_EVENTS = "message_events"
    """Anthropic Messages events (`event: <name>` + `data: {...}`): `message_start` carries the input
    tokens, `message_delta` the output tokens, `message_stop` (or `error`) ends the stream; no [DONE]."""


class ErrorFormat(enum.Enum):
    """The shape every error of an operation's routes is written in (by the application's handlers,
    the relayed backend errors and a stream's error event), so that the route's own clients read it."""

    OPENAI = "openai"
    """`{"error": {"message", "type", "param", "code"}}`."""
    ANTHROPIC = "anthropic"
    """`{"type": "error", "error": {"type", "message"}}`, the type chosen by the HTTP status."""


def requested_choices(payload: Payload) -> int:
    """`n`, the choices generated at once (1 when absent or not a positive integer)."""
    choices = payload.get("n")
    return choices if isinstance(choices, int) and not isinstance(choices, bool) and choices > 0 else 1


def one_prompt(payload: Payload) -> int:
    """The request is one prompt for the backend (a conversation, a completion's text)."""
    return 1


def single_choice(payload: Payload) -> int:
    """One answer per request, whatever the body says (APIs without `n`)."""
    return 1


def no_affinity_text(payload: Payload, max_chars: int) -> str:
    """No text worth routing on: any backend of the model will do."""
    return ""


def nothing_to_tokenize(payload: Payload) -> Payload | None:
    """No prompt the backend's /tokenize can count: the reservation's bound is charged instead."""
    return None


@dataclass(frozen=True, slots=True, eq=False)
class Operation:
    """One kind of request the gateway serves, from its route to its usage record."""

    value: str
    """Its name in policies (the Casbin action, `MODEL_ACTIONS`), metrics labels, usage and audit records."""
    routes: tuple[str, ...]
    """The gateway's path(s) that serve it (one POST handler each declaration)."""
    upstream_path: str
    """The backend's path it is forwarded to."""
    check_body: Callable[[Payload], None]
    """Checks the fields only this operation relies on (raises InvalidRequest); `model`, `stream`,
    the token limits and `n` are checked for every operation by `parse_request`."""
    input_token_bound: Callable[[Payload], int]
    """At least the prompt tokens the backend will count (gateway/token_bounds.py explains why);
    0 for an operation that is not charged (tokenize)."""
    genai_name: str
    """`gen_ai.operation.name` of its upstream span (and the first word of the span's name)."""
    pii_read_first: tuple[str, ...]
    """The fields the model reads first: their personal data is numbered first. Every other string
    of the request is scanned as well, in the request's order (gateway/pii/fields.py)."""
    output_limit_field: str | None = None
    """The field that bounds its output (`max_tokens`, `max_output_tokens`), added when the client
    gave none; None for an operation that generates nothing (no output is reserved or charged)."""
    stream_usage_option: bool = False
    """Whether vLLM understands `stream_options.include_usage` (a form's `stream_include_usage`): asked
    for on every stream, so that the stream ends with the usage the request is charged."""
    stream_protocol: StreamProtocol = StreamProtocol.CHUNKS
    choices: Callable[[Payload], int] = requested_choices
    """How many answers one request generates (output reservation, a cut stream's charge)."""
    usage_in_answer: Callable[[bytes], Usage | None] = usage_from_body
    """The usage of a whole (non-streamed) answer's body."""
    usage_in_stream: Callable[[Any], Usage | None] = usage_from_dict
    """The usage from the usage object the relay found in the stream (see `stream_protocol`)."""
    prompts: Callable[[Payload], int] = one_prompt
    """How many prompts the backend encodes separately (a batch of inputs, a rerank's pairs), each at
    most the model's context: the reservation's input bound is capped at that many contexts."""
    tokenize_prompt: Callable[[Payload], Payload | None] = nothing_to_tokenize
    """The fields (besides `model`) to send to the backend's /tokenize for the exact prompt size."""
    affinity_text: Callable[[Payload, int], str] = no_affinity_text
    """What opens the conversation (at most about `max_chars`), hashed to find the same backend's
    prefix cache again; "" when there is none."""
    error_format: ErrorFormat = ErrorFormat.OPENAI
    """The shape of every error its routes answer, the gateway's own and the backend's alike."""
    multipart: bool = False
    """Its body is a `multipart/form-data` upload (audio), not JSON: `parse_request` reads the form's
    text fields as the payload, requires its `file` (audio, at most `server.max_audio_bytes`), and the
    form goes upstream as received, only the fields the gateway changed encoded again."""
    masks_answer: bool = False
    """Its answer holds text the caller never sent (a transcript of the audio): with the PII step on,
    the personal data in that text is masked in the answer, streamed or not (gateway/pii/transcript.py)."""
    key_header: str | None = None
    """A header that carries the API key bare (Anthropic's `x-api-key`), read when the request has no
    `Authorization` header; None: only `Authorization: Bearer <key>`."""
    holds_engine_slot: bool = True
    """Whether it runs as one of the backend's sequences (`--max-num-seqs`), the capacity the
    admission step shares: such requests wait in the gateway's queues when every backend is at
    capacity. False for tokenize and detokenize, which vLLM answers without its engine."""
    vllm_priority_field: bool = False
    """Whether vLLM reads the `priority` field of its body (chat, completions, responses): set from
    the request's class for backends with `scheduling_policy: priority`."""
    summary: str = ""
    """One line saying what it does, the title of its routes in the API reference (`/openapi.json`,
    `/docs`); a test requires one."""
    body_schema: Mapping[str, Any] | None = None
    """The JSON schema of the body fields the gateway itself checks (`check_body`: required fields,
    types), besides `model`, which the reference adds to every operation; `additionalProperties` stays
    open, as every other field goes to the backend untouched. A `stream` property marks the operation
    as streamed: its reference then lists the `text/event-stream` answer too. Built with the helpers
    of `gateway/operations/schema.py`; a test requires one."""
