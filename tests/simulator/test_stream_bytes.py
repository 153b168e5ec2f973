"""Every streamed answer pinned byte for byte, with how it was cut into ``send`` calls.

The app is driven in-process through ASGI (no socket), so a recording holds exactly what the
simulator hands the server: the start message, each body message (one HTTP chunk on the wire) and
whether more follow. Random ids, clock values and ``--stamp-events`` stamps are replaced by
placeholders (each distinct id keeps its own, so an id repeated across chunks stays visibly the
same); everything else, answers included, is seeded. The recordings also pin the engine's counters
after the stream (``/sim/stats`` and the ``/metrics`` series that do not measure time), so the
accounting of finished, failed and aborted streams is covered too.

The recordings are in ``stream_recordings/``. After a deliberate change of what streams send, run
this module with ``UPDATE_STREAM_RECORDINGS=1`` to rewrite them, and review the diff.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from backends.simulator import SimulatorSettings
from backends.simulator.app import SimulatorApp
from backends.simulator.asgi import Message
from tests.simulator.conftest import GENERATION_MODEL

RECORDINGS = Path(__file__).with_name("stream_recordings")
UPDATE = os.environ.get("UPDATE_STREAM_RECORDINGS") == "1"

CHAT = "/v1/chat/completions"
COMPLETIONS = "/v1/completions"
RESPONSES = "/v1/responses"
MESSAGES = "/v1/messages"

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather of a city",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string"},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
                "days": {"type": "integer"},
            },
            "required": ["city"],
        },
    },
}
RESPONSES_WEATHER_TOOL = {"type": "function", **WEATHER_TOOL["function"]}  # type: ignore[dict-item]

ITL_MS = 1.0
"""A latency above zero makes every step its own body message, as a real stream is sent."""


@dataclass(frozen=True)
class StreamCase:
    """One streamed request and what happens around it."""

    name: str
    path: str
    body: dict[str, Any]
    settings: dict[str, Any] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    dead_after: int | None = None
    """The engine plays dead once this many body messages have been sent."""
    leave_after: int | None = None
    """The client disconnects once this many body messages have been sent."""
    dies_in_prefill: bool = False
    """The engine plays dead while the request waits for its first token (needs ``ttft_ms`` above 0)."""


def chat(content: str = "Hello there, how are you?", **fields: Any) -> dict[str, Any]:
    return {
        "model": GENERATION_MODEL,
        "messages": [{"role": "user", "content": content}],
        "stream": True,
        **fields,
    }


def completion(prompt: Any = "Once upon a time", **fields: Any) -> dict[str, Any]:
    return {"model": GENERATION_MODEL, "prompt": prompt, "stream": True, **fields}


def response(input_: Any = "Hello there, how are you?", **fields: Any) -> dict[str, Any]:
    return {"model": GENERATION_MODEL, "input": input_, "stream": True, **fields}


def message(
    content: str = "Hello there, how are you?", max_tokens: int = 64, **fields: Any
) -> dict[str, Any]:
    # Anthropic's API requires ``max_tokens``.
    return {
        "model": GENERATION_MODEL,
        "max_tokens": max_tokens,
        "messages": [{"role": "user", "content": content}],
        "stream": True,
        **fields,
    }


USAGE = {"include_usage": True}
CONTINUOUS = {"include_usage": True, "continuous_usage_stats": True}
LATENCY = {"itl_ms": ITL_MS}
PREFILL = {"ttft_ms": 1.0}
NAMED_CHAT_TOOL = {"type": "function", "function": {"name": "get_weather"}}

CASES = [
    # Chat completions.
    StreamCase("chat_plain", CHAT, chat(max_tokens=4, seed=1)),
    StreamCase("chat_natural_n3", CHAT, chat(n=3, seed=2)),
    StreamCase("chat_n2_latency", CHAT, chat(n=2, max_tokens=3, seed=3), LATENCY),
    StreamCase("chat_logprobs", CHAT, chat(max_tokens=3, logprobs=True, top_logprobs=2, seed=4)),
    StreamCase("chat_include_usage", CHAT, chat(max_tokens=5, stream_options=USAGE)),
    StreamCase("chat_continuous_usage_n2", CHAT, chat(n=2, seed=5, stream_options=CONTINUOUS)),
    StreamCase("chat_continuous_usage_tool", CHAT, chat("weather?", tools=[WEATHER_TOOL], tool_choice="required", stream_options=CONTINUOUS)),
    StreamCase("chat_tool_required_n2_logprobs", CHAT, chat("weather?", n=2, tools=[WEATHER_TOOL], tool_choice="required", logprobs=True)),
    StreamCase("chat_tool_named_n2", CHAT, chat("Hi", n=2, tools=[WEATHER_TOOL], tool_choice=NAMED_CHAT_TOOL)),
    StreamCase("chat_tool_auto_cut", CHAT, chat("call get_weather", tools=[WEATHER_TOOL], max_tokens=3)),
    StreamCase("chat_echo_stop", CHAT, chat("one two. three four", stop=["three"]), {"mode": "echo"}),
    StreamCase("chat_echo_empty", CHAT, chat("", stream_options=CONTINUOUS), {"mode": "echo"}),
    StreamCase("chat_failed", CHAT, chat(max_tokens=4, stream_options=CONTINUOUS), {"error_rate": 1.0}),
    StreamCase("chat_dead_mid_stream", CHAT, chat(n=2, max_tokens=6), LATENCY, dead_after=2),
    StreamCase("chat_client_leaves", CHAT, chat(n=2, max_tokens=6), LATENCY, leave_after=2),
    StreamCase("chat_dies_in_prefill", CHAT, chat(max_tokens=4), PREFILL, dies_in_prefill=True),
    StreamCase("chat_break_after", CHAT, chat(max_tokens=6), headers={"x-sim-break-after": "3"}),
    StreamCase("chat_break_before_done", CHAT, chat(max_tokens=2), headers={"x-sim-break-after": "3"}),
    StreamCase("chat_stamped", CHAT, chat(n=2, max_tokens=3, stream_options=USAGE), {"stamp_events": True}),
    StreamCase("chat_stamped_tool", CHAT, chat("weather?", tools=[WEATHER_TOOL], tool_choice="required"), {"stamp_events": True}),
    StreamCase("chat_long_batches", CHAT, chat(max_tokens=150, stream_options=USAGE)),
    # Completions.
    StreamCase("completion_plain", COMPLETIONS, completion(max_tokens=4)),
    StreamCase("completion_prompts_n2", COMPLETIONS, completion(["First prompt", "Second one"], n=2, seed=6)),
    StreamCase("completion_echo_logprobs", COMPLETIONS, completion(echo=True, logprobs=2, max_tokens=3)),
    StreamCase("completion_token_ids_echo", COMPLETIONS, completion([[5, 6, 7], [8, 9]], echo=True, max_tokens=2)),
    StreamCase("completion_echo_only", COMPLETIONS, completion(echo=True, max_tokens=0, stream_options=USAGE)),
    StreamCase("completion_logprobs_continuous", COMPLETIONS, completion(logprobs=1, max_tokens=3, stream_options=CONTINUOUS)),
    StreamCase("completion_echo_mode_stop", COMPLETIONS, completion("alpha beta gamma delta", stop="gamma", include_stop_str_in_output=True), {"mode": "echo"}),
    StreamCase("completion_failed", COMPLETIONS, completion(max_tokens=4), {"error_rate": 1.0}),
    StreamCase("completion_dead_mid_stream", COMPLETIONS, completion(max_tokens=6), LATENCY, dead_after=2),
    StreamCase("completion_client_leaves", COMPLETIONS, completion(max_tokens=6, n=2), LATENCY, leave_after=3),
    StreamCase("completion_dies_in_prefill", COMPLETIONS, completion(max_tokens=4), PREFILL, dies_in_prefill=True),
    StreamCase("completion_break_after", COMPLETIONS, completion(max_tokens=6), headers={"x-sim-break-after": "2"}),
    StreamCase("completion_stamped", COMPLETIONS, completion(echo=True, max_tokens=3, stream_options=CONTINUOUS), {"stamp_events": True}),
    StreamCase("completion_latency", COMPLETIONS, completion(max_tokens=3, stream_options=USAGE), LATENCY),
    # Responses.
    StreamCase("responses_text", RESPONSES, response(max_output_tokens=4)),
    StreamCase("responses_natural", RESPONSES, response(seed=7)),
    StreamCase("responses_logprobs", RESPONSES, response(include=["message.output_text.logprobs"], top_logprobs=2, max_output_tokens=3)),
    StreamCase("responses_tool_required", RESPONSES, response("weather?", tools=[RESPONSES_WEATHER_TOOL], tool_choice="required")),
    StreamCase("responses_tool_cut", RESPONSES, response("call get_weather", tools=[RESPONSES_WEATHER_TOOL], max_output_tokens=2)),
    StreamCase("responses_empty", RESPONSES, response(""), {"mode": "echo"}),
    StreamCase("responses_latency", RESPONSES, response(max_output_tokens=3), LATENCY),
    StreamCase("responses_failed", RESPONSES, response(max_output_tokens=4), {"error_rate": 1.0}),
    StreamCase("responses_dead_mid_stream", RESPONSES, response(max_output_tokens=6), LATENCY, dead_after=3),
    StreamCase("responses_client_leaves", RESPONSES, response(max_output_tokens=6), LATENCY, leave_after=3),
    StreamCase("responses_dies_in_prefill", RESPONSES, response(max_output_tokens=4), PREFILL, dies_in_prefill=True),
    StreamCase("responses_break_after", RESPONSES, response(max_output_tokens=6), headers={"x-sim-break-after": "4"}),
    StreamCase("responses_stamped", RESPONSES, response(max_output_tokens=3, include=["message.output_text.logprobs"]), {"stamp_events": True}),
    StreamCase("responses_stamped_tool", RESPONSES, response("weather?", tools=[RESPONSES_WEATHER_TOOL], tool_choice="required"), {"stamp_events": True}),
    # Messages.
    StreamCase("messages_plain", MESSAGES, message(max_tokens=4)),
    StreamCase("messages_end_turn", MESSAGES, message("one two three"), {"mode": "echo"}),
    StreamCase("messages_stop_sequence", MESSAGES, message("one two. three four", stop_sequences=["three"]), {"mode": "echo"}),
    StreamCase("messages_max_tokens_cut", MESSAGES, message("one two. three four", max_tokens=2), {"mode": "echo"}),
    StreamCase("messages_empty", MESSAGES, message("one two", stop_sequences=["one"]), {"mode": "echo"}),
    StreamCase("messages_latency", MESSAGES, message(max_tokens=3), LATENCY),
    StreamCase("messages_failed", MESSAGES, message(max_tokens=4), {"error_rate": 1.0}),
    StreamCase("messages_failed_latency", MESSAGES, message(max_tokens=4), {"error_rate": 1.0, **LATENCY}),
    StreamCase("messages_dead_mid_stream", MESSAGES, message(max_tokens=6), LATENCY, dead_after=2),
    StreamCase("messages_dead_after_first_step", MESSAGES, message(max_tokens=6), LATENCY, dead_after=1),
    StreamCase("messages_client_leaves", MESSAGES, message(max_tokens=6), LATENCY, leave_after=2),
    StreamCase("messages_dies_in_prefill", MESSAGES, message(max_tokens=4), PREFILL, dies_in_prefill=True),
    StreamCase("messages_break_after", MESSAGES, message(max_tokens=6), headers={"x-sim-break-after": "3"}),
    StreamCase("messages_break_before_block", MESSAGES, message(max_tokens=6), headers={"x-sim-break-after": "1"}),
    StreamCase("messages_break_before_stop", MESSAGES, message(max_tokens=2), headers={"x-sim-break-after": "6"}),
    StreamCase("messages_stamped", MESSAGES, message(max_tokens=3), {"stamp_events": True}),
    StreamCase("messages_stamped_break_after", MESSAGES, message(max_tokens=3), {"stamp_events": True}, headers={"x-sim-break-after": "2"}),
]  # fmt: skip


async def exchange(case: StreamCase) -> tuple[list[Message], SimulatorApp]:
    """Run one request through the app; the messages it sent, and the app for its counters."""
    options: dict[str, Any] = {"models": (GENERATION_MODEL,), "ttft_ms": 0.0, "itl_ms": 0.0, **case.settings}
    app = SimulatorApp(SimulatorSettings(**options))
    sent: list[Message] = []
    client_left = asyncio.Event()
    request_delivered = False

    async def receive() -> Message:
        nonlocal request_delivered
        if not request_delivered:
            request_delivered = True
            return {"type": "http.request", "body": json.dumps(case.body).encode(), "more_body": False}
        # Asked again only once the request waits: the first wait is the one for the first token.
        if case.dies_in_prefill:
            app.engine.dead = True
        await client_left.wait()
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.append(message)
        bodies = sum(1 for message in sent if message["type"] == "http.response.body")
        if bodies == case.dead_after:
            app.engine.dead = True
        if bodies == case.leave_after:
            client_left.set()

    headers = [(b"content-type", b"application/json")]
    headers += [(name.encode(), value.encode()) for name, value in case.headers.items()]
    scope = {"type": "http", "method": "POST", "path": case.path, "headers": headers}
    await asyncio.wait_for(app(scope, receive, send), timeout=10.0)
    return sent, app


def transcript(messages: list[Message], app: SimulatorApp) -> str:
    """The messages and the engine's counters as text, with the random and timed parts replaced."""
    lines = []
    for message in messages:
        if message["type"] == "http.response.start":
            lines.append(f"~~~ start {message['status']}")
            lines.extend(f"{name.decode()}: {value.decode()}" for name, value in message["headers"])
        else:
            more = message.get("more_body", False)
            lines.append(f"~~~ body{' (more)' if more else ' (last)'}")
            lines.append(message["body"].decode())
    engine = app.engine
    stats = engine.stats
    lines.append("~~~ stats")
    lines.append(
        f"requests={stats.requests} aborted={stats.aborted} completed={stats.completed} "
        f"running={engine.scheduler.running} kv_tokens={engine.scheduler.kv_tokens}"
    )
    lines.append("~~~ metrics")
    lines.extend(untimed_series(engine.metrics.render(engine.scheduler, engine.cache_config).decode()))
    return normalized("\n".join(lines) + "\n")


