"""The transcript masker's held window: an entity is never released in part, wherever the stream's
events cut it, and ordinary text is released before the end."""

from __future__ import annotations

import asyncio
import json

import pytest

from gateway.pii.detection import Detector
from gateway.pii.offload import AsyncDetector
from gateway.pii.transcript import WINDOW_CHARS, TranscriptMasker

EMAIL = "claire.dupont@interieur.gouv.fr"
PHONE = "06 12 34 56 78"


def _masker(*, fail_open: bool = False) -> TranscriptMasker:
    return TranscriptMasker(
        AsyncDetector(Detector(ner=False)),
        {"EMAIL", "PHONE"}.__contains__,
        fail_open=fail_open,
        time_budget_seconds=5,
    )


def _chunk(text: str, *, last: bool = False) -> bytes:
    choice: dict[str, object] = {"index": 0, "delta": {"content": text}}
    if last:
        choice["finish_reason"] = "stop"
    return b"data: " + json.dumps({"object": "transcription.chunk", "choices": [choice]}).encode() + b"\n\n"


async def _relay(masker: TranscriptMasker, pieces: list[str]) -> list[str]:
    out: list[str] = []
    for index, piece in enumerate(pieces):
        events = await masker(_chunk(piece, last=index == len(pieces) - 1))
        for event in events.split(b"\n\n")[:-1]:
            out.append(json.loads(event[6:])["choices"][0]["delta"]["content"])
    return out


@pytest.mark.parametrize("offset", range(0, 140, 9))
def test_an_entity_cut_anywhere_comes_out_masked(offset: int) -> None:
    filler = "courrier reçu ce matin " * 20
    text = f"{filler[: WINDOW_CHARS - 60 + offset]} {EMAIL} puis {PHONE} {filler}"
    pieces = [text[index : index + 7] for index in range(0, len(text), 7)]
    released = asyncio.run(_relay(_masker(), pieces))
    whole = "".join(released)
    assert EMAIL not in whole and PHONE not in whole
    assert "[EMAIL] puis [PHONE]" in whole
    for part in released:  # no event carries a piece of either
        assert "interieur" not in part and "34 56" not in part
    assert sum(1 for part in released[:-1] if part) > 0


def test_text_held_without_a_finish_reason_goes_out_before_done() -> None:
    masker = _masker()

    async def run() -> bytes:
        await masker(_chunk(f"écrire à {EMAIL}"))
        return await masker(b"data: [DONE]\n\n")

    out = asyncio.run(run())
    first, done = out.split(b"\n\n")[:2]
    assert json.loads(first[6:])["choices"][0]["delta"]["content"] == "écrire à [EMAIL]"
    assert done == b"data: [DONE]"


def test_a_whole_verbose_answer_is_masked() -> None:
    body = json.dumps({"text": f"à {EMAIL}", "segments": [{"id": 0, "text": f"au {PHONE}"}]}).encode()
    masked = json.loads(asyncio.run(_masker().mask_body(body)))
    assert masked["text"] == "à [EMAIL]"
    assert masked["segments"][0]["text"] == "au [PHONE]"
