"""How surely and how cheaply person and place names are found, on both name corpora.

    python -m tests.pii.names_evaluation            # the first corpus (tests/pii/corpus)
    python -m tests.pii.names_evaluation --heldout  # the held-out corpus (tests/pii/heldout)
    python -m tests.pii.names_evaluation --show-errors
    python -m tests.pii.names_evaluation --ner | --model-only   # with spaCy's model as well, or alone

Counted the way the backend sees it:

- recall: a labelled name is found only when none of its words reaches the backend, that is when
  every word of it (two letters or more, capitalised, particles such as "Le" or "Da" aside) lies
  inside some finding;
- precision: the share of PERSON (LOCATION) findings that overlap a labelled name of that type;
- look-alikes kept: the share of look-alikes ("collège Marie Curie", "tribunal administratif de
  Lyon") that no PERSON or LOCATION finding touches;
- cost: CPU time (`time.process_time`) of `Detector.find` over the whole corpus, per kB of text.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from gateway.pii.detection import Detector, Finding
from tests.pii.corpus import LabelledSentence, Span, generate_corpus
from tests.pii.heldout import generate_heldout

_WORD = re.compile(r"[^\W\d_]{2,}")
_PARTICLES = frozenset(
    {
        "Le",
        "La",
        "Les",
        "De",
        "Du",
        "Des",
        "Da",
        "Das",
        "Do",
        "Dos",
        "Di",
        "Del",
        "Van",
        "Von",
        "Der",
        "Den",
        "El",
        "Al",
        "Ben",
    }
)
NAME_TYPES = ("PERSON", "LOCATION")


@dataclass
class NameScore:
    entity: str
    support: int = 0
    found: int = 0  # labelled names none of whose words reaches the backend
    findings: int = 0
    right_findings: int = 0
    lookalikes: int = 0
    lookalikes_kept: int = 0
    missed: list[str] = field(default_factory=list)
    spurious: list[str] = field(default_factory=list)
    lookalikes_hit: list[str] = field(default_factory=list)

    @property
    def recall(self) -> float:
        return self.found / self.support if self.support else 1.0

    @property
    def precision(self) -> float:
        return self.right_findings / self.findings if self.findings else 1.0

    @property
    def kept(self) -> float:
        return self.lookalikes_kept / self.lookalikes if self.lookalikes else 1.0


@dataclass
class NameEvaluation:
    scores: dict[str, NameScore]
    kilobytes: float
    cpu_seconds: float

    @property
    def cpu_ms_per_kb(self) -> float:
        return 1000 * self.cpu_seconds / self.kilobytes

    def to_markdown(self) -> str:
        lines = [
            "| Entity | Support | Recall (no word reaches the backend) | Precision | Look-alikes kept |",
            "|---|---:|---:|---:|---:|",
        ]
        for score in self.scores.values():
            lines.append(
                f"| {score.entity} | {score.support} | {score.recall:.3f} | {score.precision:.3f} | "
                f"{score.kept:.3f} ({score.lookalikes_kept}/{score.lookalikes}) |"
            )
        lines.append(
            f"\n{self.kilobytes:.0f} kB of text, {self.cpu_ms_per_kb:.3f} ms of CPU per kB (whole detector)."
        )
        return "\n".join(lines)


def name_words(text: str, span: Span) -> list[tuple[int, int]]:
    """The words of a labelled name that must not reach the backend."""
    return [
        (span.start + match.start(), span.start + match.end())
        for match in _WORD.finditer(text[span.start : span.end])
        if match.group()[0].isupper() and match.group() not in _PARTICLES
    ]


def _covered(start: int, end: int, findings: Sequence[Finding]) -> bool:
    return any(finding.start <= start and end <= finding.end for finding in findings)


def score_names(
    find: Callable[[str], Sequence[Finding]], corpus: Sequence[LabelledSentence]
) -> NameEvaluation:
    scores = {entity: NameScore(entity) for entity in NAME_TYPES}
    found_by_sentence: list[Sequence[Finding]] = []
    started = time.process_time()
    for sentence in corpus:
        found_by_sentence.append(find(sentence.text))
    cpu = time.process_time() - started
    for sentence, findings in zip(corpus, found_by_sentence, strict=True):
        text = sentence.text
        for span in sentence.spans:
            if span.entity not in scores:
                continue
            score = scores[span.entity]
            score.support += 1
            if all(_covered(start, end, findings) for start, end in name_words(text, span)):
                score.found += 1
            else:
                score.missed.append(f"{text[span.start : span.end]!r}  <{sentence.template}>  {text}")
        for finding in findings:
            if finding.entity not in scores:
                continue
            score = scores[finding.entity]
            score.findings += 1
            as_span = Span(finding.start, finding.end, finding.entity)
            if any(span.entity == finding.entity and span.overlaps(as_span) for span in sentence.spans):
                score.right_findings += 1
            else:
                score.spurious.append(f"{text[finding.start : finding.end]!r}  <{sentence.template}>  {text}")
        for lookalike in sentence.lookalikes:
            score = scores[lookalike.entity]
            score.lookalikes += 1
            hit = [
                f
                for f in findings
                if f.entity in NAME_TYPES and f.start < lookalike.end and lookalike.start < f.end
            ]
            if hit:
                score.lookalikes_hit.append(
                    f"{text[lookalike.start : lookalike.end]!r}  <{sentence.template}>  {text}"
                )
            else:
                score.lookalikes_kept += 1
    kilobytes = sum(len(sentence.text.encode()) for sentence in corpus) / 1000
    return NameEvaluation(scores, kilobytes, cpu)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.pii.names_evaluation", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--heldout", action="store_true", help="the held-out corpus")
    parser.add_argument("--ner", action="store_true", help="with spaCy's model as a second opinion")
    parser.add_argument(
        "--model-only", action="store_true", help="spaCy's model alone, without the name lists"
    )
    parser.add_argument("--show-errors", action="store_true")
    arguments = parser.parse_args(argv)
    corpus = generate_heldout() if arguments.heldout else generate_corpus()
    names, ner = (False, True) if arguments.model_only else (True, bool(arguments.ner))
    detector = Detector(names=names, ner=ner)
    detector.find("Bonjour Madame Martin.")
    evaluation = score_names(detector.find, corpus)
    print(evaluation.to_markdown())
    if arguments.show_errors:
        for score in evaluation.scores.values():
            for kind, items in (
                ("missed", score.missed),
                ("spurious", score.spurious),
                ("look-alike hit", score.lookalikes_hit),
            ):
                for item in items:
                    print(f"[{kind} {score.entity}] {item}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
