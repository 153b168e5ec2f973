"""People's names in French administrative text, from INSEE's name lists and the evidence around them.

A capitalised word is not a name by itself: it is one when the text says so. The evidence read
here, in one pass over the capitalised words of a text:

- a civility or title before it (M., Mme, Madame, Maître, Me, Dr, Professeur...);
- a known given name next to another capitalised word ("Amandine Leroux", "LEROUX Amandine",
  "GÉRARD FONTAINE", "Jean-Pierre MARTIN");
- the capitals conventions: a word in capitals next to a capitalised one ("NGUYEN Van Thanh",
  "ZABOREK Priscillia");
- a word that announces one: "épouse", "née", "veuve", "soussigné", "je m'appelle", a greeting
  ("Bonjour Amandine"), a closing ("Cordialement, A. Leroux"), "signalé par", a label of a list
  of people ("Présents : ...", "Nom : ...", "Demandeur : ...");
- an initial before a family name ("J. Dupont");
- a signature block, or a function in apposition ("Olivie Leconte, chef du bureau");
- a frequent given name alone, unless it is also a common word ("Pierre", "Rose", "France").

And against it: a street, establishment or institution type before the name ("rue Jean Jaurès",
"collège Marie Curie", "hôpital Georges Pompidou", "loi Veil", "Saint-Pierre", "Île-de-France"),
functions ("Monsieur le Préfet"), acronyms and labels in capitals (SIRET, CAF), an institution's
words around it ("Radio France", "Eau de Paris").

Coherence: once a name is found with evidence in a request, every other capitalised occurrence
of its words in that request is the same person ("Leroux a confirmé").
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

import msgspec

from gateway.pii.detection.findings import PERSON, Finding
from gateway.pii.detection.lexicon import FAMILY, FREQUENT_GIVEN, GIVEN, NameLexicon, name_lexicon
from gateway.pii.detection.name_words import (
    ACRONYMS,
    AMBIGUOUS_NAMES,
    ANNOUNCING_PAIRS,
    ANNOUNCING_WORDS,
    CIVILITIES,
    COMMON_WORDS,
    FUNCTION_WORDS,
    GRAMMAR_WORDS,
    LIST_LABELS,
    LOOKBACK_STOPS,
    ORGANISATION_WORDS,
    PARTICLES,
    PLACE_TYPES,
    SENTENCE_OPENING_NAMES,
    fold,
)

__all__ = ["PersonFinder"]

# Every capital letter of the alphabets names are written in here (Latin with its extensions:
# "Šimek", "İhsanoğlu"; Greek, Cyrillic, Armenian).
_CAPITALS = "".join(character for character in map(chr, range(0x41, 0x590)) if character.isupper())
# A word that starts with a capital: letters, inner apostrophes and hyphens ("N'Diaye",
# "Jean-Pierre"). Not after a letter, a digit or an apostrophe ("l'Europe" is read as "Europe").
_CAPITALISED = re.compile(rf"(?<![\w\-])[{_CAPITALS}][^\W\d_]*(?:['\u2019\-][^\W\d_]+)*")
# "de Paris" after capitalised words.
_OF_WHAT = re.compile(rf"[ \u00a0](?:de|du|des)[ \u00a0](?:la[ \u00a0]|l')?([{_CAPITALS}][^\W\d_]*)")
# A function in apposition after a name: "Olivie Leconte, chef du bureau".
_FUNCTION_AFTER = re.compile(r",[ \u00a0]+(?:(?:le|la|l')[ \u00a0]*)?([^\W\d_][\w'-]*)")
# What may stand between two words of one name: a space, or a particle between spaces
# ("Charles de Gaulle", "Van der Berg", "d'Estaing"), or the dot of an initial or a civility.
_JOINER = re.compile(
    r"\.?[ \u00a0](?:(?:de|du|des|la|le|les|van|von|der|den|da|das|do|dos|di|del|della|ben|bin|el|al|ter|ten)[ \u00a0])*"
    r"(?:d['\u2019])?|\.?[ \u00a0]?d['\u2019]|\.-?"
)
# A list's label and its colon ("Présents :"), earlier items of the list between it and the name.
_LIST_ITEM_END = (":", ",", ";", "/", " et", "-", "\u2022", "\u2013")  # bullets: one attendee a line
_PARTICIPLE_ENDINGS = ("e", "es", "ee", "ees", "i", "is", "ie", "ies", "u", "us", "ue", "ues", "it", "its")
_LOOKBACK_CHARS = 60
_LABEL_LOOKBACK_CHARS = 300
# Where a clause ends: the search for a place type before a name stops there.
_CLAUSE_END = frozenset('.,;:!?()\n"«»')
_MAX_NAME_WORDS = 5
_MAX_PLACE_TYPE_DISTANCE = 4  # words between a place type and the name ("école élémentaire publique")


class _Word(msgspec.Struct, gc=False):
    """One capitalised word of the text and what the lexicon and the word lists say of it. Not
    tracked by the garbage collector: a long prompt makes thousands of them, and their allocation
    would otherwise trigger collections of the whole heap."""

    start: int
    end: int
    folded: str
    upper: bool
    civility: bool
    initial: bool
    particle: bool
    place_type: bool
    kinds: int
    nameish: bool

    @property
    def given(self) -> bool:
        return bool(self.kinds & GIVEN)

    @property
    def given_alone(self) -> bool:
        """A given name frequent enough, and no common word, to be read as a name when alone."""
        return bool(self.kinds & FREQUENT_GIVEN) and self.folded not in AMBIGUOUS_NAMES

    def after_civility(self) -> bool:
        """After a civility, a capitalised word is a name unless it is a function or a grammatical
        word ("Monsieur le Préfet", "Madame Directrice"); "M. Paris" is a person."""
        return self.nameish or (
            not self.civility
            and not self.initial
            and self.folded not in GRAMMAR_WORDS
            and self.folded not in FUNCTION_WORDS
            and not self.place_type
            and bool(self.kinds & FAMILY)
        )


class PersonFinder:
    """Finds people's names. One per process (the lexicon is built once); keeps no state between calls."""

    __slots__ = ("_lexicon",)

    def __init__(self, lexicon: NameLexicon | None = None) -> None:
        self._lexicon = lexicon if lexicon is not None else name_lexicon()

    def find(self, text: str) -> list[Finding]:
        return self.find_in_texts([text])[0]

    def find_in_texts(self, texts: Sequence[str]) -> list[list[Finding]]:
        """The names in each of one request's texts: a name found with evidence in one text makes
        its words names wherever else they are written capitalised in the request."""
        words_of_texts = [self._words(text) for text in texts]
        found = [self._with_evidence(text, words) for text, words in zip(texts, words_of_texts, strict=True)]
        known = {
            word.folded
            for words, spans in zip(words_of_texts, found, strict=True)
            for word in _inside(words, spans)
            if word.nameish and len(word.folded) > 1
        }
        if not known:
            return [[Finding(start, end, PERSON) for start, end in spans] for spans in found]
        return [
            _sorted_findings(spans, _same_names(text, words, spans, known))
            for text, words, spans in zip(texts, words_of_texts, found, strict=True)
        ]

    def confirms(self, text: str, start: int, end: int) -> bool:
        """Whether a name another recognizer found at `text[start:end]` (spaCy's model) survives
        the evidence against names: a place type before it ("collège Marie Curie"), nothing but
        common words, a capitalised common word right after it ("Radio France")."""
        lexicon = self._lexicon
        words = [_word(text, m.start(), m.end(), lexicon) for m in _CAPITALISED.finditer(text, start, end)]
        if not any(word.nameish for word in words) or _place_before(text, words, 0):
            return False
        following = _CAPITALISED.match(text, end + 1) if text[end : end + 1] == " " else None
        return following is None or fold(following.group()) not in COMMON_WORDS

    def _words(self, text: str) -> list[_Word]:
        lexicon = self._lexicon
        return [_word(text, match.start(), match.end(), lexicon) for match in _CAPITALISED.finditer(text)]

    def _with_evidence(self, text: str, words: list[_Word]) -> list[tuple[int, int]]:
        spans: list[tuple[int, int]] = []
        for run in _runs(text, words):
            _names_in_run(text, run, spans)
        return spans


