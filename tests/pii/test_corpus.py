"""The evaluation corpus is well formed: right labels, exact spans, enough hard negatives, repeatable.

The validators here call python-stdnum, phonenumbers and ipaddress directly rather than the
corpus's own helpers, so that a mistake in those helpers cannot hide itself.
"""

from __future__ import annotations

import ipaddress
import itertools
import json
import re
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import phonenumbers
import pytest
from stdnum import iban, luhn
from stdnum.fr import nif, nir, siren, siret, tva

from tests.pii.corpus import (
    HARD_NEGATIVE,
    TEMPLATES,
    LabelledSentence,
    Span,
    generate_corpus,
)
from tests.pii.corpus.__main__ import main as write_corpus
from tests.pii.corpus._places import COMMUNES, STREET_TYPES


def _card(value: str) -> bool:
    digits = value.replace(" ", "")
    return digits.isdigit() and 13 <= len(digits) <= 19 and luhn.is_valid(digits)


def _phone(value: str) -> bool:
    """Any ten-digit French number (allocated or not, overseas mobiles written nationally), or
    another country's number valid in its plan."""
    try:
        number = phonenumbers.parse(value, "FR")
    except phonenumbers.NumberParseException:
        return False
    if number.country_code == 33:
        return re.fullmatch(r"[1-9]\d{8}", str(number.national_number)) is not None
    return phonenumbers.is_valid_number(number)


def _ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


_COMMUNE_NAMES = "|".join(re.escape(name) for name in sorted(COMMUNES, key=len, reverse=True))
_ADDRESS = re.compile(
    rf"\d{{1,3}}(?: ?bis| ter| B)?,? (?:{'|'.join(set(STREET_TYPES))}) [^\d,]*?(?:\d[^,]*)?"
    rf"(?:,? \d{{5}} (?i:{_COMMUNE_NAMES}))?"
)


def _person_name(value: str) -> bool:
    """Capitalised words (a particle may open a Dutch name: "van Hagen"), letters at both ends, no
    digit and no punctuation but dots of initials, hyphens and apostrophes."""
    opens = value[0].isupper() or value.split()[0] in ("de", "van", "von", "da", "di", "du", "le", "la")
    return opens and value[-1].isalpha() and re.search(r"[\d,;:()\n]", value) is None


CHECKSUMMED: dict[str, Callable[[str], bool]] = {
    "FR_NIR": nir.is_valid,
    "IBAN": iban.is_valid,
    "FR_SIREN": siren.is_valid,
    "FR_SIRET": siret.is_valid,
    "FR_VAT": tva.is_valid,
    "FR_NIF": nif.is_valid,
    "CREDIT_CARD": _card,
}

SHAPES: dict[str, Callable[[str], bool]] = {
    **CHECKSUMMED,
    "PHONE": _phone,
    "EMAIL": lambda value: re.fullmatch(r"[a-z0-9._-]+@[a-z0-9.-]+\.[a-z]{2,}", value) is not None,
    "IP_ADDRESS": _ip,
    "FR_PASSPORT": lambda value: re.fullmatch(r"\d{2}[A-Z]{2}\d{5}", value) is not None,
    "FR_ID_CARD": lambda value: (
        re.fullmatch(r"[A-Z0-9]{9}", value) is not None and not value.isdigit() and not value.isalpha()
    ),
    "ADDRESS": lambda value: _ADDRESS.fullmatch(value) is not None,
    "PERSON": lambda value: _person_name(value),
    "LOCATION": lambda value: value in COMMUNES,
}

ALL_ENTITIES = frozenset(SHAPES)


@pytest.fixture(scope="module")
def corpus() -> list[LabelledSentence]:
    return generate_corpus()


def _all_spans(corpus: list[LabelledSentence]) -> list[tuple[LabelledSentence, Span]]:
    return [(sentence, span) for sentence in corpus for span in sentence.spans]


def _all_traps(corpus: list[LabelledSentence]) -> list[tuple[LabelledSentence, Span]]:
    return [(sentence, trap) for sentence in corpus for trap in sentence.traps]


def test_size_and_share_of_hard_negatives(corpus: list[LabelledSentence]) -> None:
    assert len(corpus) >= 2000
    hard_negatives = sum(sentence.category == HARD_NEGATIVE for sentence in corpus)
    assert hard_negatives / len(corpus) >= 0.25


def test_every_template_is_used_and_there_are_many(corpus: list[LabelledSentence]) -> None:
    assert len(TEMPLATES) >= 60
    used = Counter(sentence.template for sentence in corpus)
    assert set(used) == {template.name for template in TEMPLATES}
    assert min(used.values()) >= 15


def test_every_entity_type_has_support(corpus: list[LabelledSentence]) -> None:
    support = Counter(span.entity for _, span in _all_spans(corpus))
    assert set(support) == ALL_ENTITIES
    assert min(support.values()) >= 50, support


def test_spans_are_whole_values_inside_the_text(corpus: list[LabelledSentence]) -> None:
    for sentence, span in _all_spans(corpus) + _all_traps(corpus):
        value = sentence.value(span)
        assert 0 <= span.start < span.end <= len(sentence.text), (sentence, span)
        assert value == value.strip(" .,;:()"), (sentence.text, value)
        before = sentence.text[span.start - 1] if span.start > 0 else " "
        after = sentence.text[span.end] if span.end < len(sentence.text) else " "
        assert not before.isalnum() and not after.isalnum(), (sentence.text, value)


def test_spans_do_not_overlap(corpus: list[LabelledSentence]) -> None:
    for sentence in corpus:
        marked = sorted(sentence.spans + sentence.traps + sentence.lookalikes, key=lambda span: span.start)
        for first, second in itertools.pairwise(marked):
            assert first.end <= second.start, sentence


