"""What fills the held-out templates: names in the forms French files use, and look-alikes."""

from __future__ import annotations

import random

from tests.pii.corpus._model import Piece, Span

from ._names import HeldOutNames

COMMUNES = (
    "Albertville",
    "Alès",
    "Angoulême",
    "Arras",
    "Aurillac",
    "Auxerre",
    "Bar-le-Duc",
    "Beauvais",
    "Belfort",
    "Béziers",
    "Blois",
    "Bourges",
    "Brive-la-Gaillarde",
    "Cahors",
    "Calais",
    "Carcassonne",
    "Castres",
    "Châteauroux",
    "Cholet",
    "Compiègne",
    "Dax",
    "Dieppe",
    "Dole",
    "Douai",
    "Dunkerque",
    "Épinal",
    "Évreux",
    "Fréjus",
    "Guéret",
    "Hyères",
    "Lannion",
    "Lens",
    "Lisieux",
    "Lons-le-Saunier",
    "Mâcon",
    "Menton",
    "Montauban",
    "Montélimar",
    "Morlaix",
    "Moulins",
    "Narbonne",
    "Nevers",
    "Périgueux",
    "Privas",
    "Rodez",
    "Roanne",
    "Saint-Lô",
    "Saint-Nazaire",
    "Saintes",
    "Sète",
    "Soissons",
    "Tarbes",
    "Thionville",
    "Vichy",
    "Vienne",
    "Villefranche-sur-Saône",
    "Le Puy-en-Velay",
    "La Roche-sur-Yon",
    "Les Sables-d'Olonne",
)
_FAMOUS = (
    "Marguerite Yourcenar",
    "Pierre Brossolette",
    "Ambroise Paré",
    "Pierre de Coubertin",
    "Jeanne d'Arc",
    "Jean Rostand",
    "Françoise Sagan",
    "Gustave Eiffel",
    "Olympe de Gouges",
    "Lucie Aubrac",
    "Danielle Casanova",
    "Germaine Tillion",
    "René Cassin",
    "Jean Zay",
    "Joséphine Baker",
    "Gisèle Halimi",
    "Henri Matisse",
    "Claude Debussy",
    "Romain Rolland",
    "Jean de La Fontaine",
    "Alexandre Dumas",
    "George Sand",
    "Paul Langevin",
    "Irène Joliot-Curie",
)
_PLACE_TYPES = (
    "avenue",
    "résidence",
    "EHPAD",
    "piscine",
    "square",
    "IUT",
    "conservatoire",
    "parc",
    "pont",
    "rue",
    "lycée polyvalent",
    "collège public",
    "école primaire",
    "hôpital",
    "clinique",
    "centre hospitalier",
    "stade",
    "salle des fêtes",
    "maison de quartier",
    "espace culturel",
    "bibliothèque municipale",
    "boulevard",
    "chemin",
    "promenade",
    "cité scolaire",
)
_ORGANISATIONS = (
    "Météo-France",
    "Business France",
    "Île-de-France Mobilités",
    "la Banque Postale",
    "le Crédit Agricole",
    "Santé publique France",
    "Voies navigables de France",
    "Action Logement",
    "le Secours populaire",
    "la Croix-Rouge",
    "Emmaüs France",
    "la Caisse d'allocations familiales",
    "l'Agence nationale de l'habitat",
    "la Mutualité sociale agricole",
    "Atout France",
)
_COMMUNE_INSTITUTIONS = (
    "sous-préfecture de",
    "rectorat de",
    "gare de",
    "tribunal de commerce de",
    "office de tourisme de",
    "aéroport de",
    "port de",
    "centre des finances publiques de",
    "conseil de prud'hommes de",
    "hôtel de ville de",
    "maison d'arrêt de",
    "commissariat de",
)
_FUNCTIONS = (
    "Responsable de l'accueil",
    "Directeur de cabinet",
    "Cheffe de projet",
    "Secrétaire générale",
    "Adjoint au chef de service",
    "Chargée de mission",
    "Inspectrice du travail",
    "Conseiller en insertion",
    "Greffière en chef",
    "Ingénieur territorial",
)


