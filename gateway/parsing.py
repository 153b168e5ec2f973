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

from gateway.audio_duration import audio_seconds
from gateway.errors import InvalidRequest, PayloadTooLarge
from gateway.multipart_form import Form, looks_like_audio, parse_form

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

    __slots__ = (
        "audio_seconds",
        "client_wants_usage",
        "form",
        "model",
        "operation",
        "payload",
        "raw",
        "stream",
    )

    def __init__(
        self,
        operation: Operation,
        raw: bytes,
        payload: dict[str, Any],
        form: Form | None = None,
        audio_seconds: int = 0,
    ) -> None:
        self.operation = operation
        self.raw = raw
        self.payload = payload
        # The multipart upload the payload's fields came from (None: a JSON body).
        self.form = form
        # The most seconds its audio file lasts (`gateway.audio_duration`); 0 without a file.
        self.audio_seconds = audio_seconds
        self.model: str = payload["model"]
        self.stream: bool = bool(payload.get("stream"))
        if form is None:
            options = payload.get("stream_options")
            self.client_wants_usage = isinstance(options, dict) and options.get("include_usage") is True
        else:  # a form says it with a field of its own, a word
            wanted = payload.get("stream_include_usage")
            self.client_wants_usage = isinstance(wanted, str) and wanted.strip().lower() == "true"

    @property
    def content_type(self) -> str:
        """The media type of `upstream_body` (a form keeps its boundary)."""
        if self.form is None:
            return "application/json"
        return "multipart/form-data; boundary=" + self.form.boundary.decode("latin-1")

    def with_payload(self, payload: dict[str, Any]) -> ParsedRequest:
        """The same request with its payload changed (the PII step's masks and placeholders)."""
        if self.form is None:
            return ParsedRequest(self.operation, _encode(payload), payload)
        return ParsedRequest(
            self.operation, self.form.encode(payload), payload, self.form, self.audio_seconds
        )

    def upstream_body(self, added: dict[str, Any] | None = None) -> bytes:
        """The bytes to send upstream, with `added` fields (absent from the request) put in.

        Streams always ask vLLM for the final usage chunk, which the gateway needs to meter the
        request (and strips again when the client did not ask for it). New fields are spliced into the
        payload's encoding; only a client's own `stream_options` without `include_usage` makes the
        body encoded again.
        """
        fields = dict(added) if added else {}
        if self.form is not None:
            return self._upload_body()
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

    def _upload_body(self) -> bytes:
        """The form as the PII step left it; a stream also asks for its usage chunk
        (`stream_include_usage`), the file's bytes and the boundary unchanged."""
        assert self.form is not None
        if not (self.stream and self.operation.stream_usage_option and not self.client_wants_usage):
            return self.raw
        if "stream_include_usage" in self.payload:  # the client's own `false`: replaced, not repeated
            return self.form.encode({**self.payload, "stream_include_usage": "true"})
        return self.form.encode(self.payload, added={"stream_include_usage": "true"})


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


def _parse_upload(operation: Operation, raw: bytes, content_type: str, max_file_bytes: int) -> ParsedRequest:
    """A multipart operation's form: `model` and an audio `file` present, the file within the limit."""
    form = parse_form(content_type, raw)
    payload = form.fields()
    upload = form.file("file")
    if upload is None:
        raise InvalidRequest("Missing required parameter: 'file'.", param="file")
    if len(upload.data) > max_file_bytes:
        raise PayloadTooLarge(
            f"The uploaded file is {len(upload.data)} bytes; this gateway accepts audio files of at most "
            f"{max_file_bytes} bytes.",
            param="file",
        )
    if not looks_like_audio(upload.data):
        raise InvalidRequest(
            "Invalid file format: the file is not audio the backend reads (WAV, MP3, FLAC or Ogg).",
            param="file",
            code="invalid_file_format",
        )
    stream = payload.get("stream")
    if isinstance(stream, str):  # a form's booleans are words
        payload["stream"] = stream.strip().lower() == "true"
    _check_model(payload)
    operation.check_body(payload)
    return ParsedRequest(operation, raw, payload, form, audio_seconds(upload.data))


def parse_request(
    operation: Operation,
    raw: bytes,
    *,
    max_choices: int,
    content_type: str = "application/json",
    max_file_bytes: int = 0,
) -> ParsedRequest:
    """Validate what the gateway relies on and bound what a request may ask a backend to do
    (`max_choices`: `server.max_choices`; `max_file_bytes`: `server.max_audio_bytes`, for an upload);
    leave everything else to the backend."""
    if operation.multipart:
        return _parse_upload(operation, raw, content_type, max_file_bytes)
    payload = decode_json_object(raw)
    _check_model(payload)
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


def _check_model(payload: dict[str, Any]) -> None:
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
