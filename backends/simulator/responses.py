"""``POST /v1/responses``: the OpenAI Responses API as vLLM 0.32 serves it.

With ``--enable-responses-store`` (vLLM's ``VLLM_ENABLE_RESPONSES_API_STORE=1``) answers asked with
``store`` are kept (``responses_store.py``), ``previous_response_id`` must name one of them, and a
non-streamed ``background`` request answers ``queued`` at once and runs on its own.

The simulated server behaves like vLLM started with ``--enable-auto-tool-choice`` and a tool parser:
answers go through the parser, so an empty answer has no output item at all, and a function call is
a ``function_call`` item. Streams send ``response.created`` and ``response.in_progress`` as soon as
the request runs, then the items' events, then ``response.completed`` (even when ``max_output_tokens``
cut the answer: the response it carries then says ``incomplete``); there is no ``[DONE]``.
"""

from __future__ import annotations

import asyncio
import os
import random
import time
from dataclasses import dataclass
from typing import Any

from backends.simulator import errors
from backends.simulator.asgi import send_response
from backends.simulator.chat_template import render_chat_prompt
from backends.simulator.engine import Admission, Engine
from backends.simulator.generation import (
    ChoiceOutput,
    ToolCallOutput,
    choice_rng,
    plan_text_choice,
    tool_arguments,
)
from backends.simulator.protocol import ChatTool, FunctionDefinition, decode_request
from backends.simulator.responses_objects import (
    ResponseEvents,
    ResponseHead,
    delta_logprobs,
    function_call_item,
    message_item,
    output_logprobs,
    output_text,
    usage_object,
)
from backends.simulator.responses_protocol import (
    ResponsesRequest,
    check_responses_request,
    function_tools,
    input_messages,
    last_user_input,
)
from backends.simulator.responses_store import response_not_found
from backends.simulator.serving import (
    HTTPRequest,
    check_engine_alive,
    check_logprobs_limit,
    check_priority,
    check_sampling,
    encode_json,
    most_choices,
    new_id,
    output_limit,
    resolve_model,
    stop_list,
)
from backends.simulator.sse import stamp_text
from backends.simulator.streaming import stream_answer
from backends.simulator.tokenizer import count_tokens, split_pieces

MIN_TEMPERATURE = 0.01
"""vLLM raises smaller positive temperatures to this (its ``_MAX_TEMP``), against NaNs in sampling."""
GREEDY_TEMPERATURE = 1e-5
"""Below this vLLM samples greedily and resets ``top_p`` to 1.0."""

BACKGROUND_STREAM_UNSIMULATED = (
    "The simulator does not replay background streams; send background requests without `stream`."
)
BACKGROUND_UNSUPPORTED = (
    "This vLLM engine does not support `store=True` and therefore does not support the background "
    "mode. To enable these features, set the environment variable `VLLM_ENABLE_RESPONSES_API_STORE=1` "
    "when launching the vLLM server."
)


@dataclass(slots=True)
class ResponsesPlan:
    """Everything decided before any time passes."""

    request: ResponsesRequest
    head: ResponseHead
    prompt: str
    prompt_tokens: int
    answer: ChoiceOutput
    top_logprobs: int | None
    """Alternatives per token when ``include`` asks for logprobs, else ``None``."""

    @property
    def status(self) -> str:
        """``incomplete`` when the answer hit ``max_output_tokens`` (or the context), else ``completed``."""
        return "incomplete" if self.answer.finish_reason == "length" else "completed"


def item_id(prefix: str) -> str:
    """``<prefix>_<16 hex>``: vLLM's Responses ids (``resp_``, ``msg_``, ``fc_``) use an underscore."""
    return f"{prefix}_{os.urandom(8).hex()}"


async def serve_responses(engine: Engine, http: HTTPRequest) -> None:
    """Answer one Responses API request."""
    plan = plan_response(engine, http)
    failed = engine.draw_failure()
    if failed and not plan.request.stream:
        engine.record_failure()
        raise errors.internal_error()
    admission = await engine.admit(
        http.watch,
        prompt=plan.prompt,
        prompt_tokens=plan.prompt_tokens,
        max_output_tokens=plan.answer.num_tokens,
        extra_delay=http.extra_delay,
        priority=plan.request.priority,
    )
    if admission is None:
        return
    if plan.request.background:
        await _start_in_background(engine, http, plan, admission)
    elif plan.request.stream:
        await stream_answer(
            engine,
            http,
            admission,
            [plan.answer],
            ResponseStreamEvents(engine, plan, admission),
            failed=failed,
        )
    else:
        await _respond(engine, http, plan, admission)


