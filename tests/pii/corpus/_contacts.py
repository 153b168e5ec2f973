"""Phone numbers, e-mail addresses and IP addresses."""

from __future__ import annotations

import ipaddress
import unicodedata

import phonenumbers

from ._checks import is_valid_phone_number
from ._sources import Sources, draw_until

# Mobiles (6, 7), the five geographic zones (1-5) and non-geographic 9: what a usager gives.
_FRENCH_LEADING_DIGITS = "12345667799"
# Mobiles of the overseas departments written nationally (Mayotte, Guadeloupe, Réunion, Guiana,
# Martinique), and 07 and 08 ranges not allocated today: numbers all the same.
_OVERSEAS_MOBILE_PREFIXES = ("639", "690", "691", "692", "693", "694", "696", "697")
_UNALLOCATED_PREFIXES = ("70", "71", "72", "73", "84", "87")

_FOREIGN_REGIONS = ("BE", "CH", "DE", "ES", "IT", "GB", "US", "CA", "MA", "SN", "DZ", "TN", "LU")

_ADMINISTRATION_DOMAINS = (
    "interieur.gouv.fr",
    "dgfip.finances.gouv.fr",
    "justice.gouv.fr",
    "education.gouv.fr",
    "ac-lyon.fr",
    "ars.sante.fr",
    "francetravail.fr",
    "caf.fr",
    "assurance-maladie.fr",
)


def _pairs(digits: str) -> list[str]:
    return [digits[i : i + 2] for i in range(0, len(digits), 2)]


def french_phone_forms(significant: str) -> tuple[str, ...]:
    """The ways a French number with national significant number `significant` is written."""
    national = "0" + significant
    tail = " ".join(_pairs(significant[1:]))
    return (
        " ".join(_pairs(national)),
        ".".join(_pairs(national)),
        "-".join(_pairs(national)),
        national,
        f"+33 {significant[0]} {tail}",
        f"+33 (0){significant[0]} {tail}",
        f"+33{significant}",
        f"0033 {significant[0]} {tail}",
    )


def ascii_slug(name: str) -> str:
    """`Hélène Le Goff` -> `helene-le-goff`: names as they appear in e-mail addresses."""
    decomposed = unicodedata.normalize("NFKD", name)
    letters = "".join(c for c in decomposed if not unicodedata.combining(c)).lower()
    return "-".join(letters.replace("'", " ").split())


class Contacts:
    def __init__(self, sources: Sources) -> None:
        self._fake = sources.fake
        self._rng = sources.rng
        self._sources = sources

    def phone(self) -> str:
        """A French number (overseas and unallocated ranges too), in one of the usual written forms."""

        def make() -> str:
            kind = self._rng.random()
            if kind < 0.15:
                significant = self._rng.choice(_OVERSEAS_MOBILE_PREFIXES) + self._sources.digits(6)
            elif kind < 0.3:
                significant = self._rng.choice(_UNALLOCATED_PREFIXES) + self._sources.digits(7)
            else:
                significant = self._rng.choice(_FRENCH_LEADING_DIGITS) + self._sources.digits(8)
            return self._rng.choice(french_phone_forms(significant))

        return draw_until(make, is_valid_phone_number)

    def foreign_phone(self) -> str:
        """A valid number of a neighbouring or francophone country, in international form."""
        region = self._rng.choice(_FOREIGN_REGIONS)
        kind = self._rng.choice(
            (phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE)
        )
        example = phonenumbers.example_number_for_type(region, kind)
        assert example is not None, f"phonenumbers has no example for {region}"
        national = str(example.national_number)

        def make() -> str:
            # Keep the example's leading digits (its area or mobile prefix), vary the subscriber part.
            varied = phonenumbers.PhoneNumber(
                country_code=example.country_code,
                national_number=int(national[:-4] + self._sources.digits(4)),
                italian_leading_zero=example.italian_leading_zero,
                number_of_leading_zeros=example.number_of_leading_zeros,
            )
            return phonenumbers.format_number(varied, phonenumbers.PhoneNumberFormat.INTERNATIONAL)

        return draw_until(make, is_valid_phone_number)

    def email(self) -> str:
        form = self._rng.random()
        if form < 0.25:
            return self._fake.email()
        if form < 0.45:
            return self._fake.free_email()
        if form < 0.6:
            return self._fake.company_email()
        first, last = ascii_slug(self._fake.first_name()), ascii_slug(self._fake.last_name())
        local = f"{first}.{last}" if self._rng.random() < 0.7 else f"{first[0]}{last}"
        return f"{local}@{self._rng.choice(_ADMINISTRATION_DOMAINS)}"

    def ipv4(self) -> str:
        return self._fake.ipv4_private() if self._rng.random() < 0.4 else self._fake.ipv4_public()

    def ipv6(self) -> str:
        if self._rng.random() < 0.5:
            return self._fake.ipv6()
        # A /64 network with a small host part: the compressed `::` form real logs show.
        network = int.from_bytes(bytes.fromhex("20010db8") + self._rng.randbytes(4), "big") << 64
        host = self._rng.randint(1, 0xFFFF)
        if self._rng.random() < 0.3:
            network = 0xFE80 << 112
        return ipaddress.IPv6Address(network | host).compressed
