"""The corpus: every template used about equally often, filled from one seed."""

from __future__ import annotations

import math
import random
from collections.abc import Sequence

from ._filling import Template, fill
from ._model import LabelledSentence
from ._slots import slot_fillers
from ._sources import Sources
from ._templates import HARD_NEGATIVE, TEMPLATES

DEFAULT_SEED = 20240611
DEFAULT_SIZE = 3000

# Above the 25% the evaluation needs, so that precision is measured on plenty of traps.
HARD_NEGATIVE_SHARE = 0.3


def _rounds(rng: random.Random, templates: Sequence[Template], count: int) -> list[Template]:
    """`count` templates taken in rounds, each round a new shuffle: no template is favoured."""
    chosen: list[Template] = []
    while len(chosen) < count:
        round_ = list(templates)
        rng.shuffle(round_)
        chosen.extend(round_[: count - len(chosen)])
    return chosen


def generate_corpus(seed: int = DEFAULT_SEED, size: int = DEFAULT_SIZE) -> list[LabelledSentence]:
    """`size` labelled sentences; the same seed gives the same corpus (for a given Faker version)."""
    sources = Sources.seeded(seed)
    fillers = slot_fillers(sources)
    hard_negatives = [t for t in TEMPLATES if t.category == HARD_NEGATIVE]
    ordinary = [t for t in TEMPLATES if t.category != HARD_NEGATIVE]
    negative_count = math.ceil(size * HARD_NEGATIVE_SHARE)
    plan = _rounds(sources.rng, hard_negatives, negative_count)
    plan += _rounds(sources.rng, ordinary, size - negative_count)
    sources.rng.shuffle(plan)
    return [fill(template, fillers) for template in plan]