def _joined(text: str, previous: _Word, word: _Word) -> bool:
    """Whether `word` continues the name `previous` may belong to. A dot joins only after an
    initial or a civility: elsewhere it ends a sentence."""
    if _JOINER.fullmatch(text, previous.end, word.start) is None:
        return False
    if word.start - previous.end > 3 and (word.folded in AMBIGUOUS_NAMES or word.folded in COMMON_WORDS):
        return False  # "Sophie Martin de Lyon", "M. Petit de la Préfecture": a place, not a particle
    return text[previous.end] != "." or previous.initial or previous.civility


def _word(text: str, start: int, end: int, lexicon: NameLexicon) -> _Word:
    word = text[start:end]
    folded = fold(word)
    upper = len(word) > 1 and word.isupper()
    # French writes "M." with a dot and "Mme", "Mlle", "Dr", "Me" without; either is read.
    civility = folded in CIVILITIES
    initial = len(word) == 1 and not civility and end < len(text) and text[end] == "."
    # A compound with a word in lower case inside is a place ("Île-de-France", "Aix-en-Provence"):
    # what follows it is named after it, like what follows a street type.
    place_type = folded in PLACE_TYPES or ("-" in word and any(part.islower() for part in word.split("-")))
    kinds = lexicon.kinds(folded)
    if not kinds and "-" in folded:
        # "Jean-Moulin", "Lefebvre-Dupont": a compound is what its parts are.
        parts = [lexicon.kinds(part) for part in folded.split("-")]
        if all(parts):
            kinds = FAMILY if any(part & FAMILY for part in parts) else 0
            for part in parts:
                kinds |= part & GIVEN
    nameish = not (
        civility
        or initial
        or place_type
        or folded in COMMON_WORDS
        or folded in FUNCTION_WORDS
        or (upper and (folded in ACRONYMS or len(word) < 3))
        or len(word) == 1  # "I", "A": an initial takes a dot
    )
    # A capitalised particle: "Le Goff", "Da Silva", "Van Damme".
    return _Word(
        start, end, folded, upper, civility, initial, folded in PARTICLES, place_type, kinds, nameish
    )