def plan_response(engine: Engine, http: HTTPRequest) -> ResponsesPlan:
    """Validate the request in vLLM's order and decide the answer (raises the error vLLM would send)."""
    settings = engine.settings
    request = decode_request(http.body, ResponsesRequest)
    check_responses_request(request)
    model = resolve_model(engine, request.model, "generation")
    stored = engine.stored_responses
    if request.background and not stored.enabled:
        # vLLM keeps no responses unless VLLM_ENABLE_RESPONSES_API_STORE is set, so it cannot run one later.
        raise errors.openai_error(400, BACKGROUND_UNSUPPORTED, "invalid_request_error", "background")
    if request.background and request.stream:
        raise errors.openai_error(400, BACKGROUND_STREAM_UNSIMULATED, "invalid_request_error", "background")
    check_engine_alive(engine)
    check_priority(engine, request.priority)
    if request.previous_response_id is not None and stored.get(request.previous_response_id) is None:
        # Only this server's store is asked: a response kept by another server is unknown here.
        raise response_not_found(request.previous_response_id)
    tools = function_tools(request)
    prompt = render_chat_prompt(input_messages(request), tools)
    errors.check_prompt_characters(prompt, settings.max_model_len)
    prompt_tokens = count_tokens(prompt)
    _check_prompt_length(prompt_tokens, settings.max_model_len)
    room = settings.max_model_len - prompt_tokens
    limit = output_limit(
        request.max_output_tokens, "max_output_tokens", room=room, max_model_len=settings.max_model_len
    )
    max_tokens = room if limit is None else limit
    check_sampling(
        n=1,
        temperature=request.temperature,
        top_p=request.top_p,
        max_tokens=max_tokens,
        most_n=most_choices(settings),
    )
    top_logprobs = (request.top_logprobs or 0) if request.wants_logprobs else None
    check_logprobs_limit(top_logprobs)

    user_text = last_user_input(request)
    rng = choice_rng(settings.seed, request.seed, prompt, 0)
    tool = _decide_tool(request, tools, user_text)
    if tool is not None:
        answer = _tool_answer(rng, tool, max_tokens)
    else:
        answer = plan_text_choice(
            rng,
            mode=settings.mode,
            echo_pieces=split_pieces(user_text) if settings.mode == "echo" else [],
            max_tokens=limit,
            room=room,
            stops=stop_list(request.stop),
            include_stop=request.include_stop_str_in_output,
            top_logprobs=top_logprobs,
        )
    temperature, top_p = sampling_temperature_top_p(request.temperature, request.top_p)
    head = ResponseHead(item_id("resp"), int(time.time()), model, request, max_tokens, temperature, top_p)
    return ResponsesPlan(request, head, prompt, prompt_tokens, answer, top_logprobs)


def _check_prompt_length(prompt_tokens: int, max_model_len: int) -> None:
    """The renderer refuses a prompt longer than the context (the message every route shares); the
    Responses route itself then refuses one that fills it exactly, in its own words."""
    if prompt_tokens > max_model_len:
        raise errors.context_length_exceeded(max_model_len, prompt_tokens)
    if prompt_tokens == max_model_len:
        raise errors.openai_error(
            400,
            f"The engine prompt length {prompt_tokens} exceeds the max_model_len {max_model_len}. "
            "Please reduce prompt.",
            "invalid_request_error",
            "input",
        )


def sampling_temperature_top_p(temperature: float | None, top_p: float | None) -> tuple[float, float]:
    """What vLLM's ``SamplingParams`` makes of them (and the response echoes): defaults 1.0, a tiny
    temperature raised to 0.01, and ``top_p`` 1.0 for greedy sampling."""
    temperature = 1.0 if temperature is None else temperature
    if 0 < temperature < MIN_TEMPERATURE:
        temperature = MIN_TEMPERATURE
    top_p = 1.0 if top_p is None or temperature < GREEDY_TEMPERATURE else top_p
    return temperature, top_p


