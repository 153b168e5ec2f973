"""vLLM's error answers, byte for byte where we could read them in its source.

Every OpenAI-route error is ``{"error": {"message", "type", "param", "code"}}``. vLLM fills ``type``
in two ways, and so do we:

- errors its serving layer raises (``VLLMValidationError``, unknown model, engine failures) use class
  names: ``BadRequestError``, ``NotFoundError``, ``InternalServerError``, ``NotImplementedError``;
- errors turned into responses from an HTTP status (request-schema validation, queue overflow) use the
  status phrase: ``Bad Request``, ``Service Unavailable``.

A ``VLLMValidationError`` prints its parameter and value after the message, e.g. ``max_tokens must be
at least 1, got -1. (parameter=max_tokens, value=-1)``; ``validation_message`` reproduces that.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from http import HTTPStatus
from typing import Any

import msgspec

ENGINE_DEAD_MESSAGE = "EngineCore encountered an issue. See stack trace (above) for the root cause."
QUEUE_FULL_MESSAGE = (
    "The engine is currently busy and cannot accept new requests. "
    "Please try again later or on a different instance."
)
INTERNAL_ERROR_MESSAGE = "Internal server error"

UNAUTHORIZED_BODY = b'{"error":"Unauthorized"}'
"""vLLM's API-key middleware answers with a bare string, not the OpenAI error object."""

NOT_FOUND_BODY = b'{"detail":"Not Found"}'
METHOD_NOT_ALLOWED_BODY = b'{"detail":"Method Not Allowed"}'


class SimulatorHTTPError(Exception):
    """An answer that ends the request: raised anywhere, turned into a response by the router."""

    def __init__(self, status: int, body: bytes) -> None:
        super().__init__(f"HTTP {status}")
        self.status = status
        self.body = body


def encode_error(message: str, error_type: str, code: int, param: str | None = None) -> bytes:
    """The compact JSON body vLLM sends (Starlette's ``JSONResponse`` has no spaces)."""
    return msgspec.json.encode(
        {"error": {"message": message, "type": error_type, "param": param, "code": code}}
    )


def openai_error(status: int, message: str, error_type: str, param: str | None = None) -> SimulatorHTTPError:
    """An error with the OpenAI body whose ``code`` is the HTTP status."""
    return SimulatorHTTPError(status, encode_error(message, error_type, status, param))


def validation_message(message: str, parameter: str | None = None, value: Any = None) -> str:
    """How ``str(VLLMValidationError)`` reads: the message, then ``(parameter=..., value=...)``."""
    extras = []
    if parameter is not None:
        extras.append(f"parameter={parameter}")
    if value is not None:
        extras.append(f"value={value}")
    return f"{message} ({', '.join(extras)})" if extras else message


def bad_request(message: str, parameter: str | None = None, value: Any = None) -> SimulatorHTTPError:
    """A ``VLLMValidationError`` raised while serving: 400 ``BadRequestError`` naming the parameter."""
    return openai_error(400, validation_message(message, parameter, value), "BadRequestError", parameter)


def request_validation_failed(entries: Sequence[dict[str, Any] | str]) -> SimulatorHTTPError:
    """FastAPI's ``RequestValidationError`` as vLLM 0.32's handler renders it: 400, type ``Bad Request``.

    The message is ``N validation error(s):`` then one line per pydantic entry, with its ``loc`` dotted
    (``body.messages``) and a container ``input`` summarised (``<dict of 2 items>``); ``param`` is the
    first entry's ``loc``. A plain string entry (the content-type check's) is printed as it is.
    """
    count = len(entries)
    rendered = [_rendered(entry) if isinstance(entry, dict) else entry for entry in entries]
    header = f"{count} validation error{'' if count == 1 else 's'}:\n"
    lines = "\n".join(f"  {entry!r}" if isinstance(entry, dict) else f"  {entry}" for entry in rendered)
    first = rendered[0] if rendered else None
    param = first["loc"] if isinstance(first, dict) else None
    return openai_error(400, header + lines, HTTPStatus.BAD_REQUEST.phrase, param)


def _rendered(entry: dict[str, Any]) -> dict[str, Any]:
    rendered = dict(entry)
    loc = entry.get("loc", ())
    rendered["loc"] = ".".join(str(part) for part in loc) if isinstance(loc, tuple | list) else loc
    if "input" in entry:
        rendered["input"] = _input_summary(entry["input"])
    return rendered


