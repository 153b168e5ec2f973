"""``POST /v1/audio/transcriptions`` and ``/v1/audio/translations`` on a speech-to-text model.

As vLLM 0.32 serves them: a multipart form (``file``, ``model``, ``language``, ``prompt``,
``response_format``, ``stream``, ``stream_include_usage``, ``stream_continuous_usage_stats``...), the
file refused over ``VLLM_MAX_AUDIO_CLIP_FILESIZE_MB`` (25 by default) or when it is no audio, and the
answer ``{"text", "usage": {"type": "duration", "seconds"}}`` (a translation has no usage),
``verbose_json`` with segments, or a stream of ``transcription.chunk`` events ending with
``data: [DONE]``. vLLM answers ``text`` in JSON too, and refuses ``srt`` and ``vtt``.

The transcript is seeded words, about 2.5 a second of audio (speech's usual pace), from the server
seed and the file's bytes; in ``echo`` mode it is the form's ``prompt``, or else the file's name
without its extension (a test's way to have a backend "hear" a chosen sentence).
"""

from __future__ import annotations

import math
import os
import time
import zlib
from dataclasses import dataclass
from typing import Any

from backends.simulator import errors
from backends.simulator.asgi import send_response
from backends.simulator.audio_duration import audio_duration
from backends.simulator.engine import Engine
from backends.simulator.generation import ChoiceOutput, choice_rng, random_pieces
from backends.simulator.multipart import FormPart, parse_form
from backends.simulator.serving import HTTPRequest, check_engine_alive, encode_json
from backends.simulator.sse import DONE_EVENT, usage_json
from backends.simulator.streaming import stream_answer

__all__ = ["serve_transcription", "serve_translation"]

_WORDS_PER_SECOND = 2.5
_SEGMENT_WORDS = 25
"""Words per ``verbose_json`` segment (about ten seconds of speech)."""
_DECODER_PROMPT_TOKENS = 4
"""Whisper's decoder prompt: start of transcript, language, task, no timestamps."""
_FORMATS = ("text", "json", "verbose_json", "diarized_json")
_MiB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class AudioPlan:
    """One validated request and its transcript."""

    task: str
    model: str
    duration: float
    response_format: str
    language: str
    choice: ChoiceOutput
    prompt_tokens: int
    stream: bool
    include_usage: bool
    continuous_usage: bool


async def serve_transcription(engine: Engine, http: HTTPRequest) -> None:
    await _serve(engine, http, "transcribe")


async def serve_translation(engine: Engine, http: HTTPRequest) -> None:
    await _serve(engine, http, "translate")


async def _serve(engine: Engine, http: HTTPRequest, task: str) -> None:
    plan = _plan(engine, http, task)
    failed = engine.draw_failure()
    if failed and not plan.stream:
        engine.record_failure()
        raise errors.internal_error()
    admission = await engine.admit(
        http.watch,
        prompt="",
        prompt_tokens=plan.prompt_tokens,
        max_output_tokens=plan.choice.num_tokens,
        extra_delay=http.extra_delay,
    )
    if admission is None:
        return
    if plan.stream:
        await stream_answer(engine, http, admission, [plan.choice], AudioStreamEvents(plan), failed=failed)
        return
    # A whole answer: the time it takes to generate, then done.
    wait = admission.time_to_first_token + admission.inter_token_latency * plan.choice.num_tokens
    if not await http.watch.sleep(wait):
        engine.abort(admission, generated_tokens=0)
        return
    engine.finish(admission, finish_reasons=["stop"], tokens_per_choice=[plan.choice.num_tokens])
    await send_response(http.send, 200, encode_json(_answer(plan)))


def _field(form: dict[str, list[FormPart]], name: str) -> str | None:
    parts = form.get(name)
    return parts[-1].text if parts else None


def _flag(form: dict[str, list[FormPart]], name: str) -> bool:
    value = _field(form, name)
    return value is not None and value.strip().lower() in ("true", "1", "yes", "on")


def _missing_file() -> errors.SimulatorHTTPError:
    return errors.request_validation_failed(
        [{"type": "missing", "loc": ("body", "file"), "msg": "Field required", "input": None}]
    )


