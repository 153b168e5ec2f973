"""Which strings of a request are scanned, which are fixed (refused rather than rewritten), which are
left out, and in what order; and the premise that lets structural words skip the detector."""

from __future__ import annotations

import base64
import time
from typing import Any

import pytest

from gateway.errors import InvalidRequest
from gateway.operations import CHAT, Operation
from gateway.pii.detection import Detector, NerUnavailable
from gateway.pii.fields import Slot, json_document, json_slots, may_hold_personal_data, text_slots
from tests.pii.corpus import generate_corpus

IBAN = "FR7630006000011234567890189"


def _slots(operation: Operation, payload: dict[str, Any]) -> list[tuple[str, str, bool]]:
    return [(slot.path, slot.text, slot.fixed) for slot in text_slots(operation, payload)]


def test_no_labelled_value_of_the_corpus_is_taken_for_a_structural_word() -> None:
    corpus = generate_corpus()
    values = [sentence.text[span.start : span.end] for sentence in corpus for span in sentence.spans]
    assert len(values) > 4000
    assert [value for value in values if not may_hold_personal_data(value)] == []


def test_the_name_model_finds_nothing_in_a_lower_case_word() -> None:
    try:
        detector = Detector(ner=True)
    except NerUnavailable:
        pytest.skip("the name model is not installed")
    corpus = generate_corpus()
    names = {
        word.lower()
        for sentence in corpus
        for span in sentence.spans
        if span.entity in ("PERSON", "LOCATION")
        for word in sentence.text[span.start : span.end].split()
    }
    words = sorted(word for word in names if not may_hold_personal_data(word))[::8][:80]
    assert len(words) == 80
    assert [word for word in words if detector.find(word)] == []


def test_every_string_is_a_slot_the_prompt_first_the_model_and_structural_words_never() -> None:
    payload = {
        "tools": [{"type": "function", "function": {"name": "virer", "description": "Vers le compte"}}],
        "model": "Modèle 7",
        "messages": [{"role": "user", "name": "Jeanne", "content": "Bonjour"}],
        "x_vendor": {"Clé": ["Note 1", 42]},
    }
    assert _slots(CHAT, payload) == [
        ("messages[0].name", "Jeanne", False),
        ("messages[0].content", "Bonjour", False),
        ("tools[0].function.description", "Vers le compte", False),
        ("x_vendor", "Clé", True),  # a key: never rewritten, and never shown in a path
        ("x_vendor", "Note 1", False),
    ]


def test_urls_data_urls_and_patterns_are_fixed_binary_content_is_left_out() -> None:
    text = base64.b64encode(f"IBAN {IBAN}".encode()).decode()
    png = base64.b64encode(b"\x89PNG\r\n\x1a\n" + bytes(range(256))).decode()
    parts = [
        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{text}"}},
        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{png}"}},
        {"type": "image_url", "image_url": {"url": "https://example.org/a.png?q=Paris%2075001"}},
        {"type": "input_audio", "input_audio": {"data": png, "format": "wav"}},
        {"type": "input_audio", "input_audio": {"data": f"IBAN {IBAN}", "format": "wav"}},
    ]
    payload = {
        "messages": [{"role": "user", "content": parts}],
        "response_format": {"type": "json_schema", "json_schema": {"schema": {"pattern": f"^{IBAN}$"}}},
    }
    slots = _slots(CHAT, payload)
    assert all(fixed for _, _, fixed in slots)
    texts = [text for _, text, _ in slots]
    assert texts == [
        "data:image/png;base64",
        f"IBAN {IBAN}",  # decoded: text posing as an image
        "data:image/png;base64",  # the image itself is not scanned
        "https://example.org/a.png?q=Paris 75001",  # read as the server will
        f"IBAN {IBAN}",  # not base64 at all: read as written
        f"^{IBAN}$",
    ]
    assert slots[0][0] == "messages[0].content[0].image_url.url"


def test_fixed_slots_are_never_written() -> None:
    image = {"url": "https://x/Y"}
    payload = {"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": image}]}]}
    (slot,) = text_slots(CHAT, payload)
    slot.replace("[URL]")
    assert image["url"] == "https://x/Y"


def test_a_body_nested_thousands_deep_is_walked_without_recursion_and_its_path_stays_short() -> None:
    inner: Any = f"IBAN {IBAN}"
    for _ in range(5000):
        inner = [inner]
    started = time.monotonic()
    (slot,) = text_slots(CHAT, {"messages": [], "x_vendor": inner})
    assert slot.text == f"IBAN {IBAN}"
    assert slot.path.startswith("x_vendor[0][0]") and len(slot.path) <= 200
    assert time.monotonic() - started < 5


def test_paths_show_structural_keys_only() -> None:
    document = {"to": "Jeanne", IBAN: {"Montant": "12 €"}}
    paths = [(slot.path, slot.text) for slot in json_slots(document, "input[0].arguments")]
    assert paths == [
        ("input[0].arguments.to", "Jeanne"),
        ("input[0].arguments", IBAN),
        ("input[0].arguments", "Montant"),
        ("input[0].arguments", "12 €"),
    ]


def test_arguments_nested_too_deeply_are_the_request_s_fault() -> None:
    def arguments(text: str) -> Slot:
        call = {"id": "c1", "type": "function", "function": {"name": "f", "arguments": text}}
        slots = text_slots(CHAT, {"messages": [{"role": "assistant", "tool_calls": [call]}]})
        return next(slot for slot in slots if slot.key == "arguments")

    with pytest.raises(InvalidRequest) as caught:
        json_document(arguments("[" * 5000 + "]" * 5000))
    assert caught.value.param == "messages[0].tool_calls[0].function.arguments"
    assert json_document(arguments('{"to": "Jeanne"}')) == {"to": "Jeanne"}
    assert json_document(arguments("Pas du JSON")) is None
