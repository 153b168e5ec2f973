"""The regular expressions that find candidates. Shapes only: checksums are validators.py's job.

All candidates come from one alternation scanned once over the text; `match.lastgroup` tells
which branch matched. Speed rests on three habits:

- `CANDIDATES` starts by consuming the character before a token, one that is not a letter or a
  digit. A pattern that starts with a character class lets the engine run a tight loop over the
  text until such a character, so the inside of words costs almost nothing and the branches are
  tried only at spaces and punctuation. (`CANDIDATES_AT_START` is the same alternation without
  that character, for a token at the very start of the text.)
- each branch begins with a character class or a literal, which lets the engine skip a branch on
  its first character without entering it;
- repetitions that could backtrack over long input are possessive (`*+`, `{m,n}+`).

Branch order matters where two branches can start at the same position: the first that matches
wins, so the more specific shapes come first and the catch-all digit run comes last.
"""

from __future__ import annotations

import re

__all__ = [
    "AMOUNT_AFTER",
    "CANDIDATES",
    "CANDIDATES_AT_START",
    "DIGIT_GROUP",
    "ID_CONTEXT",
    "ID_CONTEXT_WINDOW",
    "NUMBER_SEPARATORS",
    "PASSPORT_SHAPE",
    "STREET_LINE_BEFORE",
    "STREET_LINE_LOOKBACK",
    "TRIGGER_CHARACTERS",
]

# Every pattern-found entity holds a digit, an '@' (email) or a ':' (IPv6), so text without any
# of them is not scanned at all. Twelve `in` tests cost less than one regular expression search.
TRIGGER_CHARACTERS = "0123456789@:"

# Separators people type inside numbers: space, no-break spaces (French typography puts U+202F
# between thousands; word processors put U+00A0 between an IBAN's groups), dot, dash.
NUMBER_SEPARATORS = " .-\u00a0\u202f"
_SEP = "[" + re.escape(NUMBER_SEPARATORS) + "]"
_SPACE = r"[ \u00a0\u202f]"
_NOT_ALNUM_AFTER = r"(?![^\W_])"  # end of token: no letter or digit follows

# --- email -----------------------------------------------------------------------------------
_LABEL = r"[^\W_](?:[\w-]{0,62}[^\W_])?"
_EMAIL = (
    # The local part is possessive, so a word without '@' costs one pass over the word; and it
    # does not start after a character that could belong to it ("a.b", "+3+3"), or a long run of
    # such characters would be read again from each of them.
    r"[\w%+-](?<![.%+_-].)[\w.%+-]*+@" + rf"{_LABEL}(?:\.{_LABEL})*\.[^\W\d_]{{2,63}}(?![\w-])"
)

# --- postal address --------------------------------------------------------------------------


def _words(*words: str) -> str:
    """An alternation matching each word written lower-case, capitalised or upper-case, grouped by
    first letter. Case-sensitive on purpose: `(?i:...)` would stop the engine from skipping an
    alternative on its first letter, and this one is tried after every number in the text."""
    by_first: dict[str, set[str]] = {}
    for word in words:
        for variant in (word, word[0].upper() + word[1:], word.upper()):
            by_first.setdefault(variant[0], set()).add(variant[1:])
    groups = []
    for first, rests in sorted(by_first.items()):
        # Longest first, so that "ruelle" is tried before "rue".
        alternatives = "|".join(sorted(rests, key=lambda rest: (-len(rest), rest)))
        groups.append(f"{re.escape(first)}(?:{alternatives})")
    return "(?:" + "|".join(groups) + ")"


