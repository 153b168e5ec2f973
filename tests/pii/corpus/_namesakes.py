"""Names that are no personal data: places, establishments and institutions named after people,
and communes named by an institution. A detector that redacts them damages the prompt."""

from __future__ import annotations

from ._model import Piece
from ._places import COMMUNES
from ._sources import Sources

# People whose names streets, schools and hospitals bear all over France.
_FAMOUS = (
    "Jean Jaurès",
    "Victor Hugo",
    "Marie Curie",
    "Jules Ferry",
    "Louis Pasteur",
    "Georges Pompidou",
    "Charles de Gaulle",
    "Jean Moulin",
    "Émile Zola",
    "Simone Veil",
    "Pierre Mendès France",
    "Louise Michel",
    "Paul Éluard",
    "Albert Camus",
    "Jacques Prévert",
    "Antoine de Saint-Exupéry",
    "Jean Monnet",
    "Aristide Briand",
    "Léon Blum",
    "Camille Claudel",
    "François Mitterrand",
    "Henri Dunant",
    "Paul Bert",
    "Robert Schuman",
)
_NAMED_AFTER = (
    "collège",
    "lycée",
    "école élémentaire",
    "école maternelle",
    "groupe scolaire",
    "rue",
    "avenue",
    "boulevard",
    "place",
    "quai",
    "allée",
    "impasse",
    "hôpital",
    "centre hospitalier",
    "stade",
    "médiathèque",
    "bibliothèque",
    "salle",
    "gymnase",
    "fondation",
    "institut",
    "université",
    "lycée professionnel",
    "Collège",
    "Lycée",
    "Rue",
)
_INSTITUTIONS = (
    "France Travail",
    "la Banque de France",
    "la Caisse des dépôts",
    "France Services",
    "le Conseil d'État",
    "la Cour des comptes",
    "Paris Habitat",
    "la Poste",
    "Campus France",
    "Radio France",
    "Expertise France",
    "France Télévisions",
    "France Compétences",
    "France Stratégie",
    "la région Île-de-France",
    "Eau de Paris",
    "Grand Paris Aménagement",
    "Seine-Saint-Denis Habitat",
    "Paris Musées",
    "Europe Direct",
)
_COMMUNE_INSTITUTIONS = (
    "tribunal administratif de",
    "tribunal judiciaire de",
    "cour d'appel de",
    "préfecture de",
    "mairie de",
    "académie de",
    "barreau de",
    "rectorat de",
    "CHU de",
    "université de",
    "conseil municipal de",
)


class Namesakes:
    def __init__(self, sources: Sources) -> None:
        self._fake = sources.fake
        self._rng = sources.rng
        self._communes = sorted(COMMUNES)

    def named_place(self) -> Piece:
        """`collège Marie Curie`, `rue Jean Jaurès`, `hôpital Georges Pompidou`; half of them after
        a famous person, half after anyone (Faker's names)."""
        rng = self._rng
        kind = rng.choice(_NAMED_AFTER)
        person = rng.choice(_FAMOUS) if rng.random() < 0.5 else self._fake.name()
        if rng.random() < 0.2:
            person = person.replace(" ", "-")
        text = f"{kind} {person}"
        return Piece.lookalike(text, len(kind) + 1, len(text), "PERSON")

    def institution(self) -> Piece:
        text = self._rng.choice(_INSTITUTIONS)
        start = len(text) - len(text.lstrip("abcdefghijklmnopqrstuvwxyz' "))
        return Piece.lookalike(text, start, len(text), "PERSON")

    def commune_institution(self) -> Piece:
        """`tribunal administratif de Lyon`: the commune names the institution, not where someone lives."""
        institution = self._rng.choice(_COMMUNE_INSTITUTIONS)
        commune = self._rng.choice(self._communes)
        text = f"{institution} {commune}"
        return Piece.lookalike(text, len(institution) + 1, len(text), "LOCATION")

    def commune(self) -> Piece:
        """A commune where the text says nothing about anyone's life ("réunion à Lyon")."""
        commune = self._rng.choice(self._communes)
        return Piece.lookalike(commune, 0, len(commune), "LOCATION")
