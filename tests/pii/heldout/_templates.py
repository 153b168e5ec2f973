"""The held-out templates: other kinds of documents, other wordings than the first corpus's."""

from __future__ import annotations

from tests.pii.corpus._filling import Template

_TEXTS = {
    "arrete": (
        "ARRÊTÉ portant nomination de {civ_name} en qualité de régisseur de la {commune_institution}.",
        "Article 1er : {caps_last_first}, {born_in}, est autorisé à exercer à compter du {date}.",
        "Article 2 : le {named_place} est placé sous la responsabilité de {title_name}.",
        "Vu la demande présentée par {married}, {lives_in}, le préfet arrête :",
    ),
    "etat_civil": (
        "Extrait d'acte de naissance : {all_caps}, {born_in}, fils de {plain} et de {married}.",
        "Acte de mariage entre {first_caps_last} et {caps_last_first}, célébré à la {commune_institution}.",
        "Mention marginale : divorce de {married} prononcé le {date}.",
        "Acte de décès de {civ_name}, {lives_in}, déclaré par {plain}.",
    ),
    "pv": (
        "PROCÈS-VERBAL DE LA SÉANCE DU {date}\nMembres présents :{members}\nSecrétaire de séance : {civ_name}.",
        "Assistaient également à la réunion : {caps_last_first}, {civ_name} et {initial}.",
        "Après en avoir délibéré, le conseil approuve la convention avec {organisation} pour le {named_place}.",
        "{story}, ainsi que l'a rappelé {title_name} en séance.",
        "Le président donne la parole à {first_caps_last}, qui présente les travaux de l'{named_place}.",
    ),
    "mail": (
        "Bonjour {given},\n\nJe vous transmets le dossier de {civ_name}.\n\nBien à vous,\n{initial}",
        "Salut {given}, peux-tu regarder la demande de {caps_last_first} ? Merci !",
        "Bonjour,\nsuite à l'appel de {civ_name} ce matin, je relance {organisation}.{signature}",
        "Bonsoir {given}, la réunion à la {commune_institution} est reportée au {date}. {initial}",
        "Chère {given}, pourriez-vous confirmer le rendez-vous de {plain} au {named_place} ?",
    ),
    "rh": (
        "Fiche agent : {all_caps} – {born_in} – affecté à la {commune_institution}.",  # noqa: RUF001
        "Entretien professionnel de {first_caps_last}, conduit par {civ_name}, le {date}.",
        "Arrêt maladie de {caps_last_first} du {date} ; remplacement assuré par {initial}.",
        "Mutation de {civ_name}, {lives_in}, vers le {named_place}.",
        "Candidature de {plain} au poste d'adjoint administratif ; jury présidé par {title_name}.",
    ),
    "juridique": (
        "Affaire {caps_last_first} c/ {organisation} : audience devant le tribunal de commerce.",
        "Conclusions déposées par {title_name} pour le compte de {married}.",
        "{story}. L'affaire est renvoyée devant la {commune_institution}.",
        "Le requérant, {civ_name}, {lives_in}, conteste le refus opposé par le {named_place}.",
        "Témoins entendus : {plain}, {caps_last_first}, {civ_name}.",
    ),
    "social": (
        "Signalement concernant l'enfant {first_caps_last}, {born_in}, scolarisé au {named_place}.",
        "Visite à domicile chez {married}, {lives_in}, en présence de {civ_name}.",
        "Demande d'aide de {civ_name} transmise à {organisation} le {date}.{signature}",
        "Accompagnement de {caps_last_first} par {initial}, assistante sociale.",
    ),
    "sans_personne": (
        "Les travaux de rénovation du {named_place} débuteront le {date}.",
        "La {commune_institution} sera fermée le {date} ; {organisation} assure la permanence.",
        "Inauguration du {named_place} en présence des élus de {commune}.",
        "Partenariat entre {organisation} et le {named_place} pour l'accueil du public.",
        "Le {named_place} et la {commune_institution} accueillent l'exposition jusqu'au {date}.",
        "Itinéraire conseillé : {named_place}, puis {named_place_2}, jusqu'à {commune}.",
        "Une permanence de {organisation} se tient à la {commune_institution} chaque mardi.",
        "Le salon de l'emploi de {commune} aura lieu au {named_place} le {date}.",
    ),
}

TEMPLATES: tuple[Template, ...] = tuple(
    Template(name=f"heldout-{kind}-{number:02d}", category=kind, text=text)
    for kind, texts in _TEXTS.items()
    for number, text in enumerate(texts, start=1)
)
