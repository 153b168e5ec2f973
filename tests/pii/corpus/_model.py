"""What one labelled sentence of the corpus is made of."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Span:
    """Characters `text[start:end]` hold one value of type `entity` (end is exclusive)."""

    start: int
    end: int
    entity: str

    def overlaps(self, other: Span) -> bool:
        return self.start < other.end and other.start < self.end


@dataclass(frozen=True, slots=True)
class LabelledSentence:
    """A sentence, every personal value in it (`spans`), and the decoys it was built with.

    `traps` mark numbers written to look like an identifier of type `entity` but made invalid
    on purpose (wrong key, impossible prefix): a detector must leave them alone. They are kept so
    that the corpus tests can prove they are invalid and the evaluation can tell a false positive
    on a decoy from one elsewhere.

    `lookalikes` mark names that are no personal data: a school, a street, an institution named
    after someone ("collège Marie Curie"), a commune named by an institution ("tribunal
    administratif de Lyon"). `entity` is the type they imitate (PERSON or LOCATION).
    """

    text: str
    spans: tuple[Span, ...]
    category: str
    template: str
    traps: tuple[Span, ...] = ()
    lookalikes: tuple[Span, ...] = ()

    def value(self, span: Span) -> str:
        return self.text[span.start : span.end]

    def to_json(self) -> dict[str, Any]:
        def spans_to_json(spans: tuple[Span, ...]) -> list[dict[str, Any]]:
            return [
                {"start": s.start, "end": s.end, "entity": s.entity, "value": self.value(s)} for s in spans
            ]

        return {
            "text": self.text,
            "spans": spans_to_json(self.spans),
            "category": self.category,
            "template": self.template,
            "traps": spans_to_json(self.traps),
            "lookalikes": spans_to_json(self.lookalikes),
        }


@dataclass(frozen=True, slots=True)
class Piece:
    """The text one template slot is filled with, and the labelled parts inside it.

    Offsets are relative to the piece; the template filler moves them to the sentence.
    """

    text: str
    spans: tuple[Span, ...] = ()
    traps: tuple[Span, ...] = ()
    lookalikes: tuple[Span, ...] = ()

    @classmethod
    def plain(cls, text: str) -> Piece:
        return cls(text)

    @classmethod
    def labelled(cls, text: str, entity: str) -> Piece:
        return cls(text, spans=(Span(0, len(text), entity),))

    @classmethod
    def decoy(cls, text: str, imitated_entity: str) -> Piece:
        return cls(text, traps=(Span(0, len(text), imitated_entity),))

    @classmethod
    def lookalike(cls, text: str, start: int, end: int, imitated_entity: str) -> Piece:
        """`text`, whose `text[start:end]` reads like a name of type `imitated_entity` but is none."""
        return cls(text, lookalikes=(Span(start, end, imitated_entity),))
