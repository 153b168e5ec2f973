"""Restore placeholders in an SSE stream, event by event, without delaying ordinary text.

An event is decoded only when it could matter: it contains `<`, or a channel is holding back the
start of a placeholder, or inserted events have shifted the Responses API's sequence numbers. A held
tail is released with the next delta of its channel or, at the latest, with the chunk that finishes
its choice (or before the `.done` event of a Responses output), so nothing is ever lost.

Channels, one per independent text in the stream:
    chat         (choice index, "content" | "reasoning_content" | "reasoning") and
                 (choice index, "tool", tool call index) for arguments
    completions  (choice index, "text")
    responses    (output index, content index) for text, (output index, "arguments") for tool calls
    messages     ("block", content block index, "text" | "thinking" | "partial_json") for Anthropic's
                 `content_block_delta` events; a held tail goes out as one more delta just before its
                 block's `content_block_stop` (or before `message_delta` for a block never stopped)
"""

from __future__ import annotations

from typing import Any

import msgspec

from gateway.pii.restore import PlaceholderRestorer, TextChannel

__all__ = ["StreamRestorer"]

_decode = msgspec.json.Decoder().decode
_encode = msgspec.json.encode
_EVENT_END = b"\n\n"
_DATA = b"data: "
_TEXT_FIELDS = ("content", "reasoning_content", "reasoning")
_RESPONSES_DELTAS = {
    "response.output_text.delta": "text",
    "response.reasoning_text.delta": "text",
    "response.function_call_arguments.delta": "arguments",
}
# Anthropic Messages: the text field of each kind of delta (tool input is JSON text).
_MESSAGE_DELTAS = {"text_delta": "text", "thinking_delta": "thinking", "input_json_delta": "partial_json"}
_MESSAGE_ENDS = frozenset({"message_delta", "message_stop", "error"})
_BLOCK_DELTA_HEAD = b"event: content_block_delta\n"
_RESPONSES_DONE = {
    "response.output_text.done": ("text", "response.output_text.delta"),
    "response.reasoning_text.done": ("text", "response.reasoning_text.delta"),
    "response.function_call_arguments.done": ("arguments", "response.function_call_arguments.delta"),
}


