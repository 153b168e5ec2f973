"""Several workers: three real processes share one directory; any of them renders everyone's sums.

Each worker (tests/telemetry/metrics_worker.py) records known traffic and its own view of the
backends. Counters and histograms add up; in-flight gauges add up over the workers alive; a backend
is up only if every worker sees it up; vLLM's figures, the same in every worker, are not multiplied.
A worker that exits, or is killed, leaves its counts in the totals and its gauges out of them.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from prometheus_client import CollectorRegistry, generate_latest

from gateway.telemetry import (
    MULTIPROCESS_ENVIRONMENT,
    MetricsConfig,
    forget_dead_workers,
    multiprocess_metrics,
)
from gateway.telemetry.buckets import REQUEST_DURATION_BUCKETS
from gateway.telemetry.multiprocess import collect_directory
from tests.servers import free_port
from tests.telemetry import metrics_worker as worker
from tests.telemetry.helpers import (
    BACKEND_A,
    BACKEND_B,
    CHAT_MODEL,
    EMBEDDING_MODEL,
    Samples,
    bucket,
    parse,
    value,
)

ROOT = Path(__file__).resolve().parents[2]
WORKERS = 3
FLUSH_INTERVAL = 0.05
CHAT = {"department": worker.DEPARTMENT, "service": worker.SERVICE, "model": CHAT_MODEL, "operation": "chat"}
A_CHAT = {"model": CHAT_MODEL, "backend": BACKEND_A}
A_EMBEDDINGS = {"model": EMBEDDING_MODEL, "backend": BACKEND_A}
B_CHAT = {"model": CHAT_MODEL, "backend": BACKEND_B}


async def _line(process: asyncio.subprocess.Process, timeout: float = 10) -> str:
    assert process.stdout is not None
    return (await asyncio.wait_for(process.stdout.readline(), timeout)).decode().strip()


async def _send(process: asyncio.subprocess.Process, line: str) -> None:
    assert process.stdin is not None
    process.stdin.write(line.encode() + b"\n")
    await process.stdin.drain()


async def _render(process: asyncio.subprocess.Process) -> Samples:
    await _send(process, "render")
    text = json.loads(await _line(process))
    assert isinstance(text, str)
    return parse(text)


async def _render_until(
    process: asyncio.subprocess.Process, ready: Callable[[Samples], bool], timeout: float = 10
) -> Samples:
    """The other workers' counts appear after their next flush: render until they have."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        samples = await _render(process)
        if ready(samples) or loop.time() > deadline:
            return samples
        await asyncio.sleep(FLUSH_INTERVAL)


def _all_finished() -> list[worker.Finished]:
    return [request for index in range(WORKERS) for request in worker.finished_requests(index)]


def _chat_requests(samples: Samples) -> float:
    try:
        return value(samples, "gateway_requests_total", CHAT, status="200")
    except KeyError:
        return 0


def _check_totals(samples: Samples) -> None:
    """The counters and histograms: every worker's requests, added up (dead workers' too)."""
    finished = _all_finished()
    chats = [request for request in finished if request[3] == "chat"]
    assert value(samples, "gateway_requests_total", CHAT, status="200") == len(chats) == 9
    unknown = {"department": "unknown", "service": "unknown", "model": "unknown", "operation": "chat"}
    assert value(samples, "gateway_requests_total", unknown, status="401") == WORKERS
    tokens = {"department": worker.DEPARTMENT, "service": worker.SERVICE, "model": CHAT_MODEL}
    assert value(samples, "gateway_tokens_total", tokens, type="input") == sum(r[7] for r in chats) == 2000
    assert value(samples, "gateway_tokens_total", tokens, type="output") == sum(r[8] for r in chats)

    durations = [request[5] for request in chats]
    name = "gateway_request_duration_seconds"
    labels = {"model": CHAT_MODEL, "operation": "chat"}
    assert value(samples, f"{name}_count", labels) == len(durations)
    assert value(samples, f"{name}_sum", labels) == pytest.approx(sum(durations))
    for le in (*REQUEST_DURATION_BUCKETS, math.inf):
        # Bounds compared the way the histogram does (0.05 * 3 is 0.15000000000000002).
        assert bucket(samples, name, le, **labels) == sum(1 for d in durations if d <= le), le
    ttfts = [request[6] for request in chats if request[6] is not None]
    assert value(samples, "gateway_time_to_first_token_seconds_count", model=CHAT_MODEL) == len(ttfts)
    assert value(samples, "gateway_request_tokens_count", model=EMBEDDING_MODEL, type="input") == WORKERS
    assert value(samples, "gateway_request_tokens_count", model=EMBEDDING_MODEL, type="output") == 0


