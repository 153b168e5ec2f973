"""The two seeded sources of randomness every value generator draws from."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from faker import Faker

T = TypeVar("T")

_MAX_ATTEMPTS = 1000


@dataclass(frozen=True, slots=True)
class Sources:
    """Faker for realistic French values, `rng` for our own choices; both seeded from one number."""

    fake: Faker
    rng: random.Random

    @classmethod
    def seeded(cls, seed: int) -> Sources:
        fake = Faker("fr_FR")
        # The instance seed, not Faker.seed(): the class-wide seed would be shared with any other
        # Faker user in the process and make the corpus depend on what ran before.
        fake.seed_instance(seed)
        return cls(fake=fake, rng=random.Random(seed))

    def digits(self, count: int) -> str:
        return "".join(self.rng.choice("0123456789") for _ in range(count))


def draw_until(make: Callable[[], T], accept: Callable[[T], bool]) -> T:
    """Draw values until one is accepted; a generator that can never succeed is a bug, not a hang."""
    for _ in range(_MAX_ATTEMPTS):
        value = make()
        if accept(value):
            return value
    raise RuntimeError(f"no acceptable value after {_MAX_ATTEMPTS} draws")