# Street types with the abbreviations used on envelopes (each a regular expression).
_STREET_TYPE = (
    _words(
        "rue",
        "ruelle",
        "avenue",
        r"av\.?",
        "boulevard",
        r"boul\.",
        "bd",
        "bld",
        "all[ée]es?",
        "chemin",
        "impasse",
        r"imp\.",
        "place",
        r"pl\.",
        "quai",
        "route",
        "rte",
        "cours",
        "square",
        r"sq\.",
        "r[ée]sidence",
        r"r[ée]s\.",
        "lieu[- ]?dit",
        "passage",
        "voie",
        "sentier",
        "esplanade",
        "promenade",
        "parvis",
        "rond[- ]point",
        "faubourg",
        "fbg",
        "hameau",
        "cit[ée]",
        "villa",
        "mail",
        "mont[ée]e",
        "traverse",
        "chauss[ée]e",
        "lotissement",
        "domaine",
    )
    + r"(?!\w)"
)
# A house number and the space after it: "12 ", "12, ", "12 bis ", "12B ". Two alternatives rather
# than an optional suffix: this is tried after every number in the text, and an alternative is
# skipped on its first character where an optional group is entered.
_HOUSE_NUMBER = (
    rf"[0-9][0-9]{{0,3}}+(?:,?{_SPACE}+"
    rf"|{_SPACE}?(?:bis|ter|quater|BIS|TER|QUATER|[a-dA-D])(?!\w),?{_SPACE}+)"
)
_PARTICLE = r"(?:de|du|des|la|le|les|aux|au|à|en|sur|sous|lès|lez|et)"
_ELISION = r"[dlDL]['\u2019]"
# Linking words before a name word: "de la ", "des ", "d'", "de l'".
_LINKS = rf"(?:{_PARTICLE}{_SPACE}+|{_ELISION}){{0,3}}"
_CAPITAL = r"[A-ZÀ-ÖØ-Þ]"
_CAP_WORD = rf"{_CAPITAL}[\w'\u2019-]*"
_ANY_WORD = r"[^\W\d_][\w'\u2019-]*"
# "rue du 8 Mai 1945", "avenue du 11 Novembre" (and not the first four digits of a postcode after it)
_DATE_NAME = rf"[0-9]{{1,2}}(?:er)?{_SPACE}+{_CAP_WORD}(?:{_SPACE}+[0-9]{{4}}(?![0-9]))?"
# A capitalised name: "de la Paix", "Victor Hugo", "des Champs-Élysées", "du 8 Mai 1945".
_CAP_NAME = rf"{_LINKS}(?:{_CAP_WORD}|{_DATE_NAME})(?:{_SPACE}+{_LINKS}{_CAP_WORD}){{0,5}}"
# Any name ("chemin des vignes"): only trusted when a postcode and commune follow.
_ANY_NAME = rf"{_LINKS}{_ANY_WORD}(?:{_SPACE}+{_LINKS}{_ANY_WORD}){{0,4}}"
# A commune: "Paris", "Boulogne-Billancourt", "Aix-en-Provence", "Le Mans", "L'Haÿ-les-Roses".
_CITY_PART = rf"{_CAPITAL}[^\W\d_]*"
_CITY = (
    rf"(?:(?:Le|La|Les){_SPACE}+|L['\u2019])?{_CITY_PART}"
    rf"(?:-(?:{_PARTICLE}-)*(?:{_ELISION})?{_CITY_PART}){{0,5}}"
    rf"(?:{_SPACE}+(?i:cedex)(?:{_SPACE}+[0-9]{{1,2}})?)?"
)
_POSTCODE_CITY = rf"[0-9][0-9]{{4}}{_SPACE}+{_CITY}"
# Between the street line and "75007 Paris": ", ", " - ", a line break, or just a space.
_LINE_JOIN = rf"(?:,?{_SPACE}*(?:[-\u2013]{_SPACE}*)?(?:\r?\n{_SPACE}*)?)"
_ADDRESS = (
    rf"{_HOUSE_NUMBER}{_STREET_TYPE}{_SPACE}+"
    rf"(?:{_CAP_NAME}(?:{_LINE_JOIN}{_POSTCODE_CITY}{_NOT_ALNUM_AFTER})?"
    rf"|{_ANY_NAME}{_LINE_JOIN}{_POSTCODE_CITY}{_NOT_ALNUM_AFTER})"
)
# "75007 Paris" alone is not an address (a postcode says little); validated by STREET_LINE_BEFORE.
_POSTCODE_CITY = rf"{_POSTCODE_CITY}{_NOT_ALNUM_AFTER}"
# A street line without a house number ending right before a postcode: "rue de la Paix, " or
# "Lieu-dit Les Granges\n". Searched only in the few characters before a postcode candidate.
STREET_LINE_LOOKBACK = 120
STREET_LINE_BEFORE = re.compile(
    rf"(?<![^\W_])(?:{_HOUSE_NUMBER})?{_STREET_TYPE}{_SPACE}+{_ANY_NAME}{_LINE_JOIN}\Z"
)

