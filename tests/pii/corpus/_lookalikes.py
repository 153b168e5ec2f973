"""Numbers that are not personal data but look like some: amounts, dates, law and case references.

These fill the sentences around the personal values (administrative text is full of them) and are
the bulk of the hard negatives. Nothing here is labelled.
"""

from __future__ import annotations

from ._sources import Sources

MONTHS = (
    "janvier",
    "février",
    "mars",
    "avril",
    "mai",
    "juin",
    "juillet",
    "août",
    "septembre",
    "octobre",
    "novembre",
    "décembre",
)

_CODES = (
    ("L.", "du code du travail"),
    ("R.", "du code de l'urbanisme"),
    ("L.", "du code de la sécurité sociale"),
    ("D.", "du code de la sécurité sociale"),
    ("L.", "du code général des collectivités territoriales"),
    ("R.", "du code de justice administrative"),
    ("L.", "du code de l'entrée et du séjour des étrangers et du droit d'asile"),
    ("L.", "du code des relations entre le public et l'administration"),
)

_COUNTED_THINGS = ("dossiers", "courriers", "appels", "formulaires", "articles", "envois", "agents")

_THOUSANDS_SEPARATORS = (" ", " ", " ", "\u202f", "\u00a0")  # what word processors put in French numbers

_BANK_CODES = ("BNPAFRPP", "CEPAFRPP", "AGRIFRPP", "SOGEFRPP", "PSSTFRPP", "CMCIFRPP", "CCBPFRPP")

_SERVICES = ("DGFIP", "SGAMI", "DRH", "DSI", "SG", "DAJ", "DDT", "DREETS")


def grouped_thousands(number: int, separator: str = " ") -> str:
    """`1234567` -> `1 234 567`: the French way, thousands set apart by a (narrow) space."""
    return f"{number:,}".replace(",", separator)


class Lookalikes:
    def __init__(self, sources: Sources) -> None:
        self._rng = sources.rng
        self._sources = sources

    def year(self) -> str:
        return str(self._rng.randint(2015, 2025))

    def date(self) -> str:
        rng = self._rng
        day, month, year = rng.randint(1, 28), rng.randint(1, 12), rng.randint(2015, 2025)
        form = rng.random()
        if form < 0.45:
            return f"{'1er' if day == 1 else day} {MONTHS[month - 1]} {year}"
        if form < 0.75:
            return f"{day:02d}/{month:02d}/{year}"
        if form < 0.9:
            return f"{year}-{month:02d}-{day:02d}"
        return f"{day:02d}.{month:02d}.{year}"

    def time(self) -> str:
        hour, minute = self._rng.randint(8, 18), self._rng.choice((0, 15, 30, 45))
        return self._rng.choice((f"{hour} h {minute:02d}", f"{hour}h{minute:02d}", f"{hour}:{minute:02d}"))

    def duration(self) -> str:
        return self._rng.choice(("deux mois", "30 jours", "15 jours", "un mois", "8 jours ouvrés", "6 mois"))

    def amount(self) -> str:
        rng = self._rng
        # Mostly everyday sums; a few budget-sized ones, whose 7 to 9 digits in groups of three are
        # exactly the shape of a SIREN written with spaces.
        digits = rng.choice((2, 3, 3, 4, 4, 5, 6, 7, 8, 9))
        number = rng.randint(10 ** (digits - 1), 10**digits - 1)
        text = grouped_thousands(number, rng.choice(_THOUSANDS_SEPARATORS))
        if rng.random() < 0.5:
            text += f",{rng.randint(0, 99):02d}"
        unit = rng.choice((" €", " €", " euros", " € HT", " € TTC"))
        return f"EUR {text}" if rng.random() < 0.05 else text + unit

    def percent(self) -> str:
        value = self._rng.randint(1, 999) / 10
        return f"{value:.1f}".replace(".", ",").removesuffix(",0") + self._rng.choice((" %", " %", "\u00a0%"))

    def count(self) -> str:
        number = self._rng.choice((self._rng.randint(2, 99), self._rng.randint(100, 99_999)))
        return f"{grouped_thousands(number)} {self._rng.choice(_COUNTED_THINGS)}"

    def law_reference(self) -> str:
        rng = self._rng
        kind = rng.random()
        if kind < 0.4:
            letter, code = rng.choice(_CODES)
            return f"l'article {letter} {rng.randint(100, 9999)}-{rng.randint(1, 30)} {code}"
        if kind < 0.5:
            return f"l'article {rng.randint(1, 2534)} du code civil"
        if kind < 0.7:
            year = rng.randint(1990, 2025)
            return f"le décret n° {year}-{rng.randint(1, 1800)} du {self.date()}"
        if kind < 0.85:
            year = rng.randint(1978, 2025)
            return f"la loi n° {year % 100:02d}-{rng.randint(1, 1500)} du {self.date()}"
        if kind < 0.93:
            return f"l'arrêté du {self.date()}"
        return f"l'article {rng.randint(1, 99)} du règlement (UE) 2016/679"

    def case_number(self) -> str:
        rng = self._rng
        year = rng.randint(15, 25)
        return rng.choice(
            (
                f"RG n° {year}/{rng.randint(1, 99999):05d}",
                f"dossier 20{year}-{rng.randint(1, 999999):06d}",
                f"dossier n° 20{year}/{rng.randint(1, 9999):04d}",
                f"dossier contentieux n° {year}/{rng.randint(1, 99999):05d}",
                f"recours n° {year}{rng.randint(1, 99999):05d}",
            )
        )

    def reference(self) -> str:
        rng, digits = self._rng, self._sources.digits
        return rng.choice(
            (
                f"{rng.choice(_SERVICES)}/{rng.randint(2015, 2025)}/{digits(4)}",
                f"FA-{rng.randint(2015, 2025)}-{digits(4)}",
                f"BC-{digits(8)}",
                f"{rng.randint(2015, 2025)}-INT-{digits(5)}",
                f"CHORUS {digits(8)}",
                f"bordereau {digits(7)}",
            )
        )

    def ticket(self) -> str:
        rng, digits = self._rng, self._sources.digits
        return rng.choice(
            (f"INC{digits(7)}", f"#{rng.randint(10000, 99999)}", f"REQ-{rng.randint(2015, 2025)}-{digits(5)}")
        )

    def postcode(self) -> str:
        return f"{self._rng.randint(1, 95):02d}{self._rng.randint(0, 9)}{self._rng.randint(0, 9)}0"

    def version(self) -> str:
        rng = self._rng
        if rng.random() < 0.3:
            # A Windows build number: four dotted parts, like an IPv4 address but not one.
            return f"10.0.{rng.randint(19041, 26100)}.{rng.randint(1000, 6000)}"
        return f"{rng.randint(1, 12)}.{rng.randint(0, 20)}.{rng.randint(0, 9)}"

    def card_expiry(self) -> str:
        return f"{self._rng.randint(1, 12):02d}/{self._rng.randint(25, 31)}"

    def bic(self) -> str:
        return self._rng.choice(_BANK_CODES) + self._rng.choice(("", "XXX"))

    def hostname(self) -> str:
        return (
            f"{self._rng.choice(('PC', 'WS', 'LT'))}-{self._rng.choice(_SERVICES)}-{self._sources.digits(4)}"
        )
