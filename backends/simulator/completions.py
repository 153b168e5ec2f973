"""``POST /v1/completions``: one or several prompts (text or token ids), ``n`` choices each."""

from __future__ import annotations

import time
from dataclasses import dataclass

from backends.simulator import errors
from backends.simulator.asgi import send_response
from backends.simulator.engine import Admission, Engine
from backends.simulator.generation import (
    ChoiceOutput,
    TokenLogprob,
    choice_rng,
    plan_text_choice,
    token_logprobs,
)
from backends.simulator.protocol import CompletionRequest, decode_request
from backends.simulator.serving import (
    HTTPRequest,
    check_engine_alive,
    check_logprobs_limit,
    check_priority,
    check_sampling,
    encode_json,
    model_validator_error,
    most_choices,
    new_id,
    output_limit,
    resolve_model,
    stop_list,
    usage_object,
)
from backends.simulator.sse import (
    DONE_EVENT,
    CompletionChunks,
    completion_logprobs,
    prompt_logprobs_json,
    stamp_text,
    usage_json,
)
from backends.simulator.streaming import stream_answer
from backends.simulator.tokenizer import Tokenizer, count_tokens, split_pieces


@dataclass(slots=True)
class PromptInput:
    """One prompt of the request, as text and as a token count; ``token_ids`` when sent as ids."""

    text: str
    tokens: int
    token_ids: list[int] | None = None
    text_prompt: bool = True
    logprobs: list[TokenLogprob] | None = None
    """The prompt tokens' logprobs when ``prompt_logprobs`` (or ``echo`` with ``logprobs``) asks."""


