"""An audio request is metered in seconds (the backend's `usage.seconds`, or the length the gateway
read when the backend reports none), priced per second of audio, and refused by its quota like any
other request, its audio counted against the token budgets."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import openai
import pytest

from gateway.request_record import RequestRecord
from tests import audio_samples
from tests.gateway.conftest import (
    DEPARTMENT,
    RunningGateway,
    issue_key,
    running_gateway,
    running_simulator,
    sim_stats,
)
from tests.waiting import wait_for

WHISPER = "whisper-large-v3"
CLOSED = "transcription-closed"
SMALL = "transcription-small"  # a budget below a minute of audio's token-equivalent


@dataclass
class Served:
    gateway: RunningGateway
    records: list[RequestRecord]
    sim: str

    def post(
        self, key: str | None = None, *, seconds: float = 3.2, task: str = "transcriptions", **form: str
    ) -> httpx.Response:
        return httpx.post(
            f"{self.gateway.v1}/audio/{task}",
            data={"model": WHISPER, **form},
            files={"file": ("speech.wav", audio_samples.wav(seconds), "audio/wav")},
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
                "services": {
                    f"{DEPARTMENT}/{CLOSED}": {"models": {WHISPER: {"tokens_per_minute": 0}}},
                    f"{DEPARTMENT}/{SMALL}": {"models": {WHISPER: {"tokens_per_minute": 500}}},
                },
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
        yield Served(gateway, records, sim)


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


def test_a_file_longer_than_the_budget_is_refused_before_forwarding(served: Served) -> None:
    key = issue_key(served.gateway.state.config, DEPARTMENT, SMALL, "user")
    before = sim_stats(served.sim)["requests"]
    refused = served.post(key, seconds=60.0)  # 900 tokens of transcript at most: over 500
    assert refused.status_code == 429, refused.text
    assert sim_stats(served.sim)["requests"] == before, "refused before forwarding"
    short = served.post(key, seconds=1.0)
    assert short.status_code == 200, short.text
    record = served.record_of(short)
    # The whole answer reports seconds only: the budget is charged their token-equivalent.
    assert record.audio_seconds == 1 and record.weighted_cost > 0


def test_a_translation_is_metered_with_the_duration_read(served: Served) -> None:
    reply = served.post(task="translations", seconds=3.2)
    assert reply.status_code == 200, reply.text
    record = served.record_of(reply)
    assert record.operation == "translations"
    assert record.audio_seconds == 4 and record.cost_eur == pytest.approx(4 * 0.0001)
    assert record.weighted_cost > 0  # the backend reports no usage: the seconds read are charged


def test_a_stream_also_carries_the_seconds_read(served: Served) -> None:
    reply = served.post(stream="true", seconds=2.5)
    assert reply.status_code == 200, reply.text
    assert served.record_of(reply).audio_seconds == 3


def test_a_transcription_s_seconds_are_in_the_admin_usage_report(served: Served) -> None:
    assert served.post(seconds=5.0).status_code == 200
    admin = issue_key(served.gateway.state.config, DEPARTMENT, "console-dgfip")
    deadline = time.monotonic() + 5
    document: dict[str, object] = {}
    while time.monotonic() < deadline:  # records are written in the background, every 0.5 s
        report = httpx.get(
            f"{served.gateway.url}/admin/usage",
            params={"by": "model"},
            headers={"authorization": f"Bearer {admin}"},
            timeout=10,
        )
        assert report.status_code == 200, report.text
        document = report.json()
        total = document["total"]
        assert isinstance(total, dict)
        if total.get("audio_seconds", 0) >= 5:
            break
        time.sleep(0.2)
    rows = document["rows"]
    assert isinstance(rows, list)
    (whisper,) = (row for row in rows if row["model"] == WHISPER)
    assert whisper["audio_seconds"] >= 5
