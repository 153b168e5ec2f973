"""Valid checksummed identifiers, in the shapes people actually type them.

Each `raw_*` method returns the compact value; the public methods pick a written form (compact,
or grouped the way the document it comes from prints it).
"""

from __future__ import annotations

from stdnum import iban
from stdnum.fr import nif, nir, siren

from ._checks import reads_as_phone_number, valid_as
from ._sources import Sources, draw_until

_FOREIGN_IBAN_BBAN_DIGITS = {"DE": 18, "BE": 12}

_RETIRED_CARD_PREFIXES = ("1800", "2131")  # JCB's old 15-digit ranges


def group(value: str, sizes: tuple[int, ...]) -> str:
    """`value` cut into consecutive groups of `sizes` characters, the rest in a last group."""
    parts, position = [], 0
    for size in sizes:
        parts.append(value[position : position + size])
        position += size
    if position < len(value):
        parts.append(value[position:])
    return " ".join(part for part in parts if part)


def group_by_four(value: str) -> str:
    return group(value, (4,) * (len(value) // 4))


class Identifiers:
    def __init__(self, sources: Sources) -> None:
        self._fake = sources.fake
        self._rng = sources.rng
        self._sources = sources

    # --- NIR -----------------------------------------------------------------------------------

    def raw_nir(self) -> str:
        # Faker already mixes in a few Corsican and overseas NIRs; these are rare there and the
        # letters in 2A/2B are the part a digits-only pattern gets wrong, so they get their own share.
        if self._rng.random() < 0.15:
            return self._corsican_nir()
        return self._fake.ssn()

    def _corsican_nir(self) -> str:
        rng = self._rng
        body = "".join(
            (
                rng.choice("12"),
                f"{rng.randint(0, 99):02d}",
                f"{rng.randint(1, 12):02d}",
                rng.choice(("2A", "2B")),
                f"{rng.randint(1, 366):03d}",
                f"{rng.randint(1, 999):03d}",
            )
        )
        return body + nir.calc_check_digits(body)

    def nir(self) -> str:
        value = self.raw_nir()
        return nir.format(value) if self._rng.random() < 0.45 else value

    # --- IBAN ----------------------------------------------------------------------------------

    def raw_iban(self) -> str:
        if self._rng.random() < 0.15:
            return self._foreign_iban()
        return self._fake.iban()

    def _foreign_iban(self) -> str:
        country = self._rng.choice(sorted(_FOREIGN_IBAN_BBAN_DIGITS))

        def make() -> str:
            bban = self._sources.digits(_FOREIGN_IBAN_BBAN_DIGITS[country])
            return country + iban.calc_check_digits(country + "00" + bban) + bban

        # Belgian BBANs carry their own national check digits, which stdnum verifies too.
        return draw_until(make, iban.is_valid)

    def iban(self) -> str:
        value = self.raw_iban()
        return group_by_four(value) if self._rng.random() < 0.6 else value

    # --- SIREN, SIRET, VAT ---------------------------------------------------------------------

    def raw_siren(self) -> str:
        return self._fake.siren().replace(" ", "")

    def siren(self) -> str:
        value = self.raw_siren()
        return group(value, (3, 3, 3)) if self._rng.random() < 0.5 else value

    def raw_siret(self) -> str:
        return self._fake.siret().replace(" ", "")

    def siret(self) -> str:
        value = self.raw_siret()
        return group(value, (3, 3, 3, 5)) if self._rng.random() < 0.5 else value

    def raw_vat(self) -> str:
        # Numeric keys only: that is what the administration issues to companies with a SIREN.
        return "FR" + siren.to_tva(self.raw_siren())

    def vat(self) -> str:
        value = self.raw_vat()
        return self.write_vat(value)

    def write_vat(self, value: str) -> str:
        form = self._rng.random()
        if form < 0.5:
            return value
        if form < 0.75:
            return f"FR {value[2:4]} {value[4:]}"
        return f"FR{value[2:4]} {group(value[4:], (3, 3, 3))}"

    # --- NIF -----------------------------------------------------------------------------------

    def raw_nif(self) -> str:
        def make() -> str:
            first_ten = self._rng.choice("0123") + self._sources.digits(9)
            return first_ten + nif.calc_check_digits(first_ten)

        # A NIF starting 00 is also a foreign phone number dialled from France: no clear label.
        return draw_until(make, lambda value: not reads_as_phone_number(value))

    def nif(self) -> str:
        value = self.raw_nif()
        return nif.format(value) if self._rng.random() < 0.5 else value

    # --- payment cards -------------------------------------------------------------------------

    def raw_card(self) -> str:
        # Left out: 12-digit Maestro numbers (the usual definition is 13 to 19 digits); the
        # 15-digit JCB ranges 1800 and 2131, retired long ago, that Faker still issues (a
        # detector that knows the networks' current prefixes rightly ignores them); and any
        # number that would also pass as a SIRET or NIR, whose label would be ambiguous.
        return draw_until(
            self._fake.credit_card_number,
            lambda number: (
                len(number) >= 13
                and not number.startswith(_RETIRED_CARD_PREFIXES)
                and valid_as(number) == {"CREDIT_CARD"}
            ),
        )

    def card(self) -> str:
        value = self.raw_card()
        return self.write_card(value)

    def write_card(self, value: str) -> str:
        if self._rng.random() < 0.4:
            return value
        if len(value) == 15:  # American Express prints 4-6-5
            return group(value, (4, 6, 5))
        if len(value) == 14:  # Diners Club prints 4-6-4
            return group(value, (4, 6, 4))
        return group_by_four(value)
