"""The detector's public surface: entity selection, the `ner` switch, how names merge with
identifiers, and inputs built to make a regular expression backtrack. The named-entity model is
replaced here by a stand-in pipeline, so these run whether or not spaCy is installed."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

import pytest

from gateway.pii import detection
from gateway.pii.detection import ENTITY_TYPES, Detector, Finding, NerUnavailable
from gateway.pii.detection import detector as detector_module
from gateway.pii.detection import ner as ner_module


@dataclass(frozen=True)
class FakeSpan:
    label_: str
    start_char: int
    end_char: int


@dataclass(frozen=True)
class FakeDoc:
    ents: Sequence[FakeSpan]


class FakePipeline:
    """Tags every occurrence of the given words with the given label, like spaCy's `ner` would."""

    def __init__(self, words: dict[str, str]) -> None:
        self.words = words
        self.calls: list[str] = []

    def __call__(self, text: str) -> FakeDoc:
        self.calls.append(text)
        spans = []
        for word, label in self.words.items():
            start = text.find(word)
            while start >= 0:
                spans.append(FakeSpan(label, start, start + len(word)))
                start = text.find(word, start + len(word))
        return FakeDoc(sorted(spans, key=lambda span: span.start_char))

    def pipe(self, texts: Iterable[str], *, batch_size: int) -> Iterator[FakeDoc]:
        assert batch_size > 0
        return map(self, texts)


def with_fake_names(monkeypatch: pytest.MonkeyPatch, words: dict[str, str]) -> FakePipeline:
    pipeline = FakePipeline(words)
    recognizer = ner_module.NameRecognizer(pipeline)
    monkeypatch.setattr(detector_module, "load_name_recognizer", lambda: recognizer)
    return pipeline


def missing_model(monkeypatch: pytest.MonkeyPatch) -> None:
    def load() -> ner_module.NameRecognizer:
        raise NerUnavailable("spaCy is not installed: install the `ner` extra")

    monkeypatch.setattr(detector_module, "load_name_recognizer", load)


def spans(text: str, findings: list[Finding]) -> list[tuple[str, str]]:
    return [(finding.entity, text[finding.start : finding.end]) for finding in findings]


def test_public_names() -> None:
    assert set(detection.__all__) == {"Detector", "Finding", "ENTITY_TYPES", "NerUnavailable"}
    assert ENTITY_TYPES == (
        "EMAIL",
        "PHONE",
        "IBAN",
        "FR_NIR",
        "FR_SIREN",
        "FR_SIRET",
        "FR_VAT",
        "FR_NIF",
        "CREDIT_CARD",
        "IP_ADDRESS",
        "FR_PASSPORT",
        "FR_ID_CARD",
        "ADDRESS",
        "PERSON",
        "LOCATION",
    )


def test_entities_restrict_what_is_reported() -> None:
    text = "tél. 06 12 34 56 78, courriel a.b@exemple.fr"
    detector = Detector(entities=frozenset({"EMAIL"}), ner=False)
    assert spans(text, detector.find(text)) == [("EMAIL", "a.b@exemple.fr")]


def test_unknown_entity_type_is_refused() -> None:
    with pytest.raises(ValueError, match="FR_RIB"):
        Detector(entities=frozenset({"EMAIL", "FR_RIB"}))


def test_ner_true_requires_the_model(monkeypatch: pytest.MonkeyPatch) -> None:
    missing_model(monkeypatch)
    with pytest.raises(NerUnavailable):
        Detector(ner=True)


def test_ner_auto_does_without_the_model(monkeypatch: pytest.MonkeyPatch) -> None:
    missing_model(monkeypatch)
    detector = Detector(ner=None)
    assert not detector.model_loaded and detector.names_detected  # the name lists still run
    assert spans(
        "Madame Sophie Martin, 06 12 34 56 78", detector.find("Madame Sophie Martin, 06 12 34 56 78")
    ) == [("PERSON", "Sophie Martin"), ("PHONE", "06 12 34 56 78")]


def test_names_can_be_turned_off() -> None:
    detector = Detector(names=False)
    assert not detector.names_detected
    text = "Madame Sophie Martin, née à Lyon, 06 12 34 56 78"
    assert spans(text, detector.find(text)) == [("PHONE", "06 12 34 56 78")]


