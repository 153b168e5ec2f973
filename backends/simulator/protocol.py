"""Request bodies, decoded with msgspec the way vLLM's pydantic models accept them.

Only the fields the simulator acts on are declared; any other field is accepted and ignored, like
vLLM's ``extra="allow"`` models. Decoding is lax (``"5"`` is accepted for an integer) as pydantic's
default mode is. Type errors become pydantic-shaped error entries so that ``errors.py`` can answer
with the same ``N validation error(s): ...`` message vLLM sends.
"""

from __future__ import annotations

import re
from typing import Any, TypeVar

import msgspec
from msgspec import UNSET, Struct, UnsetType


class StreamOptions(Struct, kw_only=True):
    """``stream_options`` of chat and completion requests."""

    include_usage: bool | None = True
    continuous_usage_stats: bool | None = False


class FunctionDefinition(Struct, kw_only=True):
    """A tool's function: its name and its JSON-schema parameters."""

    name: str
    description: str | None = None
    parameters: dict[str, Any] | None = None


class ChatTool(Struct, kw_only=True):
    """One entry of ``tools``."""

    function: FunctionDefinition
    type: str = "function"


class ChatMessage(Struct, kw_only=True):
    """One message of a conversation; content is a string, a list of parts, or absent."""

    role: str
    content: str | list[Any] | None = None
    name: str | None = None
    tool_calls: list[dict[str, Any]] | None = None
    tool_call_id: str | None = None


class ChatCompletionRequest(Struct, kw_only=True):
    """``POST /v1/chat/completions``; vLLM's defaults."""

    messages: list[ChatMessage]
    model: str | None = None
    max_tokens: int | None = None
    max_completion_tokens: int | None = None
    n: int | None = 1
    seed: int | None = None
    stop: str | list[str] | None = None
    stream: bool | None = False
    stream_options: StreamOptions | None = None
    logprobs: bool | None = False
    top_logprobs: int | None = 0
    tools: list[ChatTool] | None = None
    tool_choice: str | dict[str, Any] | UnsetType | None = UNSET
    temperature: float | None = None
    top_p: float | None = None
    user: str | None = None
    include_stop_str_in_output: bool = False
    add_generation_prompt: bool = True
    priority: int = 0


class CompletionRequest(Struct, kw_only=True):
    """``POST /v1/completions``; ``prompt`` is a string, strings, token ids or lists of token ids."""

    prompt: str | list[Any] | None = None
    model: str | None = None
    max_tokens: int | None = 16
    n: int = 1
    echo: bool | None = False
    logprobs: int | None = None
    prompt_logprobs: int | None = None
    seed: int | None = None
    stop: str | list[str] | None = None
    stream: bool | None = False
    stream_options: StreamOptions | None = None
    temperature: float | None = None
    top_p: float | None = None
    user: str | None = None
    include_stop_str_in_output: bool = False
    add_special_tokens: bool = True
    priority: int = 0


class EmbeddingRequest(Struct, kw_only=True):
    """``POST /v1/embeddings``; ``input`` is a string, strings, token ids or lists of token ids."""

    input: str | list[Any]
    model: str | None = None
    encoding_format: str = "float"
    dimensions: int | None = None
    user: str | None = None
    add_special_tokens: bool = True


class TokenizeRequest(Struct, kw_only=True):
    """``POST /tokenize``: either a completion-style ``prompt`` or chat ``messages``."""

    model: str | None = None
    prompt: str | None = None
    messages: list[ChatMessage] | None = None
    add_special_tokens: bool = True
    add_generation_prompt: bool = True
    return_token_strs: bool | None = False


class DetokenizeRequest(Struct, kw_only=True):
    """``POST /detokenize``."""

    tokens: list[int]
    model: str | None = None


class SimDeadRequest(Struct, kw_only=True):
    """``POST /sim/dead``."""

    dead: bool


RequestT = TypeVar("RequestT", bound=Struct)


class RequestValidationFailure(Exception):
    """The body does not fit the request model; ``errors`` are pydantic-shaped entries."""

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__(f"{len(errors)} validation error(s)")
        self.errors = errors


_DECODERS: dict[type[Any], msgspec.json.Decoder[Any]] = {}

