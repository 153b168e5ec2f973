"""``POST /v1/chat/completions``: validate like vLLM, decide the answer, then stream it or send it whole."""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from typing import Literal

from msgspec import UNSET

from backends.simulator import errors
from backends.simulator.asgi import send_response
from backends.simulator.chat_template import last_user_text, render_chat_prompt
from backends.simulator.engine import Admission, Engine
from backends.simulator.generation import (
    ChoiceOutput,
    ToolCallOutput,
    choice_rng,
    plan_text_choice,
    token_logprobs,
    tool_arguments,
)
from backends.simulator.protocol import ChatCompletionRequest, FunctionDefinition, decode_request
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
    CHAT_CHUNK_USAGE_DETAILS,
    DONE_EVENT,
    ChatChunks,
    chat_logprob_entry,
    chat_logprobs_json,
    content_delta,
    stamp_text,
    tool_call_delta,
    usage_json,
)
from backends.simulator.streaming import stream_answer
from backends.simulator.tokenizer import count_tokens, split_pieces


@dataclass(slots=True)
class ToolDecision:
    """The tool the simulated model calls, and which ``tool_choice`` made it do so."""

    function: FunctionDefinition
    choice_kind: Literal["named", "required", "auto"]


@dataclass(slots=True)
class ChatPlan:
    """Everything decided before any time passes."""

    request: ChatCompletionRequest
    model: str
    prompt: str
    prompt_tokens: int
    choices: list[ChoiceOutput]
    tool: ToolDecision | None
    include_usage: bool
    continuous_usage: bool


async def serve_chat(engine: Engine, http: HTTPRequest) -> None:
    """Answer one chat completion request."""
    plan = plan_chat(engine, http)
    failed = engine.draw_failure()
    if failed and not plan.request.stream:
        engine.record_failure()
        raise errors.internal_error()
    admission = await engine.admit(
        http.watch,
        prompt=plan.prompt,
        prompt_tokens=plan.prompt_tokens,
        max_output_tokens=max(choice.num_tokens for choice in plan.choices),
        extra_delay=http.extra_delay,
        priority=plan.request.priority,
    )
    if admission is None:
        return
    if plan.request.stream:
        await stream_answer(
            engine, http, admission, plan.choices, ChatStreamEvents(engine, plan), failed=failed
        )
    else:
        await _respond(engine, http, plan, admission)


def plan_chat(engine: Engine, http: HTTPRequest) -> ChatPlan:
    """Validate the request and decide every choice (raises the error vLLM would send)."""
    settings = engine.settings
    request = decode_request(http.body, ChatCompletionRequest)
    _check_request_model(request)
    model = resolve_model(engine, request.model, "generation")
    check_engine_alive(engine)
    check_priority(engine, request.priority)

    prompt = render_chat_prompt(
        request.messages, request.tools, add_generation_prompt=request.add_generation_prompt
    )
    max_model_len = settings.max_model_len
    errors.check_prompt_characters(prompt, max_model_len)
    prompt_tokens = count_tokens(prompt)
    if prompt_tokens > max_model_len:
        raise errors.context_length_exceeded(max_model_len, prompt_tokens)
    room = max_model_len - prompt_tokens
    if request.max_completion_tokens is not None:
        max_tokens = output_limit(
            request.max_completion_tokens, "max_completion_tokens", room=room, max_model_len=max_model_len
        )
    else:
        max_tokens = output_limit(request.max_tokens, "max_tokens", room=room, max_model_len=max_model_len)
    n = 1 if request.n is None else request.n
    check_sampling(
        n=n,
        temperature=request.temperature,
        top_p=request.top_p,
        max_tokens=room if max_tokens is None else max_tokens,
        most_n=most_choices(settings),
    )
    top_logprobs = (request.top_logprobs or 0) if request.logprobs else None
    check_logprobs_limit(top_logprobs)

    user_text = last_user_text(request.messages)
    tool = _decide_tool(request, user_text)
    echo_pieces = split_pieces(user_text) if settings.mode == "echo" and tool is None else []
    stops = stop_list(request.stop)
    choices = []
    for index in range(n):
        rng = choice_rng(settings.seed, request.seed, prompt, index)
        if tool is not None:
            choices.append(_tool_choice(rng, tool, max_tokens, room, top_logprobs))
        else:
            choices.append(
                plan_text_choice(
                    rng,
                    mode=settings.mode,
                    echo_pieces=echo_pieces,
                    max_tokens=max_tokens,
                    room=room,
                    stops=stops,
                    include_stop=request.include_stop_str_in_output,
                    top_logprobs=top_logprobs,
                )
            )
    options = request.stream_options
    include_usage = bool(request.stream and options is not None and options.include_usage)
    continuous = include_usage and bool(options is not None and options.continuous_usage_stats)
    return ChatPlan(request, model, prompt, prompt_tokens, choices, tool, include_usage, continuous)


