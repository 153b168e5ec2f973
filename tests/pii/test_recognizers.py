"""Each recognizer: values it must find (generated valid with python-stdnum's own check-digit
functions, several per kind), the same values with a wrong checksum, and look-alikes it must leave
alone. Without the NER model, so that only patterns and checksums are under test."""

from __future__ import annotations

import itertools
import random

import pytest
from stdnum import iban, luhn
from stdnum.fr import nif, nir, siren, siret, tva

from gateway.pii.detection import Detector, Finding

RNG_SEED = 20240312
SAMPLES = 12


@pytest.fixture(scope="module")
def detector() -> Detector:
    return Detector(names=False)


def found(detector: Detector, text: str) -> list[tuple[str, str]]:
    return [(finding.entity, text[finding.start : finding.end]) for finding in detector.find(text)]


def wrong_last_digit(value: str) -> str:
    return value[:-1] + str((int(value[-1]) + 1) % 10)


def digits(rng: random.Random, count: int) -> str:
    return "".join(rng.choice("0123456789") for _ in range(count))


# --- generators of valid values (the check digits are computed by python-stdnum) ---------------


def make_siren(rng: random.Random) -> str:
    body = rng.choice("123456789") + digits(rng, 7)
    return body + luhn.calc_check_digit(body)


def make_siret(rng: random.Random) -> str:
    body = make_siren(rng) + digits(rng, 4)
    return body + luhn.calc_check_digit(body)


def make_nir(rng: random.Random, department: str | None = None) -> str:
    sex = rng.choice("12")
    year = f"{rng.randrange(100):02d}"
    month = f"{rng.randrange(1, 13):02d}"
    department = department or f"{rng.choice([d for d in range(1, 96) if d != 20]):02d}"
    body = sex + year + month + department + f"{rng.randrange(1, 1000):03d}" + f"{rng.randrange(1, 1000):03d}"
    return body + nir.calc_check_digits(body)


def make_nif(rng: random.Random) -> str:
    body = rng.choice("0123") + digits(rng, 9)
    return body + nif.calc_check_digits(body)


def make_card(rng: random.Random, prefix: str, length: int) -> str:
    body = prefix + digits(rng, length - len(prefix) - 1)
    return body + luhn.calc_check_digit(body)


def make_iban(rng: random.Random, country: str, bban: str) -> str:
    return country + iban.calc_check_digits(country + "00" + bban) + bban


def grouped(value: str, sizes: tuple[int, ...], separator: str = " ") -> str:
    parts, position = [], 0
    for size in sizes:
        parts.append(value[position : position + size])
        position += size
    assert position == len(value)
    return separator.join(parts)


def values(make: object, count: int = SAMPLES) -> list[str]:
    rng = random.Random(RNG_SEED)
    assert callable(make)
    return [make(rng) for _ in range(count)]


# --- SIREN, SIRET, VAT -------------------------------------------------------------------------


@pytest.mark.parametrize("value", values(make_siren))
def test_siren_compact_and_grouped(detector: Detector, value: str) -> None:
    assert siren.is_valid(value)
    for written in (value, grouped(value, (3, 3, 3))):
        text = f"La société (SIREN {written}) a déposé ses comptes."
        assert found(detector, text) == [("FR_SIREN", written)]


@pytest.mark.parametrize("value", values(make_siren))
def test_siren_with_wrong_checksum(detector: Detector, value: str) -> None:
    bad = wrong_last_digit(value)
    assert not siren.is_valid(bad)
    assert found(detector, f"SIREN {grouped(bad, (3, 3, 3))}") == []


@pytest.mark.parametrize("value", values(make_siret))
def test_siret_is_one_finding_not_a_siren_plus_digits(detector: Detector, value: str) -> None:
    assert siret.is_valid(value)
    for written in (value, grouped(value, (3, 3, 3, 5)), grouped(value, (9, 5))):
        assert found(detector, f"SIRET : {written}.") == [("FR_SIRET", written)]


@pytest.mark.parametrize("value", values(make_siret))
def test_siret_with_wrong_checksum_reports_nothing(detector: Detector, value: str) -> None:
    bad = wrong_last_digit(value)
    assert not siret.is_valid(bad)
    # Its first nine digits are a valid SIREN, but the grouping says SIRET: a mistyped SIRET.
    assert found(detector, f"SIRET {grouped(bad, (3, 3, 3, 5))}") == []


