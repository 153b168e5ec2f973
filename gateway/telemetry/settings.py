"""The `metrics` configuration section: the Prometheus endpoint and how workers share their figures."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

__all__ = ["MetricsConfig"]


class MetricsConfig(BaseModel):
    """Prometheus metrics at `GET /metrics` (see docs/metrics.md for every metric)."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    enabled: bool = True
    """Serve the metrics endpoint. Turned off, the route is not mounted and nothing is shared
    between workers; the counting itself (a microsecond per request) goes on."""
    path: Annotated[str, Field(min_length=2, max_length=256)] = "/metrics"
    """Where Prometheus scrapes. It is served on the API's own port, and names departments, services
    and backends and counts the personal data found: scrapers need `token_env`'s token, unless
    `allow_anonymous` says otherwise."""
    token_env: str | None = None
    """Name of the environment variable holding a token that scrapers must send as
    `Authorization: Bearer <token>` (Prometheus' `authorization` setting). Unset, and without
    `allow_anonymous`, every scrape is refused (403) and the start says so in the log."""
    allow_anonymous: bool = False
    """Serve the metrics without a token, to whoever reaches the port: only where a network policy or
    firewall keeps the API's clients away from it."""
    multiprocess_directory: Path | None = None
    """With several workers, the directory where each worker writes its figures for the others
    (prometheus_client's multiprocess mode); emptied when the gateway starts. One directory per
    gateway instance, on a memory file system where possible (a Kubernetes `emptyDir` with
    `medium: Memory`). Unset: a new temporary directory, removed at exit."""
    flush_interval_seconds: Annotated[float, Field(gt=0, le=60)] = 1.0
    """With several workers, how often each one writes its counts and its view of the backends to
    the shared directory. A scrape answered by one worker sees the others' figures this late at most;
    a worker that crashes loses at most this much of its counts."""

    @field_validator("path")
    @classmethod
    def _check_path(cls, value: str) -> str:
        if not value.startswith("/") or value.startswith("/v1/") or value.rstrip("/") == "/v1":
            raise ValueError("must be an absolute path outside /v1, e.g. /metrics")
        return value

    @model_validator(mode="after")
    def _one_way_in(self) -> MetricsConfig:
        if self.token_env is not None and self.allow_anonymous:
            raise ValueError("give either metrics.token_env or metrics.allow_anonymous: true, not both")
        return self

    def scrape_token(self) -> SecretStr | None:
        """The token scrapers must send, or None when none is configured.

        Raises ValueError when `token_env` names a variable that is not set: an endpoint meant to
        be protected must not open silently."""
        if self.token_env is None:
            return None
        value = os.environ.get(self.token_env)
        if not value:
            raise ValueError(f"metrics.token_env names {self.token_env}, which is not set or empty")
        return SecretStr(value)