def test_ner_false_never_loads(monkeypatch: pytest.MonkeyPatch) -> None:
    def load() -> ner_module.NameRecognizer:
        raise AssertionError("the model must not be loaded")

    monkeypatch.setattr(detector_module, "load_name_recognizer", load)
    assert not Detector(ner=False).model_loaded
    # Nor when no name type is asked for, whatever `ner` says.
    assert not Detector(entities=frozenset({"EMAIL"}), ner=True).model_loaded


def test_names_are_mapped_and_titles_left_out(monkeypatch: pytest.MonkeyPatch) -> None:
    with_fake_names(
        monkeypatch,
        {"Madame Sophie Martin": "PER", "Lyon": "LOC", "Conseil d'État": "ORG", "Bonjour": "MISC"},
    )
    detector = Detector(names=False, ner=True)
    assert detector.model_loaded
    text = "Bonjour, Madame Sophie Martin de Lyon a saisi le Conseil d'État."
    assert spans(text, detector.find(text)) == [("PERSON", "Sophie Martin"), ("LOCATION", "Lyon")]


def test_the_model_is_a_second_opinion_on_people_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """With the name lists on, the model adds the people they missed, unless the evidence against
    names says otherwise; where a commune is personal data is the lists' decision."""
    with_fake_names(
        monkeypatch,
        {"Zorglub Plok": "PER", "collège Marie Curie": "PER", "Radio": "PER", "Lyon": "LOC", "Nantes": "LOC"},
    )
    detector = Detector(ner=True)
    text = "Zorglub Plok, né à Nantes, a été reçu au collège Marie Curie de Lyon, puis par Radio France."
    assert spans(text, detector.find(text)) == [("PERSON", "Zorglub Plok"), ("LOCATION", "Nantes")]


@pytest.mark.parametrize(
    ("text", "tagged", "label", "expected"),
    [
        # titles and greetings are left out, and alone they are no name
        ("Écrire à Monsieur Jean Dupont demain.", "Monsieur Jean Dupont", "PER", ("PERSON", "Jean Dupont")),
        (
            "Le dossier de Mme Sophie Martin est clos.",
            "Mme Sophie Martin",
            "PER",
            ("PERSON", "Sophie Martin"),
        ),
        ("Madame, votre demande est reçue.", "Madame", "PER", None),
        ("Bonjour Monsieur, merci.", "Bonjour Monsieur", "PER", None),
        # the model's span runs on into a code or an identifier label
        (
            "Titulaire : Mme Blanchard \u2013 IBAN FR23 0000",
            "Mme Blanchard \u2013 IBAN FR23",
            "PER",
            ("PERSON", "Blanchard"),
        ),
        ("Ticket INC9461354 ouvert.", "Ticket INC9461354", "PER", None),
        ("La synchronisation avec l'annuaire Sirene échoue.", "Sirene", "PER", None),
        # functions, lower-case words before a place, particles before a name
        ("Le dossier est transmis au Préfet ; le Préfet décidera.", "le Préfet", "PER", None),
        (
            "recours devant le tribunal administratif de Besançon",
            "tribunal administratif de Besançon",
            "LOC",
            ("LOCATION", "Besançon"),
        ),
        ("recours devant le tribunal administratif de Metz", "de Metz", "PER", ("PERSON", "Metz")),
        # a capitalised word alone at the start of a sentence
        ("Veuillez trouver ci-joint le formulaire.", "Veuillez", "PER", None),
        ("Merci. Rappel : le délai court.", "Rappel", "PER", None),
        # ... but not after a title's dot, nor after a colon
        ("Fiche usager : M. Bertrand, né à Angers.", "Bertrand", "PER", ("PERSON", "Bertrand")),
        ("lieu de naissance : Ajaccio.", "Ajaccio", "LOC", ("LOCATION", "Ajaccio")),
        ("Dupont et Martin ont signé.", "Dupont et Martin", "PER", ("PERSON", "Dupont et Martin")),
    ],
)
def test_model_mistakes_are_mended_or_dropped(
    monkeypatch: pytest.MonkeyPatch, text: str, tagged: str, label: str, expected: tuple[str, str] | None
) -> None:
    with_fake_names(monkeypatch, {tagged: label})
    detector = Detector(entities=frozenset({"PERSON", "LOCATION"}), names=False, ner=True)
    assert spans(text, detector.find(text)) == ([expected] if expected else [])


