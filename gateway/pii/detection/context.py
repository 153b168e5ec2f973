"""Clues from the words around a candidate, for the identifiers whose shape alone says too little."""

from __future__ import annotations

import re

from gateway.pii.detection.findings import FR_ID_CARD, FR_PASSPORT
from gateway.pii.detection.patterns import AMOUNT_AFTER, ID_CONTEXT, ID_CONTEXT_WINDOW

__all__ = ["id_document_kind", "is_amount"]

# Longest context phrase ("cartes nationales d'identité"), so that one starting a little before
# the window but ending inside it is still read whole.
_LONGEST_CONTEXT = 32
# Another identifier named between the context word and the number: "CNI perdue ; SIREN 123 456 789"
# is about a SIREN, not an identity card.
_OTHER_LABEL = re.compile(
    r"(?i:\bSIRE[NT]\b|\bTVA\b|\bIBAN\b|\bNIR\b|\bNIF\b|s[ée]curit[ée]\s+sociale|t[ée]l[ée]phone|\bt[ée]l\b"
    r"|\bfax\b|\bcompte\b|\bcarte\s+(?:bancaire|bleue)\b|\bCB\b|fiscal)"
)


def id_document_kind(text: str, start: int, floor: int) -> str | None:
    """FR_PASSPORT or FR_ID_CARD when such a document is named in the ~40 characters before
    `start` and after `floor` (the end of the previous finding: "CNI n° X4RTBPFW4 ; 12AB34567"
    names one document, not two), else None. The last document named wins: "CNI et passeport
    n° ..." is a passport."""
    low = max(floor, start - ID_CONTEXT_WINDOW - _LONGEST_CONTEXT)
    last: re.Match[str] | None = None
    for match in ID_CONTEXT.finditer(text, low, start):
        last = match
    if last is None or last.end() < start - ID_CONTEXT_WINDOW:
        return None
    if _OTHER_LABEL.search(text, last.end(), start):
        return None
    return FR_PASSPORT if last.group("passport") else FR_ID_CARD


def is_amount(text: str, start: int, end: int) -> bool:
    """True when the number `text[start:end]` reads as money: a currency or decimals after it, or
    a euro sign before it."""
    if AMOUNT_AFTER.match(text, end):
        return True
    before = text[max(0, start - 2) : start]
    return "€" in before
