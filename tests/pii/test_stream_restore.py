"""Stream-safe restoration: placeholders split anywhere across SSE events come back whole, and
ordinary text is never held back."""

from __future__ import annotations

import json
from typing import Any

import pytest

from gateway.pii.restore import PlaceholderRestorer, TextChannel
from gateway.pii.stream import StreamRestorer

ORIGINALS = {
    "<IBAN_1>": "FR76 3000 6000 0112 3456 7890 189",
    "<EMAIL_1>": "claire.dupont@example.fr",
    "<EMAIL_12>": "x@example.org",
    "<PERSON_1>": 'Jean "Jo" Martin\\',
}
ANSWER = "Virement vers <IBAN_1> confirmé à <EMAIL_1>; copie à <EMAIL_12>. <IBAN_1> encore, <IBAN_9> inventé, <iban_1> et <IBAN_1 fin."
EXPECTED = (
    "Virement vers FR76 3000 6000 0112 3456 7890 189 confirmé à claire.dupont@example.fr; copie à "
    "x@example.org. FR76 3000 6000 0112 3456 7890 189 encore, <IBAN_9> inventé, <iban_1> et <IBAN_1 fin."
)


def _chunk(choice: dict[str, Any]) -> bytes:
    body = {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "m",
        "choices": [choice],
    }
    return b"data: " + json.dumps(body).encode() + b"\n\n"


