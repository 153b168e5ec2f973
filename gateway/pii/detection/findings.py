"""What the detector reports: entity type names and the span of text where one was found."""

from __future__ import annotations

import msgspec

__all__ = [
    "ADDRESS",
    "CREDIT_CARD",
    "EMAIL",
    "ENTITY_TYPES",
    "FR_ID_CARD",
    "FR_NIF",
    "FR_NIR",
    "FR_PASSPORT",
    "FR_SIREN",
    "FR_SIRET",
    "FR_VAT",
    "IBAN",
    "IP_ADDRESS",
    "LOCATION",
    "NAME_TYPES",
    "PERSON",
    "PHONE",
    "Finding",
]

EMAIL = "EMAIL"
PHONE = "PHONE"
IBAN = "IBAN"
FR_NIR = "FR_NIR"
FR_SIREN = "FR_SIREN"
FR_SIRET = "FR_SIRET"
FR_VAT = "FR_VAT"
FR_NIF = "FR_NIF"
CREDIT_CARD = "CREDIT_CARD"
IP_ADDRESS = "IP_ADDRESS"
FR_PASSPORT = "FR_PASSPORT"
FR_ID_CARD = "FR_ID_CARD"
ADDRESS = "ADDRESS"
PERSON = "PERSON"
LOCATION = "LOCATION"

ENTITY_TYPES: tuple[str, ...] = (
    EMAIL,
    PHONE,
    IBAN,
    FR_NIR,
    FR_SIREN,
    FR_SIRET,
    FR_VAT,
    FR_NIF,
    CREDIT_CARD,
    IP_ADDRESS,
    FR_PASSPORT,
    FR_ID_CARD,
    ADDRESS,
    PERSON,
    LOCATION,
)
# Found only by the optional named-entity model, never by a pattern.
NAME_TYPES: frozenset[str] = frozenset({PERSON, LOCATION})


class Finding(msgspec.Struct, frozen=True, gc=False):
    """`text[start:end]` is a value of type `entity`. The value itself is never kept here, so a
    finding can be logged or counted without leaking it."""

    start: int
    end: int
    entity: str