def _decide_tool(
    request: ResponsesRequest, tools: list[ChatTool], user_text: str
) -> FunctionDefinition | None:
    """The function the model calls: the named one, one the user mentions, or (``required``) the first."""
    choice = request.tool_choice
    if isinstance(choice, dict):
        if choice.get("type") != "function":
            return None
        return next((tool.function for tool in tools if tool.function.name == choice.get("name")), None)
    if choice == "none" or not tools:
        return None
    lowered = user_text.lower()
    mentioned = next((tool.function for tool in tools if tool.function.name.lower() in lowered), None)
    if choice == "required":
        return mentioned or tools[0].function
    return mentioned


def _tool_answer(rng: random.Random, function: FunctionDefinition, max_tokens: int) -> ChoiceOutput:
    """A call of ``function`` with arguments fitting its schema, cut at ``max_tokens`` tokens."""
    pieces = split_pieces(tool_arguments(rng, function.parameters))
    finish_reason = "stop"
    if len(pieces) > max_tokens:
        pieces = pieces[:max_tokens]
        finish_reason = "length"
    # vLLM's tool parsers name calls like chat completions do: chatcmpl-tool-<16 hex>.
    call = ToolCallOutput(new_id("chatcmpl-tool"), function.name, "".join(pieces))
    return ChoiceOutput(pieces, finish_reason, len(pieces), None, call, None)


def _usage(plan: ResponsesPlan, admission: Admission) -> dict[str, Any]:
    return usage_object(plan.prompt_tokens, admission.cached_prompt_tokens, plan.answer.num_tokens)


def _output_items(plan: ResponsesPlan) -> list[dict[str, Any]]:
    """The output of a non-streamed response, as vLLM's parser path builds it."""
    answer = plan.answer
    status = plan.status
    call = answer.tool_call
    if call is not None:
        return [function_call_item(item_id("fc"), call.call_id, call.name, call.arguments, status)]
    if not answer.pieces:
        return []
    logprobs = (
        output_logprobs(answer.logprobs, plan.top_logprobs)
        if answer.logprobs is not None and plan.top_logprobs is not None
        else None
    )
    # vLLM 0.32 marks a message item completed even when the response is incomplete.
    return [message_item(item_id("msg"), "completed", [output_text(answer.text, logprobs)])]


async def _respond(engine: Engine, http: HTTPRequest, plan: ResponsesPlan, admission: Admission) -> None:
    """Wait the whole generation time once, then send the complete response object."""
    tokens = plan.answer.num_tokens
    decode_time = admission.inter_token_latency * max(tokens - 1, 0)
    try:
        alive = await http.watch.sleep(admission.time_to_first_token + decode_time)
    except BaseException:
        engine.abort(admission, generated_tokens=0)
        raise
    if not alive:
        engine.abort(admission, generated_tokens=0)
        return
    if engine.is_dead():
        engine.fail(admission)
        raise errors.engine_dead()
    engine.first_token(admission, at=time.monotonic() - decode_time)
    engine.finish(admission, finish_reasons=[plan.answer.finish_reason], tokens_per_choice=[tokens])
    body = plan.head.render(plan.status, _output_items(plan), _usage(plan, admission))
    if engine.stored_responses.keeps(plan.request.store):
        engine.stored_responses.keep(body)
    await send_response(http.send, 200, encode_json(body))


async def _start_in_background(
    engine: Engine, http: HTTPRequest, plan: ResponsesPlan, admission: Admission
) -> None:
    """Answer the ``queued`` response at once and generate on a task of its own, as vLLM does: the
    finished response replaces the queued one in the store unless it was cancelled meanwhile."""
    queued = plan.head.render("queued", [], None)
    stored = engine.stored_responses
    stored.keep(queued)
    task = asyncio.get_running_loop().create_task(_generate_in_background(engine, plan, admission))
    stored.run_in_background(plan.head.response_id, task)
    await send_response(http.send, 200, encode_json(queued))


async def _generate_in_background(engine: Engine, plan: ResponsesPlan, admission: Admission) -> None:
    tokens = plan.answer.num_tokens
    decode_time = admission.inter_token_latency * max(tokens - 1, 0)
    try:
        # Nobody waits on the connection: a cancel (the task cancelled) is the only way to stop it.
        await asyncio.sleep(admission.time_to_first_token + decode_time)
    except asyncio.CancelledError:
        engine.abort(admission, generated_tokens=0)
        raise
    if engine.is_dead():
        engine.fail(admission)
        failed = engine.stored_responses.get(plan.head.response_id)
        if failed is not None and failed["status"] not in ("completed", "cancelled"):
            failed["status"] = "failed"
        return
    engine.first_token(admission, at=time.monotonic() - decode_time)
    engine.finish(admission, finish_reasons=[plan.answer.finish_reason], tokens_per_choice=[tokens])
    engine.stored_responses.keep(plan.head.render(plan.status, _output_items(plan), _usage(plan, admission)))