@dataclass(slots=True)
class CompletionPlan:
    """Everything decided before any time passes; ``choices[i]`` answers ``prompts[i // n]``."""

    request: CompletionRequest
    model: str
    prompts: list[PromptInput]
    n: int
    choices: list[ChoiceOutput]
    include_usage: bool
    continuous_usage: bool
    fingerprint: str

    @property
    def prompt_tokens(self) -> int:
        """Every prompt counted once, whatever ``n`` is."""
        return sum(prompt.tokens for prompt in self.prompts)

    def echo_prefix(self, index: int) -> str:
        """The prompt text a choice starts with when ``echo`` is set."""
        return self.prompts[index // self.n].text if self.request.echo else ""

    def echoed_logprobs(self, index: int) -> list[TokenLogprob]:
        """The prompt tokens' logprobs that lead a choice's ``logprobs`` (``echo`` with ``logprobs``)."""
        if not self.request.echo or self.request.logprobs is None:
            return []
        return self.prompts[index // self.n].logprobs or []


async def serve_completion(engine: Engine, http: HTTPRequest) -> None:
    """Answer one completion request."""
    plan = plan_completion(engine, http)
    failed = engine.draw_failure()
    if failed and not plan.request.stream:
        engine.record_failure()
        raise errors.internal_error()
    admission = await engine.admit(
        http.watch,
        prompt="".join(prompt.text for prompt in plan.prompts),
        prompt_tokens=plan.prompt_tokens,
        max_output_tokens=max(choice.num_tokens for choice in plan.choices),
        extra_delay=http.extra_delay,
        priority=plan.request.priority,
    )
    if admission is None:
        return
    if plan.request.stream:
        await stream_answer(
            engine, http, admission, plan.choices, CompletionStreamEvents(engine, plan), failed=failed
        )
    else:
        await _respond(engine, http, plan, admission)


def plan_completion(engine: Engine, http: HTTPRequest) -> CompletionPlan:
    """Validate the request and decide every choice."""
    settings = engine.settings
    request = decode_request(http.body, CompletionRequest)
    _check_request_model(request)
    model = resolve_model(engine, request.model, "generation")
    check_engine_alive(engine)
    check_priority(engine, request.priority)
    max_model_len = settings.max_model_len
    prompts = _prompt_inputs(engine.tokenizer, http.body, request)
    for prompt in prompts:
        if prompt.text_prompt:
            errors.check_prompt_characters(prompt.text, max_model_len)
        if prompt.tokens > max_model_len:
            raise errors.context_length_exceeded(max_model_len, prompt.tokens, text=prompt.text_prompt)
    echo_only = bool(request.echo) and request.max_tokens == 0
    # The shortest room decides, as vLLM clamps each prompt's limit and checks it.
    room = min(max_model_len - prompt.tokens for prompt in prompts)
    max_tokens = (
        1
        if echo_only
        else output_limit(request.max_tokens, "max_tokens", room=room, max_model_len=max_model_len)
    )
    check_sampling(
        n=request.n,
        temperature=request.temperature,
        top_p=request.top_p,
        max_tokens=room if max_tokens is None else max_tokens,
        most_n=most_choices(settings),
    )
    check_logprobs_limit(request.logprobs)
    # vLLM returns the prompt's logprobs when asked, and with ``echo`` it takes ``logprobs`` for it.
    prompt_logprobs = request.prompt_logprobs
    if prompt_logprobs is None and request.echo:
        prompt_logprobs = request.logprobs
    stops = stop_list(request.stop)
    choices = []
    for prompt in prompts:
        echo_pieces = split_pieces(prompt.text) if settings.mode == "echo" else []
        if prompt_logprobs is not None:
            prompt_rng = choice_rng(settings.seed, request.seed, prompt.text, -1)
            prompt.logprobs = token_logprobs(prompt_rng, split_pieces(prompt.text), max(prompt_logprobs, 1))
        for sample in range(request.n):
            rng = choice_rng(settings.seed, request.seed, prompt.text, sample)
            choice = plan_text_choice(
                rng,
                mode=settings.mode,
                echo_pieces=echo_pieces,
                max_tokens=max_tokens,
                room=max_model_len - prompt.tokens,
                stops=stops,
                include_stop=request.include_stop_str_in_output,
                top_logprobs=request.logprobs,
            )
            if echo_only:
                choice = ChoiceOutput([], "length", 0)
            choices.append(choice)
    options = request.stream_options
    include_usage = bool(request.stream and options is not None and options.include_usage)
    continuous = include_usage and bool(options is not None and options.continuous_usage_stats)
    return CompletionPlan(
        request, model, prompts, request.n, choices, include_usage, continuous, engine.system_fingerprint
    )


def _check_request_model(request: CompletionRequest) -> None:
    """The model validators of vLLM's ``CompletionRequest``."""
    if request.logprobs is not None and request.logprobs < 0:
        raise model_validator_error("`logprobs` must be a positive value.", "logprobs")
    if request.stream_options is not None and not request.stream:
        raise model_validator_error(
            "Stream options can only be defined when `stream=True`.", "stream_options"
        )
    if request.prompt is None or request.prompt == "" or request.prompt == []:
        raise model_validator_error(
            "Either prompt or prompt_embeds must be provided and non-empty.", "prompt"
        )


def _prompt_inputs(tokenizer: Tokenizer, body: bytes, request: CompletionRequest) -> list[PromptInput]:
    """The prompts of ``prompt``: a string, strings, token ids, or lists of token ids."""
    bos = 1 if request.add_special_tokens else 0
    prompt = request.prompt
    if isinstance(prompt, str):
        return [PromptInput(prompt, count_tokens(prompt) + bos)]
    assert prompt is not None  # checked by _check_request_model
    if all(isinstance(item, str) for item in prompt):
        return [PromptInput(text, count_tokens(text) + bos) for text in prompt]
    if all(isinstance(item, int) and not isinstance(item, bool) for item in prompt):
        return [_token_prompt(tokenizer, prompt)]
    if all(isinstance(item, list) and item for item in prompt):
        return [_token_prompt(tokenizer, item) for item in prompt]
    raise errors.request_validation_failed(
        [
            {
                "type": "union_tag_invalid",
                "loc": ("body", "prompt"),
                "msg": "Input should be a string, a list of strings, a list of token ids or a list of lists of token ids",
                "input": prompt,
            }
        ]
    )


def _token_prompt(tokenizer: Tokenizer, token_ids: list[object]) -> PromptInput:
    ids = []
    for token_id in token_ids:
        if not isinstance(token_id, int) or isinstance(token_id, bool):
            raise errors.bad_request("Token ids must be integers.", "prompt")
        if not 0 <= token_id < tokenizer.vocab_size:
            raise errors.bad_request(f"Token id {token_id} is out of vocabulary")
        ids.append(token_id)
    return PromptInput(tokenizer.decode(ids), len(ids), ids, text_prompt=False)


async def _respond(engine: Engine, http: HTTPRequest, plan: CompletionPlan, admission: Admission) -> None:
    """Wait the whole generation time once, then send the ``text_completion``."""
    choices = plan.choices
    longest = max(choice.num_tokens for choice in choices)
    decode_time = admission.inter_token_latency * max(longest - 1, 0)
    try:
        alive = await http.watch.sleep(admission.time_to_first_token + decode_time)
    except BaseException:
        engine.abort(admission, generated_tokens=0, choices=len(choices))
        raise
    if not alive:
        engine.abort(admission, generated_tokens=0, choices=len(choices))
        return
    if engine.is_dead():
        engine.fail(admission)
        raise errors.engine_dead()
    engine.first_token(admission, at=time.monotonic() - decode_time)
    engine.finish(
        admission,
        finish_reasons=[choice.finish_reason for choice in choices],
        tokens_per_choice=[choice.num_tokens for choice in choices],
    )
    response_choices = []
    for index, choice in enumerate(choices):
        prefix = plan.echo_prefix(index)
        echoed = plan.echoed_logprobs(index)
        prompt_entries = plan.prompts[index // plan.n].logprobs
        logprobs = None
        if choice.logprobs is not None:
            logprobs = completion_logprobs(choice.logprobs, 0 if echoed else len(prefix), echoed)
        response_choices.append(
            {
                "index": index,
                "text": prefix + choice.text,
                "logprobs": logprobs,
                "finish_reason": choice.finish_reason,
                "stop_reason": choice.stop_reason,
                "token_ids": None,
                "prompt_logprobs": (
                    prompt_logprobs_json(engine.tokenizer, prompt_entries)
                    if prompt_entries is not None
                    else None
                ),
                "prompt_token_ids": None,
                "routed_experts": None,
            }
        )
    body = encode_json(
        {
            "id": new_id("cmpl"),
            "object": "text_completion",
            "created": int(time.time()),
            "model": plan.model,
            "choices": response_choices,
            "service_tier": None,
            "system_fingerprint": plan.fingerprint,
            "usage": usage_object(plan.prompt_tokens, sum(choice.num_tokens for choice in choices)),
            "kv_transfer_params": None,
            "ec_transfer_params": None,
            "metrics": None,
        }
    )
    await send_response(http.send, 200, body)


class CompletionStreamEvents:
    """``text_completion`` chunks: one per token, an echoed prompt leading a choice's first one."""

    terminator = DONE_EVENT
    empty_choice_sends_an_event = True

    def __init__(self, engine: Engine, plan: CompletionPlan) -> None:
        self._engine = engine
        self._plan = plan
        self._choices = plan.choices
        self._chunks = CompletionChunks(new_id("cmpl"), int(time.time()), plan.model, plan.fingerprint)
        self._prompt_tokens = plan.prompt_tokens
        self._stamp = engine.settings.stamp_events
        self._lasts = [max(len(choice.pieces), 1) - 1 for choice in plan.choices]
        # Characters each choice has sent so far: where its next token's ``text_offset`` starts.
        self._offsets = [0] * len(plan.choices)

    def prelude(self) -> list[bytes]:
        return []

    def opening(self) -> list[bytes]:
        return []

    def content_opening(self) -> list[bytes]:
        return []

    def token(self, index: int, step: int) -> bytes:
        plan = self._plan
        choice = self._choices[index]
        final = step == self._lasts[index]
        piece = choice.pieces[step] if choice.pieces else ""
        if choice.pieces and self._stamp:
            piece = stamp_text()
        prefix = plan.echo_prefix(index) if step == 0 else ""
        logprobs = None
        if choice.logprobs is not None and choice.pieces:
            # An echoed prompt's first chunk leads with the prompt's own logprobs.
            echoed = plan.echoed_logprobs(index) if step == 0 else None
            entry_offset = self._offsets[index] + (0 if echoed else len(prefix))
            logprobs = encode_json(completion_logprobs([choice.logprobs[step]], entry_offset, echoed))
        text = prefix + piece
        self._offsets[index] += len(text)
        usage = None
        if plan.continuous_usage:
            # Before its last chunk a choice has sent one token per step.
            generated = choice.num_tokens if final else step + 1
            usage = usage_json(self._prompt_tokens, generated)
        return self._chunks.text(
            index,
            text,
            logprobs=logprobs,
            finish_reason=choice.finish_reason if final else None,
            stop_reason=choice.stop_reason if final else None,
            usage=usage,
            # An echoed prompt's first chunk names its token ids.
            prompt_token_ids=_prompt_token_ids(self._engine, plan, index) if prefix else b"null",
            fingerprint=final and not plan.include_usage,
        )

    def closing(self) -> list[bytes]:
        if not self._plan.include_usage:
            return []
        return [self._chunks.usage(self._prompt_tokens, sum(choice.num_tokens for choice in self._choices))]

    def error_event(self, error: errors.SimulatorHTTPError) -> bytes:
        return errors.streaming_error_event(error)


def _prompt_token_ids(engine: Engine, plan: CompletionPlan, index: int) -> bytes:
    prompt = plan.prompts[index // plan.n]
    if prompt.token_ids is not None:
        return encode_json(prompt.token_ids)
    return encode_json(engine.tokenizer.encode(prompt.text, add_bos=plan.request.add_special_tokens))