def _check_request_model(request: ChatCompletionRequest) -> None:
    """The model validators of vLLM's ``ChatCompletionRequest``."""
    top_logprobs = request.top_logprobs
    if top_logprobs is not None:
        if top_logprobs < 0 and top_logprobs != -1:
            raise errors.bad_request(
                "`top_logprobs` must be a positive value or -1.", "top_logprobs", top_logprobs
            )
        if top_logprobs > 0 and not request.logprobs:
            raise model_validator_error(
                "when using `top_logprobs`, `logprobs` must be set to true.", "top_logprobs"
            )
    if request.stream_options is not None and not request.stream:
        raise model_validator_error(
            "Stream options can only be defined when `stream=True`.", "stream_options"
        )
    choice = request.tool_choice
    if choice is UNSET or choice is None or choice == "none":
        return
    if not request.tools:
        raise model_validator_error("When using `tool_choice`, `tools` must be set.", "tool_choice")
    if isinstance(choice, str) and choice not in ("auto", "required"):
        raise errors.request_validation_failed(
            [
                {
                    "type": "literal_error",
                    "loc": ("body", "tool_choice"),
                    "msg": "Input should be 'none', 'auto' or 'required'",
                    "input": choice,
                    "ctx": {"expected": "'none', 'auto' or 'required'"},
                }
            ]
        )
    if isinstance(choice, dict):
        function = choice.get("function")
        name = function.get("name") if isinstance(function, dict) else None
        if not any(tool.function.name == name for tool in request.tools):
            raise model_validator_error(
                "The tool specified in `tool_choice` does not match any of the specified `tools`",
                "tool_choice",
            )


def _decide_tool(request: ChatCompletionRequest, user_text: str) -> ToolDecision | None:
    """Which tool the model calls: the named one, one mentioned by the user, or (required) the first."""
    tools = request.tools
    if not tools:
        return None
    choice = request.tool_choice
    if isinstance(choice, dict):
        function = choice.get("function")
        name = function.get("name") if isinstance(function, dict) else None
        named = next(tool.function for tool in tools if tool.function.name == name)
        return ToolDecision(named, "named")
    if choice == "none":
        return None
    lowered = user_text.lower()
    mentioned = next((tool.function for tool in tools if tool.function.name.lower() in lowered), None)
    if choice == "required":
        return ToolDecision(mentioned or tools[0].function, "required")
    return ToolDecision(mentioned, "auto") if mentioned is not None else None


def _tool_choice(
    rng: random.Random, tool: ToolDecision, max_tokens: int | None, room: int, top_logprobs: int | None
) -> ChoiceOutput:
    """A choice that calls ``tool`` with arguments fitting its schema."""
    arguments = tool_arguments(rng, tool.function.parameters)
    pieces = split_pieces(arguments)
    limit = room if max_tokens is None else min(max_tokens, room)
    if len(pieces) > limit:
        pieces = pieces[:limit]
        finish_reason = "length"
    else:
        # OpenAI (and vLLM) end a named-function call with "stop", "auto"/"required" calls with "tool_calls".
        finish_reason = "stop" if tool.choice_kind == "named" else "tool_calls"
    call = ToolCallOutput(new_id("chatcmpl-tool"), tool.function.name, "".join(pieces))
    logprobs = token_logprobs(rng, pieces, top_logprobs) if top_logprobs is not None else None
    return ChoiceOutput(pieces, finish_reason, len(pieces), None, call, logprobs)


async def _respond(engine: Engine, http: HTTPRequest, plan: ChatPlan, admission: Admission) -> None:
    """Wait the whole generation time once, then send the complete ``chat.completion``."""
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
        finish_reasons=[choice.engine_finish_reason for choice in choices],
        tokens_per_choice=[choice.num_tokens for choice in choices],
    )
    completion_tokens = sum(choice.num_tokens for choice in choices)
    body = encode_json(
        {
            "id": new_id("chatcmpl"),
            "object": "chat.completion",
            "created": int(time.time()),
            "model": plan.model,
            "choices": [_response_choice(plan, index, choice) for index, choice in enumerate(choices)],
            "service_tier": None,
            "system_fingerprint": engine.system_fingerprint,
            "usage": usage_object(plan.prompt_tokens, completion_tokens),
            "prompt_logprobs": None,
            "prompt_token_ids": None,
            "prompt_text": None,
            "kv_transfer_params": None,
            "ec_transfer_params": None,
            "metrics": None,
        }
    )
    await send_response(http.send, 200, body)


