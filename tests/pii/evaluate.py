"""Precision, recall and F1 of the personal-data detector on the synthetic corpus, per entity type.

    python -m tests.pii.evaluate [--ner | --no-names] [--json] [--seed N] [--size N] [--show-errors]

Two ways of counting:

- exact: a finding is right when its start, end and type are those of a labelled span;
- overlap: a finding is right when it overlaps a labelled span of the same type (a name found
  with its civility, an address without its commune still count).

PERSON and LOCATION are scored only when the detector looks for names (`names`, on by default):
without it they are out of its reach by design, not missed. tests/pii/names_evaluation.py counts
names the way the backend sees them, on both name corpora.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

from gateway.pii.detection import ENTITY_TYPES, Detector, Finding
from tests.pii.corpus import DEFAULT_SEED, DEFAULT_SIZE, LabelledSentence, Span, generate_corpus

NAME_ENTITIES = frozenset({"PERSON", "LOCATION"})


class Scanner(Protocol):
    """What the evaluation needs of a detector (a stand-in lets the scoring itself be tested)."""

    @property
    def names_detected(self) -> bool: ...

    def find(self, text: str) -> Sequence[Finding]: ...


@dataclass
class Tally:
    """Counts for one entity type; the rates are derived from them."""

    support: int = 0  # labelled spans
    found: int = 0  # findings reported
    exact: int = 0  # findings equal to a labelled span
    found_overlapping: int = 0  # findings overlapping a labelled span of the same type
    support_overlapped: int = 0  # labelled spans overlapped by a finding of the same type

    def add(self, other: Tally) -> None:
        for name in vars(self):
            setattr(self, name, getattr(self, name) + getattr(other, name))

    # An empty denominator means nothing could go wrong: no finding is no false positive.
    @property
    def precision(self) -> float:
        return self.exact / self.found if self.found else 1.0

    @property
    def recall(self) -> float:
        return self.exact / self.support if self.support else 1.0

    @property
    def f1(self) -> float:
        return _harmonic_mean(self.precision, self.recall)

    @property
    def overlap_precision(self) -> float:
        return self.found_overlapping / self.found if self.found else 1.0

    @property
    def overlap_recall(self) -> float:
        return self.support_overlapped / self.support if self.support else 1.0

    @property
    def overlap_f1(self) -> float:
        return _harmonic_mean(self.overlap_precision, self.overlap_recall)

    def to_json(self) -> dict[str, Any]:
        rates = ("precision", "recall", "f1", "overlap_precision", "overlap_recall", "overlap_f1")
        return {**asdict(self), **{rate: round(getattr(self, rate), 4) for rate in rates}}


def _harmonic_mean(a: float, b: float) -> float:
    return 2 * a * b / (a + b) if a + b else 0.0


@dataclass(frozen=True)
class Mismatch:
    """One disagreement between the labels and the detector.

    kind: `missed` (nothing found there), `boundary` (same type, other span), `wrong_type`
    (something of another type found over it) or `spurious` (found where nothing is labelled).
    """

    kind: str
    sentence: LabelledSentence
    expected: Span | None
    found: Span | None
    on_decoy: bool = False

    @property
    def entity(self) -> str:
        span = self.expected or self.found
        assert span is not None
        return span.entity

    def describe(self) -> str:
        def show(span: Span | None) -> str:
            return "-" if span is None else f"{span.entity} {self.sentence.value(span)!r}"

        decoy = " (on a decoy)" if self.on_decoy else ""
        return (
            f"[{self.kind}{decoy}] expected {show(self.expected)}, found {show(self.found)}"
            f"  <{self.sentence.template}>  {self.sentence.text}"
        )


@dataclass
class Evaluation:
    names_detected: bool
    sentences: int
    tallies: dict[str, Tally]
    mismatches: list[Mismatch] = field(default_factory=list, repr=False)
    scan_ms: list[float] = field(default_factory=list, repr=False)
    startup_ms: float = 0.0
    decoys: int = 0

    @property
    def overall(self) -> Tally:
        total = Tally()
        for tally in self.tallies.values():
            total.add(tally)
        return total

    @property
    def findings_on_decoys(self) -> int:
        return sum(mismatch.on_decoy for mismatch in self.mismatches)

    def timing(self) -> dict[str, float]:
        ordered = sorted(self.scan_ms)

        def percentile(share: float) -> float:
            return ordered[min(len(ordered) - 1, int(share * len(ordered)))]

        return {
            "mean_ms": round(statistics.fmean(ordered), 3),
            "p50_ms": round(percentile(0.5), 3),
            "p95_ms": round(percentile(0.95), 3),
            "p99_ms": round(percentile(0.99), 3),
            "max_ms": round(ordered[-1], 3),
            "total_s": round(sum(ordered) / 1000, 3),
            "startup_ms": round(self.startup_ms, 1),
        }

    def to_json(self) -> dict[str, Any]:
        return {
            "names_detected": self.names_detected,
            "sentences": self.sentences,
            "entities": {entity: tally.to_json() for entity, tally in self.tallies.items()},
            "overall": self.overall.to_json(),
            "decoys": self.decoys,
            "findings_on_decoys": self.findings_on_decoys,
            "mismatches": dict(Counter(f"{m.kind} {m.entity}" for m in self.mismatches)),
            "timing": self.timing(),
        }

    def to_markdown(self) -> str:
        header = (
            "| Entity | Support | Found | Precision | Recall | F1 | P (overlap) | R (overlap) | F1 (overlap) |\n"
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|\n"
        )
        rows = [_row(entity, tally) for entity, tally in self.tallies.items()]
        rows.append(_row("**all**", self.overall))
        timing = self.timing()
        names = "on" if self.names_detected else "off (PERSON and LOCATION not scored)"
        notes = (
            f"\n{self.sentences} sentences, names {names}. "
            f"Findings on the {self.decoys} invalid decoys: {self.findings_on_decoys}.\n"
            f"Scan time per sentence: mean {timing['mean_ms']} ms, p50 {timing['p50_ms']} ms, "
            f"p95 {timing['p95_ms']} ms, p99 {timing['p99_ms']} ms, max {timing['max_ms']} ms "
            f"(detector start-up {timing['startup_ms']} ms).\n"
        )
        return header + "\n".join(rows) + "\n" + notes


def _row(entity: str, tally: Tally) -> str:
    rates = (
        tally.precision,
        tally.recall,
        tally.f1,
        tally.overlap_precision,
        tally.overlap_recall,
        tally.overlap_f1,
    )
    return f"| {entity} | {tally.support} | {tally.found} | " + " | ".join(f"{r:.3f}" for r in rates) + " |"


def _score_sentence(
    sentence: LabelledSentence, expected: list[Span], found: list[Span], evaluation: Evaluation
) -> None:
    tallies = evaluation.tallies
    for span in expected:
        tally = tallies[span.entity]
        tally.support += 1
        overlapping = [finding for finding in found if finding.overlaps(span)]
        same_type = [finding for finding in overlapping if finding.entity == span.entity]
        if same_type:
            tally.support_overlapped += 1
        if span in found:
            tally.exact += 1
        elif same_type:
            evaluation.mismatches.append(Mismatch("boundary", sentence, span, same_type[0]))
        elif overlapping:
            evaluation.mismatches.append(Mismatch("wrong_type", sentence, span, overlapping[0]))
        else:
            evaluation.mismatches.append(Mismatch("missed", sentence, span, None))
    for finding in found:
        tally = tallies[finding.entity]
        tally.found += 1
        overlapped = [span for span in expected if span.overlaps(finding)]
        if any(span.entity == finding.entity for span in overlapped):
            tally.found_overlapping += 1
        elif not overlapped:
            # Findings over a labelled span of another type were reported from the label's side.
            on_decoy = any(trap.overlaps(finding) for trap in sentence.traps)
            evaluation.mismatches.append(Mismatch("spurious", sentence, None, finding, on_decoy))


def evaluate(detector: Scanner, corpus: Sequence[LabelledSentence], startup_ms: float = 0.0) -> Evaluation:
    """Run `detector` over every sentence and score its findings against the labels."""
    in_scope = frozenset(ENTITY_TYPES) - (frozenset() if detector.names_detected else NAME_ENTITIES)
    evaluation = Evaluation(
        names_detected=detector.names_detected,
        sentences=len(corpus),
        tallies={entity: Tally() for entity in ENTITY_TYPES if entity in in_scope},
        startup_ms=startup_ms,
        decoys=sum(len(sentence.traps) for sentence in corpus),
    )
    for sentence in corpus:
        started = time.perf_counter_ns()
        findings = detector.find(sentence.text)
        evaluation.scan_ms.append((time.perf_counter_ns() - started) / 1e6)
        found = [Span(f.start, f.end, f.entity) for f in findings if f.entity in in_scope]
        expected = [span for span in sentence.spans if span.entity in in_scope]
        _score_sentence(sentence, expected, found, evaluation)
    return evaluation


def start_detector(ner: bool, names: bool = True) -> tuple[Detector, float]:
    """A detector ready to scan, and the milliseconds it took (a first scan loads lazy parts)."""
    started = time.perf_counter_ns()
    detector = Detector(names=names, ner=ner)
    detector.find("Bonjour Madame Martin, voici mon numéro : 06 12 34 56 78.")
    return detector, (time.perf_counter_ns() - started) / 1e6


def error_summary(evaluation: Evaluation) -> str:
    """Mismatches counted by kind and type, then by template, then listed one by one."""
    lines = ["## Mismatches by kind and entity"]
    by_kind = Counter((m.kind, m.entity) for m in evaluation.mismatches)
    lines += [f"- {kind} {entity}: {count}" for (kind, entity), count in sorted(by_kind.items())]
    lines.append("\n## Mismatches by template")
    by_template = Counter((m.sentence.template, m.kind, m.entity) for m in evaluation.mismatches)
    lines += [f"- {t} {kind} {entity}: {count}" for (t, kind, entity), count in sorted(by_template.items())]
    lines.append("\n## Every mismatch")
    lines += [mismatch.describe() for mismatch in evaluation.mismatches]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.pii.evaluate", description=__doc__.split("\n")[0])
    model = parser.add_mutually_exclusive_group()
    model.add_argument("--ner", dest="ner", action="store_true", default=False, help="with the NER model")
    model.add_argument("--no-names", dest="names", action="store_false", default=True, help="patterns only")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--size", type=int, default=DEFAULT_SIZE)
    parser.add_argument("--show-errors", action="store_true", help="list every mismatch (synthetic data)")
    arguments = parser.parse_args(argv)

    corpus = generate_corpus(seed=arguments.seed, size=arguments.size)
    detector, startup_ms = start_detector(arguments.ner, arguments.names)
    evaluation = evaluate(detector, corpus, startup_ms)
    if arguments.json:
        report = evaluation.to_json()
        if arguments.show_errors:
            report["mismatch_list"] = [mismatch.describe() for mismatch in evaluation.mismatches]
        print(json.dumps(report, indent=2, ensure_ascii=False))
        return 0
    print(evaluation.to_markdown())
    if arguments.show_errors:
        print(error_summary(evaluation))
    return 0


if __name__ == "__main__":
    sys.exit(main())
