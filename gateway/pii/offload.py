"""Detection off the event loop: the name model always, patterns and name lists when a request
holds much text.

The named-entity model costs milliseconds per kB, the patterns and the name lists a few tenths of
a millisecond; on the
event loop, one large prompt stopped a worker from serving anything else for as long as it took
(review issue 16: 18 s for 800 kB). A thread would not cure it: spaCy releases the GIL in its
matrix products and parser but holds it in its tokenizer and the code between them (the loop,
measured, answered late by up to 50-90 ms per 100 kB read), a regular expression holds it for a
whole search (a second per MB of some digit runs), and a thread cannot be stopped when it runs
past its request's budget. Detection runs in worker processes of its own instead, a few per
gateway worker (`pii.detection_processes`), each with its own copy of the model.

A request hands over one unit of work at a time (a chunk of at most `ner.CHUNK_CHARS` characters
for the model, all its text at once for the patterns) and waits for it before the next. Requests
therefore take turns on the processes: a small request waits behind one chunk of a large one, not
behind all of it, and a request whose time budget runs out stops between two units.

A little text (INLINE_CHARS) is scanned by the patterns and the name lists on the loop itself,
which spares most requests a trip to another process: a few milliseconds at most for ordinary
text, some 20 ms for the slowest input measured (4 kB of short digit groups).
"""

from __future__ import annotations

import asyncio
import importlib.util
import logging
import multiprocessing
import signal
import threading
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from multiprocessing.process import BaseProcess
from typing import Any, TypeVar

from gateway.pii.detection import Detector, Finding, NerUnavailable
from gateway.pii.detection.ner import CHUNK_CHARS, MODEL_NAME, chunks

__all__ = ["INLINE_CHARS", "AsyncDetector", "DetectionProcesses", "DetectionTimeout"]

logger = logging.getLogger("gateway.pii")

INLINE_CHARS = 4_096
# How long a unit may run on after its request's deadline before its process is stopped: more than
# one chunk of names takes, so that a budget that runs out mid-chunk costs no model reload.
_OVERRUN_GRACE = 2.0
_STOP_WAIT = 5.0

_Argument = TypeVar("_Argument")
_Result = TypeVar("_Result")


class DetectionTimeout(Exception):
    """The request's detection did not end within its time budget."""