# msgspec reports "Expected `int`, got `str` - at `$.max_tokens`"; pydantic names each case.
_EXPECTED = re.compile(r"^Expected `(?P<expected>[^`]+)`, got `(?P<got>[^`]+)`")
_MISSING = re.compile(r"^Object missing required field `(?P<field>[^`]+)`")
_PATH = re.compile(r" - at `\$(?P<path>[^`]*)`$")
_PATH_PART = re.compile(r"\.([^.\[]+)|\[(\d+)\]")
_PYDANTIC_TYPE_ERRORS: dict[str, tuple[str, str, str]] = {
    # expected type -> (pydantic error type, its message, what pydantic adds when a string failed to parse)
    "int": ("int_type", "Input should be a valid integer", "unable to parse string as an integer"),
    "float": ("float_type", "Input should be a valid number", "unable to parse string as a number"),
    "bool": ("bool_type", "Input should be a valid boolean", "unable to interpret input"),
    "str": ("string_type", "Input should be a valid string", ""),
    "array": ("list_type", "Input should be a valid list", ""),
    "object": ("dict_type", "Input should be a valid dictionary", ""),
}


def decode_request(body: bytes, request_type: type[RequestT]) -> RequestT:
    """Decode ``body`` into ``request_type`` or raise ``RequestValidationFailure``."""
    decoder = _DECODERS.get(request_type)
    if decoder is None:
        decoder = _DECODERS[request_type] = msgspec.json.Decoder(request_type, strict=False)
    try:
        request: RequestT = decoder.decode(body)
    except msgspec.ValidationError as error:
        raise RequestValidationFailure([_pydantic_error(str(error), body)]) from None
    except msgspec.DecodeError as error:
        raise RequestValidationFailure([_json_invalid_error(str(error), len(body))]) from None
    return request


def _json_invalid_error(message: str, length: int) -> dict[str, Any]:
    """pydantic's entry for a body that is not JSON; ``loc`` ends with where parsing stopped (the end
    of the body when it was cut short)."""
    position_match = re.search(r"\(byte (\d+)\)", message)
    position = int(position_match.group(1)) if position_match else length
    reason = message.split(" (byte")[0].removeprefix("JSON is malformed: ")
    return {
        "type": "json_invalid",
        "loc": ("body", position),
        "msg": "JSON decode error",
        "input": {},
        "ctx": {"error": reason},
    }


def _pydantic_error(message: str, body: bytes) -> dict[str, Any]:
    """Translate one msgspec validation message into pydantic's error entry."""
    path_match = _PATH.search(message)
    path_text = path_match.group("path") if path_match else ""
    reason = message[: path_match.start()] if path_match else message
    loc: list[str | int] = ["body"]
    for name, index in _PATH_PART.findall(path_text):
        loc.append(name if name else int(index))
    try:
        document: Any = msgspec.json.decode(body)
    except msgspec.DecodeError:
        document = None
    located = _walk(document, loc[1:])

    if missing := _MISSING.match(reason):
        return {
            "type": "missing",
            "loc": (*loc, missing.group("field")),
            "msg": "Field required",
            "input": located,
        }
    if expected := _EXPECTED.match(reason):
        if path_text == "" and expected.group("expected") == "object":
            return {
                "type": "model_attributes_type",
                "loc": ("body",),
                "msg": "Input should be a valid dictionary or object to extract fields from",
                "input": located,
            }
        # For unions pydantic lists every member; the first one is the informative one here.
        first = expected.group("expected").split(" | ")[0]
        error_type, error_message, parse_message = _PYDANTIC_TYPE_ERRORS.get(
            first, ("value_error", f"Input should be {first}", "")
        )
        if expected.group("got") == "str" and parse_message:
            error_type = error_type.replace("_type", "_parsing")
            error_message = f"{error_message}, {parse_message}"
        return {"type": error_type, "loc": tuple(loc), "msg": error_message, "input": located}
    return {"type": "value_error", "loc": tuple(loc), "msg": f"Value error, {reason}", "input": located}


def _walk(document: Any, path: list[str | int]) -> Any:
    for part in path:
        if isinstance(part, int) and isinstance(document, list) and part < len(document):
            document = document[part]
        elif isinstance(part, str) and isinstance(document, dict):
            document = document.get(part)
        else:
            return None
    return document


def field_error(
    loc: tuple[str | int, ...], message: str, value: Any, error_type: str = "value_error"
) -> dict[str, Any]:
    """A pydantic entry for one field, e.g. an ``encoding_format`` outside its literal values."""
    return {"type": error_type, "loc": ("body", *loc), "msg": message, "input": value}
