"""Communes in personal context: where someone was born, lives or comes from.

A commune is personal data when the text ties it to a person ("né à Nantes", "domiciliée à
Lyon", "lieu de naissance : Brest"); named by an institution ("tribunal administratif de Lyon",
"préfecture de la Gironde", "académie de Nantes") or as where a meeting took place, it is not.
No list of communes is needed: the context says it is a place, and a capital says where it starts.
"""

from __future__ import annotations

import re

from gateway.pii.detection.findings import LOCATION, Finding

__all__ = ["find_places"]

# One capitalised word of a commune's name, hyphens and apostrophes inside ("Saint-Étienne",
# "Les Sables-d'Olonne"); a name may hold a few, joined by articles ("Le Puy-en-Velay").
_COMMUNE = (
    r"(?:(?:Le|La|Les|L['\u2019])[ \u00a0]?)?[A-ZÀ-ÖØ-Þ][^\W\d_]*(?:['\u2019\-][^\W\d_]+)*"
    r"(?:[ \u00a0](?:(?:sur|sous|en|lès|les|le|la|de|du|des)[ \u00a0])?[A-ZÀ-ÖØ-Þ][^\W\d_]*(?:['\u2019\-][^\W\d_]+)*){0,2}"
)
_TRIGGER = (
    r"(?i:\b(?:n[ée]e?s?|domicili[ée]e?s?|demeurant|r[ée]sidant|habitant|r[ée]side|habite|vit|vivant"
    r"|install[ée]e?s?|h[ée]berg[ée]e?s?|d[ée]c[ée]d[ée]e?|originaires?|d[ée]m[ée]nag[ée]e?|venant|arriv[ée]e?))"
)
_DATE_BETWEEN = r"(?:[ \u00a0]+(?:le|en)[ \u00a0]+[^,;:\n]{1,30}?)?"  # "née le 4 mai 1983 à"
_PREPOSITION = r"[ \u00a0]+(?:à|a|de|d['\u2019]|au|en)[ \u00a0]*"
_LABEL = r"(?i:\blieu[ \u00a0]+de[ \u00a0]+(?:naissance|r[ée]sidence|d[ée]c[èe]s))[ \u00a0]*:[ \u00a0]*"
_MOVED = (
    r"(?i:\bd[ée]m[ée]nagement)[ \u00a0]+(?:de|d['\u2019])[ \u00a0]*"
    + _COMMUNE
    + r"[ \u00a0]+(?:à|vers)[ \u00a0]+"
)
_PERSONAL_PLACE = re.compile(
    r"(?:"
    + _TRIGGER
    + _DATE_BETWEEN
    + _PREPOSITION
    + "|"
    + _LABEL
    + "|"
    + _MOVED
    + r")(?P<place>"
    + _COMMUNE
    + ")"
)
# "déménagement de Nantes à Brest": both communes are where the person lived.
_MOVED_FROM = re.compile(
    r"(?i:\bd[ée]m[ée]nagement[ \u00a0]+(?:de|d['\u2019])[ \u00a0]*)(?P<place>" + _COMMUNE + ")"
)
_TRIGGER_LETTERS = (
    "né",
    "ne",
    "domicil",
    "demeur",
    "résid",
    "resid",
    "habit",
    "vit",
    "viv",
    "install",
    "héberg",
    "heberg",
    "décéd",
    "deced",
    "origin",
    "déménag",
    "demenag",
    "venant",
    "arriv",
    "lieu",
)


def find_places(text: str) -> list[Finding]:
    """The communes `text` ties to a person, sorted, not overlapping."""
    lowered = text.lower()
    if not any(trigger in lowered for trigger in _TRIGGER_LETTERS):
        return []
    spans = {(m.start("place"), m.end("place")) for m in _PERSONAL_PLACE.finditer(text)}
    spans.update((m.start("place"), m.end("place")) for m in _MOVED_FROM.finditer(text))
    findings: list[Finding] = []
    for start, end in sorted(spans):
        if findings and start < findings[-1].end:
            continue
        findings.append(Finding(start, end, LOCATION))
    return findings
