"""Names of people and the numbers of their identity documents."""

from __future__ import annotations

from faker import Faker

from ._model import Piece, Span
from ._sources import Sources, draw_until

_FEMALE_CIVILITIES = ("Madame", "Madame", "Mme")
_MALE_CIVILITIES = ("Monsieur", "M.", "M.")
_TITLES = ("Maître", "Me", "Docteur")  # neither gendered nor rare in administrative mail
_MORE_TITLES = ("Maître", "Me", "Dr", "Docteur", "Pr", "Professeur", "Mlle", "Mademoiselle", "MM.")
_COMPOUND_FIRSTS = ("Jean", "Marie", "Anne", "Pierre", "Louis", "Paul")

# The new identity card (2021) numbers: letters and digits, without the letters easily misread.
_ID_CARD_ALPHABET = "ABCDEFGHJKLMNPRSTUVWXYZ0123456789"


# People in French files come from everywhere: a share of names from other locales (not those of
# the held-out corpus, tests/pii/heldout).
_OTHER_LOCALES = ("en_GB", "nl_NL", "tr_TR", "ro_RO", "fr_CH", "cs_CZ")
_OTHER_SHARE = 0.15


class People:
    def __init__(self, sources: Sources) -> None:
        self._fake = sources.fake
        self._rng = sources.rng
        self._others = []
        for locale in _OTHER_LOCALES:
            other = Faker(locale)
            other.seed_instance(sources.rng.randrange(2**32))
            self._others.append(other)

    def _from_elsewhere(self) -> Faker | None:
        return self._rng.choice(self._others) if self._rng.random() < _OTHER_SHARE else None

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

    def _first(self) -> str:
        """A given name; one in ten compound ("Jean-Baptiste", "Marie-Hélène")."""
        fake, rng = self._fake, self._rng
        other = self._from_elsewhere()
        if other is not None:
            first: str = other.first_name()
            return first
        if rng.random() < 0.1:
            head = rng.choice(_COMPOUND_FIRSTS)
            tail = fake.first_name_female() if head in ("Marie", "Anne") else fake.first_name_male()
            if tail != head and " " not in tail and "-" not in tail:
                return f"{head}-{tail}"
        return fake.first_name()

    def _last(self) -> str:
        other = self._from_elsewhere()
        last: str = (other or self._fake).last_name()
        return last

    def capitals_name(self) -> Piece:
        """The forms of case files: `LEROUX Amandine`, `Amandine LEROUX`, `GÉRARD FONTAINE`."""
        first, last = self._first(), self._last()
        form = self._rng.random()
        if form < 0.4:
            name = f"{last.upper()} {first}"
        elif form < 0.7:
            name = f"{first} {last.upper()}"
        else:
            name = f"{first} {last}".upper()
        return Piece.labelled(name, "PERSON")

    def titled_name(self) -> Piece:
        """`Maître Paul Girard`, `Dr Roux`, `Pr Anne Colin`: the title is not part of the name."""
        rng = self._rng
        title = rng.choice(_MORE_TITLES)
        name = self._last()
        if rng.random() < 0.5:
            name = f"{self._first()} {name}"
        elif rng.random() < 0.3:
            name = name.upper()
        start = len(title) + 1
        return Piece(f"{title} {name}", spans=(Span(start, start + len(name), "PERSON"),))

    def married_name(self) -> Piece:
        """`Amandine Leroux épouse Martin`, `Mme Martin née Leroux`, `veuve Martin`: two names."""
        rng = self._rng
        first, used, birth = self._first(), self._last(), self._last()
        if rng.random() < 0.5:
            head = f"{first} {used}" if rng.random() < 0.6 else f"{used.upper()} {first}"
            link = rng.choice(("épouse", "née", "ép.", "veuve"))
            if link == "née":
                head, used, birth = f"{first} {birth}", birth, used
            text = f"{head} {link} {birth if link == 'née' else used}"
            second_start = len(head) + len(link) + 2
            return Piece(
                text,
                spans=(Span(0, len(head), "PERSON"), Span(second_start, len(text), "PERSON")),
            )
        civility = rng.choice(("Mme", "Madame"))
        head = f"{civility} {used}"
        text = f"{head} née {birth}"
        return Piece(
            text,
            spans=(Span(len(civility) + 1, len(head), "PERSON"), Span(len(head) + 5, len(text), "PERSON")),
        )

    def initial_name(self) -> Piece:
        """`J. Dupont`, `A. LEROUX`: the initial is part of the name."""
        last = self._last()
        if self._rng.random() < 0.3:
            last = last.upper()
        return Piece.labelled(f"{self._first()[0]}. {last}", "PERSON")

    def signature(self) -> Piece:
        """A signature block: the name on its own line, the function on the next."""
        first, last = self._first(), self._last()
        name = f"{first} {last.upper()}" if self._rng.random() < 0.6 else f"{first} {last}"
        function = self._rng.choice(_FUNCTIONS)
        return Piece(f"\n{name}\n{function}", spans=(Span(1, 1 + len(name), "PERSON"),))

    def attendees(self) -> Piece:
        """`Présents : A, B et C.` in minutes: names with or without a civility, in both orders;
        one in five lists one name a line, after a dash."""
        rng = self._rng
        pieces: list[str] = []
        spans: list[Span] = []
        position = 0
        count = rng.randint(2, 4)
        bullets = rng.random() < 0.2
        for index in range(count):
            if bullets:
                separator = "\n- "
            elif index:
                separator = " et " if index == count - 1 and rng.random() < 0.5 else ", "
            else:
                separator = ""
            if separator:
                pieces.append(separator)
                position += len(separator)
            form = rng.random()
            first, last = self._first(), self._last()
            if form < 0.3:
                prefix, name = rng.choice(("M. ", "Mme ", "Me ")), last
            elif form < 0.6:
                prefix, name = "", f"{first} {last}"
            elif form < 0.8:
                prefix, name = "", f"{last.upper()} {first}"
            else:
                prefix, name = rng.choice(("M. ", "Mme ")), f"{first} {last.upper()}"
            pieces.append(prefix + name)
            spans.append(Span(position + len(prefix), position + len(prefix) + len(name), "PERSON"))
            position += len(prefix) + len(name)
        return Piece("".join(pieces), spans=tuple(spans))

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


_FUNCTIONS = (
    "Cheffe du bureau des affaires générales",
    "Chef du service des ressources humaines",
    "Directrice adjointe",
    "Directeur départemental",
    "Le Secrétaire général",
    "La Directrice des services",
    "Responsable du pôle accueil",
    "Attachée d'administration",
    "Inspecteur des finances publiques",
    "Gestionnaire des dossiers",
)
