"""A private redis-server for tests: own port on 127.0.0.1, own temporary directory, no persistence.

    with running_redis() as url:            # "redis://127.0.0.1:PORT/0"
        ...

    with redis_server() as server:          # to stop and restart it (failure tests)
        server.stop()
        server.start()                      # same port, empty data
        server.pause(); server.resume()     # frozen: open connections, no answers

The server is started from the `redis-server` on the PATH (the CI installs it) and asked `PING`
until it answers, within a bounded time; it is always stopped at the end, killed if it must be.
"""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.servers import free_port

__all__ = ["RedisServer", "redis_server", "running_redis"]

STARTUP_TIMEOUT = 10.0
STOP_TIMEOUT = 5.0


def _ping(port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


class RedisServer:
    """One redis-server process; `start()` and `stop()` may be called again and again."""

    def __init__(self, directory: Path, port: int | None = None) -> None:
        self.directory = directory
        self.port = port if port is not None else free_port()
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self, timeout: float = STARTUP_TIMEOUT) -> None:
        if self.running:
            return
        executable = shutil.which("redis-server")
        if executable is None:
            raise RuntimeError("redis-server is not on the PATH (apt-get install redis-server)")
        log = self.directory / "redis.log"
        self._process = subprocess.Popen(
            [
                executable,
                "--port", str(self.port),
                "--bind", "127.0.0.1",
                "--save", "",
                "--appendonly", "no",
                "--dir", str(self.directory),
                "--logfile", str(log),
                "--protected-mode", "yes",
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + timeout
        while not _ping(self.port):
            if self._process.poll() is not None:
                tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
                self._process = None
                raise RuntimeError(f"redis-server on port {self.port} exited during startup:\n{tail}")
            if time.monotonic() > deadline:
                self.stop()
                raise TimeoutError(f"redis-server on port {self.port} did not answer PING within {timeout} s")
            time.sleep(0.02)

    def pause(self) -> None:
        """Freeze the server (SIGSTOP): connections stay open and nothing answers, like a partition."""
        if self._process is not None:
            self._process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        if self._process is not None:
            self._process.send_signal(signal.SIGCONT)

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGCONT)  # a paused server could not act on SIGTERM
        process.terminate()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout)


@contextmanager
def redis_server() -> Iterator[RedisServer]:
    """A started RedisServer in a temporary directory, stopped and removed at the end."""
    with tempfile.TemporaryDirectory(prefix="gateway-redis-") as directory:
        attempts = 3  # the free port may be taken between choosing it and binding it
        for attempt in range(attempts):
            server = RedisServer(Path(directory))
            try:
                server.start()
                break
            except RuntimeError:
                if attempt == attempts - 1:
                    raise
        try:
            yield server
        finally:
            server.stop()


@contextmanager
def running_redis() -> Iterator[str]:
    """The URL of a private redis-server, for the duration of the block."""
    with redis_server() as server:
        yield server.url