class StreamRestorer:
    """Rewrites complete SSE events of one stream; the `transform` hook of `StreamRelay`."""

    __slots__ = ("_channels", "_last_chunk", "_restorer", "_sequence_shift")

    def __init__(self, restorer: PlaceholderRestorer) -> None:
        self._restorer = restorer
        self._channels: dict[tuple[Any, ...], TextChannel] = {}
        self._sequence_shift = 0
        self._last_chunk: dict[str, Any] | None = None

    def _holding(self) -> bool:
        return any(channel.holding for channel in self._channels.values())

    def __call__(self, events: bytes) -> bytes:
        """`events`: one or more complete events, each ending with a blank line."""
        if b"<" not in events and not self._sequence_shift and not self._holding():
            return events
        out: list[bytes] = []
        for event in events.split(_EVENT_END)[:-1]:
            out.extend(self._event(event))
        return b"".join(out)

    def _event(self, event: bytes) -> list[bytes]:
        start = event.find(_DATA)
        if start < 0 or (start > 0 and event[start - 1 : start] != b"\n"):
            return [event + _EVENT_END]
        head, data = event[:start], event[start + len(_DATA) :]
        if data.startswith(b"[DONE]"):
            return [*self._flush_unfinished(), event + _EVENT_END]
        if b"<" not in data and not self._sequence_shift and not self._holding():
            return [event + _EVENT_END]
        try:
            document = _decode(data)
        except msgspec.DecodeError:
            return [event + _EVENT_END]
        if not isinstance(document, dict):
            return [event + _EVENT_END]
        kind = document.get("type")
        if isinstance(kind, str) and kind.startswith("response."):
            return [head + _DATA + _encode(item) + _EVENT_END for item in self._responses(kind, document)]
        if kind == "content_block_delta" or kind == "content_block_stop" or kind in _MESSAGE_ENDS:
            return self._message_event(kind, head, document)
        self._choices(document)
        return [head + _DATA + _encode(document) + _EVENT_END]

    # Chat and completions chunks -------------------------------------------------------------

    def _channel(self, key: tuple[Any, ...], *, json_text: bool = False) -> TextChannel:
        channel = self._channels.get(key)
        if channel is None:
            channel = self._channels[key] = TextChannel(self._restorer, json_text=json_text)
        return channel

    def _choices(self, chunk: dict[str, Any]) -> None:
        choices = chunk.get("choices")
        if not isinstance(choices, list):
            self._restorer.restore_document(chunk)
            return
        self._last_chunk = chunk
        for choice in choices:
            if not isinstance(choice, dict):
                continue
            index = choice.get("index", 0)
            delta = choice.get("delta")
            if isinstance(delta, dict):
                self._delta(index, delta)
            elif isinstance(choice.get("text"), str):
                choice["text"] = self._channel((index, "text")).feed(choice["text"])
            if choice.get("finish_reason") is not None:
                self._finish_choice(index, choice)

    def _delta(self, index: Any, delta: dict[str, Any]) -> None:
        for field in _TEXT_FIELDS:
            if isinstance(delta.get(field), str):
                delta[field] = self._channel((index, field)).feed(delta[field])
        calls = delta.get("tool_calls")
        if isinstance(calls, list):
            for call in calls:
                function = call.get("function") if isinstance(call, dict) else None
                if isinstance(function, dict) and isinstance(function.get("arguments"), str):
                    channel = self._channel((index, "tool", call.get("index", 0)), json_text=True)
                    function["arguments"] = channel.feed(function["arguments"])

    def _finish_choice(self, index: Any, choice: dict[str, Any]) -> None:
        """The choice's last chunk: every tail it still holds goes out with it."""
        for key, channel in self._channels.items():
            if key[0] != index or not channel.holding:
                continue
            tail = channel.flush()
            if key[1] == "text":
                choice["text"] = tail + (choice.get("text") or "")
                continue
            delta = choice.setdefault("delta", {})
            if key[1] == "tool":
                calls = delta.setdefault("tool_calls", [])
                calls.insert(0, {"index": key[2], "function": {"arguments": tail}})
            else:
                delta[key[1]] = tail + (delta.get(key[1]) or "")

    def _flush_unfinished(self) -> list[bytes]:
        """Before [DONE]: tails of choices that never sent a finish_reason, in one extra chunk."""
        if not self._holding() or self._last_chunk is None:
            return []
        chunk = {key: value for key, value in self._last_chunk.items() if key not in ("choices", "usage")}
        choices: dict[Any, dict[str, Any]] = {}
        for key, channel in self._channels.items():
            if not channel.holding:
                continue
            choice = choices.setdefault(key[0], {"index": key[0], "finish_reason": None})
            tail = channel.flush()
            if key[1] == "text":
                choice["text"] = tail
            elif key[1] == "tool":
                choice.setdefault("delta", {}).setdefault("tool_calls", []).append(
                    {"index": key[2], "function": {"arguments": tail}}
                )
            else:
                choice.setdefault("delta", {})[key[1]] = tail
        chunk["choices"] = list(choices.values())
        return [_DATA + _encode(chunk) + _EVENT_END]

    # Responses API events ----------------------------------------------------------------------

    def _responses(self, kind: str, event: dict[str, Any]) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        field = _RESPONSES_DELTAS.get(kind)
        done = _RESPONSES_DONE.get(kind)
        if field is not None and isinstance(event.get("delta"), str):
            key = (event.get("output_index"), event.get("content_index", field))
            event["delta"] = self._channel(key, json_text=field == "arguments").feed(event["delta"])
        elif done is not None:
            key = (event.get("output_index"), event.get("content_index", done[0]))
            channel = self._channels.get(key)
            if channel is not None and channel.holding:
                # The tail goes out as one more delta just before the text is declared done.
                extra = {
                    name: value
                    for name, value in event.items()
                    if name in ("item_id", "output_index", "content_index", "sequence_number")
                }
                extra.update(type=done[1], delta=channel.flush())
                if done[0] == "text":
                    extra.setdefault("logprobs", [])
                out.append(extra)
                self._sequence_shift += 1
            self._restorer.restore_document(event)
        else:
            self._restorer.restore_document(event)
        if self._sequence_shift and isinstance(event.get("sequence_number"), int):
            # Every event after an inserted one moves up, so the numbers stay unique and ordered.
            shift = self._sequence_shift
            event["sequence_number"] += shift
            if out:
                out[0]["sequence_number"] = event["sequence_number"] - 1
        out.append(event)
        return out

    # Anthropic Messages events ---------------------------------------------------------------------

    def _message_event(self, kind: str, head: bytes, event: dict[str, Any]) -> list[bytes]:
        index = event.get("index", 0)
        delta = event.get("delta")
        if kind == "content_block_delta" and isinstance(delta, dict):
            field = _MESSAGE_DELTAS.get(delta.get("type", ""))
            if field is not None and isinstance(delta.get(field), str):
                channel = self._channel(("block", index, field), json_text=field == "partial_json")
                delta[field] = channel.feed(delta[field])
                return [head + _DATA + _encode(event) + _EVENT_END]
        out = self._flush_blocks(index if kind == "content_block_stop" else None)
        self._restorer.restore_document(event)
        out.append(head + _DATA + _encode(event) + _EVENT_END)
        return out

    def _flush_blocks(self, index: Any) -> list[bytes]:
        """The held tails of block `index` (None: of every block), each as one more delta event."""
        out: list[bytes] = []
        for key, channel in self._channels.items():
            if key[0] != "block" or not channel.holding or (index is not None and key[1] != index):
                continue
            kind = next(name for name, field in _MESSAGE_DELTAS.items() if field == key[2])
            extra = {
                "type": "content_block_delta",
                "index": key[1],
                "delta": {"type": kind, key[2]: channel.flush()},
            }
            out.append(_BLOCK_DELTA_HEAD + _DATA + _encode(extra) + _EVENT_END)
        return out
