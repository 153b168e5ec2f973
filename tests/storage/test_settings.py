"""The `store` configuration section: its defaults, and what it refuses (with the reason)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from gateway.storage import StoreConfig


def test_defaults() -> None:
    store = StoreConfig()
    assert store.kind == "embedded" and store.path == Path("data/gateway.db")
    assert store.pepper_file() == Path("data/gateway.pepper")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"kind": "redis"}, "needs a url"),
        ({"kind": "redis", "url": "http://127.0.0.1:6379"}, "redis://"),
        ({"kind": "redis", "url": "redis://:hunter2@127.0.0.1:6379/0"}, "must not contain a password"),
        (
            {"kind": "redis", "url": "redis://127.0.0.1:6379/0?password=hunter2"},
            "must not contain a password",
        ),
        ({"kind": "embedded", "url": "redis://127.0.0.1:6379/0"}, "are for kind: redis"),
        ({"kind": "redis", "url": "redis://h", "password_env": "not a name"}, "pattern"),
        ({"kind": "memcached"}, "embedded"),
        ({"pth": "x.db"}, "Extra inputs"),
    ],
)
def test_store_config_errors(data: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message) as caught:
        StoreConfig.model_validate(data)
    assert "hunter2" not in str(caught.value).split("input_value")[0]


def test_store_config_accepts_a_redis_user_and_a_password_variable() -> None:
    config = StoreConfig(
        kind="redis", url="rediss://gateway@redis.internal:6380/1", password_env="REDIS_PASSWORD"
    )
    assert config.url == "rediss://gateway@redis.internal:6380/1"
