"""What the simulated model answers: seeded words, echoed text, tool-call arguments, logprobs.

Everything here is a pure function of its inputs (the RNG included), so the same request always
gives the same answer; timing and transport live elsewhere.
"""

from __future__ import annotations

import json
import random
import zlib
from dataclasses import dataclass, field
from itertools import accumulate
from typing import Any

from backends.simulator.settings import GenerationMode
from backends.simulator.vocabulary import PUNCTUATION, PUNCTUATION_WEIGHT, WORDS

_SPACED_WORDS = tuple(" " + word for word in WORDS)
_POOL: tuple[str, ...] = _SPACED_WORDS + PUNCTUATION
_CUMULATIVE_WEIGHTS = tuple(accumulate([1] * len(_SPACED_WORDS) + [PUNCTUATION_WEIGHT] * len(PUNCTUATION)))

NATURAL_LENGTH_RANGE = (16, 64)
"""Answer length in tokens when the client sets no limit: the model "stops" somewhere in here."""


@dataclass(slots=True)
class TokenLogprob:
    """The logprob of one generated token and its most likely alternatives, best first."""

    token: str
    logprob: float
    top: list[tuple[str, float]]


@dataclass(slots=True)
class ToolCallOutput:
    """One function call the simulated model decided to make."""

    call_id: str
    name: str
    arguments: str


@dataclass(slots=True)
class ChoiceOutput:
    """One generated choice: its token strings and why it ended."""

    pieces: list[str]
    finish_reason: str
    num_tokens: int
    stop_reason: str | None = None
    tool_call: ToolCallOutput | None = None
    logprobs: list[TokenLogprob] | None = field(default=None)

    @property
    def text(self) -> str:
        """The generated text (for a tool call: its arguments)."""
        return "".join(self.pieces)

    @property
    def engine_finish_reason(self) -> str:
        """The reason counted in ``vllm:request_success_total``: the engine knows no tool calls, only
        that the model stopped."""
        return "stop" if self.finish_reason == "tool_calls" else self.finish_reason


def choice_rng(server_seed: int, request_seed: int | None, prompt: str, index: int) -> random.Random:
    """The RNG of one choice: the same server, request seed, prompt and index give the same text."""
    prompt_hash = zlib.crc32(prompt.encode("utf-8", "surrogatepass"))
    # Hashes of int tuples are not randomized per process, unlike hashes of strings.
    return random.Random(hash((server_seed, request_seed is None, request_seed or 0, prompt_hash, index)))


def random_pieces(rng: random.Random, count: int) -> list[str]:
    """``count`` tokens of plausible prose: spaced words with a comma or period now and then."""
    if count <= 0:
        return []
    pieces = rng.choices(_POOL, cum_weights=_CUMULATIVE_WEIGHTS, k=count)
    pieces[0] = rng.choice(WORDS).capitalize()
    return pieces


def apply_stop_strings(
    pieces: list[str], stops: list[str], *, include_stop: bool
) -> tuple[list[str], int, str | None]:
    """Cut the answer at the first stop string.

    Returns the visible pieces, the number of tokens generated up to and including the one that
    completed the stop string (what vLLM counts), and the stop string that matched (``stop_reason``).
    """
    text = "".join(pieces)
    first: tuple[int, str] | None = None
    for stop in stops:
        if not stop:
            continue
        position = text.find(stop)
        if position != -1 and (first is None or position < first[0]):
            first = (position, stop)
    if first is None:
        return pieces, len(pieces), None
    position, stop = first
    visible_end = position + len(stop) if include_stop else position
    stop_end = position + len(stop)
    visible: list[str] = []
    generated = 0
    offset = 0
    for piece in pieces:
        start, offset = offset, offset + len(piece)
        if start < visible_end:
            visible.append(piece if offset <= visible_end else piece[: visible_end - start])
        if start < stop_end:
            generated += 1
        else:
            break
    return visible, max(generated, 1), stop