@pytest.mark.slow
@pytest.mark.asyncio
async def test_workers_add_up_in_one_scrape(tmp_path: Path) -> None:
    environment = {**os.environ, MULTIPROCESS_ENVIRONMENT: str(tmp_path)}
    processes: list[asyncio.subprocess.Process] = []
    try:
        for index in range(WORKERS):
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "tests.telemetry.metrics_worker",
                cwd=ROOT,
                env=environment,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
            )
            processes.append(process)
            await _send(process, json.dumps({"index": index, "flush_interval": FLUSH_INTERVAL}))
        for process in processes:
            assert await _line(process, timeout=60) == "ready"
        first, second, third = processes

        samples = await _render_until(first, lambda found: _chat_requests(found) == 9)
        _check_totals(samples)
        in_flight = sum(worker.unfinished_requests(index) for index in range(WORKERS))
        assert value(samples, "gateway_requests_in_flight", model=CHAT_MODEL) == in_flight == 6
        assert value(samples, "gateway_requests_in_flight", model=EMBEDDING_MODEL) == 0
        a_in_flight = sum(worker.backend_a_in_flight(index) for index in range(WORKERS))
        for labels in (A_CHAT, A_EMBEDDINGS):
            assert value(samples, "gateway_backend_in_flight", labels) == a_in_flight == 60
            assert value(samples, "gateway_backend_up", labels) == 1
            assert value(samples, "gateway_backend_ejected", labels) == 1  # the third worker ejected it
            assert value(samples, "gateway_backend_ejections_total", labels) == 1
            # The same scrape seen by three workers: the latest figure, not three times it.
            assert value(samples, "gateway_backend_running", labels) == worker.RUNNING
            assert value(samples, "gateway_backend_queue_depth", labels) == worker.WAITING
            assert value(samples, "gateway_backend_kv_cache_usage", labels) == worker.KV_CACHE_USAGE
        assert value(samples, "gateway_backend_up", B_CHAT) == 0  # the second worker sees it down
        assert value(samples, "gateway_backend_in_flight", B_CHAT) == 0
        # Gauges are merged: no `pid` label reaches the scrape.
        assert not [labels for _, labels in samples if any(name == "pid" for name, _ in labels)]

        # The second worker shuts down; the third is killed (no chance to clean up after itself).
        await _send(second, "exit")
        assert await _line(second) == "bye"
        assert await asyncio.wait_for(second.wait(), 10) == 0
        third.kill()
        await asyncio.wait_for(third.wait(), 10)

        samples = await _render(first)
        _check_totals(samples)  # what they counted stays
        assert value(samples, "gateway_requests_in_flight", model=CHAT_MODEL) == worker.unfinished_requests(0)
        assert value(samples, "gateway_backend_in_flight", A_CHAT) == worker.backend_a_in_flight(0)
        assert value(samples, "gateway_backend_up", B_CHAT) == 1
        assert value(samples, "gateway_backend_ejected", A_CHAT) == 0
        assert value(samples, "gateway_backend_ejections_total", A_CHAT) == 1

        await _send(first, "exit")
        assert await _line(first) == "bye"
        assert await asyncio.wait_for(first.wait(), 10) == 0
    finally:
        for process in processes:
            if process.returncode is None:
                process.kill()
                await process.wait()

    # Any process can read the directory: the totals are all there, and no gauge of a gone worker.
    assert forget_dead_workers(tmp_path) == []
    registry = CollectorRegistry()
    collect_directory(registry, tmp_path)
    samples = parse(generate_latest(registry).decode())
    _check_totals(samples)
    assert not [labels for name, labels in samples if name == "gateway_requests_in_flight"]
    assert not [labels for name, labels in samples if name.startswith("gateway_backend_up")]


