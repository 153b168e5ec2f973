"""One pass of the combined pattern over a text, each candidate validated as it is found."""

from __future__ import annotations

from collections.abc import Callable

from gateway.pii.detection.context import id_document_kind
from gateway.pii.detection.findings import (
    ADDRESS,
    EMAIL,
    FR_ID_CARD,
    FR_NIR,
    FR_PASSPORT,
    FR_VAT,
    IBAN,
    IP_ADDRESS,
    Finding,
)
from gateway.pii.detection.numbers import digit_run_findings, international_phone_finding
from gateway.pii.detection.patterns import (
    CANDIDATES,
    CANDIDATES_AT_START,
    NUMBER_SEPARATORS,
    PASSPORT_SHAPE,
    STREET_LINE_BEFORE,
    STREET_LINE_LOOKBACK,
    TRIGGER_CHARACTERS,
)
from gateway.pii.detection.validators import is_ip_address, is_nir, is_vat, valid_iban

__all__ = ["scan"]

# Each handler gets the text, the candidate's span and the findings so far, to which it appends.
_Handler = Callable[[str, int, int, list[Finding]], None]
_SHORTEST_IBAN = 15  # Norway


def scan(text: str) -> list[Finding]:
    """Identifiers found by patterns and checksums, sorted by start and not overlapping."""
    findings: list[Finding] = []
    if not any(character in text for character in TRIGGER_CHARACTERS):
        return findings
    position = 0
    first = CANDIDATES_AT_START.match(text)
    if first is not None:
        _HANDLERS[first.lastgroup or ""](text, 0, first.end(), findings)
        position = first.end()
    for match in CANDIDATES.finditer(text, position):
        # The match begins with the character before the candidate.
        _HANDLERS[match.lastgroup or ""](text, match.start() + 1, match.end(), findings)
    return findings


def _email(text: str, start: int, end: int, out: list[Finding]) -> None:
    out.append(Finding(start, end, EMAIL))


def _address(text: str, start: int, end: int, out: list[Finding]) -> None:
    out.append(Finding(start, end, ADDRESS))


def _postcode_city(text: str, start: int, end: int, out: list[Finding]) -> None:
    """A postcode and commune ("75007 Paris") are kept only after a street line ("rue de la Paix,
    75007 Paris"): alone, they say little about a person."""
    street = STREET_LINE_BEFORE.search(text, max(0, start - STREET_LINE_LOOKBACK), start)
    if street is None:
        return
    street_start = street.start()
    if out and out[-1].end > street_start:
        previous = out[-1]
        if previous.entity != ADDRESS:
            street_start = previous.end
        else:  # the street line was already found with its house number: extend it
            out.pop()
            street_start = min(previous.start, street_start)
    out.append(Finding(street_start, end, ADDRESS))


def _nir_corsica(text: str, start: int, end: int, out: list[Finding]) -> None:
    if is_nir(text[start:end].replace(" ", "").upper()):
        out.append(Finding(start, end, FR_NIR))


def _ip_address(text: str, start: int, end: int, out: list[Finding]) -> None:
    if text[end - 1] == ":" and text[end - 2] != ":":
        end -= 1  # "2001:db8::1: voir ci-dessous": the colon is the sentence's
    if is_ip_address(text[start:end]):
        out.append(Finding(start, end, IP_ADDRESS))


def _id_document(text: str, start: int, end: int, out: list[Finding]) -> None:
    # No checksum to rely on: only a document named just before makes the token one.
    kind = id_document_kind(text, start, out[-1].end if out else 0)
    if kind is None:
        return
    if kind == FR_ID_CARD or (kind == FR_PASSPORT and PASSPORT_SHAPE.fullmatch(text, start, end)):
        out.append(Finding(start, end, kind))


def _vat(text: str, start: int, end: int, out: list[Finding]) -> None:
    if is_vat(text[start:end]):
        out.append(Finding(start, end, FR_VAT))


def _iban(text: str, start: int, end: int, out: list[Finding]) -> None:
    # A word of 1 to 4 letters or digits right after an IBAN looks like one more group: when the
    # whole fails, try again without the last groups.
    while end - start >= _SHORTEST_IBAN:
        if valid_iban(text[start:end]):
            out.append(Finding(start, end, IBAN))
            return
        end = max(text.rfind(separator, start, end) for separator in NUMBER_SEPARATORS)
        if end < 0:
            return


def _intl_phone(text: str, start: int, end: int, out: list[Finding]) -> None:
    finding = international_phone_finding(text, start, end)
    if finding is not None:
        out.append(finding)


def _digit_run(text: str, start: int, end: int, out: list[Finding]) -> None:
    digit_run_findings(text, start, end, out)


_HANDLERS: dict[str, _Handler] = {
    "email": _email,
    "address": _address,
    "postcode_city": _postcode_city,
    "nir_corsica": _nir_corsica,
    "ipv4": _ip_address,
    "ipv6": _ip_address,
    "id_document": _id_document,
    "vat": _vat,
    "iban": _iban,
    "intl_phone": _intl_phone,
    "digit_run": _digit_run,
}