class DetectionProcesses:
    """The worker processes that run detection, started from scratch (`spawn`: the gateway's
    worker has threads, and forking them is unsafe). `names` and `ner` are the Detector's own
    switches."""

    def __init__(self, *, ner: bool | None, processes: int, names: bool = True) -> None:
        self._ner = ner
        self._names = names
        self._processes = processes
        self._executor = self._new_executor()

    def _new_executor(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(
            max_workers=self._processes,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_start_child,
            initargs=(self._names, self._ner),
        )

    async def start(self) -> bool:
        """Starts every process and loads the model in each (a few seconds): the first requests
        then do not wait for it. Returns whether the model is loaded.

        Raises NerUnavailable when `ner` is True and the model is not installed."""
        if self._ner is False:
            return False
        if not _model_installed():
            if self._ner:
                raise NerUnavailable(
                    f"spaCy or its model {MODEL_NAME} is not installed: install the `ner` extra"
                )
            return False
        loop = asyncio.get_running_loop()
        # As many calls as processes, each holding its process a moment, so that every one starts.
        probes = [loop.run_in_executor(self._executor, _model_loaded) for _ in range(self._processes)]
        try:
            answers = await asyncio.gather(*probes)
        except BrokenProcessPool:
            raise NerUnavailable("the detection processes could not load the named-entity model") from None
        return all(answers)

    async def run(
        self, function: Callable[[_Argument], _Result], argument: _Argument, deadline: float
    ) -> _Result:
        """`function(argument)` in a detection process; raises DetectionTimeout when the loop's
        clock passes `deadline` first. A unit still queued is then dropped; one already running
        may end within _OVERRUN_GRACE, or its process is stopped. A unit whose process died (the
        OOM killer, a crash in native code, or stopped here for another request) is tried once
        more on new processes."""
        loop = asyncio.get_running_loop()
        for attempt in (1, 2):
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise DetectionTimeout
            executor = self._executor
            try:
                future = executor.submit(function, argument)
                async with asyncio.timeout(remaining):
                    return await asyncio.wrap_future(future)
            except TimeoutError:
                if not future.cancel():
                    loop.call_later(_OVERRUN_GRACE, self._stop_if_running, future, executor)
                raise DetectionTimeout from None
            except BrokenProcessPool:
                self._replace(executor, "a detection process died")
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    def _stop_if_running(self, future: Future[Any], executor: ProcessPoolExecutor) -> None:
        if not future.done():
            # A unit that runs on long after its request gave up would hold the process from the
            # requests behind it (the patterns over 4 MB of a pathological text take tens of seconds).
            self._replace(executor, "a detection unit overran its request's budget")

    def _replace(self, executor: ProcessPoolExecutor, why: str) -> None:
        """New processes for the next units; the old ones are stopped in the background (joining
        them takes a moment), and the units still queued there fail with BrokenProcessPool and are
        tried again by their requests."""
        if self._executor is executor:
            logger.error("PII: %s; starting new detection processes", why)
            self._executor = self._new_executor()
            threading.Thread(
                target=_terminate, args=(executor,), name="pii-stop-processes", daemon=True
            ).start()

    async def close(self) -> None:
        """Stops the processes at once: a unit under way is abandoned, the gateway is stopping."""
        await asyncio.to_thread(_terminate, self._executor)


def _terminate(executor: ProcessPoolExecutor) -> None:
    """Shuts `executor` down and stops its processes, busy or not, without waiting for any unit."""
    # ProcessPoolExecutor stops a busy worker only from Python 3.14 on (terminate_workers): its
    # processes are reached through the private attribute that has held them since 3.2, read before
    # `shutdown` forgets them.
    processes: dict[int, BaseProcess] = dict(getattr(executor, "_processes", None) or {})
    # Queued units are not cancelled (their requests would see a CancelledError as if their client
    # had left): once the processes are gone they fail with BrokenProcessPool, which `run` handles.
    executor.shutdown(wait=False)
    for process in processes.values():
        process.terminate()
    for process in processes.values():
        process.join(_STOP_WAIT)


class AsyncDetector:
    """Finds personal data in a request's texts without blocking the event loop.

    `detector` scans on the loop (no model: its `ner` must be False); `processes` run the rest
    (`model_loaded`: they run the named-entity model). With no processes, everything is scanned
    on the loop: for tests of what is found, not of when."""

    def __init__(
        self, detector: Detector, processes: DetectionProcesses | None = None, *, model_loaded: bool = False
    ) -> None:
        if detector.model_loaded:
            raise ValueError("the detector used on the event loop must not load the named-entity model")
        if model_loaded and processes is None:
            raise ValueError("the named-entity model runs only in detection processes")
        self._detector = detector
        self._processes = processes
        self.model_loaded = model_loaded

    async def find(self, texts: list[str], deadline: float) -> list[list[Finding]]:
        """The findings of each text, as `Detector.find` reports them; raises DetectionTimeout when
        the loop's clock passes `deadline` before the end."""
        processes = self._processes
        if processes is None or sum(map(len, texts)) <= INLINE_CHARS:
            # All the request's texts at once: a name found in one is looked for in the others.
            identifiers = self._detector.without_model(texts)
        else:
            identifiers = await processes.run(_without_model, texts, deadline)
        if not self.model_loaded or processes is None:
            return identifiers
        names: list[list[Finding]] = [[] for _ in texts]
        for unit in _units_of_work(texts):
            found = await processes.run(_names, [chunk for _, _, chunk in unit], deadline)
            for (index, offset, _), in_chunk in zip(unit, found, strict=True):
                names[index].extend(Finding(offset + f.start, offset + f.end, f.entity) for f in in_chunk)
        return [
            self._detector.combine(text, ids, text_names)
            for text, ids, text_names in zip(texts, identifiers, names, strict=True)
        ]

    async def close(self) -> None:
        if self._processes is not None:
            await self._processes.close()


# A unit of work: chunks of one or more texts, (text index, chunk offset in the text, chunk).
_Unit = list[tuple[int, int, str]]


def _units_of_work(texts: list[str]) -> list[_Unit]:
    """The texts' chunks, packed into units of at most CHUNK_CHARS characters: a chat of many short
    messages is one trip to a detection process, a long text one trip per chunk."""
    units: list[_Unit] = []
    unit: _Unit = []
    size = 0
    for index, text in enumerate(texts):
        for offset, chunk in chunks(text):
            if unit and size + len(chunk) > CHUNK_CHARS:
                units.append(unit)
                unit, size = [], 0
            unit.append((index, offset, chunk))
            size += len(chunk)
    if unit:
        units.append(unit)
    return units


def _model_installed() -> bool:
    return importlib.util.find_spec("spacy") is not None and importlib.util.find_spec(MODEL_NAME) is not None


# --- in the detection processes --------------------------------------------------------------------

_child_detector: Detector | None = None


def _start_child(names: bool, ner: bool | None) -> None:
    global _child_detector
    # Ctrl-C in a terminal reaches the whole process group: the gateway stops these processes itself.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _child_detector = Detector(names=names, ner=ner)


def _detector() -> Detector:
    if _child_detector is None:  # pragma: no cover - the initializer always runs first
        raise RuntimeError("detection process not initialised")
    return _child_detector


def _model_loaded() -> bool:
    return _detector().model_loaded


def _without_model(texts: list[str]) -> list[list[Finding]]:
    return _detector().without_model(texts)


def _names(chunks_of_text: list[str]) -> list[list[Finding]]:
    detector = _detector()
    return [detector.names_in_chunk(chunk) for chunk in chunks_of_text]