def _input_summary(value: Any) -> str:
    """How vLLM prints an entry's ``input``: containers by their size, anything else as text."""
    if isinstance(value, dict):
        return f"<dict of {len(value)} items>"
    if isinstance(value, list | tuple):
        return f"<list of {len(value)} items>"
    return str(value)


def model_not_found(
    model: str, aliases: tuple[str, ...] = (), param: str | None = "model"
) -> SimulatorHTTPError:
    """404 for a model this server does not serve; generation routes name the served aliases."""
    message = f"The model `{model}` does not exist."
    if aliases:
        message += f" Valid aliases: {', '.join(aliases)}."
    return openai_error(404, message, "NotFoundError", param)


CHARS_PER_TOKEN_BOUND = 10
"""vLLM 0.32 refuses a text prompt longer than ``max_model_len`` times the longest token's length
without tokenizing it; the simulator's tokens of ordinary text are at most 9 characters (a space and
8 letters), so 10 per token is its bound."""


def check_prompt_characters(text: str, max_model_len: int) -> None:
    """400 for a text prompt too long to fit the context whatever its tokens (0.32 wording)."""
    bound = CHARS_PER_TOKEN_BOUND * max_model_len
    if len(text) > bound:
        message = (
            f"This model's maximum context length is {max_model_len} tokens. However, your prompt contains "
            f"{len(text)} characters (more than {bound} characters, which is the upper bound for "
            f"{max_model_len} input tokens). Please reduce the length of the input prompt."
        )
        raise bad_request(message, "input_text", len(text))


def context_length_exceeded(
    max_model_len: int, prompt_tokens: int, *, text: bool = True
) -> SimulatorHTTPError:
    """400 for a prompt longer than the context (0.32 wording). A text prompt is tokenized only up to
    one token past the context, so vLLM says "at least" that many; token ids are counted exactly."""
    if text:
        prompt_tokens = max_model_len + 1
    counted = f"at least {prompt_tokens}" if text else str(prompt_tokens)
    message = (
        f"This model's maximum context length is {max_model_len} tokens. However, your prompt contains "
        f"{counted} input tokens, which exceeds this limit even without any output tokens. "
        "Please reduce the length of the input prompt."
    )
    return bad_request(message, "input_tokens", prompt_tokens)


def max_tokens_over_context(name: str, value: int, max_model_len: int) -> SimulatorHTTPError:
    """400 for an output limit above the whole context (smaller ones are clamped to what is left);
    ``name`` is the field as the client sent it."""
    message = (
        f"{name}={value} cannot be greater than max_model_len={max_model_len}. "
        "Please request fewer output tokens."
    )
    return bad_request(message, name, value)


def queue_full() -> SimulatorHTTPError:
    """503 when the waiting queue is full (vLLM's ``QueueOverflowError``)."""
    return openai_error(503, QUEUE_FULL_MESSAGE, HTTPStatus.SERVICE_UNAVAILABLE.phrase)


def engine_dead() -> SimulatorHTTPError:
    """500 when the engine core died (``EngineDeadError`` through ``create_error_response``)."""
    return openai_error(500, ENGINE_DEAD_MESSAGE, "InternalServerError")


def internal_error() -> SimulatorHTTPError:
    """500 for a request-level engine failure (vLLM's ``GenerationError``)."""
    return openai_error(500, INTERNAL_ERROR_MESSAGE, "InternalServerError")


def route_not_found() -> SimulatorHTTPError:
    """FastAPI's 404 for a route the server did not register: vLLM registers only the routes its
    model's kind serves, so chat on a pooling model (or embeddings on a generative one) ends here."""
    return SimulatorHTTPError(404, NOT_FOUND_BODY)


def forced_status(status: int) -> SimulatorHTTPError:
    """The vLLM-shaped answer for a status forced with ``x-sim-force-status``."""
    if status == 503:
        return queue_full()
    if status == 500:
        return internal_error()
    if status == 501:
        return openai_error(501, "Simulated 501 Not Implemented (x-sim-force-status).", "NotImplementedError")
    if status == 400:
        return bad_request("Simulated bad request (x-sim-force-status).")
    if status == 401:
        return SimulatorHTTPError(401, UNAUTHORIZED_BODY)
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "Error"
    return openai_error(status, f"Simulated {status} {phrase} (x-sim-force-status).", phrase)


def streaming_error_event(error: SimulatorHTTPError) -> bytes:
    """An error inside an already started stream: vLLM writes it with ``json.dumps`` (with spaces)."""
    payload = msgspec.json.decode(error.body)
    return b"data: " + json.dumps(payload).encode("utf-8") + b"\n\n"
