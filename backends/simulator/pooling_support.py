"""What the pooling routes (score, rerank, classify, pooling, Cohere embed) share: which model a request
targets, how its inputs are counted, and its short life in the engine.

A vLLM process serves one model, so a pooling route exists only when a model of a kind that serves it
does; the simulator can serve several kinds at once and answers a model of another kind with FastAPI's
404, as the process serving that model would for a route it never registered.
"""

from __future__ import annotations

import math
import time
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from backends.simulator import errors
from backends.simulator.chat_template import render_chat_prompt
from backends.simulator.embeddings import embedding_vector
from backends.simulator.engine import Engine
from backends.simulator.protocol import ChatMessage, field_error
from backends.simulator.serving import HTTPRequest, check_engine_alive
from backends.simulator.tokenizer import Tokenizer, count_tokens

PoolingKind = Literal["embedding", "cross-encoder"]

ARCHITECTURES: dict[PoolingKind, str] = {
    "embedding": "BertModel",
    "cross-encoder": "BertForSequenceClassification",
}
"""The architecture vLLM names in errors: those of the models the real-vLLM tests serve."""

SUPPORTED_TASKS: dict[PoolingKind, tuple[str, ...]] = {
    "embedding": ("embed", "token_embed"),
    "cross-encoder": ("classify", "token_classify"),
}
"""Pooling tasks each kind supports; the first is the one ``/pooling`` runs when the request names none."""

CLASSIFIER_LABEL = "LABEL_0"
"""A one-label classifier's ``id2label`` as ``transformers`` fills it by default."""

SPECIAL_TOKENS_PER_TEXT = 1
"""What the simulator's tokenizer adds to a text it encodes alone (its beginning-of-sequence token)."""
SPECIAL_TOKENS_PER_PAIR = 2
"""A cross-encoder's pair: the beginning-of-sequence token and a separator between the two texts."""


@dataclass(frozen=True, slots=True)
class PoolingModel:
    """The served model a pooling request targets, with its kind."""

    name: str
    kind: PoolingKind


def resolve_pooling_model(
    engine: Engine, requested: str | None, kinds: Sequence[PoolingKind]
) -> PoolingModel:
    """The model of one of ``kinds`` that ``requested`` names (the first served one when absent).

    vLLM's pooling routes refuse an unknown model with a 404 that lists no aliases and names no
    parameter; a model of another kind gets FastAPI's 404, as its own process has no such route.
    """
    settings = engine.settings
    by_kind: dict[PoolingKind, tuple[str, ...]] = {
        "embedding": settings.embedding_models,
        "cross-encoder": settings.rerank_models,
    }
    served = [PoolingModel(name, kind) for kind in kinds for name in by_kind[kind]]
    if not served:
        raise errors.route_not_found()
    if not requested:
        model = served[0]
    else:
        found = next((model for model in served if model.name == requested), None)
        if found is None:
            if requested in settings.served_models:
                raise errors.route_not_found()
            raise errors.model_not_found(requested, param=None)
        model = found
    check_engine_alive(engine)
    return model


def check_prompt(engine: Engine, text: str, tokens: int, *, text_input: bool = True) -> None:
    """The context checks vLLM applies to every prompt of a pooling request."""
    max_model_len = engine.settings.max_model_len
    if text_input:
        errors.check_prompt_characters(text, max_model_len)
    if tokens > max_model_len:
        raise errors.context_length_exceeded(max_model_len, tokens, text=text_input)


def text_tokens(text: str) -> int:
    """Tokens of a text encoded alone."""
    return count_tokens(text) + SPECIAL_TOKENS_PER_TEXT


def pair_tokens(first: str, second: str) -> int:
    """Tokens of a cross-encoder's pair."""
    return count_tokens(first) + count_tokens(second) + SPECIAL_TOKENS_PER_PAIR


def cross_encoder_score(model: str, first: str, second: str) -> float:
    """A relevance in (0, 1): the sigmoid of a logit drawn from a hash of the model and both texts, so
    the same pair always scores the same and different pairs spread over the range."""
    digest = zlib.crc32(f"{model}\0{first}\0{second}".encode("utf-8", "surrogatepass"))
    logit = (digest / 0xFFFFFFFF) * 12.0 - 6.0
    return 1.0 / (1.0 + math.exp(-logit))