def test_la_poste_siret_exception(detector: Detector) -> None:
    # La Poste's establishments do not follow Luhn: their digits add up to a multiple of 5.
    valid = next(
        f"35600000{n:06d}"
        for n in range(1000, 100000)
        if sum(map(int, f"35600000{n:06d}")) % 5 == 0 and not luhn.is_valid(f"35600000{n:06d}")
    )
    assert siret.is_valid(valid)
    assert found(detector, f"bureau de poste, SIRET {valid}") == [("FR_SIRET", valid)]


@pytest.mark.parametrize("value", values(make_siren))
def test_vat_number_hides_its_siren(detector: Detector, value: str) -> None:
    vat = "FR" + siren.to_tva(value)
    assert tva.is_valid(vat)
    for written in (vat, f"FR {vat[2:4]} {grouped(value, (3, 3, 3))}", f"{vat[:4]} {value}"):
        assert found(detector, f"TVA intracommunautaire : {written}") == [("FR_VAT", written)]
    bad = vat[:2] + f"{(int(vat[2:4]) + 1) % 100:02d}" + vat[4:]
    assert found(detector, f"TVA {bad}") == []


# --- NIR ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", values(make_nir))
def test_nir_compact_and_as_usually_written(detector: Detector, value: str) -> None:
    assert nir.is_valid(value)
    for written in (value, nir.format(value), grouped(value, (13, 2))):
        assert found(detector, f"n° de sécurité sociale {written}") == [("FR_NIR", written)]


@pytest.mark.parametrize("department", ["2A", "2B"])
def test_nir_born_in_corsica(detector: Detector, department: str) -> None:
    for value in values(lambda rng: make_nir(rng, department), 4):
        assert nir.is_valid(value)
        for written in (value, nir.format(value)):
            assert found(detector, f"NIR : {written}") == [("FR_NIR", written)]
        bad = value[:-2] + f"{(int(value[-2:]) + 1) % 100:02d}"
        assert found(detector, f"NIR : {bad}") == []


@pytest.mark.parametrize("value", values(make_nir))
def test_nir_with_wrong_key(detector: Detector, value: str) -> None:
    bad = value[:-2] + f"{(int(value[-2:]) + 1) % 100:02d}"
    assert not nir.is_valid(bad)
    assert found(detector, f"NIR {bad} / {nir.format(bad)}") == []


def test_nir_wins_over_a_card_of_the_same_digits(detector: Detector) -> None:
    # Sex 3 (registration pending) and a year in the forties: "34..." is also an Amex prefix.
    rng = random.Random(RNG_SEED)
    while True:
        body = "34" + digits(rng, 1) + f"{rng.randrange(1, 13):02d}" + "75" + digits(rng, 6)
        value = body + nir.calc_check_digits(body)
        if luhn.is_valid(value):
            break
    assert nir.is_valid(value)
    assert found(detector, f"n° {value}") == [("FR_NIR", value)]


# --- NIF ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", values(make_nif))
def test_nif_compact_and_grouped(detector: Detector, value: str) -> None:
    assert nif.is_valid(value)
    for written in (value, nif.format(value)):
        assert found(detector, f"numéro fiscal {written}") == [("FR_NIF", written)]
    bad = value[:-3] + f"{(int(value[-3:]) + 1) % 1000:03d}"
    assert found(detector, f"numéro fiscal {nif.format(bad)}") == []


# --- payment cards -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("prefix", "length", "sizes"),
    [
        ("4", 16, (4, 4, 4, 4)),
        ("51", 16, (4, 4, 4, 4)),
        ("2221", 16, (4, 4, 4, 4)),
        ("6011", 16, (4, 4, 4, 4)),
        ("37", 15, (4, 6, 5)),
        ("4", 19, (4, 4, 4, 4, 3)),
    ],
)
def test_cards(detector: Detector, prefix: str, length: int, sizes: tuple[int, ...]) -> None:
    for value in values(lambda rng: make_card(rng, prefix, length), 6):
        assert luhn.is_valid(value)
        for written in (value, grouped(value, sizes), grouped(value, sizes, "-")):
            assert found(detector, f"payé par carte {written} le 3 mars") == [("CREDIT_CARD", written)]
        assert found(detector, f"carte {grouped(wrong_last_digit(value), sizes)}") == []


def test_luhn_valid_number_without_a_card_prefix_is_not_a_card(detector: Detector) -> None:
    value = make_card(random.Random(1), "9", 16)
    assert luhn.is_valid(value)
    assert found(detector, f"référence {grouped(value, (4, 4, 4, 4))}") == []


