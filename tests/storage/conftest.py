"""Fixtures: a private redis-server for the storage plumbing's tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.redis_server import running_redis


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """One private redis-server for the session; tests keep apart by using their own keys."""
    with running_redis() as url:
        yield url