def untimed_series(metrics_text: str) -> list[str]:
    """The series that count tokens and requests: not the timings, buckets, timestamps or config."""
    kept = []
    for line in metrics_text.splitlines():
        name = line.split("{", 1)[0].split(" ", 1)[0]
        if line.startswith("#") or name.endswith(("_created", "_bucket")) or name == "vllm:cache_config_info":
            continue
        if "_seconds" in name and not name.endswith("_count"):
            continue
        kept.append(line)
    return kept


ID = re.compile(r"(chatcmpl-tool-|chatcmpl-|cmpl-|resp_|msg_|fc_)[0-9a-f]{16}")
CLOCK = re.compile(r'"(created|created_at)":\d+')
STAMP = re.compile(r" @\d+")


def normalized(text: str) -> str:
    names: dict[str, str] = {}

    def name_id(match: re.Match[str]) -> str:
        return names.setdefault(match.group(0), f"{match.group(1)}<id{len(names) + 1}>")

    text = ID.sub(name_id, text)
    text = CLOCK.sub(r'"\1":<time>', text)
    return STAMP.sub(" @<ns>", text)


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_stream_bytes_match_the_recording(case: StreamCase) -> None:
    messages, app = asyncio.run(exchange(case))
    actual = transcript(messages, app)
    recording = RECORDINGS / f"{case.name}.txt"
    if UPDATE:
        RECORDINGS.mkdir(exist_ok=True)
        recording.write_text(actual, encoding="utf-8")
    assert actual == recording.read_text(encoding="utf-8")


def test_every_recording_has_its_case() -> None:
    """A renamed or removed case must not leave a recording behind that nothing checks."""
    assert sorted(path.stem for path in RECORDINGS.glob("*.txt")) == sorted(case.name for case in CASES)