# --- IBAN --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("country", "make_bban"),
    [
        ("FR", lambda rng: digits(rng, 10) + "0" + digits(rng, 10) + "00"),  # key checked below
        ("DE", lambda rng: digits(rng, 18)),
        ("BE", lambda rng: digits(rng, 12)),
        ("ES", lambda rng: digits(rng, 20)),
    ],
)
def test_iban_compact_and_in_groups_of_four(detector: Detector, country: str, make_bban: object) -> None:
    assert callable(make_bban)
    rng = random.Random(RNG_SEED)
    checked = 0
    while checked < 6:
        value = make_iban(rng, country, make_bban(rng))
        if not iban.is_valid(value):  # a French BBAN has its own key (RIB): skip those that fail it
            continue
        checked += 1
        written = " ".join(value[i : i + 4] for i in range(0, len(value), 4))
        for form in (value, written):
            assert found(detector, f"Virement sur le compte {form} avant le 5.") == [("IBAN", form)]
        bad = value[:2] + f"{(int(value[2:4]) + 1) % 100:02d}" + value[4:]
        assert found(detector, f"compte {bad}") == []


def test_known_french_iban_followed_by_a_bic(detector: Detector) -> None:
    text = "RIB : FR76 3000 6000 0112 3456 7890 189 BIC AGRIFRPP"
    assert found(detector, text) == [("IBAN", "FR76 3000 6000 0112 3456 7890 189")]


@pytest.mark.parametrize(
    "separator",
    [" ", "\u00a0", "\u202f", "-", "."],
    ids=["space", "no-break space", "narrow no-break space", "hyphen", "dot"],
)
def test_iban_groups_with_the_separators_numbers_are_written_with(detector: Detector, separator: str) -> None:
    """The same separators as NIR and the other numbers: word processors put no-break spaces
    between groups, forms and spreadsheets hyphens."""
    value = "FR7630006000011234567890189"
    written = separator.join(value[i : i + 4] for i in range(0, len(value), 4))
    text = f"Virement sur le compte {written} avant le 5."
    assert found(detector, text) == [("IBAN", written)]
    # The IBAN alone is replaced, not the words after it.
    assert found(detector, f"IBAN {written}{separator}BIC AGRIFRPP") == [("IBAN", written)]
    bad = written.replace("FR76", "FR77")
    assert found(detector, f"compte {bad}") == []


@pytest.mark.parametrize("case", [str.lower, str.title], ids=["lower", "capitalised"])
def test_iban_in_any_case(detector: Detector, case: object) -> None:
    assert callable(case)
    for value in (
        "FR76 3000 6000 0112 3456 7890 189",
        "DE89370400440532013000",
        "GB29 NWBK 6016 1331 9268 19",
    ):
        assert iban.is_valid(value)
        written = case(value)
        assert found(detector, f"mon rib : {written}, merci") == [("IBAN", written)]
    assert found(detector, "mon rib : fr77 3000 6000 0112 3456 7890 189") == []


def test_iban_with_mixed_separators_still_checked(detector: Detector) -> None:
    # One group mistyped with a hyphen is still the account number; the checksum decides.
    written = "FR76 3000-6000 0112\u00a03456 7890 189"
    assert found(detector, f"compte {written}.") == [("IBAN", written)]


# --- phones ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "written",
    [
        "06 12 34 56 78",
        "06.12.34.56.78",
        "06-12-34-56-78",
        "0612345678",
        "01 42 75 80 00",
        "+33 6 12 34 56 78",
        "+33612345678",
        "+33 (0)6 12 34 56 78",
        "(+33) 6 12 34 56 78",
        "0033 6 12 34 56 78",
        "+44 20 7946 0958",
        "+1 212 555 0142",
        # Overseas mobiles written nationally, and ranges not allocated today: numbers all the same.
        "06 94 12 40 87",
        "0692315574",
        "07 21 48 06 33",
        "+33 7 12 90 41 75",
        "07.03.52.18.64",
        "07 00 00 00 00",
        "08 72 12 34 56",
    ],
)
def test_phone_numbers(detector: Detector, written: str) -> None:
    assert found(detector, f"Joignable au {written}, du lundi au vendredi.") == [("PHONE", written)]


@pytest.mark.parametrize("written", ["00 12 34 56 78", "06 12 34 56", "01 23 45 67 8", "+33 6 12 34"])
def test_not_phone_numbers(detector: Detector, written: str) -> None:
    assert found(detector, f"numéro {written}") == []


