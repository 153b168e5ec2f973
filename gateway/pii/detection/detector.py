"""The detector: patterns and checksums for identifiers, and optionally spaCy for names."""

from __future__ import annotations

import logging

from gateway.pii.detection.findings import ENTITY_TYPES, NAME_TYPES, Finding
from gateway.pii.detection.ner import NameRecognizer, NerUnavailable, load_name_recognizer
from gateway.pii.detection.scanner import scan

__all__ = ["Detector"]

logger = logging.getLogger("gateway.pii.detection")

_ALL_TYPES = frozenset(ENTITY_TYPES)


class Detector:
    """Finds personal data in text. Build one per process and share it: `find` keeps no state.

    `entities` restricts the types reported (None: all). `ner`: None uses spaCy's French model
    when it is installed, True requires it (raises NerUnavailable otherwise), False never uses it.
    The model is loaded only when PERSON or LOCATION is among the types reported."""

    __slots__ = ("_entities", "_names", "_restricted")

    def __init__(self, *, entities: frozenset[str] | None = None, ner: bool | None = None) -> None:
        selected = _ALL_TYPES if entities is None else frozenset(entities)
        unknown = selected - _ALL_TYPES
        if unknown:
            raise ValueError(f"unknown PII entity types: {', '.join(sorted(unknown))}")
        self._entities = selected
        self._restricted = selected != _ALL_TYPES
        self._names: NameRecognizer | None = None
        if ner is False or not selected & NAME_TYPES:
            return
        try:
            self._names = load_name_recognizer()
        except NerUnavailable:
            if ner:
                raise
            logger.debug("named-entity model not installed: person and place names are not detected")

    @property
    def names_detected(self) -> bool:
        """True when person and place names are looked for (the NER model is loaded)."""
        return self._names is not None

    def find(self, text: str) -> list[Finding]:
        """The personal data in `text`, sorted by start, never overlapping. Where an identifier and
        a name overlap, the identifier wins: its pattern and checksum are surer than the model."""
        names = self._names.find(text) if self._names is not None else []
        return self.combine(scan(text), names)

    # The three steps of `find`, for callers that run them apart (gateway/pii/offload.py runs the
    # model in other processes, chunk by chunk).

    def identifiers(self, text: str) -> list[Finding]:
        """What patterns and checksums find in `text`, before `combine`."""
        return scan(text)

    def names_in_chunk(self, chunk: str) -> list[Finding]:
        """The names in one of `ner.chunks(text)`, offsets in the chunk, before `combine`."""
        return self._names.find_in_chunk(chunk) if self._names is not None else []

    def combine(self, identifiers: list[Finding], names: list[Finding]) -> list[Finding]:
        """One text's identifiers and names (offsets in the text), as `find` reports them."""
        findings = _merge(identifiers, names)
        if self._restricted:
            findings = [finding for finding in findings if finding.entity in self._entities]
        return findings


def _merge(identifiers: list[Finding], names: list[Finding]) -> list[Finding]:
    """Both lists sorted and free of overlaps; the names that overlap an identifier are dropped."""
    if not names:
        return identifiers
    merged: list[Finding] = []
    index = 0
    count = len(identifiers)
    for name in names:
        while index < count and identifiers[index].end <= name.start:
            merged.append(identifiers[index])
            index += 1
        if index < count and identifiers[index].start < name.end:
            continue  # overlaps the next identifier
        merged.append(name)
    merged.extend(identifiers[index:])
    return merged
