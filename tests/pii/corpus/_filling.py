"""Turning a template and its slot fillers into a sentence with exact spans."""

from __future__ import annotations

import re
import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from ._model import LabelledSentence, Piece, Span

_REPEAT_SUFFIX = re.compile(r"_\d+$")


@dataclass(frozen=True, slots=True)
class Template:
    name: str
    category: str
    text: str

    def slots(self) -> list[str]:
        """The slot names the template uses, suffixes such as `_2` removed."""
        return [
            _REPEAT_SUFFIX.sub("", field)
            for _, field, _, _ in string.Formatter().parse(self.text)
            if field is not None
        ]


def fill(template: Template, fillers: Mapping[str, Callable[[], Piece]]) -> LabelledSentence:
    """The template with every slot filled; spans are computed while the text is assembled,
    never searched for afterwards (a value may occur twice, or inside another)."""
    parts: list[str] = []
    spans: list[Span] = []
    traps: list[Span] = []
    lookalikes: list[Span] = []
    length = 0
    filled: dict[str, Piece] = {}
    for literal, field, _, _ in string.Formatter().parse(template.text):
        parts.append(literal)
        length += len(literal)
        if field is None:
            continue
        if field not in filled:
            filled[field] = fillers[_REPEAT_SUFFIX.sub("", field)]()
        piece = filled[field]
        spans.extend(Span(length + s.start, length + s.end, s.entity) for s in piece.spans)
        traps.extend(Span(length + s.start, length + s.end, s.entity) for s in piece.traps)
        lookalikes.extend(Span(length + s.start, length + s.end, s.entity) for s in piece.lookalikes)
        parts.append(piece.text)
        length += len(piece.text)
    return LabelledSentence(
        text="".join(parts),
        spans=tuple(spans),
        category=template.category,
        template=template.name,
        traps=tuple(traps),
        lookalikes=tuple(lookalikes),
    )
