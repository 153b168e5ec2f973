"""Turn a request body into a `ParsedRequest`, or an `InvalidRequest` that names the field.

Only the fields the gateway acts on are checked; every other field, known to vLLM or not, is
left for the backend and passed through. What goes upstream is the decoded payload encoded again,
never the client's own bytes: the backend receives exactly what the gateway parsed, checked and
scanned. (A body with a key written twice decodes to its last copy; forwarding the original bytes
sent the other copy, unscanned, to a backend whose parser might even keep that one.)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import msgspec

from gateway.errors import InvalidRequest

if TYPE_CHECKING:  # the declarations use this module's checks; it only reads theirs
    from gateway.operations import Operation

__all__ = [
    "MODEL_NAME_MAX_CHARS",
    "ParsedRequest",
    "decode_json_object",
    "parse_request",
    "require_text_or_array",
    "type_error",
]

MODEL_NAME_MAX_CHARS = 256
"""The longest model name a configuration may define, so the longest `model` worth looking up."""

_decode = msgspec.json.Decoder().decode
_encode = msgspec.json.Encoder().encode
_INCLUDE_USAGE = {"include_usage": True}

_JSON_TYPE_NAMES = {
    str: "a string",
    int: "an integer",
    float: "a number",
    bool: "a boolean",
    list: "an array",
    dict: "an object",
    type(None): "null",
}


class ParsedRequest:
    """A validated request: the decoded payload, its encoding (`raw`) and what the gateway needs."""

    __slots__ = ("client_wants_usage", "model", "operation", "payload", "raw", "stream")

    def __init__(self, operation: Operation, raw: bytes, payload: dict[str, Any]) -> None:
        self.operation = operation
        self.raw = raw
        self.payload = payload
        self.model: str = payload["model"]
        self.stream: bool = bool(payload.get("stream"))
        options = payload.get("stream_options")
        self.client_wants_usage = isinstance(options, dict) and options.get("include_usage") is True

    def upstream_body(self, added: dict[str, Any] | None = None) -> bytes:
        """The bytes to send upstream, with `added` fields (absent from the request) put in.

        Streams always ask vLLM for the final usage chunk, which the gateway needs to meter the
        request (and strips again when the client did not ask for it). New fields are spliced into the
        payload's encoding; only a client's own `stream_options` without `include_usage` makes the
        body encoded again.
        """
        fields = dict(added) if added else {}
        if self.stream and self.operation.stream_usage_option and not self.client_wants_usage:
            if "stream_options" in self.payload:
                payload = {**self.payload, **fields}
                options = payload["stream_options"]
                payload["stream_options"] = {
                    **(options if isinstance(options, dict) else {}),
                    "include_usage": True,
                }
                return msgspec.json.encode(payload)
            fields["stream_options"] = _INCLUDE_USAGE
        if not fields:
            return self.raw
        if any(name in self.payload for name in fields):  # e.g. `"max_tokens": null`: no duplicate keys
            return msgspec.json.encode({**self.payload, **fields})
        end = self.raw.rstrip().rfind(b"}")
        return self.raw[:end] + b"," + msgspec.json.encode(fields)[1:]


def type_error(field: str, expected: str, value: object) -> InvalidRequest:
    got = _JSON_TYPE_NAMES.get(type(value), "something else")
    return InvalidRequest(
        f"Invalid type for '{field}': expected {expected}, but got {got} instead.", param=field
    )


def _optional_int(payload: dict[str, Any], field: str, minimum: int) -> None:
    value = payload.get(field)
    if value is None:
        return
    if not isinstance(value, int) or isinstance(value, bool):
        raise type_error(field, "an integer", value)
    if value < minimum:
        raise InvalidRequest(
            f"Invalid '{field}': integer below minimum value. Expected a value >= {minimum}, "
            f"but got {value} instead.",
            param=field,
        )


def _check_choices(payload: dict[str, Any], most: int) -> None:
    _optional_int(payload, "n", 1)
    value = payload.get("n")
    if value is not None and value > most:
        raise InvalidRequest(
            f"Invalid 'n': integer above maximum value. Expected a value <= {most}, but got {value} instead.",
            param="n",
        )


def require_text_or_array(payload: dict[str, Any], field: str) -> None:
    """`field` is present and holds a string or an array (of strings, token ids or parts)."""
    if field not in payload:
        raise InvalidRequest(f"Missing required parameter: '{field}'.", param=field)
    value = payload[field]
    if not isinstance(value, str | list):
        raise type_error(field, "a string or an array", value)


def decode_json_object(raw: bytes) -> dict[str, Any]:
    """Decode a body that must be one JSON object, mapping every decoder failure to a 400."""
    if not raw.strip():
        raise InvalidRequest("The request body is empty; expected a JSON object.")
    try:
        payload = _decode(raw)
    except UnicodeDecodeError:
        raise InvalidRequest("The request body is not valid UTF-8.") from None
    except RecursionError:
        raise InvalidRequest("The request body is nested too deeply.") from None
    except msgspec.DecodeError as exc:
        raise InvalidRequest(f"The request body is not valid JSON: {exc}.") from None
    if not isinstance(payload, dict):
        raise InvalidRequest(
            f"The request body must be a JSON object, not {_JSON_TYPE_NAMES.get(type(payload))}."
        )
    return payload


def parse_request(operation: Operation, raw: bytes, *, max_choices: int) -> ParsedRequest:
    """Validate what the gateway relies on and bound what a request may ask a backend to do
    (`max_choices`: `server.max_choices`); leave everything else to the backend."""
    payload = decode_json_object(raw)
    model = payload.get("model")
    if model is None:
        raise InvalidRequest("Missing required parameter: 'model'.", param="model")
    if not isinstance(model, str):
        raise type_error("model", "a string", model)
    if not model:
        raise InvalidRequest("Invalid 'model': empty string.", param="model")
    if len(model) > MODEL_NAME_MAX_CHARS:
        # Named by its length only: the string itself could be megabytes long.
        raise InvalidRequest(
            f"Invalid 'model': string too long. Expected a string with maximum length "
            f"{MODEL_NAME_MAX_CHARS}, but got a string with length {len(model)} instead.",
            param="model",
        )
    stream = payload.get("stream")
    if stream is not None and not isinstance(stream, bool):
        raise type_error("stream", "a boolean", stream)
    options = payload.get("stream_options")
    if options is not None and not isinstance(options, dict):
        raise type_error("stream_options", "an object", options)
    _optional_int(payload, "max_tokens", 1)
    _optional_int(payload, "max_completion_tokens", 1)
    _optional_int(payload, "max_output_tokens", 1)
    _check_choices(payload, max_choices)
    operation.check_body(payload)
    return ParsedRequest(operation, _encode(payload), payload)
