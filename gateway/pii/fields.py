"""Where personal data can sit in a request: every string a backend will receive.

Every string of the payload is a slot, wherever it is: the fields the gateway knows, vLLM's own
extensions (`documents`, `chat_template_kwargs`, `guided_*`...) and fields it has never heard of,
object keys included. Only these are left out:

    model                       checked against the configured names before this step
    binary content              a base64 payload (a data: URL's, `input_audio.data`, `file_data`...)
                                that decodes to bytes which are not UTF-8 text: images, sounds
    numbers, booleans, null     except inside tool-call arguments, below

Most slots are replaced in place. The text of some cannot be rewritten without changing what the
request does, so those slots are `fixed`: scanned, and the request is refused when one holds
personal data that the policy would mask or pseudonymize (counted as usual in `detect` mode):

    URLs (`url`, `image_url`, `file_url`...)    a rewritten URL fetches something else
    data: URLs                                  their media type and parameters, and the content
                                                itself when it is text (decoded from base64)
    regular expressions and grammars            `pattern`, `regex`, `grammar`, `guided_regex`...
    object keys                                 other values name them (a schema's `required`)

Tool-call arguments are JSON documents inside a string: their own strings (and numbers, which may be
identifiers written without quotes) are slots too, so that a replacement never turns valid arguments
into invalid JSON.

Slots come in the order the model reads the request (its messages, prompt or input first), so that
placeholders are numbered in that order. Structural words (`"role": "user"`, `"type": "object"`) are
never handed to the detector: see `may_hold_personal_data`.
"""

from __future__ import annotations

import binascii
import codecs
import re
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

import msgspec

from gateway.errors import InvalidRequest

if TYPE_CHECKING:
    from gateway.operations import Operation

__all__ = ["Slot", "json_document", "json_slots", "may_hold_personal_data", "text_slots"]

_NOT_SCANNED = frozenset({"model"})
_URL_FIELDS = frozenset({"url", "image_url", "file_url", "video_url", "audio_url"})
_PATTERN_FIELDS = frozenset({"pattern", "regex", "grammar", "guided_regex", "guided_grammar"})
# Fields whose string is base64 (or a data: URL): `data` only inside `input_audio`.
_BINARY_FIELDS = frozenset({"file_data", "image_embeds", "prompt_embeds", "encrypted_content"})
_AUDIO = ("input_audio", "data")
# Enough of a base64 payload (3 KiB decoded) to tell text from an image or a sound: every binary
# format the models take opens with bytes that are not UTF-8.
_SNIFFED_CHARS = 4096
# A path longer than this (a value nested hundreds of levels deep) stops at the object that holds it.
_PATH_CHARS = 200
_SIGNIFICANT = re.compile(r"[\s\d@:%]")
_WORD_CHARS = 64


def may_hold_personal_data(text: str) -> bool:
    """False for a short lower-case word without digits, `@`, `:` or `%`: every identifier the
    detector knows needs a digit, `@` or `:`, and the name model finds no name without a capital
    (tests/pii holds this against the labelled corpus). Such words are most of a request's
    structure (`user`, `function`, `json_schema`); skipping them spares the name model a call each."""
    return len(text) > _WORD_CHARS or _SIGNIFICANT.search(text) is not None or text.lower() != text


class _Path:
    """Where a value sits, built only when asked for (a refusal's `param`): a deep or wide document
    must not cost one string per value. Only keys that are structural words are shown (`content`,
    `tool_calls`); any other could be long or hold the very data found, so the path stops at the
    object that holds it (a part of None), as it does when it grows too long."""

    __slots__ = ("_parent", "_part")

    def __init__(self, parent: _Path | None, part: str | None) -> None:
        self._parent = parent
        self._part = part

    def key(self, key: str) -> _Path:
        return _Path(self, None if may_hold_personal_data(key) else f".{key}")

    @property
    def holder(self) -> _Path:
        """The path of the object or array this value sits in."""
        return self._parent or self

    def index(self, index: int) -> _Path:
        return _Path(self, f"[{index}]")

    def __str__(self) -> str:
        parts: list[str | None] = []
        node: _Path | None = self
        while node is not None:
            parts.append(node._part)
            node = node._parent
        shown: list[str] = []
        length = 0
        for part in reversed(parts):
            length += len(part or "")
            if part is None or length > _PATH_CHARS:
                break
            shown.append(part)
        return "".join(shown).lstrip(".")


class Slot:
    """One scannable value: `container[key]`, a string (or a JSON number inside tool arguments).

    A `fixed` slot is scanned but never rewritten; its `text` may differ from the stored value (a
    key, the decoded content of a data: URL)."""

    __slots__ = ("_text", "_where", "container", "fixed", "key")

    def __init__(
        self, container: Any, key: Any, where: _Path, *, fixed: bool = False, text: str | None = None
    ) -> None:
        self.container = container
        self.key = key
        self._where = where
        self.fixed = fixed
        self._text = text

    @property
    def path(self) -> str:
        return str(self._where)

    @property
    def text(self) -> str:
        if self._text is not None:
            return self._text
        value = self.container[self.key]
        return value if isinstance(value, str) else str(value)

    def replace(self, text: str) -> None:
        if self.fixed:
            return  # its findings were refused, or only counted (`detect`): nothing to write
        self.container[self.key] = text


