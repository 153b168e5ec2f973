"""What a connection may cost `gateway serve` before it sends a whole request: header size and time.

Raw sockets, because a well-behaved client cannot send an endless header or one byte at a time.
"""

from __future__ import annotations

import json
import select
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import httpx
import pytest

from tests.gateway.served import ADMIN_KEY, ServedGateway, served_gateway

MAX_HEADER_BYTES = 32 * 1024  # server.max_header_bytes' default
CHUNK = 16 * 1024


@contextmanager
def _connection(gateway: ServedGateway) -> Iterator[socket.socket]:
    sock = socket.create_connection((gateway.host, gateway.port), timeout=10)
    try:
        yield sock
    finally:
        sock.close()


def _answered(sock: socket.socket) -> bool:
    readable, _, _ = select.select([sock], [], [], 0)
    return bool(readable)


def _read_all(sock: socket.socket, seconds: float) -> bytes:
    """What the server sends until it closes the connection, waiting `seconds` at most."""
    deadline = time.monotonic() + seconds
    received = b""
    while time.monotonic() < deadline:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            data = sock.recv(65536)
        except (TimeoutError, ConnectionResetError):
            break
        if not data:
            break
        received += data
    return received


def _closed_within(sock: socket.socket, seconds: float) -> bool:
    sock.settimeout(seconds)
    try:
        while sock.recv(65536):
            pass
    except TimeoutError:
        return False
    except ConnectionResetError:
        pass
    return True


def _status_and_error(answer: bytes) -> tuple[int, dict[str, object]]:
    head, _, body = answer.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    error: dict[str, object] = json.loads(body)["error"]
    return status, error


def _send_header_until_answered(sock: socket.socket, total: int, *, finish: bool) -> None:
    """Send a request whose Authorization header is `total` bytes long, stopping as soon as the server
    answers (or closes)."""
    sock.sendall(b"GET /v1/models HTTP/1.1\r\nHost: gateway\r\nAuthorization: Bearer ")
    sent = 0
    with suppress(BrokenPipeError, ConnectionResetError):
        while sent < total and not _answered(sock):
            sock.sendall(b"a" * CHUNK)
            sent += CHUNK
        if finish and not _answered(sock):
            sock.sendall(b"\r\n\r\n")


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedGateway]:
    folder = tmp_path_factory.mktemp("limits")
    with served_gateway(folder, "server: {header_timeout_seconds: 1, body_timeout_seconds: 1}\n") as served:
        yield served


def _still_serves(gateway: ServedGateway) -> None:
    answer = httpx.get(
        f"{gateway.url}/v1/models", headers={"authorization": f"Bearer {ADMIN_KEY}"}, timeout=10
    )
    assert answer.status_code == 200


@pytest.mark.parametrize("finish", [True, False], ids=["whole", "unfinished"])
def test_a_huge_header_is_refused_with_431_at_once(tmp_path: Path, finish: bool) -> None:
    with served_gateway(tmp_path) as gateway, _connection(gateway) as sock:  # the default limits
        started = time.monotonic()
        _send_header_until_answered(sock, 4 * 1024 * 1024, finish=finish)
        answer = _read_all(sock, 5)
        elapsed = time.monotonic() - started
        status, error = _status_and_error(answer)
        assert status == 431
        assert error["code"] == "request_headers_too_large"
        assert str(MAX_HEADER_BYTES) in str(error["message"])
        assert elapsed < 3
        _still_serves(gateway)


def test_headers_within_the_limit_are_served(gateway: ServedGateway) -> None:
    padding = "x" * (MAX_HEADER_BYTES // 2)
    answer = httpx.get(
        f"{gateway.url}/v1/models",
        headers={"authorization": f"Bearer {ADMIN_KEY}", "x-padding": padding},
        timeout=10,
    )
    assert answer.status_code == 200


def test_a_connection_that_sends_nothing_is_closed(gateway: ServedGateway) -> None:
    with _connection(gateway) as sock:
        assert _closed_within(sock, 4)


def test_slow_headers_are_timed_out_with_408(gateway: ServedGateway) -> None:
    connections = [socket.create_connection((gateway.host, gateway.port), timeout=10) for _ in range(50)]
    try:
        for sock in connections:
            sock.sendall(b"GET /v1/models HTTP/1.1\r\nHost: gateway\r\nX-Slow: ")
        started = time.monotonic()
        open_ones = list(connections)
        # One byte every half second on every connection, for 5 s at most.
        while open_ones and time.monotonic() - started < 5:
            time.sleep(0.5)
            for sock in list(open_ones):
                try:
                    sock.sendall(b"a")
                except OSError:
                    open_ones.remove(sock)
                    continue
                if _answered(sock):
                    open_ones.remove(sock)
        assert not open_ones, f"{len(open_ones)} slow connections still open after 5 s"
        assert time.monotonic() - started < 4
        status, error = _status_and_error(_read_all(connections[0], 2))
        assert status == 408 and error["code"] == "request_timeout"
    finally:
        for sock in connections:
            sock.close()
    _still_serves(gateway)


def test_a_slow_body_is_timed_out_with_408(gateway: ServedGateway) -> None:
    with _connection(gateway) as sock:
        sock.sendall(
            b"POST /v1/chat/completions HTTP/1.1\r\nHost: gateway\r\n"
            b"Authorization: Bearer " + ADMIN_KEY.encode() + b"\r\n"
            b"Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"
        )
        started = time.monotonic()
        answer = b""
        with suppress(BrokenPipeError, ConnectionResetError):
            for _ in range(10):  # one byte every half second, 5 s at most
                time.sleep(0.5)
                if _answered(sock):
                    break
                sock.sendall(b" ")
        answer = _read_all(sock, 2)
        assert time.monotonic() - started < 4
        status, error = _status_and_error(answer)
        assert status == 408 and error["code"] == "request_timeout"