def test_every_value_is_a_valid_instance_of_its_type(corpus: list[LabelledSentence]) -> None:
    wrong = [
        (span.entity, sentence.value(span))
        for sentence, span in _all_spans(corpus)
        if not SHAPES[span.entity](sentence.value(span))
    ]
    assert not wrong


def test_every_decoy_is_invalid_as_anything(corpus: list[LabelledSentence]) -> None:
    traps = _all_traps(corpus)
    imitated = Counter(trap.entity for _, trap in traps)
    assert set(imitated) == {*CHECKSUMMED, "PHONE"}
    assert min(imitated.values()) >= 30, imitated
    for sentence, trap in traps:
        value = sentence.value(trap)
        assert not [entity for entity, is_valid in CHECKSUMMED.items() if is_valid(value)], value
        # Written like a phone number (0, 00, +), it must not be a valid one either.
        assert trap.entity != "PHONE" or not _phone(value), value
        assert not (value.startswith(("0", "+")) and _phone(value)), value


def test_hard_negatives_hold_no_personal_data_except_beside_a_decoy(corpus: list[LabelledSentence]) -> None:
    for sentence in corpus:
        if sentence.category == HARD_NEGATIVE and sentence.spans:
            assert sentence.traps, sentence


def test_the_awkward_written_forms_are_present(corpus: list[LabelledSentence]) -> None:
    values = [(span.entity, sentence.value(span)) for sentence, span in _all_spans(corpus)]

    def count(entity: str, pattern: str) -> int:
        return sum(kind == entity and re.search(pattern, value) is not None for kind, value in values)

    assert count("FR_NIR", r"^\d \d\d \d\d \w\w \d{3} \d{3} \d\d$") >= 20  # spaced
    assert count("FR_NIR", r"2[AB]") >= 20  # Corsica
    assert count("IBAN", r"^[A-Z]{2}\d\d( [0-9A-Z]{4})+") >= 20  # grouped by four
    assert count("IBAN", r"^(DE|BE)") >= 10  # foreign
    assert count("CREDIT_CARD", r" ") >= 20 and count("CREDIT_CARD", r"^\d+$") >= 20
    for phone_form in (r"^0\d \d\d", r"^0\d\.\d\d", r"^\+33 \d ", r"^\+33 \(0\)", r"^0033 ", r"^\+(?!33)"):
        assert count("PHONE", phone_form) >= 10, phone_form
    overseas_mobile = r"^(0|\+33 ?|0033 )(6[ .-]?39|6[ .-]?9[0-7])"
    unallocated = r"^(0|\+33 ?|0033 )(7[ .-]?[0-3]|8[ .-]?[47])"
    assert count("PHONE", overseas_mobile) >= 10 and count("PHONE", unallocated) >= 10
    assert count("IP_ADDRESS", r":") >= 20 and count("IP_ADDRESS", r"::") >= 10
    assert count("ADDRESS", r"\d{5} ") >= 50 and count("ADDRESS", r"bis|ter") >= 10


def test_the_forms_names_take_are_present(corpus: list[LabelledSentence]) -> None:
    """Capitals, titles, married and maiden names, initials, signature blocks, attendee lists, and
    look-alikes that are no personal data (docs/pii.md, Names)."""
    people = [(sentence, span) for sentence, span in _all_spans(corpus) if span.entity == "PERSON"]

    def count(pattern: str, before: str = "") -> int:
        return sum(
            re.search(pattern, sentence.value(span)) is not None
            and re.search(before + r"\Z", sentence.text[: span.start]) is not None
            for sentence, span in people
        )

    assert count(r"^[A-ZÀ-Ý]{2,}[- ]?[A-ZÀ-Ý]* [A-ZÀ-Ý][a-zà-ÿ]") >= 50  # LEROUX Amandine
    assert count(r"^[A-ZÀ-Ý][A-ZÀ-Ý '-]+$") >= 30  # GÉRARD FONTAINE
    assert count(r"", r"(Maître|Me|Dr|Docteur|Pr|Professeur) ") >= 50
    assert count(r"", r"(épouse|née|ép\.|veuve) ") >= 50
    assert count(r"^[A-Z]\. ") >= 50  # J. Dupont
    assert count(r"", r"\n(- )?") >= 30  # a signature block, or a list one name a line
    assert count(r"", r"(Présents|Excusés|Participants|Étaient présents) :?[^.]*") >= 100
    lookalikes = Counter(span.entity for sentence in corpus for span in sentence.lookalikes)
    assert lookalikes["PERSON"] >= 200 and lookalikes["LOCATION"] >= 200, lookalikes


def test_the_same_seed_gives_the_same_corpus() -> None:
    assert generate_corpus(seed=7, size=300) == generate_corpus(seed=7, size=300)
    assert generate_corpus(seed=7, size=300) != generate_corpus(seed=8, size=300)


def test_generation_is_fast() -> None:
    # CPU time of this process, so that other work on the machine does not make it flaky.
    started = time.process_time()
    generate_corpus()
    assert time.process_time() - started < 2.0


def test_jsonl_export(tmp_path: Path) -> None:
    out = tmp_path / "corpus.jsonl"
    assert write_corpus(["--out", str(out), "--size", "40", "--seed", "3"]) == 0
    records = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [record["text"] for record in records] == [s.text for s in generate_corpus(seed=3, size=40)]
    for record in records:
        for span in record["spans"] + record["traps"]:
            assert record["text"][span["start"] : span["end"]] == span["value"]
