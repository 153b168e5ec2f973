"""People's names and the communes tied to them, form by form (the corpora measure them at scale:
tests/pii/test_evaluation.py)."""

from __future__ import annotations

import pytest

from gateway.pii.detection import Detector


@pytest.fixture(scope="module")
def detector() -> Detector:
    return Detector(entities=frozenset({"PERSON", "LOCATION"}))


def found(detector: Detector, text: str) -> list[tuple[str, str]]:
    return [(finding.entity, text[finding.start : finding.end]) for finding in detector.find(text)]


@pytest.mark.parametrize(
    ("text", "people"),
    [
        ("Mme Amandine Leroux a écrit.", ["Amandine Leroux"]),
        ("Dossier de LEROUX Amandine.", ["LEROUX Amandine"]),
        ("Signé : GÉRARD FONTAINE", ["GÉRARD FONTAINE"]),
        ("Le mémoire de Maître Paul Girard est arrivé.", ["Paul Girard"]),
        ("Reçu par le Dr Roux et Me Haddad.", ["Roux", "Haddad"]),
        ("Mme Martin née Leroux conteste.", ["Martin", "Leroux"]),
        ("Amandine Leroux épouse Martin, veuve Tanguy.", ["Amandine Leroux", "Martin", "Tanguy"]),
        ("Votre conseiller est J. Dupont.", ["J. Dupont"]),
        (
            "Présents : Jean-Pierre Dubois, M. Petit et Mme Le Goff.",
            ["Jean-Pierre Dubois", "Petit", "Le Goff"],
        ),
        ("Excusés :\n- Zorglub Plok\n- Mme Truong", ["Zorglub Plok", "Truong"]),
        ("Cordialement,\nSophie BERNARD\nCheffe du bureau des affaires générales", ["Sophie BERNARD"]),
        ("Le dossier de NGUYEN Van Thanh est complet.", ["NGUYEN Van Thanh"]),
        ("Bonjour Amandine, pouvez-vous rappeler ?", ["Amandine"]),
        ("Incident signalé par Kevin ce matin.", ["Kevin"]),
        ("Mme Šimek a écrit à M. İhsanoğlu.", ["Šimek", "İhsanoğlu"]),
        ("Olivie Leconte, chef du bureau, a signé.", ["Olivie Leconte"]),
    ],
)
def test_people_are_found_in_the_forms_files_use(detector: Detector, text: str, people: list[str]) -> None:
    assert found(detector, text) == [("PERSON", person) for person in people]


@pytest.mark.parametrize(
    "text",
    [
        "Inscription au collège Marie Curie, 12 rue Jean Jaurès.",
        "Transfert vers l'hôpital européen Georges Pompidou, puis le centre hospitalier Paul Bert.",
        "Le stade Pierre de Coubertin et la médiathèque Françoise Sagan ferment.",
        "Vu la loi Veil et le rapport de la Fondation Abbé Pierre.",
        "Rendez-vous place Charles de Gaulle, rue du Docteur Roux, à Saint-Pierre.",
        "Monsieur le Préfet, Madame la Directrice, France Travail et la Banque de France.",
        "Subvention versée par Radio France et Eau de Paris à la région Île-de-France.",
        "Pierre, Rose et Claire sont des mots avant d'être des prénoms.",
        "Le tribunal administratif de Lyon a rejeté la requête ; réunion à Nantes.",
        "Le SIRET et l'IBAN de la CAF figurent en annexe.",
    ],
)
def test_lookalikes_are_left_alone(detector: Detector, text: str) -> None:
    assert found(detector, text) == []


def test_a_name_found_once_is_found_wherever_it_is_written_again(detector: Detector) -> None:
    texts = ["Mme Amandine Leroux demande un délai.", "Leroux a confirmé par courrier.", "rue Leroux"]
    findings = detector.find_in_texts(texts)
    assert [[texts[i][f.start : f.end] for f in in_text] for i, in_text in enumerate(findings)] == [
        ["Amandine Leroux"],
        ["Leroux"],
        [],  # after a street type, the same word is a street's name
    ]
    # Without the name in the request, the surname alone has no evidence.
    assert detector.find("Leroux a confirmé par courrier.") == []


@pytest.mark.parametrize(
    ("text", "places"),
    [
        ("Je soussignée Amandine Leroux, née le 4 mai 1983 à Saint-Étienne.", ["Saint-Étienne"]),
        (
            "Domicilié à Aix-en-Provence, originaire de La Roche-sur-Yon.",
            ["Aix-en-Provence", "La Roche-sur-Yon"],
        ),
        ("Lieu de naissance : Brest.", ["Brest"]),
        ("Suite à mon déménagement de Nantes à Le Havre.", ["Nantes", "Le Havre"]),
    ],
)
def test_communes_tied_to_a_person(detector: Detector, text: str, places: list[str]) -> None:
    assert [value for entity, value in found(detector, text) if entity == "LOCATION"] == places


def test_names_are_off_on_request() -> None:
    text = "Mme Amandine Leroux, née à Nantes."
    assert Detector(names=False).find(text) == []


def test_english_words_that_are_given_names_are_not_names_alone(detector: Detector) -> None:
    text = (
        "Will you summarize this letter? May I add a note. Mark the answer as urgent. Grace period: 30 days."
    )
    assert found(detector, text) == []
    assert found(detector, "Will Smith wrote to Mark Leroux.") == [
        ("PERSON", "Will Smith"),
        ("PERSON", "Mark Leroux"),
    ]
