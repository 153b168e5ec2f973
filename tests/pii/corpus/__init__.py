"""A labelled corpus of French administrative sentences for evaluating personal-data detection.

Synthetic and deterministic: templates written for this corpus (letters, case files, support
tickets, minutes, messages from usagers, and hard negatives) filled by a seeded Faker `fr_FR` and
our own generators. Every personal value comes with its exact span and entity type; numbers made
invalid on purpose come with theirs as `traps`.

    python -m tests.pii.corpus --out corpus.jsonl
"""

from __future__ import annotations

from ._filling import Template
from ._generate import DEFAULT_SEED, DEFAULT_SIZE, HARD_NEGATIVE_SHARE, generate_corpus
from ._model import LabelledSentence, Span
from ._templates import HARD_NEGATIVE, TEMPLATES

__all__ = [
    "DEFAULT_SEED",
    "DEFAULT_SIZE",
    "HARD_NEGATIVE",
    "HARD_NEGATIVE_SHARE",
    "TEMPLATES",
    "LabelledSentence",
    "Span",
    "Template",
    "generate_corpus",
]
