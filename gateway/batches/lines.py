"""The lines of a batch's output and error files, in OpenAI's format.

    {"id": "batch_req_...", "custom_id": "...", "response": {"status_code": 200, "request_id": "...",
     "body": {...}}, "error": null}

A request the backend (or the gateway) answered with an error goes to the error file with its
`response`; one never run (the batch expired) with `response: null` and an `error`.
"""

from __future__ import annotations

import os
from typing import Any

import msgspec

__all__ = ["answered_line", "line_usage", "unanswered_line"]

_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.Decoder().decode


def _id() -> bytes:
    return b'"batch_req_' + os.urandom(12).hex().encode() + b'"'


def answered_line(custom_id: str, status: int, request_id: str, body: bytes) -> bytes:
    """A line for an answer: its JSON body embedded as it is (a body that is not JSON, as a string)."""
    try:
        _decode(body)
    except msgspec.DecodeError:
        body = _encode(body.decode("utf-8", "replace"))
    return b"".join(
        (
            b'{"id":',
            _id(),
            b',"custom_id":',
            _encode(custom_id),
            b',"response":{"status_code":',
            str(status).encode(),
            b',"request_id":',
            _encode(request_id),
            b',"body":',
            body,
            b'},"error":null}',
        )
    )


def unanswered_line(custom_id: str, code: str, message: str) -> bytes:
    return b"".join(
        (
            b'{"id":',
            _id(),
            b',"custom_id":',
            _encode(custom_id),
            b',"response":null,"error":',
            _encode({"code": code, "message": message}),
            b"}",
        )
    )


def line_usage(line: bytes) -> tuple[int, int]:
    """(input, output) tokens of an answered line's body (chat, completions, embeddings, responses)."""
    try:
        document: Any = _decode(line)
        usage = document["response"]["body"]["usage"]
    except (msgspec.DecodeError, KeyError, TypeError):
        return 0, 0
    if not isinstance(usage, dict):
        return 0, 0
    prompt = usage.get("prompt_tokens", usage.get("input_tokens", 0))
    completion = usage.get("completion_tokens", usage.get("output_tokens", 0))
    return (prompt if isinstance(prompt, int) else 0), (completion if isinstance(completion, int) else 0)
