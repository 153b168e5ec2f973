"""The held-out corpus's names: none from INSEE's lists or Faker's French locale."""

from __future__ import annotations

import functools
import random
from importlib import resources

from faker import Faker

# Family names written for this corpus: the regions of France and the countries its people came
# from. Chosen by hand, not drawn from any list the detector reads.
FAMILY_NAMES = (
    "Le Bihan",
    "Kerjean",
    "Quéméner",
    "Le Floc'h",
    "Tanguy",
    "Guéguen",
    "Morvan",
    "Le Duff",
    "Schaeffer",
    "Kieffer",
    "Zimmermann",
    "Haberer",
    "Wolff",
    "Muckensturm",
    "Ehrhart",
    "Etchegaray",
    "Iribarne",
    "Larralde",
    "Harispe",
    "Mendiboure",
    "Santoni",
    "Casanova",
    "Paoli",
    "Filippi",
    "Agostini",
    "Luciani",
    "Castagné",
    "Fabre",
    "Bousquet",
    "Vidal",
    "Escudier",
    "Peyrot",
    "Roumégoux",
    "Cazenave",
    "Vandenbroucke",
    "Delattre",
    "Dewitte",
    "Vanhove",
    "Lemaire",
    "Desmet",
    "Duquesne",
    "Brossard",
    "Chauvin",
    "Ragot",
    "Jourdain",
    "Thébault",
    "Rabier",
    "Lacoste",
    "Maupin",
    "Ferreira da Costa",
    "Gonçalves",
    "Rodrigues",
    "Teixeira",
    "Pinto",
    "Monteiro",
    "Benali",
    "Haddad",
    "Bouzid",
    "Cherifi",
    "Mansouri",
    "Belkacem",
    "Ait Ouarab",
    "El Idrissi",
    "Diallo",
    "Traoré",
    "Coulibaly",
    "Ndiaye",
    "Mbappé",
    "Kouassi",
    "Camara",
    "Nguyen",
    "Tran",
    "Pham",
    "Le Van",
    "Truong",
    "Vo",
    "Kowalczyk",
    "Nowak",
    "Wiśniewski",
    "Lewandowski",
    "Hakobyan",
    "Petrossian",
    "Manoukian",
    "Dos Santos",
    "De Sousa",
    "Da Cunha",
    "de La Tour",
    "Van der Meer",
    "d'Aubigny",
    "Du Pasquier",
)

_LOCALES = ("it_IT", "es_ES", "pt_PT", "de_DE", "pl_PL")
_FRANCE_COLUMN = "France"


@functools.cache
def given_names() -> tuple[str, ...]:
    """Given names that gender-guesser's dictionary marks as given in France (frequency 2 or more)."""
    lines = resources.files("gender_guesser").joinpath("data", "nam_dict.txt").read_text(encoding="utf-8")
    rows = lines.splitlines()
    header = next(index for index, row in enumerate(rows) if row.startswith("#") and _FRANCE_COLUMN in row)
    column = rows[header + 1].index("|")
    names = set()
    for row in rows:
        if row.startswith("#") or len(row) <= column or row[column] in " 1":
            continue
        name = row[3:29].strip().replace("+", "-")
        if name.replace("-", "").isalpha() and len(name) > 2:
            names.add(name)
    return tuple(sorted(names))


class HeldOutNames:
    def __init__(self, rng: random.Random, seed: int) -> None:
        self._rng = rng
        self._given = given_names()
        self._fakers = []
        for locale in _LOCALES:
            fake = Faker(locale)
            fake.seed_instance(seed)
            self._fakers.append(fake)

    def given(self) -> str:
        return self._rng.choice(self._given)

    def family(self) -> str:
        if self._rng.random() < 0.5:
            return self._rng.choice(FAMILY_NAMES)
        name: str = self._rng.choice(self._fakers).last_name()
        return name.split()[0] if self._rng.random() < 0.5 else name