class ResponseStreamEvents:
    """Responses API events, numbered from 0: ``response.created`` and ``response.in_progress`` before
    the first token, then the one output item a stream builds (its open, per-token and close events),
    then ``response.completed``.

    With ``--stamp-events``, each text delta is its send time instead of the planned token, and the
    closing events carry the stamps sent, so that the text stays the concatenation of its deltas.
    """

    terminator = b""
    empty_choice_sends_an_event = False

    def __init__(self, engine: Engine, plan: ResponsesPlan, admission: Admission) -> None:
        self._plan = plan
        self._admission = admission
        self._stored = engine.stored_responses
        self._events = ResponseEvents()
        self._call = plan.answer.tool_call
        self._pieces = plan.answer.pieces
        self._token_logprobs = plan.answer.logprobs
        self._top_logprobs = plan.top_logprobs
        self._id = item_id("fc" if self._call is not None else "msg")
        self._logprobs: list[dict[str, Any]] = []
        self._stamped: list[str] | None = [] if engine.settings.stamp_events and self._call is None else None

    def prelude(self) -> list[bytes]:
        # vLLM sends these two before the engine produces anything.
        in_progress = self._plan.head.render("in_progress", [], None)
        events = self._events
        return [
            events.response_event("response.created", in_progress),
            events.response_event("response.in_progress", in_progress),
        ]

    def opening(self) -> list[bytes]:
        # An empty answer has no output item at all.
        if not self._plan.answer.pieces:
            return []
        call = self._call
        if call is not None:
            item = function_call_item(self._id, call.call_id, call.name, "", "in_progress")
            return [self._events.open_call(0, item)]
        return self._events.open_text(0, self._id)

    def content_opening(self) -> list[bytes]:
        # The item opens in ``opening``: a failed Responses stream ends before that, at the first token.
        return []

    def token(self, index: int, step: int) -> bytes:
        piece = self._pieces[step]
        if self._call is not None:
            return self._events.call_delta(0, self._id, piece)
        logprobs = None
        if self._token_logprobs is not None and self._top_logprobs is not None:
            entries = output_logprobs([self._token_logprobs[step]], self._top_logprobs)
            self._logprobs.extend(entries)
            logprobs = delta_logprobs(entries)
        if self._stamped is not None:
            # Taken last, right before the event is encoded and sent.
            piece = stamp_text()
            self._stamped.append(piece)
        return self._events.text_delta(piece, logprobs)

    def closing(self) -> list[bytes]:
        """The item's closing events, then ``response.completed`` listing the finished item. vLLM 0.32
        ends every finished stream so, an incomplete response too."""
        plan = self._plan
        closing: list[bytes] = []
        output = []
        if plan.answer.pieces:
            item, closing = self._close_item()
            output.append(item)
        final = plan.head.render(plan.status, output, _usage(plan, self._admission))
        if self._stored.keeps(plan.request.store):
            # Kept before the last event leaves, so a GET right after the stream finds it.
            self._stored.keep(final)
        return [*closing, self._events.response_event("response.completed", final)]

    def _close_item(self) -> tuple[dict[str, Any], list[bytes]]:
        """The finished item (as the final response lists it) and its closing events."""
        answer = self._plan.answer
        status = self._plan.status
        call = self._call
        if call is not None:
            item = function_call_item(self._id, call.call_id, call.name, call.arguments, status)
            return item, self._events.close_call(0, item)
        text = answer.text if self._stamped is None else "".join(self._stamped)
        part = output_text(text, self._logprobs or None)
        item = message_item(self._id, "completed", [part])
        return item, self._events.close_text(0, item, part)

    def error_event(self, error: errors.SimulatorHTTPError) -> None:
        """None: vLLM turns an engine error into a JSON body that fits no Responses event type, the
        validation error escapes the stream, and the server drops the connection after the events
        already sent (no error event, no ``response.failed``)."""