def plan_text_choice(
    rng: random.Random,
    *,
    mode: GenerationMode,
    echo_pieces: list[str],
    max_tokens: int | None,
    room: int,
    stops: list[str],
    include_stop: bool,
    top_logprobs: int | None,
) -> ChoiceOutput:
    """Decide one text answer.

    ``max_tokens`` is the client's limit (already at least 1), ``room`` what the context leaves
    (``max_model_len - prompt_tokens``, at least 1); vLLM clamps the first to the second (after
    refusing one above ``max_model_len``: ``serving.output_limit``).
    Random mode writes exactly ``max_tokens`` tokens when given (so load tests control the output
    length), otherwise a natural length that ends with ``stop``; echo mode returns the source text.
    """
    limit = room if max_tokens is None else min(max_tokens, room)
    if mode == "echo":
        pieces = echo_pieces[:limit]
        finish_reason = "length" if len(echo_pieces) > limit else "stop"
    elif max_tokens is not None:
        pieces = random_pieces(rng, limit)
        finish_reason = "length"
    else:
        natural = rng.randint(*NATURAL_LENGTH_RANGE)
        pieces = random_pieces(rng, min(natural, limit))
        finish_reason = "stop" if natural <= limit else "length"
    num_tokens = len(pieces)
    stop_reason = None
    if stops:
        pieces, generated, stop_reason = apply_stop_strings(pieces, stops, include_stop=include_stop)
        if stop_reason is not None:
            finish_reason = "stop"
            num_tokens = min(generated, num_tokens)
    logprobs = token_logprobs(rng, pieces, top_logprobs) if top_logprobs is not None else None
    return ChoiceOutput(pieces, finish_reason, num_tokens, stop_reason, None, logprobs)


def token_logprobs(rng: random.Random, pieces: list[str], top_n: int) -> list[TokenLogprob]:
    """Plausible logprobs: mostly confident tokens, ``top_n`` alternatives each, sorted best first."""
    result = []
    for piece in pieces:
        logprob = -(rng.random() ** 3) * 4.0
        top = [(piece, logprob)] if top_n > 0 else []
        alternative_logprob = logprob
        for rank in range(1, top_n):
            alternative = rng.choice(_POOL)
            if alternative == piece:
                alternative = _POOL[(_POOL.index(alternative) + 1) % len(_POOL)]
            alternative_logprob -= 0.25 + rng.random() * 2.0 / rank
            top.append((alternative, alternative_logprob))
        result.append(TokenLogprob(piece, logprob, top))
    return result


def tool_arguments(rng: random.Random, parameters: dict[str, Any] | None) -> str:
    """JSON arguments that fit the tool's parameter schema, as vLLM serializes them (``json.dumps``)."""
    value = _schema_value(rng, parameters or {"type": "object"}, depth=0)
    if not isinstance(value, dict):
        value = {}
    return json.dumps(value, ensure_ascii=False)


def _schema_value(rng: random.Random, schema: Any, depth: int) -> Any:
    if not isinstance(schema, dict):
        return rng.choice(WORDS)
    enum = schema.get("enum")
    if isinstance(enum, list) and enum:
        return rng.choice(enum)
    if "const" in schema:
        return schema["const"]
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((item for item in kind if item != "null"), "null")
    if kind is None and "properties" in schema:
        kind = "object"
    if kind == "object":
        properties = schema.get("properties")
        if depth >= 3 or not isinstance(properties, dict):
            return {}
        return {name: _schema_value(rng, sub, depth + 1) for name, sub in properties.items()}
    if kind == "array":
        return [] if depth >= 3 else [_schema_value(rng, schema.get("items"), depth + 1)]
    if kind == "integer":
        return rng.randint(1, 100)
    if kind == "number":
        return round(rng.uniform(0, 100), 2)
    if kind == "boolean":
        return rng.random() < 0.5
    if kind == "null":
        return None
    return rng.choice(WORDS)
