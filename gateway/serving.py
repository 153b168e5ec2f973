"""How `gateway serve` runs uvicorn: what a connection can make it believe, and what it may cost.

uvicorn on its own believes `X-Forwarded-For` and `X-Forwarded-Proto` from 127.0.0.1 (or from the
addresses in `FORWARDED_ALLOW_IPS`): any local process, or any client of a local proxy that passes the
header through, could then claim any address. Here the headers are believed only from the addresses
in `server.trusted_proxies`, and from nowhere when it is empty; the environment variable is ignored.

Connections are served by `BoundedHttpToolsProtocol` (gateway/http_protocol.py): uvicorn's httptools
protocol with a limit on header size and timeouts on receiving a request, which uvicorn lacks.
"""

from __future__ import annotations

import functools
from typing import Any

from gateway.config import ServerConfig
from gateway.http_protocol import BoundedHttpToolsProtocol, HttpLimits

__all__ = ["uvicorn_settings"]


def uvicorn_settings(server: ServerConfig) -> dict[str, Any]:
    """Keyword arguments for `uvicorn.run` that follow the `server` section."""
    trusted = list(server.trusted_proxies)
    limits = HttpLimits(
        max_header_bytes=server.max_header_bytes,
        header_timeout=server.header_timeout_seconds,
        body_timeout=server.body_timeout_seconds,
    )
    return {
        # A partial of a module-level class: picklable, so that worker processes receive it too.
        "http": functools.partial(BoundedHttpToolsProtocol, limits=limits),
        # The gateway serves no WebSocket: an upgrade is not even tried.
        "ws": "none",
        "proxy_headers": bool(trusted),
        # Given even when off, so that FORWARDED_ALLOW_IPS can never widen what is believed.
        "forwarded_allow_ips": trusted,
    }