def test_one_worker_needs_no_directory(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(MULTIPROCESS_ENVIRONMENT, raising=False)
    with multiprocess_metrics(MetricsConfig(), workers=1) as directory:
        assert directory is None
        assert MULTIPROCESS_ENVIRONMENT not in os.environ
    with multiprocess_metrics(MetricsConfig(enabled=False), workers=4) as directory:
        assert directory is None
        assert MULTIPROCESS_ENVIRONMENT not in os.environ


def test_several_workers_get_a_fresh_temporary_directory(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(MULTIPROCESS_ENVIRONMENT, raising=False)
    with multiprocess_metrics(MetricsConfig(), workers=4) as directory:
        assert directory is not None and directory.is_dir()
        assert os.environ[MULTIPROCESS_ENVIRONMENT] == str(directory)
        assert list(directory.iterdir()) == []
        (directory / "counter_12345.db").write_bytes(b"")
    assert MULTIPROCESS_ENVIRONMENT not in os.environ
    assert not directory.exists()


def test_a_configured_directory_is_emptied_of_metric_files_and_kept(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv(MULTIPROCESS_ENVIRONMENT, "/somewhere/else")
    shared = tmp_path / "metrics"
    shared.mkdir()
    (shared / "counter_4242.db").write_bytes(b"stale")
    (shared / "gauge_livesum_4242.db").write_bytes(b"stale")
    (shared / "notes.txt").write_text("not ours")
    with multiprocess_metrics(MetricsConfig(multiprocess_directory=shared), workers=2) as directory:
        assert directory == shared
        assert os.environ[MULTIPROCESS_ENVIRONMENT] == str(shared)
        assert sorted(path.name for path in shared.iterdir()) == ["notes.txt"]
    assert os.environ[MULTIPROCESS_ENVIRONMENT] == "/somewhere/else"
    assert shared.is_dir()


def test_an_inherited_directory_is_used_even_with_one_worker(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # prometheus_client goes multiprocess whenever the variable is set: its directory must be clean.
    (tmp_path / "histogram_777.db").write_bytes(b"stale")
    monkeypatch.setenv(MULTIPROCESS_ENVIRONMENT, str(tmp_path))
    with multiprocess_metrics(MetricsConfig(), workers=1) as directory:
        assert directory == tmp_path
        assert list(tmp_path.iterdir()) == []
    assert os.environ[MULTIPROCESS_ENVIRONMENT] == str(tmp_path)
    assert tmp_path.is_dir()


def test_dead_workers_gauges_are_forgotten(tmp_path: Path) -> None:
    # A pid that cannot be running (above the kernel's pid_max), and this process, which is.
    (tmp_path / "gauge_livesum_99999999.db").write_bytes(b"")
    (tmp_path / "gauge_livemin_99999999.db").write_bytes(b"")
    (tmp_path / f"gauge_livesum_{os.getpid()}.db").write_bytes(b"")
    (tmp_path / "counter_99999999.db").write_bytes(b"")
    assert forget_dead_workers(tmp_path) == [99999999]
    remaining = sorted(path.name for path in tmp_path.iterdir())
    assert remaining == ["counter_99999999.db", f"gauge_livesum_{os.getpid()}.db"]


async def _hit(client: httpx.AsyncClient, url: str) -> dict[str, int]:
    # A new connection each time, so that the kernel hands requests to either worker.
    response = await client.post(f"{url}/hit", headers={"connection": "close"})
    response.raise_for_status()
    answer: dict[str, int] = response.json()
    return answer


@pytest.mark.slow
@pytest.mark.asyncio
async def test_uvicorn_workers_share_their_counts() -> None:
    """The set-up `gateway serve` makes, with uvicorn's own worker processes."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.telemetry.metrics_app",
        f"--port={port}",
        "--workers=2",
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        # Its own process group: if the server must be killed, its workers go with it (orphaned,
        # they would keep the stdout pipe open and `wait()` would never return).
        start_new_session=True,
    )
    try:
        directory = Path(await _line(server, timeout=30))
        loop = asyncio.get_running_loop()
        async with httpx.AsyncClient(timeout=5) as client:
            deadline = loop.time() + 30
            while True:
                try:
                    if (await client.get(f"{url}/metrics")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert loop.time() < deadline, "the workers did not start"
                await asyncio.sleep(0.1)

            answers: list[dict[str, int]] = []
            while len({answer["pid"] for answer in answers}) < 2 and len(answers) < 400:
                answers += await asyncio.gather(*(_hit(client, url) for _ in range(10)))
            assert len({answer["pid"] for answer in answers}) == 2
            assert all(answer["multiprocess"] == 1 for answer in answers)
            assert sorted(path.name for path in directory.glob("counter_*.db")) != []

            labels = {"department": "dgfip", "service": "courrier", "model": CHAT_MODEL, "operation": "chat"}
            deadline = loop.time() + 10
            while True:
                samples = parse((await client.get(f"{url}/metrics")).text)
                try:
                    counted = value(samples, "gateway_requests_total", labels, status="200")
                except KeyError:
                    counted = 0
                if counted == len(answers) or loop.time() > deadline:
                    break
                await asyncio.sleep(0.05)
            assert counted == len(answers)
            assert value(samples, "gateway_requests_in_flight", model=CHAT_MODEL) == 0
            assert value(
                samples, "gateway_request_duration_seconds_count", model=CHAT_MODEL, operation="chat"
            ) == len(answers)
        server.send_signal(signal.SIGINT)
        assert await asyncio.wait_for(server.wait(), 60) == 0
        assert not directory.exists()  # the temporary directory goes with the server
    finally:
        if server.returncode is None:
            os.killpg(server.pid, signal.SIGKILL)
            await asyncio.wait_for(server.wait(), 30)
