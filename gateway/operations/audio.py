"""`POST /v1/audio/transcriptions` and `/v1/audio/translations`: speech to text, a multipart upload.

The form's fields are the payload every step reads (`model`, `prompt`, `stream`...); its file is
checked at parsing (present, audio, within `server.max_audio_bytes`) and forwarded as received. Only
`prompt` holds text the model reads, and it is all vLLM counts as the prompt besides the audio.
"""

from __future__ import annotations

from typing import Any

from gateway.operations.base import Operation, single_choice
from gateway.token_bounds import fields_token_bound
from gateway.usage import audio_usage_from_body, audio_usage_from_dict

__all__ = ["TRANSCRIPTIONS", "TRANSLATIONS"]

_PROMPT_FIELDS = ("prompt",)


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
    pii_read_first=_PROMPT_FIELDS,
    choices=single_choice,
    stream_usage_option=True,
    multipart=True,
    masks_answer=True,
    usage_in_answer=audio_usage_from_body,
    usage_in_stream=audio_usage_from_dict,
)

TRANSLATIONS = Operation(
    value="translations",
    routes=("/v1/audio/translations",),
    upstream_path="/v1/audio/translations",
    check_body=_check_form,
    input_token_bound=_input_token_bound,
    genai_name="translation",
    pii_read_first=_PROMPT_FIELDS,
    choices=single_choice,
    stream_usage_option=True,
    multipart=True,
    masks_answer=True,
    usage_in_answer=audio_usage_from_body,
    usage_in_stream=audio_usage_from_dict,
)