class HeldOutPieces:
    def __init__(self, rng: random.Random, seed: int) -> None:
        self._rng = rng
        self._names = HeldOutNames(rng, seed)

    def _person(self, text: str, *spans: tuple[int, int]) -> Piece:
        return Piece(text, spans=tuple(Span(start, end, "PERSON") for start, end in spans))

    def plain(self) -> Piece:
        name = f"{self._names.given()} {self._names.family()}"
        return self._person(name, (0, len(name)))

    def given(self) -> Piece:
        name = self._names.given()
        return self._person(name, (0, len(name)))

    def civ_name(self) -> Piece:
        rng = self._rng
        civility = rng.choice(("Mme", "M.", "Madame", "Monsieur", "Mlle", "Mme", "M."))
        name = self._names.family()
        if rng.random() < 0.6:
            name = f"{self._names.given()} {name}"
        text = f"{civility} {name}"
        return self._person(text, (len(civility) + 1, len(text)))

    def caps_last_first(self) -> Piece:
        name = f"{self._names.family().upper()} {self._names.given()}"
        return self._person(name, (0, len(name)))

    def first_caps_last(self) -> Piece:
        name = f"{self._names.given()} {self._names.family().upper()}"
        return self._person(name, (0, len(name)))

    def all_caps(self) -> Piece:
        name = f"{self._names.given()} {self._names.family()}".upper()
        return self._person(name, (0, len(name)))

    def title_name(self) -> Piece:
        rng = self._rng
        title = rng.choice(("Me", "Maître", "Dr", "Docteur", "Pr", "Professeur"))
        name = self._names.family()
        if rng.random() < 0.5:
            name = f"{self._names.given()} {name}"
        text = f"{title} {name}"
        return self._person(text, (len(title) + 1, len(text)))

    def married(self) -> Piece:
        rng, names = self._rng, self._names
        given, used, birth = names.given(), names.family(), names.family()
        form = rng.random()
        if form < 0.35:
            head = f"{given} {used}"
            text = f"{head}, épouse {birth}"
            return self._person(text, (0, len(head)), (len(head) + 9, len(text)))
        if form < 0.7:
            head = f"{rng.choice(('Mme', 'Madame'))} {used}"
            text = f"{head}, née {birth}"
            return self._person(text, (head.index(" ") + 1, len(head)), (len(head) + 6, len(text)))
        head = f"{used.upper()} {given}"
        link = rng.choice(("veuve", "épouse", "née"))
        text = f"{head} {link} {birth.upper()}"
        return self._person(text, (0, len(head)), (len(head) + len(link) + 2, len(text)))

    def initial(self) -> Piece:
        name = f"{self._names.given()[0]}. {self._names.family()}"
        return self._person(name, (0, len(name)))

    def signature(self) -> Piece:
        rng = self._rng
        name = f"{self._names.given()} {self._names.family().upper()}"
        function = rng.choice(_FUNCTIONS)
        if rng.random() < 0.5:
            text = f"\n\n{name}\n{function}"
            return self._person(text, (2, 2 + len(name)))
        text = f"\n\n{function},\n{name}"
        start = len(text) - len(name)
        return self._person(text, (start, len(text)))

    def members(self) -> Piece:
        """Members of a meeting, one per line, with a dash."""
        parts: list[str] = []
        spans: list[tuple[int, int]] = []
        position = 0
        for _ in range(self._rng.randint(2, 4)):
            piece = self._rng.choice((self.civ_name, self.caps_last_first, self.plain))()
            line = f"\n- {piece.text}"
            spans.extend((position + 3 + span.start, position + 3 + span.end) for span in piece.spans)
            parts.append(line)
            position += len(line)
        return self._person("".join(parts), *spans)

    def story(self) -> Piece:
        """A person named once with evidence, then by the surname alone."""
        rng, names = self._rng, self._names
        family = names.family()
        civility = rng.choice(("Mme", "M.", "Monsieur", "Madame"))
        head = f"{civility} {names.given()} {family}"
        verb = rng.choice(("a contesté la décision", "a déposé un recours", "a sollicité un délai"))
        tail = rng.choice(("confirme sa demande", "n'a pas répondu", "sera reçu la semaine prochaine"))
        text = f"{head} {verb}. {family} {tail}"
        second = len(head) + len(verb) + 3
        return self._person(text, (len(civility) + 1, len(head)), (second, second + len(family)))

    def born_in(self) -> Piece:
        commune = self._rng.choice(COMMUNES)
        lead = self._rng.choice(("né à ", "née à ", "née le 4 mai 1983 à ", "né le 12/01/1990 à "))
        text = lead + commune
        return Piece(text, spans=(Span(len(lead), len(text), "LOCATION"),))

    def lives_in(self) -> Piece:
        commune = self._rng.choice(COMMUNES)
        lead = self._rng.choice(
            ("domiciliée à ", "demeurant à ", "résidant à ", "originaire de ", "domicilié à ", "qui vit à ")
        )
        text = lead + commune
        return Piece(text, spans=(Span(len(lead), len(text), "LOCATION"),))

    def named_place(self) -> Piece:
        rng = self._rng
        kind = rng.choice(_PLACE_TYPES)
        person = (
            rng.choice(_FAMOUS) if rng.random() < 0.5 else f"{self._names.given()} {self._names.family()}"
        )
        text = f"{kind} {person}"
        return Piece.lookalike(text, len(kind) + 1, len(text), "PERSON")

    def organisation(self) -> Piece:
        text = self._rng.choice(_ORGANISATIONS)
        start = len(text) - len(text.lstrip("abcdefghijklmnopqrstuvwxyz' "))
        return Piece.lookalike(text, start, len(text), "PERSON")

    def commune_institution(self) -> Piece:
        institution = self._rng.choice(_COMMUNE_INSTITUTIONS)
        commune = self._rng.choice(COMMUNES)
        text = f"{institution} {commune}"
        return Piece.lookalike(text, len(institution) + 1, len(text), "LOCATION")

    def commune(self) -> Piece:
        commune = self._rng.choice(COMMUNES)
        return Piece.lookalike(commune, 0, len(commune), "LOCATION")

    def date(self) -> Piece:
        rng = self._rng
        return Piece.plain(f"{rng.randint(1, 28)}/{rng.randint(1, 12):02d}/{rng.randint(2019, 2026)}")