def test_phone_number_in_parentheses(detector: Detector) -> None:
    text = "Le standard (+33 (0)5 88 66 05 39) remplace l'ancien."
    assert found(detector, text) == [("PHONE", "+33 (0)5 88 66 05 39")]


def test_phone_number_followed_by_more_digits(detector: Detector) -> None:
    assert found(detector, "tél. 06 12 34 56 78 12") == [("PHONE", "06 12 34 56 78")]
    assert found(detector, "tél. +33 6 12 34 56 78 90") == [("PHONE", "+33 6 12 34 56 78")]


# --- email, IP ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "written",
    [
        "jean.dupont@interieur.gouv.fr",
        "j-m.durand+dossier@mairie-lyon.fr",
        "Contact@Example.COM",
        "élodie@exemple.fr",
    ],
)
def test_emails(detector: Detector, written: str) -> None:
    assert found(detector, f"Écrire à {written}.") == [("EMAIL", written)]
    assert found(detector, written) == [("EMAIL", written)]


@pytest.mark.parametrize("text", ["@mairie sur X", "jean.dupont@localhost", "a@b", "mail: jean @ example.fr"])
def test_not_emails(detector: Detector, text: str) -> None:
    assert found(detector, text) == []


@pytest.mark.parametrize(
    "written", ["192.168.1.10", "10.0.0.1", "2001:db8::1", "fe80::1ff:fe23:4567:890a", "::ffff:192.0.2.1"]
)
def test_ip_addresses(detector: Detector, written: str) -> None:
    assert found(detector, f"connexion depuis {written} refusée") == [("IP_ADDRESS", written)]


@pytest.mark.parametrize("text", ["256.1.1.1", "1.2.3", "à 10:30:00", "MAC 00:1A:2B:3C:4D:5E", "12h30"])
def test_not_ip_addresses(detector: Detector, text: str) -> None:
    assert found(detector, text) == []


def test_ip_address_before_a_colon(detector: Detector) -> None:
    assert found(detector, "adresse 2001:db8::1: refusée") == [("IP_ADDRESS", "2001:db8::1")]


# --- passport and identity card: only near context words ----------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "passeport n° 12AB34567",
        "N° de passeport : 12AB34567",
        "Mon passeport (12AB34567) expire en mai.",
    ],
)
def test_passport_needs_its_context_word(detector: Detector, text: str) -> None:
    assert found(detector, text) == [("FR_PASSPORT", "12AB34567")]
    assert found(detector, text.replace("asseport", "ermis")) == []


@pytest.mark.parametrize(
    ("text", "number"),
    [
        ("carte d'identité n° X4RTBPFW4", "X4RTBPFW4"),
        ("CNI : X4RTBPFW4", "X4RTBPFW4"),
        ("carte nationale d\u2019identité 880692310285", "880692310285"),  # typographic apostrophe
        ("Carte Nationale d'Identité numéro 8806 9231 0285", "8806 9231 0285"),
    ],
)
def test_identity_card_needs_its_context_word(detector: Detector, text: str, number: str) -> None:
    assert found(detector, text) == [("FR_ID_CARD", number)]
    assert found(detector, f"référence {number}") == []


def test_context_word_too_far_away(detector: Detector) -> None:
    text = "Pièce jointe : une copie de mon passeport ; pour le dossier suivi par le service, la référence 12AB34567"
    assert found(detector, text) == []


def test_one_context_word_serves_one_document(detector: Detector) -> None:
    text = "CNI n° X4RTBPFW4 ; code 12AB34567"
    assert found(detector, text) == [("FR_ID_CARD", "X4RTBPFW4")]


def test_another_identifier_named_after_the_context_word(detector: Detector) -> None:
    value = values(make_siren, 1)[0]
    text = f"CNI perdue ; SIREN {value}"
    assert found(detector, text) == [("FR_SIREN", value)]


# --- postal addresses --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "written",
    [
        "12 rue de la Paix",
        "12 bis rue de la Paix, 75002 Paris",
        "5, avenue Victor Hugo 69003 Lyon",
        "8 ter boulevard Saint-Michel",
        "3 rue du 8 Mai 1945",
        "38 passage du 11 Novembre 35000 Rennes",
        "14 av. des Champs-Élysées, 75008 Paris Cedex 08",
        "7 allée des Tilleuls",
        "22 impasse du Moulin, 33000 Bordeaux",
        "1 place de l'Église",
        "10 RUE DE LA PAIX 75002 PARIS",
        "4 chemin des vignes, 24200 Sarlat-la-Canéda",
        "9 quai d'Orsay",
    ],
)
def test_addresses(detector: Detector, written: str) -> None:
    assert found(detector, f"Domicile : {written}. Merci.") == [("ADDRESS", written)]


