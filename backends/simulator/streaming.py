"""The streaming loop every generation route shares: time, cancellation, errors and accounting.

A streamed answer goes through the same life whatever the route: events sent before the engine runs
(if any), the wait for the first token, opening events (then the error of a failed request, or the
events opening the content), then one step per token (every choice's token of that step, an
inter-token wait between steps), closing events and the end of the stream.
At any wait the client may leave (the request is aborted), at any step the engine may die (the error
goes inside the stream, or the connection drops), and ``x-sim-break-after`` may cut the stream.
``stream_answer`` runs that life once; what an event looks like is the route's ``StreamEvents``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from backends.simulator import errors
from backends.simulator.engine import Admission, Engine
from backends.simulator.generation import ChoiceOutput
from backends.simulator.serving import HTTPRequest
from backends.simulator.sse import EventWriter, StreamBroken


class StreamEvents(Protocol):
    """How one route writes its stream; ``stream_answer`` decides when each event is due."""

    @property
    def terminator(self) -> bytes:
        """What ends a complete stream: ``data: [DONE]`` or, for the Responses and Messages APIs,
        nothing."""
        ...

    @property
    def empty_choice_sends_an_event(self) -> bool:
        """Whether a choice without tokens still sends one token event (the one carrying its
        ``finish_reason``, as chat and completion chunks do); a Responses answer sends no item, a
        Messages answer no text block."""
        ...

    def prelude(self) -> list[bytes]:
        """Events sent as soon as the request runs, before the first token (empty: the stream
        starts at the first token, so an engine found dead then can still answer a plain error)."""
        ...

    def opening(self) -> list[bytes]:
        """Events sent at the first token, before any token event; a failed request sends these
        before its error (chat's role chunks, Messages' ``message_start``)."""
        ...

    def content_opening(self) -> list[bytes]:
        """Events sent at the first token after ``opening``, once the request is known not to fail:
        what opens the content only when there is some (Messages' ``content_block_start``)."""
        ...

    def token(self, index: int, step: int) -> bytes:
        """The event of choice ``index``'s token ``step`` (its last one also ends the choice)."""
        ...

    def closing(self) -> list[bytes]:
        """Events sent after every token (the usage chunk, the Responses closing events)."""
        ...

    def error_event(self, error: errors.SimulatorHTTPError) -> bytes | None:
        """The event reporting an engine error in a started stream, or ``None`` to drop the
        connection after the events already sent."""
        ...


async def stream_answer(
    engine: Engine,
    http: HTTPRequest,
    admission: Admission,
    choices: Sequence[ChoiceOutput],
    events: StreamEvents,
    *,
    failed: bool,
) -> None:
    """Stream ``choices`` token by token with ``events``; ``failed`` (``--error-rate``) makes the
    request end with an engine error once it would produce its first token."""
    # Stamped events are never batched: a stamp must be the time its event left, not its batch's.
    writer = EventWriter(
        http.send, http.break_after, events.terminator, batched=not engine.settings.stamp_events
    )
    watch = http.watch
    floor = 1 if events.empty_choice_sends_an_event else 0
    lasts = [max(len(choice.pieces), floor) - 1 for choice in choices]
    # Tokens the engine produced: a token counts once its event is built, sent or not.
    produced = 0
    try:
        if not await _open(engine, http, admission, writer, events, choices=len(choices), failed=failed):
            return
        add = writer.add
        token = events.token
        itl = admission.inter_token_latency
        # The first step has no wait before it, and only there can a choice have no token: it still
        # sends its event (the one that carries its finish reason).
        running = [index for index, last in enumerate(lasts) if last >= 0]
        for index in running:
            if choices[index].pieces:
                produced += 1
            await add(token(index, 0))
        start = 1
        # Later steps go in stretches during which no choice ends, so that the choices still
        # sending are not tested at every token; a stretch with one choice (every Responses stream,
        # most chat and completion ones) writes it without a loop over choices, which cost several
        # percent of a stream's time.
        while running := [index for index in running if lasts[index] >= start]:
            end = min(lasts[index] for index in running)
            single = running[0] if len(running) == 1 else None
            for step in range(start, end + 1):
                if itl > 0:
                    # Clients see each step as it comes, not a batch of steps.
                    await writer.flush()
                    if not await watch.sleep(itl):
                        engine.abort(admission, generated_tokens=produced, choices=len(choices))
                        return
                if engine.is_dead():
                    await _end_with_error(writer, events, engine, admission, errors.engine_dead())
                    return
                if single is not None:
                    produced += 1
                    await add(token(single, step))
                else:
                    for index in running:
                        produced += 1
                        await add(token(index, step))
            start = end + 1
        for event in events.closing():
            await add(event)
        engine.finish(
            admission,
            finish_reasons=[choice.engine_finish_reason for choice in choices],
            tokens_per_choice=[choice.num_tokens for choice in choices],
        )
        await writer.finish()
    except StreamBroken:
        engine.abort(admission, generated_tokens=produced, choices=len(choices))
    except BaseException:
        engine.abort(admission, generated_tokens=produced, choices=len(choices))
        raise


async def _open(
    engine: Engine,
    http: HTTPRequest,
    admission: Admission,
    writer: EventWriter,
    events: StreamEvents,
    *,
    choices: int,
    failed: bool,
) -> bool:
    """Everything before the first token event: the prelude, the wait for the first token, the
    opening events (and the content's, unless the request fails); ``False`` when the stream ended
    there (client gone, engine error)."""
    prelude = events.prelude()
    if prelude:
        await writer.start()
        for event in prelude:
            await writer.add(event)
        await writer.flush()
    if not await http.watch.sleep(admission.time_to_first_token):
        engine.abort(admission, generated_tokens=0, choices=choices)
        return False
    if writer.started:
        # The Responses API has answered already: its stream ends at once, before any token.
        if failed or engine.is_dead():
            error = errors.internal_error() if failed else errors.engine_dead()
            await _end_with_error(writer, events, engine, admission, error)
            return False
    elif engine.is_dead():
        # Nothing sent yet: the error can still be a normal JSON response.
        engine.fail(admission)
        raise errors.engine_dead()
    engine.first_token(admission)
    if not writer.started:
        await writer.start()
    for event in events.opening():
        await writer.add(event)
    if failed:
        # vLLM reports a request-level engine error inside the chat, completion or Messages stream it
        # started, right after the opening events.
        await _end_with_error(writer, events, engine, admission, errors.internal_error())
        return False
    for event in events.content_opening():
        await writer.add(event)
    return True


async def _end_with_error(
    writer: EventWriter,
    events: StreamEvents,
    engine: Engine,
    admission: Admission,
    error: errors.SimulatorHTTPError,
) -> None:
    """End a started stream on an engine error: with the route's error event and terminator, or by
    dropping the connection after what was sent when the route has no event for it."""
    event = events.error_event(error)
    if event is None:
        await writer.flush()
    else:
        await writer.add(event)
        await writer.finish()
    engine.fail(admission)
