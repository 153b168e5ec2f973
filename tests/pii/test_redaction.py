"""The redact step on its own: which mode applies to whom, which texts are scanned, what changes."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from pydantic import ValidationError

from gateway.errors import PayloadTooLarge
from gateway.operations import CHAT, COMPLETIONS, EMBEDDINGS, RESPONSES, Operation
from gateway.parsing import parse_request
from gateway.pii.detection import Detector
from gateway.pii.detection.findings import ENTITY_TYPES
from gateway.pii.errors import PiiBlocked
from gateway.pii.offload import AsyncDetector
from gateway.pii.policy import PiiPolicy
from gateway.pii.redaction import Redaction, Redactor
from gateway.pii.settings import PiiConfig

EMAIL = "jeanne.roux@ac-lyon.fr"
IBAN = "FR7630006000011234567890189"


def _redactor(**config: Any) -> Redactor:
    settings = PiiConfig.model_validate(config)
    return Redactor(
        PiiPolicy(settings, ENTITY_TYPES),
        AsyncDetector(Detector(ner=False)),
        fail_open=settings.fail_open,
        max_scanned_chars=settings.max_scanned_chars,
    )


def _redact(redactor: Redactor, parsed: Any) -> Redaction | None:
    return asyncio.run(redactor.redact(parsed, "d", "s"))


def _parsed(operation: Operation, **payload: Any) -> Any:
    return parse_request(operation, json.dumps({"model": "m", **payload}).encode(), max_choices=128)


def test_rules_apply_in_order_and_merge_entity_overrides() -> None:
    config = PiiConfig.model_validate(
        {
            "mode": "pseudonymize",
            "entities": {"FR_NIR": "block"},
            "rules": [
                {"department": "dgfip", "mode": "mask"},
                {"department": "dgfip", "service": "contentieux", "entities": {"IBAN": "detect"}},
                {"model": "open-model", "mode": "off", "entities": {"FR_NIR": "off"}},
            ],
        }
    )
    policy = PiiPolicy(config, ENTITY_TYPES)
    default = policy.treatment("drees", "stats", "m")
    assert (default.mode_of("EMAIL"), default.mode_of("FR_NIR")) == ("pseudonymize", "block")
    dgfip = policy.treatment("dgfip", "courrier", "m")
    assert (dgfip.mode_of("EMAIL"), dgfip.mode_of("FR_NIR"), dgfip.mode_of("IBAN")) == (
        "mask",
        "block",
        "mask",
    )
    contentieux = policy.treatment("dgfip", "contentieux", "m")
    assert (contentieux.mode_of("EMAIL"), contentieux.mode_of("IBAN")) == ("mask", "detect")
    # A later `mode` does not clear the per-entity decisions made before it.
    opened = policy.treatment("dgfip", "contentieux", "open-model")
    assert (opened.mode_of("EMAIL"), opened.mode_of("FR_NIR"), opened.mode_of("IBAN")) == (
        "off",
        "off",
        "detect",
    )
    assert opened.scanned == {"IBAN"}
    assert not policy.treatment("drees", "stats", "open-model").active


def test_configuration_refuses_unknown_entities_and_empty_rules() -> None:
    with pytest.raises(ValidationError, match="unknown entity type"):
        PiiConfig.model_validate({"entities": {"NIR": "block"}})
    with pytest.raises(ValidationError, match="needs `mode`, `entities` or both"):
        PiiConfig.model_validate({"rules": [{"department": "dgfip"}]})
    with pytest.raises(ValidationError):
        PiiConfig.model_validate({"mode": "redact"})


def test_off_everywhere_means_no_redactor_work() -> None:
    assert PiiConfig().is_off()
    assert not PiiConfig.model_validate({"rules": [{"service": "x", "mode": "mask"}]}).is_off()
    parsed = _parsed(CHAT, messages=[{"role": "user", "content": EMAIL}])
    assert _redact(_redactor(mode="off"), parsed) is None


def test_detect_counts_without_changing_a_byte() -> None:
    parsed = _parsed(CHAT, messages=[{"role": "user", "content": f"{EMAIL} {EMAIL} {IBAN}"}])
    redaction = _redact(_redactor(mode="detect"), parsed)
    assert redaction is not None
    assert redaction.counts == {"EMAIL": 2, "IBAN": 1}
    assert redaction.parsed is parsed and redaction.restorer is None


def test_pseudonymize_numbers_values_in_reading_order() -> None:
    parsed = _parsed(
        RESPONSES,
        instructions=f"Répondre depuis {EMAIL}",
        input=[
            {"role": "user", "content": [{"type": "input_text", "text": f"IBAN {IBAN}, copie x@y.fr"}]},
            {"type": "function_call", "call_id": "c", "name": "f", "arguments": json.dumps({"to": "x@y.fr"})},
            {"type": "function_call_output", "call_id": "c", "output": f"envoyé à {EMAIL}"},
        ],
    )
    redaction = _redact(_redactor(mode="pseudonymize"), parsed)
    assert redaction is not None and redaction.restorer is not None
    payload = json.loads(redaction.parsed.raw)
    assert payload["instructions"] == "Répondre depuis <EMAIL_1>"
    assert payload["input"][0]["content"][0]["text"] == "IBAN <IBAN_1>, copie <EMAIL_2>"
    assert json.loads(payload["input"][1]["arguments"]) == {"to": "<EMAIL_2>"}
    assert payload["input"][2]["output"] == "envoyé à <EMAIL_1>"
    assert redaction.counts == {"EMAIL": 4, "IBAN": 1}
    assert redaction.restorer.restore("<EMAIL_2> / <IBAN_1>") == f"x@y.fr / {IBAN}"


@pytest.mark.parametrize(
    ("operation", "field", "value", "expected"),
    [
        (COMPLETIONS, "prompt", f"à {EMAIL}", "à [EMAIL]"),
        (COMPLETIONS, "prompt", [f"à {EMAIL}", [1, 2, 3]], ["à [EMAIL]", [1, 2, 3]]),
        (EMBEDDINGS, "input", [EMAIL, "rien"], ["[EMAIL]", "rien"]),
        (RESPONSES, "input", f"IBAN {IBAN}", "IBAN [IBAN]"),
    ],
)
def test_mask_covers_prompts_and_inputs(operation: Operation, field: str, value: Any, expected: Any) -> None:
    redaction = _redact(_redactor(mode="mask"), _parsed(operation, **{field: value}))
    assert redaction is not None and redaction.restorer is None
    assert json.loads(redaction.parsed.raw)[field] == expected


def test_block_raises_before_changing_anything() -> None:
    parsed = _parsed(
        CHAT,
        messages=[{"role": "user", "content": EMAIL}, {"role": "user", "content": f"IBAN {IBAN}"}],
    )
    raw = parsed.raw
    with pytest.raises(PiiBlocked) as caught:
        _redact(_redactor(mode="pseudonymize", entities={"IBAN": "block"}), parsed)
    assert caught.value.entities == ["IBAN"]
    assert caught.value.param == "messages[1].content"
    assert IBAN not in caught.value.message
    assert parsed.payload["messages"][0]["content"] == EMAIL and parsed.raw == raw


def test_text_beyond_the_limit_is_refused() -> None:
    parsed = _parsed(CHAT, messages=[{"role": "user", "content": "a" * 3000}])
    with pytest.raises(PayloadTooLarge):
        _redact(_redactor(mode="mask", max_scanned_chars=2048), parsed)


def test_one_person_written_several_ways_gets_one_placeholder() -> None:
    parsed = _parsed(
        CHAT,
        messages=[
            {"role": "system", "content": "Dossier de LEROUX Amandine."},
            {
                "role": "user",
                "content": "Mme Amandine Leroux a écrit le 3 mars. Leroux a confirmé ; "
                "M. Paul Girard instruit, Me Claire Leroux représente la partie adverse.",
            },
        ],
    )
    redaction = _redact(_redactor(mode="pseudonymize"), parsed)
    assert redaction is not None and redaction.restorer is not None
    messages = json.loads(redaction.parsed.raw)["messages"]
    assert messages[0]["content"] == "Dossier de <PERSON_1>."
    # "Leroux" alone is Amandine Leroux only while no other Leroux is named: here two are.
    assert messages[1]["content"] == (
        "Mme <PERSON_1> a écrit le 3 mars. <PERSON_2> a confirmé ; "
        "M. <PERSON_3> instruit, Me <PERSON_4> représente la partie adverse."
    )
    assert redaction.counts == {"PERSON": 5}
    # Each occurrence comes back as the request wrote it, in order; past those, the fullest form.
    assert redaction.restorer.restore("<PERSON_1> ; <PERSON_1> ; <PERSON_1>, <PERSON_3>") == (
        "LEROUX Amandine ; Amandine Leroux ; LEROUX Amandine, Paul Girard"
    )
    # Each text of the answer counts on its own: the first occurrence of a new text is the first form.
    assert redaction.restorer.restore("<PERSON_1>") == "LEROUX Amandine"


def test_a_surname_alone_is_the_one_person_of_that_name() -> None:
    parsed = _parsed(
        CHAT,
        messages=[
            {
                "role": "user",
                "content": "Leroux a appelé. Mme Amandine Leroux demande un délai ; LEROUX Amandine",
            }
        ],
    )
    redaction = _redact(_redactor(mode="pseudonymize"), parsed)
    assert redaction is not None and redaction.restorer is not None
    content = json.loads(redaction.parsed.raw)["messages"][0]["content"]
    assert content == "<PERSON_1> a appelé. Mme <PERSON_1> demande un délai ; <PERSON_1>"
    # An answer that repeats the text gets every form back where it was written.
    assert redaction.restorer.restore(content) == (
        "Leroux a appelé. Mme Amandine Leroux demande un délai ; LEROUX Amandine"
    )
    assert redaction.restorer.restore(f"{content} <PERSON_1>").endswith("LEROUX Amandine Amandine Leroux")


def test_names_can_be_left_to_the_backend() -> None:
    parsed = _parsed(CHAT, messages=[{"role": "user", "content": f"Mme Amandine Leroux, {EMAIL}"}])
    redaction = _redact(_redactor(mode="pseudonymize", entities={"PERSON": "off"}), parsed)
    assert redaction is not None
    assert json.loads(redaction.parsed.raw)["messages"][0]["content"] == "Mme Amandine Leroux, <EMAIL_1>"