def _response_choice(plan: ChatPlan, index: int, choice: ChoiceOutput) -> dict[str, object]:
    call = choice.tool_call
    if call is not None:
        # A forced call ("required" or named) has empty content; a parsed "auto" call has none.
        content: str | None = None if plan.tool is not None and plan.tool.choice_kind == "auto" else ""
        tool_calls: list[dict[str, object]] = [
            {
                "id": call.call_id,
                "type": "function",
                "function": {"name": call.name, "arguments": call.arguments},
            }
        ]
        message: dict[str, object] = {
            "role": "assistant",
            "content": content,
            "refusal": None,
            "annotations": None,
            "audio": None,
            "function_call": None,
            "tool_calls": tool_calls,
            "reasoning": None,
        }
    else:
        # vLLM 0.32 leaves ``tool_calls`` out of a message that calls no tool.
        message = {
            "role": "assistant",
            "content": choice.text,
            "refusal": None,
            "annotations": None,
            "audio": None,
            "function_call": None,
            "reasoning": None,
        }
    return {
        "index": index,
        "message": message,
        "logprobs": (
            {"content": [chat_logprob_entry(entry) for entry in choice.logprobs]}
            if choice.logprobs is not None
            else None
        ),
        "finish_reason": choice.finish_reason,
        "stop_reason": choice.stop_reason,
        "token_ids": None,
        "routed_experts": None,
    }


class ChatStreamEvents:
    """``chat.completion.chunk`` events: a role chunk per choice, then one chunk per token."""

    terminator = DONE_EVENT
    empty_choice_sends_an_event = True

    def __init__(self, engine: Engine, plan: ChatPlan) -> None:
        self._plan = plan
        self._choices = plan.choices
        self._chunks = ChatChunks(new_id("chatcmpl"), int(time.time()), plan.model, engine.system_fingerprint)
        self._prompt_tokens = plan.prompt_tokens
        self._continuous = plan.continuous_usage
        self._stamp = engine.settings.stamp_events
        self._lasts = [max(len(choice.pieces), 1) - 1 for choice in plan.choices]
        # vLLM indexes a named-function call by choice, a parsed ("auto"/"required") call by its position.
        self._call_by_choice = plan.tool is not None and plan.tool.choice_kind == "named"

    def prelude(self) -> list[bytes]:
        return []

    def opening(self) -> list[bytes]:
        chunks = self._chunks
        continuous = self._continuous
        return [
            chunks.role(
                index, usage_json(self._prompt_tokens, 0, CHAT_CHUNK_USAGE_DETAILS) if continuous else None
            )
            for index in range(len(self._choices))
        ]

    def content_opening(self) -> list[bytes]:
        # Nothing more: the role chunks open every choice, a failed request's included.
        return []

    def token(self, index: int, step: int) -> bytes:
        choice = self._choices[index]
        final = step == self._lasts[index]
        piece = choice.pieces[step] if choice.pieces else ""
        call = choice.tool_call
        if call is None:
            # A stamped token's text is its send time; tool-call arguments stay valid JSON, unstamped.
            delta = content_delta(stamp_text() if self._stamp and choice.pieces else piece)
        else:
            call_index = index if self._call_by_choice else 0
            if step == 0:
                delta = tool_call_delta(call_index, piece, call_id=call.call_id, name=call.name)
            else:
                delta = tool_call_delta(call_index, piece)
        logprobs = (
            chat_logprobs_json([choice.logprobs[step]])
            if choice.logprobs is not None and choice.pieces
            else None
        )
        usage = None
        if self._continuous:
            # Before its last chunk a choice has sent one token per step.
            generated = choice.num_tokens if final else step + 1
            usage = usage_json(self._prompt_tokens, generated, CHAT_CHUNK_USAGE_DETAILS)
        return self._chunks.delta(
            index,
            delta,
            logprobs=logprobs,
            finish_reason=choice.finish_reason if final else None,
            stop_reason=choice.stop_reason,
            usage=usage,
            fingerprint=final and not self._plan.include_usage,
        )

    def closing(self) -> list[bytes]:
        if not self._plan.include_usage:
            return []
        return [self._chunks.usage(self._prompt_tokens, sum(choice.num_tokens for choice in self._choices))]

    def error_event(self, error: errors.SimulatorHTTPError) -> bytes:
        return errors.streaming_error_event(error)
