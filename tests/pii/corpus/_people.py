"""Names of people and the numbers of their identity documents."""

from __future__ import annotations

from ._model import Piece, Span
from ._sources import Sources, draw_until

_FEMALE_CIVILITIES = ("Madame", "Madame", "Mme")
_MALE_CIVILITIES = ("Monsieur", "M.", "M.")
_TITLES = ("Maître", "Me", "Docteur")  # neither gendered nor rare in administrative mail

# The new identity card (2021) numbers: letters and digits, without the letters easily misread.
_ID_CARD_ALPHABET = "ABCDEFGHJKLMNPRSTUVWXYZ0123456789"


class People:
    def __init__(self, sources: Sources) -> None:
        self._fake = sources.fake
        self._rng = sources.rng

    def full_name(self) -> Piece:
        return Piece.labelled(self._fake.name(), "PERSON")

    def first_name(self) -> Piece:
        return Piece.labelled(self._fake.first_name(), "PERSON")

    def last_name(self) -> Piece:
        return Piece.labelled(self._fake.last_name(), "PERSON")

    def civil_name(self) -> Piece:
        """`Madame Claire Dubois`, `M. Dubois`, `Maître Lefèvre`: the civility is not part of the name."""
        rng, fake = self._rng, self._fake
        kind = rng.random()
        if kind < 0.45:
            civility, first = rng.choice(_FEMALE_CIVILITIES), fake.first_name_female()
        elif kind < 0.9:
            civility, first = rng.choice(_MALE_CIVILITIES), fake.first_name_male()
        else:
            civility, first = rng.choice(_TITLES), fake.first_name()
        name = fake.last_name()
        if rng.random() < 0.5:
            name = f"{first} {name}"
        start = len(civility) + 1
        return Piece(f"{civility} {name}", spans=(Span(start, start + len(name), "PERSON"),))

    def passport(self) -> Piece:
        rng = self._rng
        letters = "".join(rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ") for _ in range(2))
        number = f"{rng.randint(0, 99):02d}{letters}{rng.randint(0, 99999):05d}"
        return Piece.labelled(number, "FR_PASSPORT")

    def id_card(self) -> Piece:
        def make() -> str:
            return "".join(self._rng.choice(_ID_CARD_ALPHABET) for _ in range(9))

        def mixes_letters_and_digits(number: str) -> bool:
            # All-digit or all-letter draws would read as something else (a SIREN, a word).
            digits = sum(c.isdigit() for c in number)
            return 2 <= digits <= 7

        return Piece.labelled(draw_until(make, mixes_letters_and_digits), "FR_ID_CARD")
