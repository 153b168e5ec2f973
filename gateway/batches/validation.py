"""A batch input file, checked line by line when it is uploaded: every error names its line.

Each line is one request, as OpenAI's Batch API reads it:
`{"custom_id": "...", "method": "POST", "url": "/v1/chat/completions", "body": {...}}`.
Its `url` is one of the operations a batch may run, its body passes the gateway's own checks for that
operation (the same `parse_request` the pipeline runs), names a configured model that serves it and
does not ask for a stream; `custom_id`s are unique in the file.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import msgspec

from gateway.batches.errors import BatchInputInvalid
from gateway.errors import GatewayError
from gateway.operations import OPERATIONS, Operation
from gateway.parsing import parse_request

__all__ = ["BATCH_ENDPOINTS", "InputLine", "check_input", "read_lines"]

BATCH_ENDPOINTS: dict[str, Operation] = {
    route: operation
    for operation in OPERATIONS
    if operation.value in ("chat", "completions", "embeddings", "responses")
    for route in operation.routes
}
"""The `url`s (and `endpoint`s) a batch may name, and the operation each runs."""

_MAX_CUSTOM_ID = 512
_ERRORS_SHOWN = 10

_decode = msgspec.json.Decoder().decode
_encode = msgspec.json.Encoder().encode


@dataclass(frozen=True, slots=True)
class InputLine:
    """One request of a batch: its line number (from 1), its `custom_id`, its `url` and its body."""

    number: int
    custom_id: str
    url: str
    body: bytes


def read_lines(content: bytes) -> Iterator[tuple[int, bytes]]:
    """The file's non-empty lines with their numbers (from 1); a trailing newline ends the last one."""
    for number, raw in enumerate(content.split(b"\n"), start=1):
        line = raw.rstrip(b"\r")
        if line.strip():
            yield number, line


def _line(number: int, raw: bytes, model_serves: Callable[[str, Operation], str | None]) -> InputLine:
    """The line's request, or BatchInputInvalid saying what is wrong with it (without its number)."""
    try:
        document = _decode(raw)
    except msgspec.DecodeError:
        raise BatchInputInvalid("not a JSON object") from None
    if not isinstance(document, dict):
        raise BatchInputInvalid("not a JSON object")
    custom_id = document.get("custom_id")
    if not isinstance(custom_id, str) or not custom_id:
        raise BatchInputInvalid("`custom_id` must be a non-empty string", param="custom_id")
    if len(custom_id) > _MAX_CUSTOM_ID:
        raise BatchInputInvalid(f"`custom_id` is longer than {_MAX_CUSTOM_ID} characters", param="custom_id")
    if document.get("method") != "POST":
        raise BatchInputInvalid('`method` must be "POST"', param="method")
    url = document.get("url")
    operation = BATCH_ENDPOINTS.get(url) if isinstance(url, str) else None
    if operation is None or not isinstance(url, str):
        allowed = ", ".join(sorted(BATCH_ENDPOINTS))
        raise BatchInputInvalid(f"`url` must be one of {allowed}", param="url")
    body = document.get("body")
    if not isinstance(body, dict):
        raise BatchInputInvalid("`body` must be a JSON object", param="body")
    if body.get("stream") is True:
        raise BatchInputInvalid("a batch's requests cannot be streamed (`stream: true`)", param="body.stream")
    encoded = _encode(body)
    try:
        parsed = parse_request(operation, encoded, max_choices=1024)
    except GatewayError as exc:
        raise BatchInputInvalid(exc.message, param=f"body.{exc.param}" if exc.param else "body") from None
    refusal = model_serves(parsed.model, operation)
    if refusal is not None:
        raise BatchInputInvalid(refusal, param="body.model")
    return InputLine(number, custom_id, url, encoded)


def check_input(
    content: bytes, *, max_lines: int, model_serves: Callable[[str, Operation], str | None]
) -> list[InputLine]:
    """Every request of the file, or BatchInputInvalid naming the lines at fault (the first ten).
    `model_serves(model, operation)`: None when the caller may send that operation to that model,
    else why not (an unknown model and a forbidden one are told alike)."""
    try:
        content.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BatchInputInvalid(f"The file is not UTF-8 text (byte {exc.start}).", param="file") from None
    lines: list[InputLine] = []
    problems: list[str] = []
    seen: dict[str, int] = {}
    for number, raw in read_lines(content):
        if len(lines) + len(problems) >= max_lines:
            raise BatchInputInvalid(
                f"The file holds more than {max_lines} requests, the most a batch may have.", param="file"
            )
        try:
            line = _line(number, raw, model_serves)
        except BatchInputInvalid as exc:
            problems.append(f"line {number}: {exc.message}")
            continue
        first = seen.setdefault(line.custom_id, number)
        if first != number:
            problems.append(f"line {number}: `custom_id` {line.custom_id!r} is already used on line {first}")
            continue
        lines.append(line)
    if problems:
        shown = "; ".join(problems[:_ERRORS_SHOWN])
        more = f" (and {len(problems) - _ERRORS_SHOWN} more)" if len(problems) > _ERRORS_SHOWN else ""
        raise BatchInputInvalid(f"The file is not a valid batch input: {shown}{more}.", param="file")
    if not lines:
        raise BatchInputInvalid(
            "The file holds no request: one JSON request per line is expected.", param="file"
        )
    return lines
