"""Transcriptions and translations through the gateway, with the official SDK, to the simulator:
multipart uploads forwarded as sent, refused by policy, by their checks (file missing, not audio, too
large), and their prompt's personal data redacted on the way in."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import openai
import pytest

from tests import audio_samples
from tests.gateway.conftest import (
    DEPARTMENT,
    POLICIES,
    RunningGateway,
    issue_key,
    last_request,
    running_gateway,
    running_simulator,
)

WHISPER = "whisper-large-v3"
EMAIL = "claire.dupont@interieur.gouv.fr"
CHAT_ONLY = "chat-only"
_POLICY = f"""p, user, *, *, *, allow
p, {CHAT_ONLY}, *, *, chat, allow
"""


@dataclass
class Served:
    sim: str
    gateway: RunningGateway

    def sdk(self, key: str | None = None) -> openai.OpenAI:
        return openai.OpenAI(base_url=self.gateway.v1, api_key=key or self.gateway.api_key, max_retries=0)

    def upload(self, data: bytes, **form: str) -> httpx.Response:
        return httpx.post(
            f"{self.gateway.v1}/audio/transcriptions",
            data={"model": WHISPER, **form},
            files={"file": ("speech.wav", data, "audio/wav")},
            headers=self.gateway.headers,
            timeout=10,
        )


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    policy = tmp_path_factory.mktemp("policy") / "policy.csv"
    policy.write_text(_POLICY)
    with (
        running_simulator(transcription_models=(WHISPER,), models=()) as sim,
        running_gateway(
            [{"name": WHISPER, "kind": "transcription", "backends": [{"url": sim}]}],
            policy={"model_file": str(POLICIES / "model.conf"), "policy_file": str(policy)},
            pii={"mode": "mask", "names": "off"},
            server={"max_audio_bytes": 200_000},
        ) as gateway,
    ):
        yield Served(sim, gateway)


@pytest.fixture
def wav_file(tmp_path: Path) -> Path:
    path = tmp_path / "speech.wav"
    path.write_bytes(audio_samples.wav(3.2))
    return path


def test_sdk_transcribes_a_wav_file_and_the_form_reaches_vllm_unchanged(
    served: Served, wav_file: Path
) -> None:
    with served.sdk() as sdk, wav_file.open("rb") as audio:
        answer = sdk.audio.transcriptions.create(file=audio, model=WHISPER, language="fr")
    assert answer.text
    assert answer.usage is not None and answer.usage.seconds == 4  # type: ignore[union-attr]
    seen = last_request(served.sim)
    assert seen["path"] == "/v1/audio/transcriptions"
    assert seen["headers"]["content-type"].startswith("multipart/form-data; boundary=")


def test_text_format(served: Served, wav_file: Path) -> None:
    with served.sdk() as sdk, wav_file.open("rb") as audio:
        answer = sdk.audio.transcriptions.create(file=audio, model=WHISPER, response_format="text")
    assert answer


def test_translation(served: Served) -> None:
    # The SDK's own translations call is deprecated (a warning, an error under pytest): the same form.
    reply = httpx.post(
        f"{served.gateway.v1}/audio/translations",
        data={"model": WHISPER},
        files={"file": ("a.mp3", audio_samples.mp3(2.0), "audio/mpeg")},
        headers=served.gateway.headers,
        timeout=10,
    )
    assert reply.status_code == 200, reply.text
    assert reply.json()["text"]
    assert last_request(served.sim)["path"] == "/v1/audio/translations"


def test_refused_by_policy(served: Served, wav_file: Path) -> None:
    key = issue_key(served.gateway.state.config, DEPARTMENT, CHAT_ONLY, "reader")
    with served.sdk(key) as sdk, wav_file.open("rb") as audio, pytest.raises(openai.PermissionDeniedError):
        sdk.audio.transcriptions.create(file=audio, model=WHISPER)


def test_missing_file_is_a_400_naming_it(served: Served) -> None:
    reply = httpx.post(
        f"{served.gateway.v1}/audio/transcriptions",
        data={"model": WHISPER},
        files={"other": ("x.txt", b"x")},
        headers=served.gateway.headers,
        timeout=10,
    )
    assert reply.status_code == 400, reply.text
    assert reply.json()["error"]["param"] == "file"


def test_missing_model_is_a_400_naming_it(served: Served) -> None:
    reply = httpx.post(
        f"{served.gateway.v1}/audio/transcriptions",
        files={"file": ("a.wav", audio_samples.wav(1.0))},
        headers=served.gateway.headers,
        timeout=10,
    )
    assert reply.status_code == 400, reply.text
    assert reply.json()["error"]["param"] == "model"


def test_not_audio_is_refused_before_the_backend(served: Served) -> None:
    reply = served.upload(b"%PDF-1.7 a document, not a sound")
    assert reply.status_code == 400, reply.text
    error = reply.json()["error"]
    assert (error["param"], error["code"]) == ("file", "invalid_file_format")


def test_too_large_file_is_413(served: Served) -> None:
    reply = served.upload(audio_samples.wav(10.0))  # 320 kB, over the 200 kB configured
    assert reply.status_code == 413, reply.text
    assert reply.json()["error"]["param"] == "file"


def test_prompt_is_masked_before_the_backend(served: Served) -> None:
    reply = served.upload(audio_samples.wav(1.0), prompt=f"Courriel de {EMAIL}")
    assert reply.status_code == 200, reply.text
    assert EMAIL not in last_request(served.sim)["body"]


def _events(body: str) -> list[str]:
    return [line.removeprefix("data: ") for line in body.split("\n\n") if line.startswith("data: ")]


def test_sdk_streams_a_transcription_and_the_gateway_asks_for_its_usage(
    served: Served, wav_file: Path
) -> None:
    with served.sdk() as sdk, wav_file.open("rb") as audio:
        events = list(sdk.audio.transcriptions.create(file=audio, model=WHISPER, stream=True))
    assert events
    # The gateway asked for the usage chunk (to meter the stream) and took it out again.
    assert 'name="stream_include_usage"\r\n\r\ntrue' in last_request(served.sim)["body"]
    assert all(getattr(event, "usage", None) is None for event in events)


def test_a_stream_keeps_its_usage_chunk_when_the_client_asked(served: Served) -> None:
    reply = served.upload(audio_samples.wav(1.0), stream="true", stream_include_usage="true")
    assert reply.status_code == 200, reply.text
    events = _events(reply.text)
    assert events[-1] == "[DONE]"
    assert '"choices":[]' in events[-2] and '"usage"' in events[-2]
    assert last_request(served.sim)["body"].count('name="stream_include_usage"') == 1


def test_a_clients_false_is_replaced_not_repeated(served: Served) -> None:
    reply = served.upload(audio_samples.wav(1.0), stream="true", stream_include_usage="false")
    assert reply.status_code == 200, reply.text
    assert '"usage"' not in reply.text
    body = last_request(served.sim)["body"]
    assert body.count('name="stream_include_usage"') == 1
    assert 'name="stream_include_usage"\r\n\r\ntrue' in body