def bi_encoder_score(model: str, first: str, second: str, dimensions: int) -> float:
    """An embedding model's score: the cosine similarity of the two texts' (unit) embeddings."""
    a = embedding_vector(model, first, dimensions)
    b = embedding_vector(model, second, dimensions)
    return math.fsum(x * y for x, y in zip(a, b, strict=True))


def classifier_probability(model: str, text: str) -> float:
    """A one-label classifier's probability for one text."""
    return cross_encoder_score(model, text, "")


def usage_info(prompt_tokens: int) -> dict[str, Any]:
    """vLLM's ``UsageInfo`` of a pooling answer, every field dumped."""
    return {
        "prompt_tokens": prompt_tokens,
        "total_tokens": prompt_tokens,
        "completion_tokens": 0,
        "prompt_tokens_details": None,
        "completion_tokens_details": None,
    }


def completion_style_inputs(
    tokenizer: Tokenizer, value: object, *, add_special_tokens: bool, field: str = "input"
) -> list[tuple[str, int, bool]]:
    """Each prompt of a completion-style pooling input as (text, tokens, whether it was text): a string,
    strings, token ids, or lists of token ids."""
    special = SPECIAL_TOKENS_PER_TEXT if add_special_tokens else 0
    if isinstance(value, str):
        return [(value, count_tokens(value) + special, True)]
    if isinstance(value, list) and value:
        if all(isinstance(item, str) for item in value):
            return [(text, count_tokens(text) + special, True) for text in value]
        if all(isinstance(item, int) and not isinstance(item, bool) for item in value):
            return [_token_input(tokenizer, value)]
        if all(isinstance(item, list) and item for item in value):
            return [_token_input(tokenizer, item) for item in value]
    if isinstance(value, list) and not value:
        raise errors.bad_request("You must pass at least one prompt")
    raise errors.request_validation_failed(
        [
            field_error(
                (field,),
                "Input should be a string, a list of strings, a list of token ids or a list of lists of token ids",
                value,
                "union_tag_invalid",
            )
        ]
    )


def _token_input(tokenizer: Tokenizer, token_ids: list[Any]) -> tuple[str, int, bool]:
    for token_id in token_ids:
        if (
            not isinstance(token_id, int)
            or isinstance(token_id, bool)
            or not 0 <= token_id < tokenizer.vocab_size
        ):
            raise errors.bad_request(f"Token id {token_id} is out of vocabulary")
    return tokenizer.decode(token_ids), len(token_ids), False


def pooling_prompts(
    engine: Engine, body_input: object, messages: list[ChatMessage] | None, *, add_special_tokens: bool
) -> list[tuple[str, int, bool]]:
    """The prompts of a completion-style or a chat-style pooling request, checked against the context."""
    if messages is None and body_input is None:
        # vLLM's body is a union of a completion-style and a chat-style request: both fail.
        raise errors.request_validation_failed(
            [
                {"type": "missing", "loc": ("body", name), "msg": "Field required", "input": None}
                for name in ("input", "messages")
            ]
        )
    if messages is not None:
        text = render_chat_prompt(messages)
        prompts = [(text, count_tokens(text), True)]
    else:
        prompts = completion_style_inputs(engine.tokenizer, body_input, add_special_tokens=add_special_tokens)
    for text, tokens, text_input in prompts:
        check_prompt(engine, text, tokens, text_input=text_input)
    return prompts


async def run_pooling(
    engine: Engine, http: HTTPRequest, *, prompt: str, prompt_tokens: int, outputs: int
) -> bool:
    """One pass through the engine: a slot, the prefill time, then done (no token is generated).

    ``outputs`` is the number of prompts the request became: vLLM counts each as a finished request.
    ``False`` when the client left before the answer, which is then not sent.
    """
    admission = await engine.admit(
        http.watch,
        prompt=prompt,
        prompt_tokens=prompt_tokens,
        max_output_tokens=0,
        extra_delay=http.extra_delay,
    )
    if admission is None:
        return False
    try:
        alive = await http.watch.sleep(admission.time_to_first_token)
    except BaseException:
        engine.abort(admission, generated_tokens=0)
        raise
    if not alive:
        engine.abort(admission, generated_tokens=0)
        return False
    engine.finish(admission, finish_reasons=["stop"] * outputs, tokens_per_choice=[0] * outputs)
    return True


def created_now() -> int:
    """``created`` of an answer."""
    return int(time.time())
