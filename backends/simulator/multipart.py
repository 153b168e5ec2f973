"""``multipart/form-data`` bodies, read with the standard library's MIME parser.

vLLM reads its audio routes' forms with FastAPI (python-multipart); the simulator only needs the
fields and the uploaded file's bytes, which ``email``'s parser gives once the body is prefixed with
its content-type header. No upload here is large enough for streaming parsing to matter.
"""

from __future__ import annotations

from dataclasses import dataclass
from email import policy
from email.parser import BytesParser

__all__ = ["FormPart", "parse_form"]


@dataclass(frozen=True, slots=True)
class FormPart:
    """One field of a form: its bytes and, for a file, its file name."""

    data: bytes
    filename: str | None = None

    @property
    def text(self) -> str:
        return self.data.decode("utf-8", "replace")


def parse_form(content_type: str, body: bytes) -> dict[str, list[FormPart]] | None:
    """The form's parts by field name (a repeated field keeps every part, in order), or ``None`` when
    the body is not a multipart form with a boundary."""
    if not content_type.lower().startswith("multipart/form-data") or "boundary=" not in content_type:
        return None
    message = BytesParser(policy=policy.HTTP).parsebytes(
        b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + body
    )
    if not message.is_multipart():
        return None
    fields: dict[str, list[FormPart]] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            continue
        payload = part.get_payload(decode=True)
        data = payload if isinstance(payload, bytes) else b""
        fields.setdefault(name, []).append(FormPart(data, part.get_filename()))
    return fields
