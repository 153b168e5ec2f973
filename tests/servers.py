"""Real servers on loopback for tests: any ASGI app in uvicorn, in a background thread.

``serve_in_thread`` binds the socket itself before starting uvicorn, so there is no window in which
another process could take the port; ``free_port`` is there for code that needs a number up front
(e.g. to start a subprocess).
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import uvicorn

ASGIApp = Callable[..., Awaitable[None]]
"""Any ASGI 3 application; kept loose so that framework apps (Litestar, Starlette) type-check too."""

STARTUP_TIMEOUT = 10.0
SHUTDOWN_TIMEOUT = 10.0


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that was free a moment ago on ``host``."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def serve_in_thread(
    app: ASGIApp,
    host: str = "127.0.0.1",
    *,
    port: int | None = None,
    startup_timeout: float = STARTUP_TIMEOUT,
    shutdown_timeout: float = SHUTDOWN_TIMEOUT,
    **config: Any,
) -> Iterator[str]:
    """Run ``app`` in a uvicorn server on ``port`` (default: a free one) of ``host``; yields its base URL.

    The server runs in a daemon thread with its own event loop. Extra keyword arguments go to
    ``uvicorn.Config`` (e.g. ``lifespan="off"``). On exit the server is asked to stop, then forced
    if it has not stopped within ``shutdown_timeout``.
    """
    options: dict[str, Any] = {
        "log_level": "warning",
        "access_log": False,
        "ws": "none",  # no websockets: nothing to import, nothing to warn about
        "timeout_graceful_shutdown": 2,
    }
    options.update(config)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port or 0))
    port = int(sock.getsockname()[1])
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, **options))
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name=f"uvicorn-{port}", daemon=True
    )
    thread.start()
    try:
        deadline = time.monotonic() + startup_timeout
        while not server.started:
            if not thread.is_alive():
                raise RuntimeError(f"server on {host}:{port} exited during startup")
            if time.monotonic() > deadline:
                raise TimeoutError(f"server on {host}:{port} did not start within {startup_timeout} s")
            time.sleep(0.01)
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(shutdown_timeout)
        if thread.is_alive():
            server.force_exit = True
            thread.join(shutdown_timeout)
        sock.close()


def wait_until_ready(url: str, process: subprocess.Popen[bytes], seconds: float) -> bool:
    """Poll `url` until it answers 200, the process exits, or `seconds` pass."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return True
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    return False


def key_from_cli(env: dict[str, str], department: str = "dgfip", service: str = "courrier") -> str:
    """A key made by `gateway keys create`, as an operator makes one for a gateway run elsewhere
    (`env` names its configuration and pepper)."""
    command = [sys.executable, "-m", "gateway", "keys", "create", "--department", department]
    created = subprocess.run(
        [*command, "--service", service, "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert created.returncode == 0, created.stderr
    key: str = json.loads(created.stdout)["key"]
    return key