def _content_events(pieces: list[str]) -> list[bytes]:
    events = [_chunk({"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None})]
    events += [_chunk({"index": 0, "delta": {"content": piece}, "finish_reason": None}) for piece in pieces]
    events.append(_chunk({"index": 0, "delta": {}, "finish_reason": "stop"}))
    events.append(b"data: [DONE]\n\n")
    return events


def _texts(output: bytes) -> list[str]:
    texts = []
    for event in output.split(b"\n\n")[:-1]:
        data = event.removeprefix(b"data: ")
        if data == b"[DONE]":
            continue
        for choice in json.loads(data)["choices"]:
            texts.append(choice.get("delta", {}).get("content") or choice.get("text") or "")
    return texts


def _ready(restorer: PlaceholderRestorer, text: str) -> str:
    """What must have left once `text` arrived: all of it, restored, but a tail that is a proper
    prefix of an issued placeholder (computed independently of the code under test)."""
    last = text.rfind("<")
    if last >= 0 and any(p.startswith(text[last:]) and p != text[last:] for p in ORIGINALS):
        text = text[:last]
    return restorer.restore(text)


def _run(pieces: list[str]) -> None:
    restorer = PlaceholderRestorer(ORIGINALS)
    stream = StreamRestorer(restorer)
    emitted = ""
    received = ""
    events = _content_events(pieces)
    for number, event in enumerate(events):
        emitted += "".join(_texts(stream(event)))
        if 0 < number <= len(pieces):
            received += pieces[number - 1]
            assert emitted == _ready(restorer, received), (pieces, number)
    assert emitted == EXPECTED


def test_one_character_per_event() -> None:
    _run(list(ANSWER))


@pytest.mark.parametrize("cut", range(1, len(ANSWER)))
def test_split_in_two_at_every_position(cut: int) -> None:
    _run([ANSWER[:cut], ANSWER[cut:]])


def test_split_in_three_around_every_placeholder_character() -> None:
    start = ANSWER.index("<EMAIL_12>")
    for first in range(start, start + len("<EMAIL_12>")):
        for second in range(first + 1, start + len("<EMAIL_12>") + 1):
            _run([ANSWER[:first], ANSWER[first:second], ANSWER[second:]])


def test_ordinary_text_passes_byte_for_byte() -> None:
    stream = StreamRestorer(PlaceholderRestorer(ORIGINALS))
    event = _chunk(
        {"index": 0, "delta": {"content": "Bonjour, rien à restaurer ici."}, "finish_reason": None}
    )
    assert stream(event) is event


def test_unfinished_placeholder_is_released_with_the_finish_chunk() -> None:
    stream = StreamRestorer(PlaceholderRestorer(ORIGINALS))
    out = stream(_chunk({"index": 0, "delta": {"content": "fin <IBA"}, "finish_reason": None}))
    assert _texts(out) == ["fin "]
    out = stream(_chunk({"index": 0, "delta": {}, "finish_reason": "length"}))
    assert _texts(out) == ["<IBA"]
    assert json.loads(out.removeprefix(b"data: "))["choices"][0]["finish_reason"] == "length"


def test_held_tail_is_released_before_done_when_no_choice_finished() -> None:
    stream = StreamRestorer(PlaceholderRestorer(ORIGINALS))
    stream(_chunk({"index": 0, "delta": {"content": "fin <EMAIL_1"}, "finish_reason": None}))
    out = stream(b"data: [DONE]\n\n")
    assert out.endswith(b"data: [DONE]\n\n")
    assert _texts(out) == ["<EMAIL_1"]


def test_choices_have_separate_channels() -> None:
    stream = StreamRestorer(PlaceholderRestorer(ORIGINALS))
    out = stream(
        _chunk({"index": 0, "delta": {"content": "a <EMA"}, "finish_reason": None})
        + _chunk({"index": 1, "delta": {"content": "b IL_1>"}, "finish_reason": None})
        + _chunk({"index": 0, "delta": {"content": "IL_1>"}, "finish_reason": None})
    )
    assert _texts(out) == ["a ", "b IL_1>", "claire.dupont@example.fr"]


def test_tool_call_arguments_are_restored_json_escaped() -> None:
    stream = StreamRestorer(PlaceholderRestorer(ORIGINALS))
    arguments = '{"who": "<PERSON_1>", "iban": "<IBAN_1>"}'
    out = b""
    for character in arguments:
        call = {"index": 0, "function": {"arguments": character}}
        out += stream(_chunk({"index": 0, "delta": {"tool_calls": [call]}, "finish_reason": None}))
    out += stream(_chunk({"index": 0, "delta": {}, "finish_reason": "tool_calls"}))
    joined = ""
    for event in out.split(b"\n\n")[:-1]:
        for call in json.loads(event.removeprefix(b"data: "))["choices"][0]["delta"].get("tool_calls", []):
            joined += call["function"]["arguments"]
    assert json.loads(joined) == {"who": ORIGINALS["<PERSON_1>"], "iban": ORIGINALS["<IBAN_1>"]}


def test_completions_text_is_restored() -> None:
    stream = StreamRestorer(PlaceholderRestorer(ORIGINALS))
    out = b""
    for piece in ["Écrire à <EM", "AIL_1", "> vite"]:
        event = {
            "id": "cmpl-1",
            "object": "text_completion",
            "choices": [{"index": 0, "text": piece, "finish_reason": None}],
        }
        out += stream(b"data: " + json.dumps(event).encode() + b"\n\n")
    assert "".join(_texts(out)) == "Écrire à claire.dupont@example.fr vite"


def _responses_event(kind: str, sequence: int, **fields: Any) -> bytes:
    body = {"type": kind, "sequence_number": sequence, **fields}
    return b"event: " + kind.encode() + b"\ndata: " + json.dumps(body).encode() + b"\n\n"


def test_responses_stream_keeps_sequence_numbers_ordered_when_a_tail_is_released() -> None:
    stream = StreamRestorer(PlaceholderRestorer(ORIGINALS))
    where = {"item_id": "msg_1", "output_index": 0, "content_index": 0}
    events = [
        _responses_event("response.output_text.delta", 4, delta="pour <EMAIL_1> et <IB", **where),
        _responses_event("response.output_text.done", 5, text="pour <EMAIL_1> et <IB", **where),
        _responses_event(
            "response.completed", 6, response={"output": [{"content": [{"text": "pour <EMAIL_1> et <IB"}]}]}
        ),
    ]
    out = b"".join(stream(event) for event in events)
    decoded = [json.loads(event.split(b"data: ", 1)[1]) for event in out.split(b"\n\n")[:-1]]
    assert [event["type"] for event in decoded] == [
        "response.output_text.delta",
        "response.output_text.delta",
        "response.output_text.done",
        "response.completed",
    ]
    assert [event["sequence_number"] for event in decoded] == [4, 5, 6, 7]
    assert decoded[0]["delta"] + decoded[1]["delta"] == decoded[2]["text"]
    assert decoded[2]["text"] == "pour claire.dupont@example.fr et <IB"
    assert decoded[3]["response"]["output"][0]["content"][0]["text"] == decoded[2]["text"]
    assert all(event.startswith(b"event: ") for event in out.split(b"\n\n")[:-1])


def test_channel_repeats_and_never_restores_foreign_placeholders() -> None:
    channel = TextChannel(PlaceholderRestorer({"<EMAIL_1>": "a@b.fr"}))
    text = channel.feed("<EMAIL_1><EMAIL_1> <EMAIL_2> <PERSON_1>") + channel.flush()
    assert text == "a@b.fra@b.fr <EMAIL_2> <PERSON_1>"


def test_body_restoration_restores_every_string_and_escapes_arguments() -> None:
    restorer = PlaceholderRestorer(ORIGINALS)
    body = {
        "choices": [
            {
                "message": {
                    "content": "Pour <PERSON_1>: <IBAN_1>",
                    "tool_calls": [{"function": {"name": "pay", "arguments": '{"to": "<PERSON_1>"}'}}],
                }
            }
        ]
    }
    restored = json.loads(restorer.restore_body(json.dumps(body).encode()))
    message = restored["choices"][0]["message"]
    assert message["content"] == f"Pour {ORIGINALS['<PERSON_1>']}: {ORIGINALS['<IBAN_1>']}"
    assert json.loads(message["tool_calls"][0]["function"]["arguments"]) == {"to": ORIGINALS["<PERSON_1>"]}


def _message_events(pieces: list[str]) -> list[bytes]:
    """An Anthropic Messages stream (named events) of one text block written in `pieces`."""

    def event(name: str, data: dict[str, Any]) -> bytes:
        return f"event: {name}\ndata: {json.dumps({'type': name, **data})}\n\n".encode()

    events = [event("message_start", {"message": {"id": "m", "content": [], "usage": {"input_tokens": 3}}})]
    events.append(event("content_block_start", {"index": 0, "content_block": {"type": "text", "text": ""}}))
    events += [
        event("content_block_delta", {"index": 0, "delta": {"type": "text_delta", "text": piece}})
        for piece in pieces
    ]
    events.append(event("content_block_stop", {"index": 0}))
    events.append(
        event("message_delta", {"delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 5}})
    )
    events.append(event("message_stop", {}))
    return events


@pytest.mark.parametrize("cut", [1, 3, 9, len(ANSWER) - 3])
def test_anthropic_text_deltas_are_restored_across_events(cut: int) -> None:
    # A placeholder's start at the very end of the text is held until the block stops.
    pieces = [ANSWER[:cut], ANSWER[cut:], "<EMAIL"]
    restorer = StreamRestorer(PlaceholderRestorer(ORIGINALS))
    output = b"".join(restorer(event) for event in _message_events(pieces))
    names, texts = [], []
    for block in output.split(b"\n\n")[:-1]:
        head, data = block.split(b"\n", 1)
        names.append(head.removeprefix(b"event: ").decode())
        document = json.loads(data.removeprefix(b"data: "))
        assert document["type"] == names[-1]
        if names[-1] == "content_block_delta":
            texts.append(document["delta"]["text"])
    assert "".join(texts) == EXPECTED + "<EMAIL"
    assert names[-3:] == ["content_block_stop", "message_delta", "message_stop"]
    assert names[-4] == "content_block_delta"  # the held tail, just before its block stops


def test_a_person_placeholder_split_across_events_comes_back_as_written() -> None:
    restorer = PlaceholderRestorer({"<PERSON_1>": "Amandine Leroux", "<PERSON_12>": "LEROUX Paul"})
    stream = StreamRestorer(restorer)
    text = "Madame <PERSON_1>, votre dossier et celui de <PERSON_12> sont complets."
    pieces = [text[index : index + 3] for index in range(0, len(text), 3)]
    emitted = "".join("".join(_texts(stream(event))) for event in _content_events(pieces))
    assert emitted == "Madame Amandine Leroux, votre dossier et celui de LEROUX Paul sont complets."


def test_a_person_written_several_ways_streams_back_each_form_in_order() -> None:
    restorer = PlaceholderRestorer(
        {"<PERSON_1>": "Amandine Leroux"}, {"<PERSON_1>": ["Amandine Leroux", "LEROUX Amandine"]}
    )
    text = "Madame <PERSON_1>, ... Signé : <PERSON_1>. Copie à <PERSON_1>."
    whole = restorer.restore(text)
    assert whole == "Madame Amandine Leroux, ... Signé : LEROUX Amandine. Copie à Amandine Leroux."
    for size in (1, 2, 5):  # split anywhere, even inside placeholders: the same text comes back
        stream = StreamRestorer(restorer)
        pieces = [text[index : index + size] for index in range(0, len(text), size)]
        emitted = "".join("".join(_texts(stream(event))) for event in _content_events(pieces))
        assert emitted == whole
