"""The held-out corpus: every template used about equally often, filled from one seed."""

from __future__ import annotations

import random
from collections.abc import Callable

from tests.pii.corpus._filling import Template, fill
from tests.pii.corpus._model import LabelledSentence, Piece

from ._pieces import HeldOutPieces
from ._templates import TEMPLATES

HELDOUT_SEED = 19_2026
HELDOUT_SIZE = 800


def _fillers(pieces: HeldOutPieces) -> dict[str, Callable[[], Piece]]:
    names = (
        "plain given civ_name caps_last_first first_caps_last all_caps title_name married initial"
        " signature members story born_in lives_in named_place organisation commune_institution"
        " commune date"
    )
    return {name: getattr(pieces, name) for name in names.split()}


def generate_heldout(seed: int = HELDOUT_SEED, size: int = HELDOUT_SIZE) -> list[LabelledSentence]:
    rng = random.Random(seed)
    fillers = _fillers(HeldOutPieces(rng, seed))
    plan: list[Template] = []
    while len(plan) < size:
        round_ = list(TEMPLATES)
        rng.shuffle(round_)
        plan.extend(round_[: size - len(plan)])
    return [fill(template, fillers) for template in plan]