def _runs(text: str, words: list[_Word]) -> Iterable[list[_Word]]:
    """Consecutive capitalised words joined by spaces or particles: the candidates for one name."""
    run: list[_Word] = []
    for word in words:
        if run and not _joined(text, run[-1], word):
            yield run
            run = []
        run.append(word)
    if run:
        yield run


def _names_in_run(text: str, run: list[_Word], spans: list[tuple[int, int]]) -> None:
    index = 0
    count = len(run)
    while index < count:
        word = run[index]
        if word.civility and index + 1 < count and _continues(run, index + 1, civility=True):
            end = index + 1
            while end < count and end - index <= _MAX_NAME_WORDS and _continues(run, end, civility=True):
                end += 1
            if not _place_before(text, run, index):
                spans.append((run[index + 1].start, run[end - 1].end))
            index = end
            continue
        if (
            not word.nameish
            and not word.initial
            and not (word.particle and _continues(run, index, civility=False))
        ):
            index += 1
            continue
        end = index
        while end < count and end - index < _MAX_NAME_WORDS and _continues(run, end, civility=False):
            end += 1
        segment = run[index:end]
        # "versée par Radio France": a capitalised common word after it makes the segment part of
        # an organisation's name.
        in_a_title = (end < count and run[end].folded in COMMON_WORDS) or _of_an_institution(
            text, segment[-1].end
        )
        if _is_a_name(text, segment, in_a_title) and not _place_before(text, run, index):
            spans.append((segment[0].start, segment[-1].end))
        index = end


