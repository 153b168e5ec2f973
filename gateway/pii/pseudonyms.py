"""Placeholders issued for one request: `<IBAN_1>` stands for the first IBAN value met, and so on.

A `Pseudonyms` object belongs to exactly one request and dies with it: nothing is shared between
requests, so no answer can ever be restored with another caller's values.

People are written several ways in one file ("Mme Amandine Leroux", "LEROUX Amandine", "Leroux"):
the model must see one person, so every way of writing a person gets that person's placeholder.
The answer gives each form back as it was written: the placeholder's k-th occurrence in the answer
is restored as its k-th occurrence in the request was written (an answer that repeats, rewrites or
translates the text keeps its order), and past those, as the person's fullest form.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from gateway.pii.detection.findings import PERSON
from gateway.pii.detection.name_words import CIVILITIES, PARTICLES, fold

__all__ = ["PLACEHOLDER_SHAPE", "Pseudonyms", "person_key"]

# What any placeholder looks like. Text of the request already shaped like one is never issued
# again, so that restoring the answer cannot turn the caller's own literal text into a value.
PLACEHOLDER_SHAPE = re.compile(r"<[A-Z][A-Z_]*_[0-9]+>")
_NAME_WORD = re.compile(r"[^\W\d_]{2,}")


def person_key(name: str) -> frozenset[str]:
    """The words that identify a person whatever the case, accents, order and particles:
    "LEROUX Amandine" and "Amandine Leroux" have one key."""
    words = (fold(word) for word in _NAME_WORD.findall(name))
    return frozenset(word for word in words if word not in PARTICLES and word not in CIVILITIES)


class Pseudonyms:
    """The mapping between a request's values and their placeholders, in both directions."""

    __slots__ = ("_by_value", "_counters", "_person_forms", "_person_of", "_reserved", "forms", "originals")

    def __init__(self) -> None:
        self._by_value: dict[tuple[str, str], str] = {}
        self._counters: dict[str, int] = {}
        self._reserved: set[str] = set()
        self._person_of: dict[str, frozenset[str]] = {}  # a written name -> its person's key
        self._person_forms: dict[frozenset[str], str] = {}  # a person's key -> its fullest form
        self.originals: dict[str, str] = {}
        """Placeholder -> the value it stands for (a person: the fullest form, as first written)."""
        self.forms: dict[str, list[str]] = {}
        """A person's placeholder -> the text it replaced at each occurrence, in reading order."""

    def reserve_literals(self, text: str) -> None:
        """Keep placeholder-shaped text the caller wrote from being issued for a value."""
        if "<" in text:
            self._reserved.update(PLACEHOLDER_SHAPE.findall(text))

    def group_people(self, names: Iterable[str]) -> None:
        """Tell which of the request's names (in reading order) are one person: the same words
        ("LEROUX Amandine", "Amandine Leroux"), or words all found in exactly one fuller name
        ("Leroux", when only one Leroux has a given name in the request)."""
        keys = {name: person_key(name) for name in names}
        people: list[frozenset[str]] = []
        for name in sorted(keys, key=lambda written: -len(keys[written])):  # stable: reading order kept
            key = keys[name]
            if not key:
                continue
            wider = [person for person in people if key < person]
            if key not in people and len(wider) == 1:
                key = wider[0]
            elif key not in people:
                people.append(key)
                self._person_forms[key] = name
            self._person_of[name] = key

    def placeholder(self, entity: str, value: str) -> str:
        """The same value of the same type always gets the same placeholder within the request,
        and so does the same person however written (after `group_people`)."""
        person = self._person_of.get(value) if entity == PERSON else None
        key = (entity, " ".join(sorted(person))) if person is not None else (entity, value)
        found = self._by_value.get(key)
        if found is not None:
            if person is not None:
                self.forms[found].append(value)
            return found
        number = self._counters.get(entity, 0)
        while True:
            number += 1
            candidate = f"<{entity}_{number}>"
            if candidate not in self._reserved:
                break
        self._counters[entity] = number
        self._by_value[key] = candidate
        self.originals[candidate] = self._person_forms[person] if person is not None else value
        if person is not None:
            self.forms[candidate] = [value]
        return candidate

    def written_forms(self) -> dict[str, list[str]]:
        """The placeholders that stand for a person written more than one way, with each form."""
        return {placeholder: forms for placeholder, forms in self.forms.items() if len(set(forms)) > 1}

    def __bool__(self) -> bool:
        return bool(self.originals)
