"""How `gateway serve` runs uvicorn: the settings that decide what a connection can make it believe.

uvicorn on its own believes `X-Forwarded-For` and `X-Forwarded-Proto` from 127.0.0.1 (or from the
addresses in `FORWARDED_ALLOW_IPS`): any local process, or any client of a local proxy that passes the
header through, could then claim any address. Here the headers are believed only from the addresses
in `server.trusted_proxies`, and from nowhere when it is empty; the environment variable is ignored.
"""

from __future__ import annotations

from typing import Any

from gateway.config import ServerConfig

__all__ = ["uvicorn_settings"]


def uvicorn_settings(server: ServerConfig) -> dict[str, Any]:
    """Keyword arguments for `uvicorn.run` that follow the `server` section."""
    trusted = list(server.trusted_proxies)
    return {
        "proxy_headers": bool(trusted),
        # Given even when off, so that FORWARDED_ALLOW_IPS can never widen what is believed.
        "forwarded_allow_ips": trusted,
    }
