"""An audio request is metered in seconds (the backend's `usage.seconds`), priced per second of audio,
and refused by its quota like any other request."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import openai
import pytest

from gateway.request_record import RequestRecord
from tests import audio_samples
from tests.gateway.conftest import DEPARTMENT, RunningGateway, issue_key, running_gateway, running_simulator
from tests.waiting import wait_for

WHISPER = "whisper-large-v3"
CLOSED = "transcription-closed"


@dataclass
class Served:
    gateway: RunningGateway
    records: list[RequestRecord]

    def post(self, key: str | None = None, **form: str) -> httpx.Response:
        return httpx.post(
            f"{self.gateway.v1}/audio/transcriptions",
            data={"model": WHISPER, **form},
            files={"file": ("speech.wav", audio_samples.wav(3.2), "audio/wav")},
            headers={"authorization": f"Bearer {key or self.gateway.api_key}"},
            timeout=10,
        )

    def record_of(self, reply: httpx.Response) -> RequestRecord:
        request_id = reply.headers["x-request-id"]
        assert wait_for(lambda: any(r.request_id == request_id for r in self.records), 5.0)
        return next(r for r in self.records if r.request_id == request_id)


@pytest.fixture(scope="module")
def served() -> Iterator[Served]:
    with (
        running_simulator(transcription_models=(WHISPER,), models=()) as sim,
        running_gateway(
            [{"name": WHISPER, "kind": "transcription", "backends": [{"url": sim}]}],
            quotas={
                "models": {WHISPER: {"price_per_audio_second": "0.0001", "price_per_million_output": "2"}},
                "services": {f"{DEPARTMENT}/{CLOSED}": {"models": {WHISPER: {"tokens_per_minute": 0}}}},
            },
        ) as gateway,
    ):
        records: list[RequestRecord] = []
        recorder = gateway.worker.recorder
        record = recorder.record

        def keep(usage: RequestRecord) -> None:
            records.append(usage)
            record(usage)

        recorder.record = keep  # type: ignore[method-assign]
        yield Served(gateway, records)


def test_a_transcription_is_metered_and_priced_in_seconds(served: Served) -> None:
    reply = served.post()
    assert reply.status_code == 200, reply.text
    record = served.record_of(reply)
    assert record.audio_seconds == 4  # 3.2 s, rounded up as the backend reports it
    assert record.cost_eur == pytest.approx(4 * 0.0001)
    assert record.operation == "transcriptions"


def test_a_stream_is_metered_from_its_usage_chunk(served: Served) -> None:
    reply = served.post(stream="true")
    assert reply.status_code == 200, reply.text
    record = served.record_of(reply)
    # A stream's usage chunk counts tokens (vLLM's), not seconds: its output tokens are priced.
    assert record.completion_tokens > 0 and record.prompt_tokens > 0
    assert record.cost_eur == pytest.approx(record.completion_tokens * 2 / 1_000_000)


def test_an_audio_request_over_its_quota_is_429(served: Served) -> None:
    key = issue_key(served.gateway.state.config, DEPARTMENT, CLOSED, "user")
    with (
        openai.OpenAI(base_url=served.gateway.v1, api_key=key, max_retries=0) as sdk,
        pytest.raises(openai.RateLimitError),
    ):
        sdk.audio.transcriptions.create(file=("a.wav", audio_samples.wav(1.0), "audio/wav"), model=WHISPER)
