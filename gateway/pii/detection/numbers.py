"""Which identifiers a run of digits holds, judged by how its digits are grouped and by checksums.

A run is what the scanner found: at least 9 digits with single separators between groups
("06 12 34 56 78", "123 456 789 00012", "1 85 05 78 006 084 36", "4970 1012 3456 7890"). The run
may hold one identifier, several side by side, or none. Windows of whole groups are tried from
the left, longest first, so a SIRET is reported once rather than as a SIREN plus five digits.

A window counts only when its grouping is one people actually write for that identifier: this is
what keeps an amount or a case number from becoming a phone number. Two kinds of run are read
whole or not at all:

- a number with thousands separators ("1 234 567 890"), which is one number, not a SIREN in its
  last three groups;
- a run grouped as some identifier is written ("732 829 320 00075", a SIRET's grouping): if its
  checksum fails, it is a mistyped identifier, and its first nine digits are no SIREN.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from gateway.pii.detection.context import id_document_kind, is_amount
from gateway.pii.detection.findings import (
    CREDIT_CARD,
    FR_ID_CARD,
    FR_NIF,
    FR_NIR,
    FR_SIREN,
    FR_SIRET,
    PHONE,
    Finding,
)
from gateway.pii.detection.patterns import DIGIT_GROUP
from gateway.pii.detection.validators import is_card, is_nif, is_nir, is_phone, is_siren, is_siret

__all__ = ["digit_run_findings", "international_phone_finding"]

Shape = tuple[int, ...]
# For each count of digits, in order of precedence: the entity, the groupings it is written in
# (besides all digits together), and its check on the digits alone.
_Rule = tuple[str, frozenset[Shape], Callable[[str], bool]]


def _french_phone(digits: str) -> bool:
    return digits[0] == "0" and digits[1] != "0" and is_phone(digits)


def _rules() -> dict[int, tuple[_Rule, ...]]:
    def card_shapes(length: int) -> frozenset[Shape]:
        fours = (4,) * (length // 4)
        rest = length % 4
        return frozenset({(*fours, rest) if rest else fours})

    rules: dict[int, tuple[_Rule, ...]] = {
        9: ((FR_SIREN, frozenset({(3, 3, 3)}), is_siren),),
        10: ((PHONE, frozenset({(2, 2, 2, 2, 2)}), _french_phone),),
        13: (
            (FR_NIF, frozenset({(2, 2, 3, 3, 3)}), is_nif),
            (CREDIT_CARD, card_shapes(13), is_card),
        ),
        14: (
            (FR_SIRET, frozenset({(3, 3, 3, 5), (9, 5), (3, 3, 3, 3, 2)}), is_siret),
            (CREDIT_CARD, card_shapes(14) | {(4, 6, 4)}, is_card),  # Diners: 4-6-4
        ),
        # NIR has precedence over everything else 15 characters long.
        15: (
            (FR_NIR, frozenset({(1, 2, 2, 2, 3, 3, 2), (13, 2), (1, 2, 2, 5, 3, 2)}), is_nir),
            (CREDIT_CARD, card_shapes(15) | {(4, 6, 5)}, is_card),  # Amex: 4-6-5
        ),
    }
    for length in range(16, 20):
        rules[length] = ((CREDIT_CARD, card_shapes(length), is_card),)
    return rules


_RULES = _rules()
_CLOSED_COUNTRY_CODE = re.compile(r"\+[0-9]{1,3}\)")
# The groupings of several groups that name an identifier, by count of digits.
_KNOWN_SHAPES: dict[int, frozenset[Shape]] = {
    length: frozenset().union(*(shapes for _, shapes, _ in rules)) for length, rules in _RULES.items()
}
_MAX_DIGITS = 19  # the longest identifier read from digits alone (a 19-digit card)
# The most groups an identifier is written in ("00 33 6 12 34 56 78"); also bounds the work on a
# long run of short groups.
_MAX_GROUPS = 8
# "0033 6 12 34 56 78", "00 44 20 7946 0958": international numbers dialled from France.
_INTL_DIALLED_DIGITS = range(11, 18)
# Identity card numbers have no checksum: all digits (9 new format, 12 old), kept near context words.
_ID_CARD_DIGITS = (9, 12)
# The counts of digits that can make an identifier.
_WORTH_A_LOOK = frozenset([*_RULES, *_INTL_DIALLED_DIGITS, *_ID_CARD_DIGITS])


def digit_run_findings(text: str, start: int, end: int, out: list[Finding]) -> None:
    """Append to `out` the identifiers in the run `text[start:end]`, left to right."""
    if is_amount(text, start, end):
        return
    groups = [match.span() for match in DIGIT_GROUP.finditer(text, start, end)]
    lengths = [group_end - group_start for group_start, group_end in groups]
    count = len(groups)
    if count > 1 and _read_whole(lengths):
        entity = _window_entity(text, groups, lengths, 0, count - 1, out[-1].end if out else 0)
        if entity is not None:
            out.append(Finding(start, end, entity))
        return
    # before[i]: digits in the groups before group i, so that a window's count costs nothing.
    before = [0]
    for length in lengths:
        before.append(before[-1] + length)
    first = 0
    while first < count:
        last = first
        while (
            last + 1 < count
            and before[last + 2] - before[first] <= _MAX_DIGITS
            and last + 1 - first < _MAX_GROUPS
        ):
            last += 1
        found = None
        for window_last in range(last, first - 1, -1):
            if before[window_last + 1] - before[first] not in _WORTH_A_LOOK:
                continue
            found = _window_entity(text, groups, lengths, first, window_last, out[-1].end if out else 0)
            if found is not None:
                out.append(Finding(groups[first][0], groups[window_last][1], found))
                first = window_last + 1
                break
        if found is None:
            first += 1


def _read_whole(lengths: list[int]) -> bool:
    thousands = lengths[0] <= 3 and all(length == 3 for length in lengths[1:])
    return thousands or tuple(lengths) in _KNOWN_SHAPES.get(sum(lengths), frozenset())


def _window_entity(
    text: str, groups: list[tuple[int, int]], lengths: list[int], first: int, last: int, floor: int
) -> str | None:
    """The entity the groups `first` to `last` form, if any; `floor`: where the previous finding
    ends (context words before it belong to it)."""
    count = sum(lengths[first : last + 1])
    rules = _RULES.get(count)
    context_kind = count in _ID_CARD_DIGITS
    dialled_abroad = count in _INTL_DIALLED_DIGITS and text.startswith("00", groups[first][0])
    if rules is None and not context_kind and not dialled_abroad:
        return None
    shape = tuple(lengths[first : last + 1])
    separators = {text[groups[index][1]] for index in range(first, last)}
    consistent = len(separators) <= 1
    digits = "".join(text[group_start:group_end] for group_start, group_end in groups[first : last + 1])
    if context_kind and consistent and id_document_kind(text, groups[first][0], floor) == FR_ID_CARD:
        return FR_ID_CARD
    if rules is not None and consistent:
        for entity, shapes, check in rules:
            if (len(shape) == 1 or shape in shapes) and check(digits):
                return entity
    if dialled_abroad and digits[2] != "0" and is_phone(digits):
        return PHONE
    return None


def international_phone_finding(text: str, start: int, end: int) -> Finding | None:
    """The longest valid phone number starting with the '+' at `start` and ending at a group end
    no later than `end` (a run may carry other digits after the number)."""
    if start > 0 and text[start - 1] == "(" and _CLOSED_COUNTRY_CODE.match(text, start, end):
        start -= 1  # "(+33) 6 12 34 56 78": the parenthesis belongs to the number
    if is_phone(text[start:end]):
        return Finding(start, end, PHONE)
    group_ends = [match.end() for match in DIGIT_GROUP.finditer(text, start, end)]
    for group_end in reversed(group_ends[:-1]):
        if sum(character.isdigit() for character in text[start:group_end]) < 8:
            break
        if is_phone(text[start:group_end]):
            return Finding(start, group_end, PHONE)
    return None
