"""`POST /v1/audio/transcriptions` and `/v1/audio/translations`: speech to text, a multipart upload.

The form's fields are the payload every step reads (`model`, `prompt`, `stream`...); its file is
checked at parsing (present, audio, within `server.max_audio_bytes`) and forwarded as received. Only
`prompt` holds text the model reads, and it is all vLLM counts as the prompt besides the audio.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from gateway.operations.base import Operation, single_choice
from gateway.operations.schema import STREAM, body, string
from gateway.token_bounds import fields_token_bound
from gateway.usage import audio_usage_from_body, audio_usage_from_dict

__all__ = ["TRANSCRIPTIONS", "TRANSLATIONS"]

_PROMPT_FIELDS = ("prompt",)

# The form's fields the gateway reads or checks; vLLM's others (`temperature`,
# `timestamp_granularities[]`...) go through as sent.
_FORM = body(
    required=("file",),
    file={
        "type": "string",
        "contentMediaType": "application/octet-stream",
        "description": "The audio file: WAV, MP3, FLAC or OGG, at most `server.max_audio_bytes`.",
    },
    prompt=string(
        "Text to guide the model's style or continue a previous segment; scanned for personal data."
    ),
    language=string("The language of the audio (ISO 639-1), when known."),
    response_format=string("`json` (the default), `text` or `verbose_json`, as vLLM serves them."),
    stream=STREAM,
)


def _check_form(payload: dict[str, Any]) -> None:
    """The file's checks need its bytes: `parse_request` makes them for every multipart operation."""


def _input_token_bound(payload: dict[str, Any]) -> int:
    return fields_token_bound(payload, _PROMPT_FIELDS)


TRANSCRIPTIONS = Operation(
    value="transcriptions",
    routes=("/v1/audio/transcriptions",),
    upstream_path="/v1/audio/transcriptions",
    check_body=_check_form,
    input_token_bound=_input_token_bound,
    genai_name="transcription",
    summary="The text spoken in an audio file (OpenAI's audio transcriptions), personal data masked.",
    body_schema=_FORM,
    pii_read_first=_PROMPT_FIELDS,
    choices=single_choice,
    stream_usage_option=True,
    multipart=True,
    masks_answer=True,
    usage_in_answer=audio_usage_from_body,
    usage_in_stream=audio_usage_from_dict,
)

# The same upload, answered in English: only its names and route differ.
TRANSLATIONS = dataclasses.replace(
    TRANSCRIPTIONS,
    value="translations",
    routes=("/v1/audio/translations",),
    upstream_path="/v1/audio/translations",
    genai_name="translation",
    summary="The English translation of the speech in an audio file, personal data masked.",
)
