"""Real French communes (with a postcode of theirs) and postal addresses built on them.

Faker's `fr_FR` city names are invented (`NoëlVille`); a named-entity model is better judged on
names it could meet in a real letter, so the communes come from this list instead.
"""

from __future__ import annotations

from ._model import Piece
from ._sources import Sources

# Commune -> its postcodes (a range for the cities with arrondissements).
COMMUNES: dict[str, tuple[str, ...]] = {
    "Paris": tuple(f"750{n:02d}" for n in range(1, 21)),
    "Lyon": tuple(f"6900{n}" for n in range(1, 10)),
    "Marseille": tuple(f"130{n:02d}" for n in range(1, 17)),
    "Toulouse": ("31000", "31100", "31200", "31300", "31400", "31500"),
    "Nice": ("06000", "06100", "06200", "06300"),
    "Nantes": ("44000", "44100", "44200", "44300"),
    "Strasbourg": ("67000", "67100", "67200"),
    "Montpellier": ("34000", "34070", "34080", "34090"),
    "Bordeaux": ("33000", "33100", "33200", "33300", "33800"),
    "Lille": ("59000", "59160", "59260", "59800"),
    "Rennes": ("35000", "35200", "35700"),
    "Reims": ("51100",),
    "Le Havre": ("76600", "76610", "76620"),
    "Saint-Étienne": ("42000", "42100"),
    "Toulon": ("83000", "83100", "83200"),
    "Grenoble": ("38000", "38100"),
    "Dijon": ("21000",),
    "Angers": ("49000", "49100"),
    "Nîmes": ("30000", "30900"),
    "Villeurbanne": ("69100",),
    "Clermont-Ferrand": ("63000", "63100"),
    "Le Mans": ("72000", "72100"),
    "Aix-en-Provence": ("13090", "13100", "13290"),
    "Brest": ("29200",),
    "Tours": ("37000", "37100", "37200"),
    "Amiens": ("80000", "80080", "80090"),
    "Limoges": ("87000", "87100", "87280"),
    "Annecy": ("74000", "74370", "74600", "74940", "74960"),
    "Perpignan": ("66000", "66100"),
    "Metz": ("57000", "57050", "57070"),
    "Besançon": ("25000",),
    "Orléans": ("45000", "45100"),
    "Rouen": ("76000", "76100"),
    "Mulhouse": ("68100", "68200"),
    "Caen": ("14000",),
    "Nancy": ("54000", "54100"),
    "Argenteuil": ("95100",),
    "Montreuil": ("93100",),
    "Roubaix": ("59100",),
    "Tourcoing": ("59200",),
    "Avignon": ("84000",),
    "Poitiers": ("86000",),
    "Pau": ("64000",),
    "La Rochelle": ("17000",),
    "Ajaccio": ("20000", "20090"),
    "Bastia": ("20200", "20600"),
    "Cayenne": ("97300",),
    "Fort-de-France": ("97200", "97234"),
    "Pointe-à-Pitre": ("97110",),
    "Saint-Denis": ("93200", "93210"),
    "Quimper": ("29000",),
    "Vannes": ("56000",),
    "Chambéry": ("73000",),
    "Colmar": ("68000",),
    "Bayonne": ("64100",),
    "Lorient": ("56100",),
    "Troyes": ("10000",),
    "Valence": ("26000",),
    "Niort": ("79000",),
    "Chartres": ("28000",),
    "Laval": ("53000",),
    "Albi": ("81000",),
    "Auch": ("32000",),
    "Mende": ("48000",),
    "Gap": ("05000",),
    "Saint-Brieuc": ("22000",),
    "Saint-Malo": ("35400",),
    "Boulogne-Billancourt": ("92100",),
    "Nanterre": ("92000",),
    "Créteil": ("94000",),
    "Bobigny": ("93000",),
    "Versailles": ("78000",),
    "Cergy": ("95000", "95800"),
    "Melun": ("77000",),
    "Vitry-sur-Seine": ("94400",),
    "Châlons-en-Champagne": ("51000",),
    "Charleville-Mézières": ("08000",),
    "Bourg-en-Bresse": ("01000",),
    "Mont-de-Marsan": ("40000",),
}

STREET_TYPES = (
    "rue",
    "rue",
    "rue",
    "avenue",
    "avenue",
    "boulevard",
    "bd",
    "allée",
    "chemin",
    "impasse",
    "place",
    "quai",
    "route",
    "cours",
    "square",
    "passage",
)

STREET_NAMES = (
    "de la Paix",
    "Victor Hugo",
    "Jean Jaurès",
    "de la République",
    "du Général de Gaulle",
    "Pasteur",
    "des Lilas",
    "de la Gare",
    "Gambetta",
    "du Maréchal Foch",
    "des Écoles",
    "Émile Zola",
    "de Verdun",
    "du Moulin",
    "des Tilleuls",
    "Saint-Michel",
    "de l'Église",
    "Voltaire",
    "de la Liberté",
    "du Port",
    "des Acacias",
    "Carnot",
    "Jean Moulin",
    "Anatole France",
    "de la Mairie",
    "des Vignes",
    "du Château",
    "des Peupliers",
    "de Bretagne",
    "Aristide Briand",
    "du 8 Mai 1945",
    "du 11 Novembre",
    "Louise Michel",
    "Simone Veil",
    "des Frères Lumière",
)


class Places:
    def __init__(self, sources: Sources) -> None:
        self._fake = sources.fake
        self._rng = sources.rng
        self._communes = sorted(COMMUNES)

    def commune(self) -> str:
        return self._rng.choice(self._communes)

    def city(self) -> Piece:
        return Piece.labelled(self.commune(), "LOCATION")

    def _street(self) -> str:
        rng = self._rng
        number = str(rng.randint(1, 250))
        if rng.random() < 0.15:
            number += rng.choice((" bis", " ter", "bis", " B"))
        if rng.random() < 0.25:
            # Streets named after someone, as Faker's own addresses do.
            name = rng.choice((self._fake.last_name(), self._fake.name()))
            if rng.random() < 0.5:
                name = "de " + name
        else:
            name = rng.choice(STREET_NAMES)
        separator = ", " if rng.random() < 0.15 else " "
        return f"{number}{separator}{rng.choice(STREET_TYPES)} {name}"

    def address(self) -> Piece:
        """A postal address; the commune in it belongs to the ADDRESS, not to a LOCATION."""
        rng = self._rng
        street = self._street()
        form = rng.random()
        if form < 0.2:
            return Piece.labelled(street, "ADDRESS")
        commune = self.commune()
        locality = f"{rng.choice(COMMUNES[commune])} {commune}"
        if rng.random() < 0.1:
            locality = locality.upper()
        separator = " " if form < 0.35 else ", "
        return Piece.labelled(f"{street}{separator}{locality}", "ADDRESS")
