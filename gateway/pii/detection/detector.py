"""The detector: patterns and checksums for identifiers, INSEE's name lists and the evidence around
names for people and places, and optionally spaCy's model as a second opinion on names."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from gateway.pii.detection.findings import ENTITY_TYPES, LOCATION, NAME_TYPES, PERSON, Finding
from gateway.pii.detection.ner import NameRecognizer, NerUnavailable, load_name_recognizer
from gateway.pii.detection.persons import PersonFinder
from gateway.pii.detection.places import find_places
from gateway.pii.detection.scanner import scan

__all__ = ["Detector"]

logger = logging.getLogger("gateway.pii.detection")

_ALL_TYPES = frozenset(ENTITY_TYPES)


class Detector:
    """Finds personal data in text. Build one per process and share it: `find` keeps no state.

    `entities` restricts the types reported (None: all). `names`: people's names and the communes
    tied to them, from the name lists and the words around them (cheap: on by default). `ner`:
    spaCy's French model as a second opinion on names; None uses it when installed, True
    requires it (raises NerUnavailable otherwise), False (default) never loads it."""

    __slots__ = ("_entities", "_model", "_persons", "_places", "_restricted")

    def __init__(
        self, *, entities: frozenset[str] | None = None, names: bool = True, ner: bool | None = False
    ) -> None:
        selected = _ALL_TYPES if entities is None else frozenset(entities)
        unknown = selected - _ALL_TYPES
        if unknown:
            raise ValueError(f"unknown PII entity types: {', '.join(sorted(unknown))}")
        self._entities = selected
        self._restricted = selected != _ALL_TYPES
        self._persons = PersonFinder() if names and PERSON in selected else None
        self._places = names and LOCATION in selected
        self._model: NameRecognizer | None = None
        if ner is False or not selected & NAME_TYPES:
            return
        try:
            self._model = load_name_recognizer()
        except NerUnavailable:
            if ner:
                raise
            logger.debug("named-entity model not installed: it gives no second opinion on names")

    @property
    def names_detected(self) -> bool:
        """True when person and place names are looked for (by the name lists or the model)."""
        return self._persons is not None or self._places or self._model is not None

    @property
    def model_loaded(self) -> bool:
        """True when spaCy's model gives its second opinion on names."""
        return self._model is not None

    def find(self, text: str) -> list[Finding]:
        """The personal data in `text`, sorted by start, never overlapping."""
        return self.find_in_texts([text])[0]

    def find_in_texts(self, texts: Sequence[str]) -> list[list[Finding]]:
        """The personal data in each of one request's texts: a name found in one of them is
        looked for in all (the same person, written again)."""
        found = self.without_model(texts)
        if self._model is None:
            return found
        model = self._model
        return [self.combine(text, cheap, model.find(text)) for cheap, text in zip(found, texts, strict=True)]

    # The steps of `find_in_texts`, for callers that run them apart (gateway/pii/offload.py runs
    # the model in other processes, chunk by chunk).

    def without_model(self, texts: Sequence[str]) -> list[list[Finding]]:
        """What patterns, checksums and the name lists find in each text, before `combine`."""
        identifiers = [scan(text) for text in texts]
        if self._persons is None and not self._places:
            return [self._reported(found) for found in identifiers]
        persons = self._persons.find_in_texts(texts) if self._persons is not None else [[] for _ in texts]
        results: list[list[Finding]] = []
        for text, ids, people in zip(texts, identifiers, persons, strict=True):
            names = _merge(find_places(text), people) if self._places else people
            results.append(self._reported(_merge(ids, names)))
        return results

    def names_in_chunk(self, chunk: str) -> list[Finding]:
        """The model's names in one of `ner.chunks(text)`, offsets in the chunk, before `combine`."""
        return self._model.find_in_chunk(chunk) if self._model is not None else []

    def combine(self, text: str, found: list[Finding], model_names: list[Finding]) -> list[Finding]:
        """One text's findings without the model and the model's names (offsets in the text): the
        model's names that overlap nothing found already are added. With the name lists on, the
        model is a second opinion on people only, and its people must pass the evidence against
        names (it tags "collège Marie Curie" and "Radio France"); where a commune is personal
        data is the lists' decision (it tags every commune)."""
        persons = self._persons
        if persons is not None:
            model_names = [
                name
                for name in model_names
                if name.entity == PERSON and persons.confirms(text, name.start, name.end)
            ]
        return self._reported(_merge(found, model_names))

    def _reported(self, findings: list[Finding]) -> list[Finding]:
        if self._restricted:
            return [finding for finding in findings if finding.entity in self._entities]
        return findings


def _merge(surer: list[Finding], others: list[Finding]) -> list[Finding]:
    """Both lists sorted and free of overlaps; those of `others` that overlap one of `surer` are dropped."""
    if not others:
        return surer
    if not surer:
        return others
    merged: list[Finding] = []
    index = 0
    count = len(surer)
    for other in others:
        while index < count and surer[index].end <= other.start:
            merged.append(surer[index])
            index += 1
        if index < count and surer[index].start < other.end:
            continue  # overlaps the next surer finding
        if merged and merged[-1].end > other.start:
            continue  # overlaps the previous one
        merged.append(other)
    merged.extend(surer[index:])
    return merged
