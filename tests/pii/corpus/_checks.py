"""Which identifier types a string passes, by python-stdnum and phonenumbers.

The generator uses these to keep the corpus unambiguous: a card number that also happens to be a
valid SIRET, or a decoy that happens to be valid, would make the expected label a matter of taste.
"""

from __future__ import annotations

from collections.abc import Callable

import phonenumbers
from stdnum import iban, luhn
from stdnum.fr import nif, nir, siren, siret, tva


def _is_card_number(value: str) -> bool:
    digits = value.replace(" ", "")
    return digits.isdigit() and 13 <= len(digits) <= 19 and luhn.is_valid(digits)


CHECKSUM_VALIDATORS: dict[str, Callable[[str], bool]] = {
    "FR_NIR": nir.is_valid,
    "IBAN": iban.is_valid,
    "FR_SIREN": siren.is_valid,
    "FR_SIRET": siret.is_valid,
    "FR_VAT": tva.is_valid,
    "FR_NIF": nif.is_valid,
    "CREDIT_CARD": _is_card_number,
}
"""Entity type -> validator, for every type that carries a check digit."""


def valid_as(value: str) -> frozenset[str]:
    """Every checksummed entity type `value` is a valid instance of."""
    return frozenset(entity for entity, is_valid in CHECKSUM_VALIDATORS.items() if is_valid(value))


def reads_as_phone_number(value: str) -> bool:
    """Written the way a phone number is (leading 0, 00 or +) and valid as one: `00 20 257 470 493`
    is a NIF shape and also an Egyptian number dialled from France."""
    return value.startswith(("0", "+")) and is_valid_phone_number(value)


def is_valid_phone_number(value: str) -> bool:
    """A phone number for a French reader (national numbers are French): any ten-digit French
    number, allocated or not, and another country's number when valid in its plan."""
    try:
        number = phonenumbers.parse(value, "FR")
    except phonenumbers.NumberParseException:
        return False
    if number.country_code == 33:
        return len(str(number.national_number)) == 9
    return phonenumbers.is_valid_number(number)
