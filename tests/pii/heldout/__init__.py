"""A second, held-out corpus of French administrative text for the name detectors.

Written before the name detector was tuned, and never used to tune it: its templates are not
those of `tests/pii/corpus`, its given names come from gender-guesser's `nam_dict.txt` (the names
given in France, by Jörg Michael's frequency column; neither INSEE's lists nor Faker's), its family
names from a list written for it here and from Faker's Italian, Spanish, Portuguese, German and
Polish locales, and its communes are others than the first corpus's. What it measures is how the
detector does on text it was not shaped on.

    python -m tests.pii.names_evaluation --heldout
"""

from __future__ import annotations

from ._generate import HELDOUT_SEED, HELDOUT_SIZE, generate_heldout

__all__ = ["HELDOUT_SEED", "HELDOUT_SIZE", "generate_heldout"]