def _continues(run: list[_Word], index: int, *, civility: bool) -> bool:
    word = run[index]
    if word.particle and not word.nameish:
        return index + 1 < len(run) and run[index + 1].after_civility()
    return word.after_civility() if civility else (word.nameish or word.initial)


def _is_a_name(text: str, segment: list[_Word], in_a_title: bool) -> bool:
    names = [word for word in segment if not word.initial and not (word.particle and not word.nameish)]
    if not names:
        return False
    if len(names) >= 2:
        if any(word.given and word.folded not in ORGANISATION_WORDS for word in names):
            return True  # "Amandine Leroux", "LEROUX Amandine", "GÉRARD FONTAINE", "Rose Martin"
        if any(word.upper for word in names) and any(word.kinds for word in names):
            return True  # "NGUYEN Van Thanh"
        if (
            any(word.upper for word in names)
            and not all(word.upper for word in names)
            and (any(word.kinds for word in names) or not _opens_sentence(text, segment[0].start))
        ):
            return True  # the capitals convention: "ZABOREK Priscillia", "Priscillia ZABOREK"
    if segment[0].initial and (names[0].kinds & FAMILY or names[0].upper):
        return True  # "J. Dupont"
    organisation = names[0].folded in ORGANISATION_WORDS or names[-1].folded in ORGANISATION_WORDS
    if in_a_title or (organisation and not any(word.given_alone for word in names)):
        return False  # "Radio France", "France Compétences", "Paris Habitat"
    if _announced(text, segment[0].start):
        return True
    if (
        len(names) == 1
        and names[0].given_alone
        and not (names[0].folded in SENTENCE_OPENING_NAMES and _opens_sentence(text, names[0].start))
    ):
        return True  # "transmis à Amandine"
    if len(names) >= 2 and _function_after(text, segment[-1].end):
        return True  # "Olivie Leconte, chef du bureau"
    return len(names) >= 2 and _signature_line(text, segment)


def _of_an_institution(text: str, end: int) -> bool:
    """ "Eau de Paris", "Banque de France": what follows makes the words an institution's name."""
    following = _OF_WHAT.match(text, end)
    if following is None:
        return False
    folded = fold(following.group(1))
    return folded in ORGANISATION_WORDS or folded in COMMON_WORDS


def _function_after(text: str, end: int) -> bool:
    function = _FUNCTION_AFTER.match(text, end)
    return function is not None and fold(function.group(1)) in FUNCTION_WORDS


def _opens_sentence(text: str, start: int) -> bool:
    before = text[max(0, start - 4) : start].rstrip(" \u00a0\t")
    return not before or before[-1] in ".!?\n"


def _announced(text: str, start: int) -> bool:
    """Whether the words just before `start` announce a name: "née", "Bonjour", "je m'appelle",
    or the label of a list of people ("Présents : A, B et C", "Nom :")."""
    before = text[max(0, start - _LOOKBACK_CHARS) : start]
    words = before.rstrip(" \u00a0\n\t,:").rsplit(None, 2)[-2:]
    if not words:
        return False
    last = fold(words[-1])
    if last in ANNOUNCING_WORDS or (len(words) == 2 and (fold(words[0]), last) in ANNOUNCING_PAIRS):
        return True
    if last == "par" and len(words) == 2 and fold(words[0]).endswith(_PARTICIPLE_ENDINGS):
        return True  # "signalé par", "reçus par", "présidée par", "suivi par"
    if not before.rstrip(" \u00a0\n\t").endswith(_LIST_ITEM_END):
        return False
    before = text[max(0, start - _LABEL_LOOKBACK_CHARS) : start]
    colon = before.rfind(":")
    if colon < 0 or any(mark in before[colon:] for mark in ".;!?()"):
        return False
    label_start = max(before.rfind(mark, 0, colon) for mark in ".;\n(") + 1
    return any(fold(word) in LIST_LABELS for word in before[label_start:colon].split())


