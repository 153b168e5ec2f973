"""INSEE's given names and family names, folded, in one automaton built once per process.

The lists come from the `prenoms` package (MIT; the data is INSEE's open data: given names of
people born in France 1900-2018, family names of people born 1891-2000), read from the installed
package: nothing is copied into this repository, nothing is downloaded. Each file holds, on its
first line, where its frequency classes end, and on its second the names by decreasing frequency.

The automaton (pyahocorasick) serves as a trie in C: some 240,000 folded names, about 30 MB
resident (a Python dict of them costs the same), built once per process that detects (about half
a second) at start.
"""

from __future__ import annotations

import threading
from importlib import metadata
from pathlib import Path

import ahocorasick  # type: ignore[import-not-found]  # ships no type information

from gateway.pii.detection.name_words import fold

__all__ = ["FAMILY", "FREQUENT_GIVEN", "GIVEN", "NameLexicon", "name_lexicon"]

GIVEN = 1
"""A given name (any frequency class)."""
FREQUENT_GIVEN = 2
"""A given name of INSEE's two most frequent classes: reason enough, alone, to read a name."""
FAMILY = 4
"""A family name."""

_GIVEN_FILES = ("dist.prenoms.f.all.txt", "dist.prenoms.m.all.txt")
_FAMILY_FILE = "dist.all.txt"
# Given names of one or two letters ("Vu", "To", "Li") are too often something else.
_SHORTEST_GIVEN = 3


class NameLexicon:
    """Folded name -> what it is (GIVEN | FREQUENT_GIVEN | FAMILY bits)."""

    __slots__ = ("_automaton",)

    def __init__(self, automaton: ahocorasick.Automaton) -> None:
        self._automaton = automaton

    def kinds(self, folded: str) -> int:
        kinds: int = self._automaton.get(folded, 0)
        return kinds

    def __len__(self) -> int:
        return len(self._automaton)


def _read(file_name: str) -> tuple[list[int], list[str]]:
    # Located through the installed distribution, never imported: importing `prenoms` loads every
    # one of its files, decade by decade (some 100 MB resident), for its random name generator.
    location = metadata.distribution("prenoms").locate_file(f"prenoms/data/{file_name}")
    text = Path(str(location)).read_text(encoding="utf-8")
    thresholds, names = text.split("\n", 2)[:2]
    return [int(value) for value in thresholds.split()], names.split(",")


def build_lexicon() -> NameLexicon:
    kinds: dict[str, int] = {}
    for file_name in _GIVEN_FILES:
        thresholds, names = _read(file_name)
        frequent = thresholds[1]
        for rank, name in enumerate(names):
            folded = fold(name.strip())
            if len(folded) < _SHORTEST_GIVEN:
                continue
            kinds[folded] = kinds.get(folded, 0) | GIVEN | (FREQUENT_GIVEN if rank < frequent else 0)
    for name in _read(_FAMILY_FILE)[1]:
        folded = fold(name.strip())
        if folded:
            kinds[folded] = kinds.get(folded, 0) | FAMILY
    automaton = ahocorasick.Automaton(ahocorasick.STORE_INTS)
    for folded, value in kinds.items():
        automaton.add_word(folded, value)
    return NameLexicon(automaton)


_lock = threading.Lock()
_lexicon: NameLexicon | None = None


def name_lexicon() -> NameLexicon:
    """The process's one lexicon, built on first call. Thread-safe."""
    global _lexicon
    if _lexicon is None:
        with _lock:
            if _lexicon is None:
                _lexicon = build_lexicon()
    return _lexicon
