"""Personal data the model heard is masked in the transcript, whatever the response format, streamed
or not: the simulator in echo mode "hears" the form's prompt or the uploaded file's name."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import openai
import pytest

from tests import audio_samples
from tests.gateway.conftest import DEPARTMENT, RunningGateway, issue_key, running_gateway, running_simulator

WHISPER = "whisper-large-v3"
EMAIL = "claire.dupont@interieur.gouv.fr"
PHONE = "06 12 34 56 78"
PSEUDONYMIZING = "courrier-pseudo"
DETECTING = "courrier-detect"


@dataclass
class Served:
    gateway: RunningGateway

    def sdk(self, key: str | None = None) -> openai.OpenAI:
        return openai.OpenAI(base_url=self.gateway.v1, api_key=key or self.gateway.api_key, max_retries=0)

    def key(self, service: str) -> str:
        return issue_key(self.gateway.state.config, DEPARTMENT, service, "user")

    def post(self, key: str | None = None, filename: str = "speech.wav", **form: str) -> httpx.Response:
        return httpx.post(
            f"{self.gateway.v1}/audio/{form.pop('task', 'transcriptions')}",
            data={"model": WHISPER, **form},
            files={"file": (filename, audio_samples.wav(1.0), "audio/wav")},
            headers={"authorization": f"Bearer {key or self.gateway.api_key}"},
            timeout=10,
        )


@pytest.fixture(scope="module")
def served() -> Iterator[Served]:
    with (
        running_simulator(transcription_models=(WHISPER,), models=(), mode="echo") as sim,
        running_gateway(
            [{"name": WHISPER, "kind": "transcription", "backends": [{"url": sim}]}],
            pii={
                "mode": "mask",
                "names": "off",
                "rules": [
                    {"service": PSEUDONYMIZING, "mode": "pseudonymize"},
                    {"service": DETECTING, "mode": "detect"},
                ],
            },
        ) as gateway,
    ):
        yield Served(gateway)


def _events(body: str) -> list[str]:
    return [line.removeprefix("data: ") for line in body.split("\n\n") if line.startswith("data: ")]


def test_sdk_file_name_heard_is_masked(served: Served) -> None:
    with served.sdk() as sdk:
        answer = sdk.audio.transcriptions.create(
            file=(f"{EMAIL}.wav", audio_samples.wav(1.0), "audio/wav"), model=WHISPER
        )
    assert answer.text == "[EMAIL]"


def test_sdk_stream_is_masked(served: Served) -> None:
    with served.sdk() as sdk:
        stream = sdk.audio.transcriptions.create(
            file=("speech.wav", audio_samples.wav(1.0), "audio/wav"),
            model=WHISPER,
            prompt=f"Rappelez {EMAIL} au {PHONE} demain",
            stream=True,
        )
        text = "".join(
            choice["delta"]["content"]
            for event in stream
            for choice in (event.model_extra or {}).get("choices", [])
            if choice.get("delta")
        )
    assert text == "Rappelez [EMAIL] au [PHONE] demain"


@pytest.mark.parametrize("response_format", ["json", "text", "verbose_json"])
def test_every_format_is_masked(served: Served, response_format: str) -> None:
    reply = served.post(prompt=f"Mon numéro est le {PHONE}, merci", response_format=response_format)
    assert reply.status_code == 200, reply.text
    assert PHONE not in reply.text and "[PHONE]" in reply.text
    if response_format == "verbose_json":
        assert all(PHONE not in segment["text"] for segment in reply.json()["segments"])
        assert "[PHONE]" in reply.json()["segments"][0]["text"]


def test_a_translation_is_masked(served: Served) -> None:
    reply = served.post(task="translations", filename=f"{EMAIL}.wav")
    assert reply.status_code == 200, reply.text
    assert reply.json()["text"] == "[EMAIL]"


def test_pseudonymize_masks_the_transcript_too(served: Served) -> None:
    # The prompt's address goes to the backend as a placeholder; the transcript has nothing to restore.
    reply = served.post(served.key(PSEUDONYMIZING), prompt=f"Écrire à {EMAIL}", stream="true")
    assert reply.status_code == 200, reply.text
    assert EMAIL not in reply.text and "[EMAIL]" in reply.text


def test_detect_leaves_the_transcript_as_heard(served: Served) -> None:
    reply = served.post(served.key(DETECTING), filename=f"{EMAIL}.wav")
    assert reply.json()["text"] == EMAIL


def test_a_long_stream_never_splits_an_entity(served: Served) -> None:
    # Past the held window, the text is released in parts: the entities are never cut between them.
    # Words without digits: a digit next to the phone number would make it another number.
    words = " ".join(["courrier", "reçu", "le", "matin"] * 15)
    prompt = f"{words} {EMAIL} {words} {PHONE} {words} {EMAIL}"
    reply = served.post(prompt=prompt, stream="true")
    assert reply.status_code == 200, reply.text
    deltas = [
        json.loads(event)["choices"][0]["delta"]["content"]
        for event in _events(reply.text)
        if event != "[DONE]" and json.loads(event).get("choices")
    ]
    text = "".join(deltas)
    assert text == f"{words} [EMAIL] {words} [PHONE] {words} [EMAIL]"
    assert sum(1 for delta in deltas if delta) > 1  # released before the end, not all held
