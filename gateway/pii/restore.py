"""Put the original values back where the model wrote the placeholders of this request.

Only placeholders issued for this request are restored; anything else shaped like one (a number the
model made up, a mangled `<IBAN 1>`) is left as the model wrote it. Inside tool-call arguments the
value is inserted JSON-escaped, since those arguments are a JSON document in a string.

A person written several ways has one placeholder; its occurrences in one text of the answer (a
message's content, a stream's text deltas together, a tool call's arguments) are restored, in order,
as the request wrote them one after the other, then as its fullest form. A stream's deltas and the
same text whole (a Responses stream's `done` events repeat it) are therefore restored alike.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import msgspec

__all__ = ["PlaceholderRestorer", "TextChannel"]

_decode = msgspec.json.Decoder().decode
_encode = msgspec.json.encode
# Fields whose text is a JSON document (tool-call arguments in chat and Responses answers).
JSON_TEXT_FIELDS = frozenset({"arguments"})


def _json_escaped(value: str) -> str:
    return _encode(value).decode()[1:-1]


class PlaceholderRestorer:
    """The placeholders of one request and their values."""

    __slots__ = ("_escaped", "_forms", "_longest", "_originals", "_pattern", "_prefixes")

    def __init__(
        self, originals: Mapping[str, str], forms: Mapping[str, Sequence[str]] | None = None
    ) -> None:
        self._originals = dict(originals)
        self._forms = dict(forms or {})
        self._escaped = {placeholder: _json_escaped(value) for placeholder, value in originals.items()}
        # Longest first, so that `<IBAN_12>` is never read as `<IBAN_1>` followed by `2>`.
        ordered = sorted(originals, key=len, reverse=True)
        self._pattern = re.compile("|".join(re.escape(placeholder) for placeholder in ordered))
        self._prefixes = frozenset(
            placeholder[:length] for placeholder in originals for length in range(1, len(placeholder))
        )
        self._longest = max(len(placeholder) for placeholder in originals)

    def restore(self, text: str, *, json_text: bool = False, counts: dict[str, int] | None = None) -> str:
        """`text` with its placeholders restored. `counts` (a person's placeholder -> occurrences
        already restored) carries the count over the pieces of one text; None: `text` is whole."""
        if "<" not in text:
            return text
        values = self._escaped if json_text else self._originals
        if not self._forms:
            return self._pattern.sub(lambda match: values[match.group()], text)
        seen: dict[str, int] = {} if counts is None else counts
        return self._pattern.sub(lambda match: self._value(match.group(), values, json_text, seen), text)

    def _value(
        self, placeholder: str, values: Mapping[str, str], json_text: bool, seen: dict[str, int]
    ) -> str:
        forms = self._forms.get(placeholder)
        if forms is None:
            return values[placeholder]
        count = seen.get(placeholder, 0)
        seen[placeholder] = count + 1
        if count >= len(forms):
            return values[placeholder]
        return _json_escaped(forms[count]) if json_text else forms[count]

    def held_tail_start(self, text: str) -> int:
        """Where the part of `text` that could still become a placeholder begins (len(text) if none).

        Placeholders start with `<` and hold no other `<`, so only the text from the last `<` can be
        the start of one, and only if it is shorter than the longest placeholder."""
        start = text.rfind("<", max(0, len(text) - self._longest + 1))
        if start >= 0 and text[start:] in self._prefixes:
            return start
        return len(text)

    def restore_document(self, document: Any) -> Any:
        """Every string of a decoded JSON document, restored (tool arguments JSON-escaped)."""
        if isinstance(document, dict):
            for key, value in document.items():
                if isinstance(value, str):
                    document[key] = self.restore(value, json_text=key in JSON_TEXT_FIELDS)
                elif isinstance(value, dict | list):
                    self.restore_document(value)
        elif isinstance(document, list):
            for index, value in enumerate(document):
                if isinstance(value, str):
                    document[index] = self.restore(value)
                elif isinstance(value, dict | list):
                    self.restore_document(value)
        return document

    def restore_body(self, body: bytes) -> bytes:
        """A whole JSON answer with its placeholders restored; untouched when it holds none."""
        if b"<" not in body:
            return body
        try:
            document = _decode(body)
        except msgspec.DecodeError:
            return self.restore(body.decode("utf-8", "replace")).encode()
        return _encode(self.restore_document(document))


class TextChannel:
    """One stream of text deltas (a choice's content, one tool call's arguments, ...).

    Text is released as soon as it cannot be part of a placeholder of this request; only the
    shortest tail that could still start one is held back until the next delta or the end."""

    __slots__ = ("_counts", "_held", "_json_text", "_restorer")

    def __init__(self, restorer: PlaceholderRestorer, *, json_text: bool = False) -> None:
        self._restorer = restorer
        self._json_text = json_text
        self._held = ""
        self._counts: dict[str, int] = {}  # the deltas are one text: people's forms counted across them

    @property
    def holding(self) -> bool:
        return bool(self._held)

    def feed(self, delta: str) -> str:
        text = self._held + delta if self._held else delta
        if "<" not in text:
            self._held = ""
            return text
        cut = self._restorer.held_tail_start(text)
        ready, self._held = text[:cut], text[cut:]
        return self._restorer.restore(ready, json_text=self._json_text, counts=self._counts)

    def flush(self) -> str:
        """At the end of the text: what was held back (the start of a placeholder never finished)."""
        held, self._held = self._held, ""
        return held