# --- identifiers with letters ----------------------------------------------------------------
# NIR of a person born in Corsica: département 2A or 2B. Digit-only NIRs go through the digit run.
_NIR_CORSICA = r"[1-478] ?[0-9]{2} ?[0-9]{2} ?2[ABab] ?[0-9]{3} ?[0-9]{3} ?[0-9]{2}" + _NOT_ALNUM_AFTER
# French VAT number: FR + 2-character key + SIREN (I and O are not used in keys).
_VAT = r"FR ?[0-9A-HJ-NP-Z]{2} ?[0-9]{3} ?[0-9]{3} ?[0-9]{3}" + _NOT_ALNUM_AFTER
# IBAN, compact or in groups of 4: country, 2 check digits, 11 to 30 more characters. Groups are
# separated as digits are (no-break spaces, hyphens...), and any case is read: the checksum, not
# the shape, tells an IBAN, and people type "fr76 3000 ..." too. Classes, not (?i:): the engine
# then skips the branch on a word's first character.
_ALNUM = "[0-9A-Za-z]"
_IBAN = (
    rf"[A-Za-z][A-Za-z][0-9]{{2}}(?:{_SEP}?{_ALNUM}{{4}}){{2,7}}+(?:{_SEP}?{_ALNUM}{{1,3}})?"
    + _NOT_ALNUM_AFTER
)
# 9 upper-case letters and digits mixing both: a passport or new identity card number, kept only
# near a context word. The look-behinds reject all-digit and all-letter tokens.
_ID_DOCUMENT = r"[0-9A-Z][0-9A-Z]{8}(?<![0-9]{9})(?<![A-Z]{9})" + _NOT_ALNUM_AFTER
PASSPORT_SHAPE = re.compile(r"[0-9]{2}[A-Z]{2}[0-9]{5}")
ID_CONTEXT_WINDOW = 40
# The words that make a 9-character or 12-digit token a passport or identity card number. The
# last one found before the number decides which: group `passport` or not.
ID_CONTEXT = re.compile(
    r"(?i:(?P<passport>passeports?|passports?)"
    r"|cartes?\s+(?:nationales?\s+)?d['\u2019]\s?identit[ée]|\bCNIe?\b|pi[eè]ces?\s+d['\u2019]\s?identit[ée])"
)

# --- network ---------------------------------------------------------------------------------
_IPV4 = r"[0-9][0-9]{0,2}(?:\.[0-9]{1,3}){3}(?!\.?[0-9])"
# Hex digits and colons with at least two colons among the first groups ("2001:db8::1",
# "fe80::1", "::ffff:192.0.2.1"), an optional dotted IPv4 tail; ipaddress has the last word.
_IPV6 = (
    r"[0-9A-Fa-f:](?=[0-9A-Fa-f]{0,4}:[0-9A-Fa-f]{0,4}:)[0-9A-Fa-f:]{2,38}+(?:\.[0-9]{1,3}){0,3}+"
    r"(?![\w:])"
)

# --- numbers ---------------------------------------------------------------------------------
# "+33 6 12 34 56 78", "+33 (0)6 12 34 56 78", "(+33) 6 12 34 56 78", "+44 20 7946 0958": a
# country code, an optional "(0)", then digits with optional single separators.
_INTL_PHONE = (
    rf"\+[1-9][0-9]{{0,2}}\)?{_SEP}?(?:\(0\){_SEP}?)?[0-9](?:{_SEP}?[0-9]){{5,13}}+" + _NOT_ALNUM_AFTER
)
# At least 9 digits, with single separators between them in any grouping; the grouping is judged
# afterwards (numbers.py), once per run. Shorter numbers (dates, amounts, article numbers, case
# numbers) never become candidates. A run starts at its first digit: not after a digit and a
# separator (or each group of a long run would start it again), nor right after a '+' (an
# international number the branch above refused).
_DIGIT_RUN = rf"[0-9](?<!\+[0-9])(?<![0-9]{_SEP}[0-9])(?:{_SEP}?[0-9]){{8,}}+" + _NOT_ALNUM_AFTER
DIGIT_GROUP = re.compile(r"[0-9]+")
# What follows an amount: "1 234 567 €", "12 500 euros", "123 456 789,50".
AMOUNT_AFTER = re.compile(rf"{_SPACE}?(?:€|(?i:euros?|eur|k€|m€)(?!\w))|,[0-9]")

_BRANCHES: tuple[tuple[str, str], ...] = (
    ("email", _EMAIL),
    ("address", _ADDRESS),
    ("postcode_city", _POSTCODE_CITY),
    ("nir_corsica", _NIR_CORSICA),
    ("ipv4", _IPV4),
    ("id_document", _ID_DOCUMENT),
    ("vat", _VAT),
    ("iban", _IBAN),
    ("intl_phone", _INTL_PHONE),
    ("ipv6", _IPV6),
    ("digit_run", _DIGIT_RUN),
)
# Each branch ends with an empty named group that tells which branch matched (`lastgroup`). At the
# end rather than around the branch: a group's opening would hide the branch's first character
# from the engine, which could then no longer skip the branch without entering it.
_ALTERNATION = "|".join(f"{pattern}(?P<{name}>)" for name, pattern in _BRANCHES)
# The candidate starts one character after the match: `match.start() + 1`.
# "Not a letter or digit", spelled with ranges: the engine tests these faster than \W. Letters
# beyond Latin count as separators here, which only means a few more places to try.
_SEPARATOR = r"[^0-9A-Za-z\u00c0-\u024f]"
CANDIDATES = re.compile(rf"{_SEPARATOR}(?:{_ALTERNATION})")
CANDIDATES_AT_START = re.compile(_ALTERNATION)
