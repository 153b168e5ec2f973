"""The words random mode writes with, and the fixed token ids of the simulated tokenizer.

Every word is at most eight characters so that, re-tokenized, each generated word is exactly one
token: the count a client derives from the text then equals ``usage.completion_tokens``.
"""

from __future__ import annotations

_WORD_TEXT = """
    the of and to in is that for it as was with be by on not he this are or his from at which but
    have an they you were her she there one all we their has been if more when will would who so no
    out up into do any time only new some could these two may first then other like than now people
    its also over such make after most many well where our way even because very what said through
    made each just those state between both under never being same another know while last might
    great since against three world must still public case system program place around however
    data model service request answer value number result server network budget policy citizen
    office agency region city council report review process support project access record open
    secure local national digital form rule law right duty tax health school transit energy water
    housing safety budget plan team group level rate share price market growth change risk future
    simple clear short long early late small large high low good better best fast slow strong
    light dark green blue red white black north south east west river bridge road street station
    garden forest mountain ocean island valley village harbor market library museum theater
    question reason example detail summary context history method design pattern signal measure
    token stream engine batch queue cache memory compute vector matrix graph layer weight
    gradient sample prompt output input reply message letter paper book page chapter section
    note idea point fact view goal task step stage phase cycle period season year month week day
    hour minute moment morning evening night today tomorrow always often seldom rarely
"""

WORDS: tuple[str, ...] = tuple(_WORD_TEXT.split())
"""Distinct enough for readable text; duplicates are harmless (they only weigh a word more)."""

PUNCTUATION: tuple[str, ...] = (",", ".")
"""Attached without a leading space, one token each."""

PUNCTUATION_WEIGHT = 6
"""Relative weight of each punctuation mark against one word (about one mark every dozen words)."""

VOCAB_SIZE = 131072
"""Size of the simulated vocabulary (Mistral and Llama 3 tokenizers have about 128k tokens)."""

SPECIAL_TOKENS: tuple[str, ...] = (
    "<unk>",
    "<s>",
    "</s>",
    "<|system|>",
    "<|user|>",
    "<|assistant|>",
    "<|tool|>",
    "<|developer|>",
    "<|tools|>",
    "<|end|>",
)
"""Special tokens get ids 0.. in this order; the chat template is written with them."""

BOS_PIECE = "<s>"
"""The beginning-of-sequence special token."""
BOS_TOKEN_ID = SPECIAL_TOKENS.index(BOS_PIECE)

FIRST_WORD_ID = 1000
"""Word ``i`` has id ``FIRST_WORD_ID + 2 i`` without a leading space and the next id with one."""

FIRST_HASHED_ID = 20000
"""Pieces outside the word list get a stable hashed id in ``[FIRST_HASHED_ID, VOCAB_SIZE)``."""