def text_slots(operation: Operation, payload: dict[str, Any]) -> Iterator[Slot]:
    """Every text of the request that reaches the backend, in the order the model reads it: the
    operation's `pii_read_first` fields, then every other field in the request's order."""
    first = [field for field in operation.pii_read_first if field in payload]
    rest = [field for field in payload if field not in first and field not in _NOT_SCANNED]
    root = _Path(None, "")
    for field in (*first, *rest):
        yield from _walk(payload, field, root, documents=False)


def json_slots(document: Any, path: str) -> Iterator[Slot]:
    """The strings, integers and keys inside a decoded JSON document (tool-call arguments)."""
    yield from _walk([document], 0, _Path(None, path), documents=True)


def json_document(slot: Slot) -> Any:
    """The JSON document a slot's text holds (tool-call arguments), or None when it holds none.
    Raises InvalidRequest (400) when it is nested too deeply to be read."""
    try:
        return msgspec.json.decode(slot.text)
    except msgspec.DecodeError:
        return None
    except RecursionError:
        raise InvalidRequest(
            "The JSON document in this field is nested too deeply to be checked for personal data.",
            param=slot.path,
        ) from None


# What an array must hold for its items to be visited (outside JSON documents, numbers are no slots).
_HOLDERS = frozenset({str, dict, list})
# One value to visit: the object or array holding it, its key or index there, where it sits, and the
# names of the two nearest object keys above it (the enclosing field's, then its own).
_Entry = tuple[Any, Any, _Path, tuple[str, str]]


def _walk(container: Any, key: Any, where: _Path, *, documents: bool) -> Iterator[Slot]:
    """`container[key]` and everything inside it, depth first, in document order, without recursion
    (a body may be nested as deeply as the JSON decoder allows). `documents` walks JSON documents:
    every string is plain text there, and integers are slots too."""
    if isinstance(container, dict):
        first: _Entry = (container, key, where.key(key), ("", key))
    else:
        first = (container, key, where, ("", ""))
    stack: list[Iterator[_Entry]] = [iter((first,))]
    while stack:
        entry = next(stack[-1], None)
        if entry is None:
            stack.pop()
            continue
        holder, name, at, fields = entry
        if isinstance(holder, dict) and may_hold_personal_data(name):
            yield Slot(holder, name, at.holder, fixed=True, text=name)
        value = holder[name]
        if isinstance(value, str):
            if not documents:
                yield from _string_slots(holder, name, at, fields)
            elif may_hold_personal_data(value):
                yield Slot(holder, name, at)
        elif isinstance(value, dict | list):
            stack.append(_inside(value, at, fields[1], documents=documents))
        elif documents and isinstance(value, int) and not isinstance(value, bool):
            yield Slot(holder, name, at)


def _inside(value: dict[str, Any] | list[Any], at: _Path, field: str, *, documents: bool) -> Iterator[_Entry]:
    """The entries of an object or array that can hold a slot (an array of token ids holds none)."""
    if isinstance(value, dict):
        for key in value:
            yield value, key, at.key(key), (field, key)
        return
    if not documents and _HOLDERS.isdisjoint(set(map(type, value))):
        return  # token ids, numbers: a million of them is skipped in milliseconds this way
    for index, item in enumerate(value):
        if isinstance(item, str | dict | list) or (documents and isinstance(item, int)):
            yield value, index, at.index(index), ("", field)


def _string_slots(holder: Any, name: Any, at: _Path, fields: tuple[str, str]) -> Iterator[Slot]:
    text: str = holder[name]
    field = fields[1]
    if field in _URL_FIELDS:
        if text[:5].lower() == "data:":
            yield from _data_url_slots(holder, name, at, text)
        elif may_hold_personal_data(text):
            yield Slot(holder, name, at, fixed=True, text=unquote(text))
    elif field in _BINARY_FIELDS or fields == _AUDIO:
        if text[:5].lower() == "data:":
            yield from _data_url_slots(holder, name, at, text)
        else:
            content = _base64_text(text)
            if content is not None and may_hold_personal_data(content):
                yield Slot(holder, name, at, fixed=True, text=content)
    elif field in _PATTERN_FIELDS:
        if may_hold_personal_data(text):
            yield Slot(holder, name, at, fixed=True)
    elif may_hold_personal_data(text):
        yield Slot(holder, name, at)


def _data_url_slots(holder: Any, name: Any, at: _Path, url: str) -> Iterator[Slot]:
    """`data:[<media type>][;parameters][;base64],<content>`: the header, then the content as text."""
    header, comma, content = url.partition(",")
    if not comma:
        yield Slot(holder, name, at, fixed=True)
        return
    if may_hold_personal_data(header):
        yield Slot(holder, name, at, fixed=True, text=header)
    text = _base64_text(content) if header.lower().endswith(";base64") else unquote(content)
    if text is not None and may_hold_personal_data(text):
        yield Slot(holder, name, at, fixed=True, text=text)


def _base64_text(content: str) -> str | None:
    """The text a base64 payload holds; the payload itself when it is no valid base64 (then it is
    text written where base64 was expected); None when it holds binary content."""
    try:
        opening = binascii.a2b_base64(content[:_SNIFFED_CHARS], strict_mode=True)
    except (binascii.Error, ValueError):
        return content
    try:
        codecs.getincrementaldecoder("utf-8")().decode(opening, final=False)
    except UnicodeDecodeError:
        return None
    try:
        return binascii.a2b_base64(content, strict_mode=True).decode("utf-8")
    except (binascii.Error, ValueError):
        return content
    except UnicodeDecodeError:
        return None
