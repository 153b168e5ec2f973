"""Identifiers made invalid on purpose: the right length and shape, a wrong check digit.

Each decoy starts from a valid value and changes its key, so that only the checksum tells it
apart. A decoy that by chance passes any other validator (a broken NIR that is a valid card
number) is drawn again: it must be invalid as everything.
"""

from __future__ import annotations

from collections.abc import Callable

from stdnum.fr import nif, nir

from ._checks import is_valid_phone_number, reads_as_phone_number, valid_as
from ._identifiers import Identifiers, group, group_by_four
from ._model import Piece
from ._sources import Sources, draw_until


def _with_other_digits(value: str, start: int, end: int, other: Callable[[], str]) -> str:
    """`value` with `value[start:end]` replaced by a different draw of `other()`."""
    replacement = draw_until(other, lambda candidate: candidate != value[start:end])
    return value[:start] + replacement + value[end:]


class Decoys:
    def __init__(self, sources: Sources, identifiers: Identifiers) -> None:
        self._rng = sources.rng
        self._sources = sources
        self._identifiers = identifiers

    def _broken(self, make_valid: Callable[[], str], break_it: Callable[[str], str]) -> str:
        return draw_until(
            lambda: break_it(make_valid()),
            lambda value: not valid_as(value) and not reads_as_phone_number(value),
        )

    def _two_digits(self) -> str:
        return self._sources.digits(2)

    def nir(self) -> Piece:
        value = self._broken(
            self._identifiers.raw_nir, lambda valid: _with_other_digits(valid, 13, 15, self._two_digits)
        )
        return Piece.decoy(nir.format(value) if self._rng.random() < 0.5 else value, "FR_NIR")

    def iban(self) -> Piece:
        value = self._broken(
            self._identifiers.raw_iban, lambda valid: _with_other_digits(valid, 2, 4, self._two_digits)
        )
        return Piece.decoy(group_by_four(value) if self._rng.random() < 0.6 else value, "IBAN")

    def _last_digit_changed(self, valid: str) -> str:
        return _with_other_digits(valid, len(valid) - 1, len(valid), lambda: self._sources.digits(1))

    def siren(self) -> Piece:
        value = self._broken(self._identifiers.raw_siren, self._last_digit_changed)
        return Piece.decoy(group(value, (3, 3, 3)) if self._rng.random() < 0.5 else value, "FR_SIREN")

    def _siren_digit_changed(self, valid: str, siren_start: int) -> str:
        # The SIREN's own check digit, not the last one: a SIRET or VAT number whose first nine
        # digits still formed a valid SIREN would hold a real identifier and be no clean decoy.
        check = siren_start + 8
        return _with_other_digits(valid, check, check + 1, lambda: self._sources.digits(1))

    def siret(self) -> Piece:
        value = self._broken(self._identifiers.raw_siret, lambda valid: self._siren_digit_changed(valid, 0))
        return Piece.decoy(group(value, (3, 3, 3, 5)) if self._rng.random() < 0.5 else value, "FR_SIRET")

    def vat(self) -> Piece:
        value = self._broken(self._identifiers.raw_vat, lambda valid: self._siren_digit_changed(valid, 4))
        return Piece.decoy(self._identifiers.write_vat(value), "FR_VAT")

    def nif(self) -> Piece:
        value = self._broken(
            self._identifiers.raw_nif,
            lambda valid: _with_other_digits(valid, 10, 13, lambda: self._sources.digits(3)),
        )
        return Piece.decoy(nif.format(value) if self._rng.random() < 0.5 else value, "FR_NIF")

    def card(self) -> Piece:
        value = self._broken(self._identifiers.raw_card, self._last_digit_changed)
        return Piece.decoy(self._identifiers.write_card(value), "CREDIT_CARD")

    def phone(self) -> Piece:
        """A French-looking number one digit pair short (a number in an unallocated range is still
        somebody's number: no decoy)."""

        def make() -> str:
            significant = self._rng.choice("67") + self._sources.digits(6)
            return " ".join(["0" + significant[0]] + [significant[i : i + 2] for i in range(1, 7, 2)])

        return Piece.decoy(draw_until(make, lambda text: not is_valid_phone_number(text)), "PHONE")
