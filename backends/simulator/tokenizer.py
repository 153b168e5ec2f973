"""A deterministic, fast stand-in for a real tokenizer.

One token per word (words longer than eight characters are cut every eight), one per punctuation
mark, one per special token; whitespace sticks to the piece that follows it, so joining the pieces
gives the text back exactly. The same splitting counts prompts, serves ``/tokenize`` and truncates
echo answers, so every number the simulator reports agrees with every other.
"""

from __future__ import annotations

import re
import zlib
from collections import OrderedDict

from backends.simulator.vocabulary import (
    BOS_TOKEN_ID,
    FIRST_HASHED_ID,
    FIRST_WORD_ID,
    SPECIAL_TOKENS,
    VOCAB_SIZE,
    WORDS,
)

_SPECIAL_PATTERN = "|".join(re.escape(token) for token in SPECIAL_TOKENS)
PIECE_PATTERN = re.compile(rf"{_SPECIAL_PATTERN}|\s*(?:\w{{1,8}}|[^\w\s])|\s+")
"""Special tokens first; then optional whitespace and a word chunk or one symbol; then trailing space."""

_HASHED_ID_RANGE = VOCAB_SIZE - FIRST_HASHED_ID
_REVERSE_MAP_LIMIT = 65536


def split_pieces(text: str) -> list[str]:
    """The token strings of ``text``; ``"".join(split_pieces(t)) == t`` always holds."""
    return PIECE_PATTERN.findall(text)


def count_tokens(text: str) -> int:
    """How many tokens ``text`` is; the hot path of every request."""
    return len(PIECE_PATTERN.findall(text))


class Tokenizer:
    """Maps pieces to ids and back.

    Word-list pieces and special tokens have fixed ids. Any other piece gets a stable hashed id;
    ``encode`` remembers the last pieces it hashed (bounded) so that ``/detokenize`` can invert what
    ``/tokenize`` produced, which is what clients do in practice.
    """

    def __init__(self) -> None:
        self._piece_to_id: dict[str, int] = {}
        for token_id, token in enumerate(SPECIAL_TOKENS):
            self._piece_to_id[token] = token_id
        for index, word in enumerate(WORDS):
            self._piece_to_id.setdefault(word, FIRST_WORD_ID + 2 * index)
            self._piece_to_id.setdefault(" " + word, FIRST_WORD_ID + 2 * index + 1)
        self._id_to_piece: dict[int, str] = {token_id: piece for piece, token_id in self._piece_to_id.items()}
        self._hashed_pieces: OrderedDict[int, str] = OrderedDict()

    @property
    def vocab_size(self) -> int:
        """Ids are always below this."""
        return VOCAB_SIZE

    def piece_id(self, piece: str, *, remember: bool = False) -> int:
        """The id of one piece; ``remember`` keeps hashed pieces for a later ``decode``."""
        known = self._piece_to_id.get(piece)
        if known is not None:
            return known
        token_id = FIRST_HASHED_ID + zlib.crc32(piece.encode("utf-8")) % _HASHED_ID_RANGE
        if remember:
            self._hashed_pieces[token_id] = piece
            self._hashed_pieces.move_to_end(token_id)
            if len(self._hashed_pieces) > _REVERSE_MAP_LIMIT:
                self._hashed_pieces.popitem(last=False)
        return token_id

    def encode(self, text: str, *, add_bos: bool = False) -> list[int]:
        """Token ids of ``text``, with the beginning-of-sequence id first when ``add_bos``."""
        ids = [self.piece_id(piece, remember=True) for piece in split_pieces(text)]
        if add_bos:
            ids.insert(0, BOS_TOKEN_ID)
        return ids

    def id_to_piece(self, token_id: int) -> str:
        """The piece behind an id; unknown hashed ids read as ``<unk>`` like an unused vocabulary slot."""
        piece = self._id_to_piece.get(token_id)
        if piece is not None:
            return piece
        return self._hashed_pieces.get(token_id, SPECIAL_TOKENS[0])

    def decode(self, token_ids: list[int]) -> str:
        """Text of ``token_ids``; callers check the ids are inside the vocabulary first."""
        return "".join(self.id_to_piece(token_id) for token_id in token_ids)