def test_identifiers_win_over_overlapping_names(monkeypatch: pytest.MonkeyPatch) -> None:
    # A model may tag part of an address as a place, or an e-mail's local part as a person.
    with_fake_names(monkeypatch, {"rue de la Paix": "LOC", "jean.dupont": "PER", "Jean Dupont": "PER"})
    detector = Detector(names=False, ner=True)
    text = "Jean Dupont, 12 rue de la Paix, 75002 Paris, jean.dupont@exemple.fr"
    assert spans(text, detector.find(text)) == [
        ("PERSON", "Jean Dupont"),
        ("ADDRESS", "12 rue de la Paix, 75002 Paris"),
        ("EMAIL", "jean.dupont@exemple.fr"),
    ]


def test_entities_restriction_applies_to_names(monkeypatch: pytest.MonkeyPatch) -> None:
    with_fake_names(monkeypatch, {"Sophie Martin": "PER", "Lyon": "LOC"})
    text = "Sophie Martin habite Lyon, tél. 06 12 34 56 78."
    detector = Detector(entities=frozenset({"PERSON", "PHONE"}), names=False, ner=True)
    assert spans(text, detector.find(text)) == [("PERSON", "Sophie Martin"), ("PHONE", "06 12 34 56 78")]


def test_long_text_is_read_in_pieces_with_right_offsets(monkeypatch: pytest.MonkeyPatch) -> None:
    pipeline = with_fake_names(monkeypatch, {"Sophie Martin": "PER"})
    sentence = "Le dossier de Sophie Martin est en cours d'instruction par nos services. "
    text = sentence * 5000  # 360,000 characters
    findings = Detector(names=False, ner=True).find(text)
    assert len(pipeline.calls) > 1
    assert len(findings) == 5000
    assert all(text[finding.start : finding.end] == "Sophie Martin" for finding in findings)


def test_model_loader_reports_a_missing_spacy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "spacy", None)  # `import spacy` now raises ImportError
    with pytest.raises(NerUnavailable, match="ner"):
        ner_module._load_pipeline()


@pytest.mark.parametrize(
    "text",
    [
        "1" * 100_000,
        "1 " * 50_000,
        "12 rue " * 15_000,
        "a" * 100_000 + "@",
        "a." * 50_000 + "@exemple",
        "FR76 " * 20_000,
        ":" * 100_000,
        "ab:" * 33_000,
        "+3" * 50_000,
        "12 rue de " + "la " * 30_000,
        "Le " * 30_000 + "75002 Paris",
        "rue de " * 15_000 + "75002 Paris",
        "passeport " * 10_000 + "12AB34567",
        "a-" * 50_000 + "@exemple.fr",
        "x@" * 50_000,
        "1." * 50_000,
        "1-2 " * 25_000,
        "A1 " * 33_000,
        "+33 " * 25_000,
        "CNI " + "1 " * 50_000,
        "2001:db8::" * 10_000,
        # names: long runs of capitalised words, civilities, initials, particles, list labels
        "Jean " * 20_000,
        "JEAN " * 20_000,
        "M. " * 30_000,
        "A. " * 30_000,
        "Jean de " * 12_000,
        "Présents : " + "Jean Dupont, " * 8_000,
        "née " * 25_000 + "Martin",
        "rue " * 25_000 + "Jean Jaurès",
        "Jean-" * 20_000 + "Pierre",
        "né le " + "1 " * 40_000 + "à Lyon",
        "domicilié à " + "Saint " * 15_000,
    ],
)
def test_no_input_makes_the_scan_slow(text: str) -> None:
    detector = Detector(ner=False)
    start = time.perf_counter()
    detector.find(text)
    # A linear scan of 100 kB takes milliseconds; a backtracking pattern would take minutes.
    assert time.perf_counter() - start < 2.0
