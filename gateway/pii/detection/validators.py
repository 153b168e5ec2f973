"""Checks that decide whether a candidate is really an identifier. The checksums are python-stdnum's
and the phone plans are phonenumbers' own: nothing here re-implements them.

Numeric validators take the digits alone (separators removed by the caller); the others take the
candidate as written. None of them raises: a value that is not valid is simply False.
"""

from __future__ import annotations

import ipaddress
import re

import phonenumbers
from stdnum import iban, luhn
from stdnum.fr import nif, nir, siren, siret, tva

from gateway.pii.detection.patterns import NUMBER_SEPARATORS

__all__ = [
    "is_card",
    "is_ip_address",
    "is_nif",
    "is_nir",
    "is_phone",
    "is_siren",
    "is_siret",
    "is_vat",
    "valid_iban",
]

# First digits of the card networks, by card length: Visa 13 (4), Diners 14 (30, 36, 38), Amex 15
# (34, 37); 16 to 19: Mastercard (2, 5), JCB and Diners (3), Visa (4), Discover, UnionPay and
# Maestro (6). One Luhn-valid number in ten would pass the checksum alone, and a mistyped NIR or
# NIF must not become a card.
_CARD_PREFIXES: dict[int, tuple[str, ...]] = {
    13: ("4",),
    14: ("30", "36", "38"),
    15: ("34", "37"),
    **dict.fromkeys(range(16, 20), ("2", "3", "4", "5", "6")),
}
# NIR: sex (1/2, 3/4/7/8 while registration is pending) and month (01-12, 20-42 and 50-99 when
# the month is unknown or for some registrations).
_NIR_SEX = frozenset("123478")
_NIR_MONTHS = frozenset(f"{m:02d}" for m in (*range(1, 13), *range(20, 43), *range(50, 100)))
_NO_SEPARATORS = str.maketrans(dict.fromkeys(NUMBER_SEPARATORS))
_FRANCE = 33
# The national significant number of every French number: nine digits, the first one 1 to 9 (the
# integer form has no leading zero, so "0 6..." written after +33 cannot slip through).
_FRENCH_SIGNIFICANT_NUMBER = re.compile(r"[1-9][0-9]{8}")


def is_siren(digits: str) -> bool:
    return siren.is_valid(digits)


def is_siret(digits: str) -> bool:
    return siret.is_valid(digits)


def is_nir(compact: str) -> bool:
    """`compact`: 15 characters, digits except 2A/2B for Corsica."""
    return compact[0] in _NIR_SEX and compact[3:5] in _NIR_MONTHS and nir.is_valid(compact)


def is_nif(digits: str) -> bool:
    return nif.is_valid(digits)


def is_vat(written: str) -> bool:
    return tva.is_valid(written)


def valid_iban(written: str) -> bool:
    """`written` as found: groups may be separated by any of NUMBER_SEPARATORS, in any case
    (stdnum's own clean-up knows neither no-break spaces nor lower case everywhere)."""
    return iban.is_valid(written.translate(_NO_SEPARATORS).upper())


def is_card(digits: str) -> bool:
    prefixes = _CARD_PREFIXES.get(len(digits))
    return prefixes is not None and digits.startswith(prefixes) and luhn.is_valid(digits)


def is_phone(written: str) -> bool:
    """A French number in national form, or any number in international form (+ or 00).

    A French number is any ten-digit number of the closed national plan (`0` then 1-9, or `+33`
    then nine digits), allocated or not: "07 21 48 06 33" (a 07 range not allocated today) or
    "06 94 12 40 87" (a Guiana mobile written nationally, which phonenumbers files under GF, not FR)
    still identify a person for whoever reads them. Other countries' numbers are checked against
    their plans, which is what keeps digit runs dialled with 00 from being taken for numbers."""
    try:
        number = phonenumbers.parse(written, "FR")
    except phonenumbers.NumberParseException:
        return False
    if number.country_code == _FRANCE:
        return _FRENCH_SIGNIFICANT_NUMBER.fullmatch(str(number.national_number)) is not None
    return phonenumbers.is_valid_number(number)


def is_ip_address(written: str) -> bool:
    try:
        ipaddress.ip_address(written)
    except ValueError:
        return False
    return True