def _signature_line(text: str, segment: list[_Word]) -> bool:
    """A line holding nothing but a name, next to a line that opens with a function ("Le chef du
    bureau", "Directrice adjointe"): a signature block."""
    line_start = text.rfind("\n", 0, segment[0].start) + 1
    line_end = text.find("\n", segment[-1].end)
    line_end = len(text) if line_end < 0 else line_end
    if text[line_start : segment[0].start].strip() or text[segment[-1].end : line_end].strip(" ,.\u00a0"):
        return False
    if not any(word.kinds & FAMILY for word in segment):
        return False
    neighbours = (text[line_end + 1 : line_end + 60], text[max(0, line_start - 60) : max(0, line_start - 1)])
    for line in neighbours:
        line = line.rsplit("\n", 1)[-1] if line is neighbours[1] else line.split("\n", 1)[0]
        first_words = [fold(word) for word in line.split()[:2]]
        if first_words and (
            first_words[0] in FUNCTION_WORDS
            or (
                first_words[0] in ("le", "la", "l'")
                and len(first_words) > 1
                and first_words[1] in FUNCTION_WORDS
            )
        ):
            return True
    return False


def _place_before(text: str, run: list[_Word], index: int) -> bool:
    """Whether a street, establishment or institution type names what follows ("rue Jean Jaurès",
    "Collège Marie Curie", "centre hospitalier Georges Pompidou", "rue du Docteur Roux")."""
    if any(word.place_type for word in run[:index]):
        return True
    seen = 0
    for raw in reversed(text[max(0, run[0].start - _LOOKBACK_CHARS) : run[0].start].split()):
        if raw[-1] in _CLAUSE_END:
            return False
        folded = fold(raw.lstrip('("«'))
        if folded.startswith(("d'", "l'")):
            folded = folded[2:]  # "l'école Jules Ferry"
        if folded in PLACE_TYPES:
            return True
        if folded in LOOKBACK_STOPS:
            return False
        if folded not in PARTICLES:
            seen += 1
            if seen >= _MAX_PLACE_TYPE_DISTANCE:
                return False
    return False


def _inside(words: list[_Word], spans: list[tuple[int, int]]) -> Iterable[_Word]:
    index = 0
    for start, end in spans:
        while index < len(words) and words[index].end <= start:
            index += 1
        while index < len(words) and words[index].start < end:
            yield words[index]
            index += 1


def _same_names(
    text: str, words: list[_Word], spans: list[tuple[int, int]], known: set[str]
) -> list[tuple[int, int]]:
    """The other capitalised occurrences of the words of names already found, outside the spans
    found, and not after a place type ("Leroux a confirmé", but not "rue Leroux")."""
    covered = set()
    for word in _inside(words, spans):
        covered.add(word.start)
    more: list[tuple[int, int]] = []
    for index, word in enumerate(words):
        if word.start in covered or word.folded not in known or not word.nameish:
            continue
        if _place_before(text, [word], 0):
            continue
        if more and words[index - 1].end == more[-1][1] and _joined(text, words[index - 1], word):
            more[-1] = (more[-1][0], word.end)
        else:
            more.append((word.start, word.end))
    return more


def _sorted_findings(spans: list[tuple[int, int]], more: list[tuple[int, int]]) -> list[Finding]:
    merged = sorted(spans + more)
    findings: list[Finding] = []
    for start, end in merged:
        if findings and start < findings[-1].end:
            if end > findings[-1].end:
                findings[-1] = Finding(findings[-1].start, end, PERSON)
            continue
        findings.append(Finding(start, end, PERSON))
    return findings
