"""Transcriptions and translations: forms, formats, durations, streams and vLLM's errors."""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest

from backends.simulator.audio_duration import audio_duration
from tests import audio_samples
from tests.simulator.conftest import StartSimulator

WHISPER = "test-whisper"
TRANSCRIPTIONS = "/v1/audio/transcriptions"
TRANSLATIONS = "/v1/audio/translations"


@pytest.fixture
def audio(start_simulator: StartSimulator) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=start_simulator(transcription_models=(WHISPER,)), timeout=10.0) as http:
        yield http


def _post(http: httpx.Client, data: bytes, path: str = TRANSCRIPTIONS, **fields: Any) -> httpx.Response:
    form = {"model": WHISPER, **fields}
    return http.post(path, data=form, files={"file": ("speech.wav", data, "audio/wav")})


@pytest.mark.parametrize(
    ("sample", "seconds"),
    [
        (audio_samples.wav(2.5), 2.5),
        (audio_samples.flac(61.0), 61.0),
        (audio_samples.ogg_vorbis(7.0), 7.0),
        (audio_samples.ogg_opus(3.5), 3.5),
        (audio_samples.mp3(4.0), round(4.0 * 44_100 / 1152) * 1152 / 44_100),
        (audio_samples.mp3(90.0, xing=True), round(90.0 * 44_100 / 1152) * 1152 / 44_100),
    ],
    ids=["wav", "flac", "ogg-vorbis", "ogg-opus", "mp3-frames", "mp3-xing"],
)
def test_durations_are_read_from_each_format(sample: bytes, seconds: float) -> None:
    assert audio_duration(sample) == pytest.approx(seconds, abs=1e-6)


def test_not_audio_has_no_duration() -> None:
    assert audio_duration(b"%PDF-1.7 not a sound") is None
    assert audio_duration(b"RIFF\x00\x00") is None


def test_json_answer_reports_the_duration_rounded_up_and_text_grows_with_it(audio: httpx.Client) -> None:
    short = _post(audio, audio_samples.wav(2.2)).json()
    long = _post(audio, audio_samples.wav(20.0)).json()
    assert set(short) == {"text", "usage"}
    assert short["usage"] == {"type": "duration", "seconds": 3}
    assert long["usage"]["seconds"] == 20
    assert len(long["text"].split()) > 5 * len(short["text"].split())
    # The same file and server seed: the same transcript.
    assert _post(audio, audio_samples.wav(2.2)).json() == short


def test_text_is_answered_in_json_as_vllm_does(audio: httpx.Client) -> None:
    answer = _post(audio, audio_samples.wav(1.0), response_format="text")
    assert answer.status_code == 200
    assert set(answer.json()) == {"text", "usage"}


def test_verbose_json_has_segments_covering_the_audio(audio: httpx.Client) -> None:
    answer = _post(audio, audio_samples.wav(30.0), response_format="verbose_json", language="de").json()
    assert answer["language"] == "de"
    assert answer["duration"] == pytest.approx(30.0)
    segments = answer["segments"]
    assert len(segments) > 1
    assert "".join(segment["text"] for segment in segments) == answer["text"]
    assert segments[0]["start"] == 0.0
    assert segments[-1]["end"] == pytest.approx(30.0, abs=0.01)


@pytest.mark.parametrize("response_format", ["srt", "vtt"])
def test_subtitle_formats_are_refused_like_vllm(audio: httpx.Client, response_format: str) -> None:
    answer = _post(audio, audio_samples.wav(1.0), response_format=response_format)
    assert answer.status_code == 400
    assert "only support response_format" in answer.json()["error"]["message"]


def test_translation_has_no_usage(audio: httpx.Client) -> None:
    answer = _post(audio, audio_samples.mp3(3.0), path=TRANSLATIONS).json()
    assert set(answer) == {"text"}


def test_stream_sends_chunks_then_usage_then_done(audio: httpx.Client) -> None:
    answer = _post(audio, audio_samples.wav(3.0), stream="true", stream_include_usage="true")
    assert answer.headers["content-type"].startswith("text/event-stream")
    events = [line.removeprefix("data: ") for line in answer.text.split("\n\n") if line]
    assert events[-1] == "[DONE]"
    chunks = [httpx.Response(200, content=event).json() for event in events[:-1]]
    assert all(chunk["object"] == "transcription.chunk" for chunk in chunks)
    assert chunks[-2]["choices"][0]["finish_reason"] == "stop"
    assert chunks[-1]["choices"] == []
    words = len(chunks) - 1
    assert chunks[-1]["usage"]["completion_tokens"] == words


def test_echo_mode_hears_the_file_name(start_simulator: StartSimulator) -> None:
    url = start_simulator(transcription_models=(WHISPER,), mode="echo")
    with httpx.Client(base_url=url) as http:
        answer = http.post(
            TRANSCRIPTIONS,
            data={"model": WHISPER},
            files={"file": ("call me at 555.wav", audio_samples.wav(1.0), "audio/wav")},
        )
    assert answer.json()["text"] == "call me at 555"


def test_missing_file_is_a_validation_error(audio: httpx.Client) -> None:
    answer = audio.post(TRANSCRIPTIONS, data={"model": WHISPER}, files={"other": ("x", b"1")})
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert error["param"] == "body.file"
    assert "Field required" in error["message"]


def test_not_audio_is_refused(audio: httpx.Client) -> None:
    answer = _post(audio, b"just some text, not a sound file")
    assert answer.status_code == 400
    assert answer.json()["error"]["message"] == "Invalid or unsupported audio file."


def test_too_large_file_is_refused(audio: httpx.Client, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VLLM_MAX_AUDIO_CLIP_FILESIZE_MB", "0.01")
    answer = _post(audio, audio_samples.wav(1.0))
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert error["param"] == "audio_filesize_mb"
    assert error["message"].startswith("Maximum file size exceeded")


def test_unknown_model_is_404(audio: httpx.Client) -> None:
    answer = audio.post(
        TRANSCRIPTIONS, data={"model": "nope"}, files={"file": ("a.wav", audio_samples.wav(1.0))}
    )
    assert answer.status_code == 404


def test_routes_exist_only_with_a_transcription_model(client: httpx.Client) -> None:
    assert client.post(TRANSCRIPTIONS, files={"file": ("a.wav", b"x")}).status_code == 404


def test_official_sdk_transcribes(audio: httpx.Client) -> None:
    with openai.OpenAI(base_url=str(audio.base_url.join("/v1")), api_key="x", max_retries=0) as sdk:
        answer = sdk.audio.transcriptions.create(file=("a.wav", audio_samples.wav(4.2)), model=WHISPER)
    assert answer.text
    assert math.ceil(4.2) == answer.usage.seconds  # type: ignore[union-attr]