def _plan(engine: Engine, http: HTTPRequest, task: str) -> AudioPlan:
    settings = engine.settings
    form = parse_form(http.headers.get("content-type", ""), http.body)
    if form is None or not form.get("file"):
        raise _missing_file()
    upload = form["file"][-1]
    served = settings.transcription_models
    model = _field(form, "model") or served[0]
    if model not in served:
        raise errors.model_not_found(model, served)
    check_engine_alive(engine)
    # vLLM reads VLLM_MAX_AUDIO_CLIP_FILESIZE_MB at each upload; so does the simulator.
    limit_mb = float(os.environ.get("VLLM_MAX_AUDIO_CLIP_FILESIZE_MB", "25"))
    if len(upload.data) > int(limit_mb * _MiB):
        raise errors.bad_request("Maximum file size exceeded", "audio_filesize_mb", len(upload.data) / _MiB)
    stream = _flag(form, "stream")
    response_format = _field(form, "response_format") or "json"
    if response_format not in _FORMATS:
        raise errors.bad_request(
            "Currently only support response_format: `text`, `json`, `verbose_json` or `diarized_json`"
        )
    if response_format == "diarized_json":
        raise errors.bad_request(f"Currently do not support diarized_json for {model}")
    if response_format == "verbose_json" and stream:
        raise errors.bad_request("verbose_json format doesn't support streaming case")
    duration = audio_duration(upload.data)
    if duration is None:
        raise errors.bad_request("Invalid or unsupported audio file.")
    prompt = _field(form, "prompt") or ""
    if settings.mode == "echo":
        heard = prompt or (upload.filename or "").rsplit(".", 1)[0]
        pieces = [word if index == 0 else " " + word for index, word in enumerate(heard.split())]
    else:
        seed = zlib.crc32(upload.data)
        pieces = random_pieces(
            choice_rng(settings.seed, seed, task, 0), max(1, round(duration * _WORDS_PER_SECOND))
        )
    include_usage = stream and _flag(form, "stream_include_usage")
    return AudioPlan(
        task=task,
        model=model,
        duration=duration,
        response_format=response_format,
        language=_field(form, "language") or "en",
        choice=ChoiceOutput(pieces=pieces, finish_reason="stop", num_tokens=len(pieces)),
        prompt_tokens=_DECODER_PROMPT_TOKENS + len(prompt.split()),
        stream=stream,
        include_usage=include_usage,
        continuous_usage=include_usage and _flag(form, "stream_continuous_usage_stats"),
    )


def _answer(plan: AudioPlan) -> dict[str, Any]:
    text = plan.choice.text
    if plan.response_format == "verbose_json":
        return {
            "duration": plan.duration,
            "language": plan.language,
            "text": text,
            "segments": _segments(plan),
            "words": None,
        }
    if plan.task == "translate":  # vLLM reports no usage for a translation
        return {"text": text}
    # OpenAI's usage of an audio request: its duration, rounded up to whole seconds.
    return {"text": text, "usage": {"type": "duration", "seconds": math.ceil(plan.duration)}}


def _segments(plan: AudioPlan) -> list[dict[str, Any]]:
    pieces = plan.choice.pieces
    groups = [pieces[start : start + _SEGMENT_WORDS] for start in range(0, len(pieces), _SEGMENT_WORDS)]
    seconds_per_word = plan.duration / max(len(pieces), 1)
    segments = []
    for index, group in enumerate(groups):
        start = index * _SEGMENT_WORDS * seconds_per_word
        segments.append(
            {
                "id": index,
                "avg_logprob": -0.25,
                "compression_ratio": 1.2,
                "end": round(min(start + len(group) * seconds_per_word, plan.duration), 2),
                "no_speech_prob": None,
                "seek": 0,
                "start": round(start, 2),
                "temperature": 0.0,
                "text": "".join(group),
                "tokens": list(range(index * _SEGMENT_WORDS, index * _SEGMENT_WORDS + len(group))),
            }
        )
    return segments


class AudioStreamEvents:
    """``transcription.chunk`` (``translation.chunk``) events: one per word, the last one with its
    finish reason, then the usage chunk when ``stream_include_usage`` asked for it."""

    terminator = DONE_EVENT
    empty_choice_sends_an_event = True

    def __init__(self, plan: AudioPlan) -> None:
        self._plan = plan
        self._last = max(len(plan.choice.pieces), 1) - 1
        kind = "transcription" if plan.task == "transcribe" else "translation"
        self._head = encode_json(
            {
                "id": f"{plan.task}-{os.urandom(16).hex()}",
                "object": f"{kind}.chunk",
                "created": int(time.time()),
                "model": plan.model,
            }
        )[:-1]

    def prelude(self) -> list[bytes]:
        return []

    def opening(self) -> list[bytes]:
        return []

    def content_opening(self) -> list[bytes]:
        return []

    def token(self, index: int, step: int) -> bytes:
        plan = self._plan
        pieces = plan.choice.pieces
        choice: dict[str, Any] = {"delta": {"content": pieces[step] if pieces else ""}}
        if step == self._last:
            choice |= {"finish_reason": "stop", "stop_reason": None}
        usage = b""
        if plan.continuous_usage:
            usage = b',"usage":' + usage_json(plan.prompt_tokens, step + 1)
        return b"data: " + self._head + b',"choices":[' + encode_json(choice) + b"]" + usage + b"}\n\n"

    def closing(self) -> list[bytes]:
        plan = self._plan
        if not plan.include_usage:
            return []
        usage = usage_json(plan.prompt_tokens, plan.choice.num_tokens)
        return [b"data: " + self._head + b',"choices":[],"usage":' + usage + b"}\n\n"]

    def error_event(self, error: errors.SimulatorHTTPError) -> bytes | None:
        return b"data: " + error.body + b"\n\n"
