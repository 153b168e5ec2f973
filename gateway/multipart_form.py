"""`multipart/form-data` bodies (the audio uploads): their fields, their file, and their encoding again.

A small parser rather than a framework's: the gateway must forward the form as the client sent it,
its file's bytes untouched, and rebuild only the text fields the PII step changed. Each part keeps its
own header bytes, so a form re-encoded with unchanged fields is byte-identical to the one received.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from gateway.errors import InvalidRequest

__all__ = ["Form", "FormPart", "looks_like_audio", "parse_form"]

_DISPOSITION = re.compile(rb"\bcontent-disposition:[^\r\n]*", re.IGNORECASE)
_PARAM = re.compile(rb';\s*(name|filename)="([^"]*)"', re.IGNORECASE)
_BOUNDARY = re.compile(r';\s*boundary="?([^";]+)"?', re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class FormPart:
    """One field: its name, its file name (a file) or None (a text field), its headers and bytes."""

    name: str
    filename: str | None
    headers: bytes
    data: bytes


@dataclass(frozen=True, slots=True)
class Form:
    boundary: bytes
    parts: tuple[FormPart, ...]

    def file(self, name: str) -> FormPart | None:
        return next((part for part in self.parts if part.name == name and part.filename is not None), None)

    def fields(self) -> dict[str, Any]:
        """The text fields, decoded (a repeated field, `timestamp_granularities[]`, becomes a list)."""
        fields: dict[str, Any] = {}
        for part in self.parts:
            if part.filename is not None:
                continue
            value = part.data.decode("utf-8", "replace")
            if part.name in fields:
                previous = fields[part.name]
                fields[part.name] = [*previous, value] if isinstance(previous, list) else [previous, value]
            else:
                fields[part.name] = value
        return fields

    def encode(self, fields: dict[str, Any], added: dict[str, str] | None = None) -> bytes:
        """The form with its text fields taken from `fields` (the same when nothing changed them),
        files as received, and `added` fields at the end."""
        out: list[bytes] = []
        seen: dict[str, int] = {}
        for part in self.parts:
            data = part.data
            if part.filename is None and part.name in fields:
                value = fields[part.name]
                if isinstance(value, list):
                    index = seen.get(part.name, 0)
                    seen[part.name] = index + 1
                    value = value[index] if index < len(value) else ""
                data = _text(value)
            out.append(b"--" + self.boundary + b"\r\n" + part.headers + b"\r\n\r\n" + data + b"\r\n")
        for name, value in (added or {}).items():
            header = b'Content-Disposition: form-data; name="' + name.encode() + b'"'
            out.append(b"--" + self.boundary + b"\r\n" + header + b"\r\n\r\n" + value.encode() + b"\r\n")
        out.append(b"--" + self.boundary + b"--\r\n")
        return b"".join(out)


def _text(value: Any) -> bytes:
    if isinstance(value, bool):  # the form's `stream`, parsed as a boolean for the pipeline
        return b"true" if value else b"false"
    return str(value).encode("utf-8")


def parse_form(content_type: str, raw: bytes) -> Form:
    """The form, or a 400 saying why the body is none."""
    if not content_type.lower().startswith("multipart/form-data"):
        raise InvalidRequest("The request body must be multipart/form-data (a `file` and form fields).")
    match = _BOUNDARY.search(content_type)
    if match is None:
        raise InvalidRequest("The multipart/form-data content type has no boundary.")
    boundary = match.group(1).encode("latin-1")
    delimiter = b"--" + boundary
    chunks = raw.split(delimiter)
    if len(chunks) < 3 or not chunks[-1].startswith(b"--"):
        raise InvalidRequest("The multipart/form-data body is malformed (its closing boundary is missing).")
    parts: list[FormPart] = []
    for chunk in chunks[1:-1]:
        head, separator, data = chunk.removeprefix(b"\r\n").partition(b"\r\n\r\n")
        disposition = _DISPOSITION.search(head)
        if not separator or disposition is None:
            raise InvalidRequest("A part of the multipart/form-data body has no Content-Disposition.")
        params = {key.lower(): value for key, value in _PARAM.findall(disposition.group(0))}
        if b"name" not in params:
            raise InvalidRequest("A part of the multipart/form-data body has no name.")
        filename = params.get(b"filename")
        parts.append(
            FormPart(
                params[b"name"].decode("utf-8", "replace"),
                None if filename is None else filename.decode("utf-8", "replace"),
                head,
                data.removesuffix(b"\r\n"),
            )
        )
    return Form(boundary, tuple(parts))


def looks_like_audio(data: bytes) -> bool:
    """The file starts as one of the formats vLLM's decoder reads: WAV, MP3 (an ID3 tag or a frame
    sync), FLAC or Ogg. Anything else would cost a backend a decode to be refused."""
    return (
        (data[:4] == b"RIFF" and data[8:12] == b"WAVE")
        or data[:3] == b"ID3"
        or (len(data) > 1 and data[0] == 0xFF and data[1] & 0xE0 == 0xE0)
        or data[:4] in (b"fLaC", b"OggS")
    )
