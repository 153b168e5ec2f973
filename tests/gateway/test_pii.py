"""Personal data end to end: every mode through the gateway with the official `openai` SDK, against an
echoing simulator that shows what a backend really received."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import openai
import pytest
from stdnum import iban as iban_checker
from stdnum.fr import nir

from gateway.pii.detection import Detector
from tests.gateway.conftest import (
    DEPARTMENT,
    SOLO_MODEL,
    RunningGateway,
    issue_key,
    last_request,
    running_gateway,
    running_simulator,
)

EMAIL = "claire.dupont@interieur.gouv.fr"
OTHER_EMAIL = "marc.leroy@finances.gouv.fr"
IBAN = "FR76 3000 6000 0112 3456 7890 189"
NIR_BODY = "1850578006084"
NIR = f"{NIR_BODY}{nir.calc_check_digits(NIR_BODY)}"
PHONE = "06 12 34 56 78"
VALUES = (EMAIL, OTHER_EMAIL, IBAN, NIR, PHONE)
PROMPT = f"Bonjour, je suis joignable à {EMAIL} ou au {PHONE}. Mon IBAN est {IBAN}, et mon NIR {NIR}. Écrivez à {EMAIL}."

SERVICES = {
    "pseudonymize": "assistant-courrier",  # the configuration's default mode
    "mask": "masquage",
    "detect": "comptage",
    "block": "refus",
    "off": "sans-filtre",
    "nir-blocked": "contentieux",
}
PII = {
    "mode": "pseudonymize",
    "names": "off",  # names are tested in test_pii_names.py; here only identifiers are looked for
    "rules": [
        {"service": SERVICES["mask"], "mode": "mask"},
        {"service": SERVICES["detect"], "mode": "detect"},
        {"service": SERVICES["block"], "mode": "block"},
        {"service": SERVICES["off"], "mode": "off"},
        {"department": DEPARTMENT, "service": SERVICES["nir-blocked"], "entities": {"FR_NIR": "block"}},
    ],
}


def test_the_values_used_here_are_valid() -> None:
    assert iban_checker.is_valid(IBAN) and nir.is_valid(NIR)
    found = {finding.entity for finding in Detector(ner=False).find(PROMPT)}
    assert {"EMAIL", "PHONE", "IBAN", "FR_NIR"} <= found


@dataclass
class PiiDeployment:
    sim: str
    gateway: RunningGateway
    keys: dict[str, str]
    clients: dict[str, openai.OpenAI]

    def client(self, mode: str) -> openai.OpenAI:
        """One client per mode, closed with the deployment (no connection left to the collector)."""
        if mode not in self.clients:
            self.clients[mode] = openai.OpenAI(
                base_url=self.gateway.v1, api_key=self.keys[mode], max_retries=0
            )
        return self.clients[mode]

    def async_client(self, mode: str) -> openai.AsyncOpenAI:
        return openai.AsyncOpenAI(base_url=self.gateway.v1, api_key=self.keys[mode], max_retries=0)

    def received(self) -> str:
        body: str = last_request(self.sim)["body"]
        return body


@pytest.fixture(scope="module")
def pii() -> Iterator[PiiDeployment]:
    with (
        running_simulator(SOLO_MODEL, mode="echo") as sim,
        running_gateway([{"name": SOLO_MODEL, "backends": [{"url": sim}]}], pii=PII) as gateway,
    ):
        config = gateway.state.config
        keys = {mode: issue_key(config, DEPARTMENT, service) for mode, service in SERVICES.items()}
        deployment = PiiDeployment(sim, gateway, keys, {})
        try:
            yield deployment
        finally:
            for client in deployment.clients.values():
                client.close()


def _chat(client: openai.OpenAI, content: str = PROMPT, **extra: Any) -> str:
    reply = client.chat.completions.create(
        model=SOLO_MODEL, messages=[{"role": "user", "content": content}], **extra
    )
    return reply.choices[0].message.content or ""


def _streamed(client: openai.OpenAI, content: str = PROMPT) -> tuple[str, int]:
    pieces = []
    stream = client.chat.completions.create(
        model=SOLO_MODEL, messages=[{"role": "user", "content": content}], stream=True
    )
    for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            pieces.append(chunk.choices[0].delta.content)
    return "".join(pieces), len(pieces)


def test_pseudonymize_sends_placeholders_and_restores_the_answer(pii: PiiDeployment) -> None:
    answer = _chat(pii.client("pseudonymize"))
    received = pii.received()
    for value in VALUES[:1] + VALUES[2:]:
        assert value not in received
    # The same value gets the same placeholder each time it appears.
    assert json.loads(received)["messages"][0]["content"] == (
        "Bonjour, je suis joignable à <EMAIL_1> ou au <PHONE_1>. Mon IBAN est <IBAN_1>, "
        "et mon NIR <FR_NIR_1>. Écrivez à <EMAIL_1>."
    )
    assert answer == PROMPT


def test_pseudonymize_restores_a_stream_split_into_many_events(pii: PiiDeployment) -> None:
    answer, events = _streamed(pii.client("pseudonymize"))
    assert answer == PROMPT
    assert events > 20  # the echo simulator sends `<`, `EMAIL_1` and `>` as separate events


def test_mask_replaces_values_by_their_type(pii: PiiDeployment) -> None:
    answer = _chat(pii.client("mask"))
    expected = "Bonjour, je suis joignable à [EMAIL] ou au [PHONE]. Mon IBAN est [IBAN], et mon NIR [FR_NIR]. Écrivez à [EMAIL]."
    assert json.loads(pii.received())["messages"][0]["content"] == expected
    assert answer == expected


def test_detect_changes_nothing(pii: PiiDeployment) -> None:
    request = {"model": SOLO_MODEL, "messages": [{"role": "user", "content": PROMPT}], "x_vendor": 1}
    raw = json.dumps(request, separators=(",", ":"), ensure_ascii=False).encode()
    reply = httpx.post(
        f"{pii.gateway.v1}/chat/completions",
        content=raw,
        headers={"authorization": f"Bearer {pii.keys['detect']}", "content-type": "application/json"},
        timeout=10,
    )
    assert reply.status_code == 200
    assert pii.received().encode() == raw  # byte for byte
    assert reply.json()["choices"][0]["message"]["content"] == PROMPT


def test_off_changes_nothing(pii: PiiDeployment) -> None:
    assert _chat(pii.client("off")) == PROMPT
    assert NIR in pii.received()


@pytest.mark.parametrize(
    "written",
    [
        IBAN.replace(" ", "\u00a0"),  # word processors
        IBAN.replace(" ", "\u202f"),
        IBAN.replace(" ", "-"),  # forms and spreadsheets
        IBAN.lower(),
        IBAN.replace(" ", ""),
    ],
    ids=["no-break-space", "narrow-no-break-space", "hyphen", "lower-case", "compact"],
)
def test_iban_variants_never_reach_the_backend(pii: PiiDeployment, written: str) -> None:
    """Review finding: the same IBAN with other separators or in lower case went through raw."""
    answer = _chat(pii.client("mask"), f"Remboursement sur {written} merci.")
    received = json.loads(pii.received())["messages"][0]["content"]
    assert received == "Remboursement sur [IBAN] merci."
    assert written not in pii.received()
    assert answer == received


def test_block_refuses_naming_types_not_values(pii: PiiDeployment) -> None:
    before = last_request(pii.sim)
    with pytest.raises(openai.BadRequestError) as caught:
        _chat(pii.client("block"))
    error = caught.value
    assert error.status_code == 400
    assert error.code == "pii_detected"
    assert error.param == "messages[0].content"
    message = str(error.body)
    for entity in ("EMAIL", "PHONE", "IBAN", "FR_NIR"):
        assert entity in message
    for value in VALUES:
        assert value not in message
    assert last_request(pii.sim) == before  # nothing was forwarded


def test_block_lets_clean_requests_through(pii: PiiDeployment) -> None:
    assert _chat(pii.client("block"), "Quel est le délai de recours ? Voir l'article L. 1234-5.") == (
        "Quel est le délai de recours ? Voir l'article L. 1234-5."
    )


def test_per_entity_override_blocks_nir_and_pseudonymizes_the_rest(pii: PiiDeployment) -> None:
    client = pii.client("nir-blocked")
    with pytest.raises(openai.BadRequestError) as caught:
        _chat(client)
    assert caught.value.code == "pii_detected"
    assert "FR_NIR" in str(caught.value.body) and "EMAIL" not in str(caught.value.body)
    without_nir = f"Écrivez à {EMAIL}, IBAN {IBAN}."
    assert _chat(client, without_nir) == without_nir
    assert json.loads(pii.received())["messages"][0]["content"] == "Écrivez à <EMAIL_1>, IBAN <IBAN_1>."


def test_every_text_of_a_chat_request_is_redacted(pii: PiiDeployment) -> None:
    client = pii.client("pseudonymize")
    client.chat.completions.create(
        model=SOLO_MODEL,
        messages=[
            {"role": "system", "content": f"Le référent est {OTHER_EMAIL}."},
            {"role": "user", "content": [{"type": "text", "text": f"Mon IBAN: {IBAN}"}]},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "call_1",
                        "type": "function",
                        "function": {
                            "name": "lookup",
                            "arguments": json.dumps({"email": EMAIL, "nir": int(NIR)}),
                        },
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "call_1", "content": f"Dossier de {EMAIL}, tél. {PHONE}"},
            {"role": "user", "content": "Résume."},
        ],
    )
    received = pii.received()
    for value in VALUES:
        assert value not in received
    messages = json.loads(received)["messages"]
    assert messages[0]["content"] == "Le référent est <EMAIL_1>."
    assert messages[1]["content"][0]["text"] == "Mon IBAN: <IBAN_1>"
    # Tool arguments stay valid JSON; a number that is an identifier becomes its placeholder.
    assert json.loads(messages[2]["tool_calls"][0]["function"]["arguments"]) == {
        "email": "<EMAIL_2>",
        "nir": "<FR_NIR_1>",
    }
    assert messages[3]["content"] == "Dossier de <EMAIL_2>, tél. <PHONE_1>"


def test_completions_and_embeddings_inputs_are_redacted(pii: PiiDeployment) -> None:
    client = pii.client("pseudonymize")
    completion = client.completions.create(model=SOLO_MODEL, prompt=[f"Contact: {EMAIL}"], max_tokens=50)
    assert json.loads(pii.received())["prompt"] == ["Contact: <EMAIL_1>"]
    assert completion.choices[0].text == f"Contact: {EMAIL}"


def test_tool_call_arguments_in_the_answer_are_restored(pii: PiiDeployment) -> None:
    """The model calls a tool with the placeholder it was given; the caller gets the real value. (The
    tool's schema is redacted too: the simulator picks the enum's value, the message's placeholder.)"""
    tool: Any = {
        "type": "function",
        "function": {
            "name": "send_mail",
            "parameters": {
                "type": "object",
                "properties": {"to": {"type": "string", "enum": [EMAIL]}},
                "required": ["to"],
            },
        },
    }
    client = pii.client("pseudonymize")
    messages: Any = [{"role": "user", "content": f"Écris à {EMAIL}"}]
    choice: Any = {"type": "function", "function": {"name": "send_mail"}}
    reply = client.chat.completions.create(
        model=SOLO_MODEL, messages=messages, tools=[tool], tool_choice=choice
    )
    assert EMAIL not in pii.received()
    calls = reply.choices[0].message.tool_calls
    assert calls is not None and calls[0].type == "function"
    assert json.loads(calls[0].function.arguments) == {"to": EMAIL}

    arguments = ""
    stream = client.chat.completions.create(
        model=SOLO_MODEL, messages=messages, tools=[tool], tool_choice=choice, stream=True
    )
    for chunk in stream:
        for call in (chunk.choices[0].delta.tool_calls or []) if chunk.choices else []:
            arguments += call.function.arguments or "" if call.function else ""
    assert json.loads(arguments) == {"to": EMAIL}


def test_the_model_repeating_dropping_or_mangling_placeholders(pii: PiiDeployment) -> None:
    """The echo model writes back what it got, so the prompt plays the model's part: a repeated
    placeholder is restored each time, a mangled or unissued one is left as written."""
    client = pii.client("pseudonymize")
    prompt = f"{EMAIL} puis <EMAIL_1> <EMAIL_1>, <EMAIL_7>, <email_1>, <EMAIL_1"
    answer = _chat(client, prompt)
    # The caller's own `<EMAIL_1>` text was reserved: the real email got another number.
    assert json.loads(pii.received())["messages"][0]["content"].startswith("<EMAIL_2> puis <EMAIL_1>")
    assert answer == prompt
    streamed, _ = _streamed(client, prompt)
    assert streamed == prompt


@pytest.mark.asyncio
async def test_concurrent_requests_never_see_each_others_values(pii: PiiDeployment) -> None:
    client = pii.async_client("pseudonymize")

    async def ask(number: int) -> tuple[str, str]:
        content = f"Dossier {number}: écrire à agent{number}@exemple.gouv.fr."
        stream = await client.chat.completions.create(
            model=SOLO_MODEL, messages=[{"role": "user", "content": content}], stream=True
        )
        pieces = [chunk.choices[0].delta.content or "" async for chunk in stream if chunk.choices]
        return content, "".join(pieces)

    async with client, asyncio.timeout(60):
        results = await asyncio.gather(*(ask(number) for number in range(40)))
    for content, answer in results:
        assert answer == content


def _broken(self: Detector, texts: Any) -> list[Any]:
    raise RuntimeError(f"recognizer crashed on {texts}")


def test_detection_failure_fails_closed(
    pii: PiiDeployment, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    before = last_request(pii.sim)
    monkeypatch.setattr(Detector, "without_model", _broken)
    with pytest.raises(openai.InternalServerError) as caught:
        _chat(pii.client("pseudonymize"))
    assert caught.value.status_code == 500
    assert caught.value.code == "pii_detection_failed"
    assert EMAIL not in str(caught.value.body)
    assert last_request(pii.sim) == before
    assert "RuntimeError" in caplog.text and EMAIL not in caplog.text


def test_detection_failure_fails_open_only_when_configured(monkeypatch: pytest.MonkeyPatch) -> None:
    with (
        running_simulator(SOLO_MODEL, mode="echo") as sim,
        running_gateway(
            [{"name": SOLO_MODEL, "backends": [{"url": sim}]}],
            pii={"mode": "pseudonymize", "names": "off", "fail_open": True},
        ) as gateway,
    ):
        monkeypatch.setattr(Detector, "without_model", _broken)
        with openai.OpenAI(base_url=gateway.v1, api_key=gateway.api_key, max_retries=0) as client:
            assert _chat(client) == PROMPT
        assert EMAIL in last_request(sim)["body"]


def test_no_value_reaches_the_logs(pii: PiiDeployment, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    _chat(pii.client("pseudonymize"))
    _streamed(pii.client("mask"))
    with pytest.raises(openai.BadRequestError):
        _chat(pii.client("block"))
    logged = caplog.text + "".join(repr(record.args) for record in caplog.records)
    for value in VALUES:
        assert value not in logged