def test_address_over_two_lines(detector: Detector) -> None:
    text = "Résidence Les Pins\n12 rue des Lilas\n33000 Bordeaux\nFrance"
    assert found(detector, text) == [("ADDRESS", "12 rue des Lilas\n33000 Bordeaux")]


def test_postcode_and_commune_after_a_street_line_without_number(detector: Detector) -> None:
    text = "Lieu-dit Les Granges\n24200 Sarlat-la-Canéda"
    assert found(detector, text) == [("ADDRESS", text)]
    assert found(detector, "rue de la Paix, 75002 Paris") == [("ADDRESS", "rue de la Paix, 75002 Paris")]


@pytest.mark.parametrize(
    "text",
    [
        "75007",
        "75007 Paris",
        "le tribunal de Paris (75007 Paris)",
        "Paris 75007",
        "il reste 1 place de libre",
        "2 routes de campagne",
        "rue de la Paix",
    ],
)
def test_not_addresses(detector: Detector, text: str) -> None:
    assert found(detector, text) == []


# --- traps: nothing personal in these ----------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "un montant de 1 234 567,89 € a été versé",
        "une subvention de 12 500 euros",
        "soit 123 456 789 € au total",
        "soit 732 829 320,50 EUR",
        "le 12/03/2024",
        "le 2024-03-12",
        "le 12.03.2024",
        "article L. 1234-5 du code du travail",
        "article R. 4127-1 du code de la santé publique",
        "décret n° 2021-1234 du 12 mars 2021",
        "loi n° 78-17 du 6 janvier 1978",
        "RG 21/01234",
        "dossier n° 2023-000123",
        "arrêté n° 2024-123-456",
        "un total de 1 234 567 890",
        "version 2.10.3",
        "ordonnance n° 2019-738 du 17 juillet 2019",
        "l'an 2024, 15 000 habitants, 3,5 millions",
    ],
)
def test_traps(detector: Detector, text: str) -> None:
    assert found(detector, text) == []


def test_valid_ip_looking_version_number_is_an_ip(detector: Detector) -> None:
    # Four dotted numbers up to 255 cannot be told from an IPv4 address; reporting it is accepted.
    assert found(detector, "version 1.2.3.4") == [("IP_ADDRESS", "1.2.3.4")]


# --- several findings, order and overlap --------------------------------------------------------


def test_findings_are_sorted_and_do_not_overlap(detector: Detector) -> None:
    rng = random.Random(7)
    siret_value, nir_value = make_siret(rng), make_nir(rng)
    text = (
        f"M. X, 12 rue de la Paix, 75002 Paris, tél. 06 12 34 56 78, courriel x.y@exemple.fr, "
        f"SIRET {siret_value}, NIR {nir.format(nir_value)}, IBAN FR76 3000 6000 0112 3456 7890 189, "
        f"TVA FR{siren.to_tva(siret_value[:9])}."
    )
    findings = detector.find(text)
    assert [finding.entity for finding in findings] == [
        "ADDRESS",
        "PHONE",
        "EMAIL",
        "FR_SIRET",
        "FR_NIR",
        "IBAN",
        "FR_VAT",
    ]
    for before, after in itertools.pairwise(findings):
        assert before.end <= after.start


def test_two_identifiers_side_by_side_in_one_run(detector: Detector) -> None:
    value = values(make_siren, 1)[0]
    text = f"06 12 34 56 78 {grouped(value, (3, 3, 3))}"
    assert found(detector, text) == [("PHONE", "06 12 34 56 78"), ("FR_SIREN", grouped(value, (3, 3, 3)))]


def test_finding_is_frozen_and_slotted() -> None:
    finding = Finding(1, 5, "EMAIL")
    with pytest.raises(AttributeError):
        finding.start = 2  # type: ignore[misc]
    assert not hasattr(finding, "__dict__")
    assert (finding.start, finding.end, finding.entity) == (1, 5, "EMAIL")


def test_text_without_digits_at_or_colon(detector: Detector) -> None:
    assert detector.find("") == []
    assert detector.find("Bonjour, je souhaite connaître l'état de ma demande.") == []
