"""The `auth` configuration section, and the pepper and key store it and the `store` section give."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from gateway.identity import AuthConfig, CredentialError, open_key_store, pepper_for
from gateway.identity.embedded import EmbeddedKeyStore
from gateway.storage import StoreConfig


def test_defaults() -> None:
    auth = AuthConfig()
    assert auth.pepper_env == "GATEWAY_KEY_PEPPER" and auth.admin_key_env == "GATEWAY_ADMIN_KEY"
    assert auth.failed_auth_per_minute == 20


@pytest.mark.parametrize(
    "data",
    [{"failed_auth_per_minute": 0}, {"pepper_env": "1BAD"}, {"cache_max_age_seconds": 0}, {"extra": 1}],
)
def test_auth_config_errors(data: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        AuthConfig.model_validate(data)


def test_redis_store_requires_a_pepper() -> None:
    store = StoreConfig(kind="redis", url="redis://127.0.0.1:6379/0")
    with pytest.raises(CredentialError, match="set GATEWAY_KEY_PEPPER or GATEWAY_KEY_PEPPER_FILE"):
        pepper_for(store, AuthConfig(), environ={})


def test_embedded_store_generates_its_pepper_next_to_the_database(tmp_path: Path) -> None:
    store = StoreConfig(path=tmp_path / "state" / "gateway.db")
    pepper = pepper_for(store, AuthConfig(), environ={})
    assert (tmp_path / "state" / "gateway.pepper").is_file()
    assert pepper_for(store, AuthConfig(), environ={}) == pepper


@pytest.mark.asyncio
async def test_open_key_store(tmp_path: Path, redis_url: str) -> None:
    embedded = await open_key_store(StoreConfig(path=tmp_path / "gateway.db"))
    assert isinstance(embedded, EmbeddedKeyStore)
    await embedded.close()
    redis_config = StoreConfig(kind="redis", url=redis_url, password_env="TEST_REDIS_PASSWORD")
    with pytest.raises(CredentialError, match="TEST_REDIS_PASSWORD"):
        await open_key_store(redis_config, environ={})
    store = await open_key_store(StoreConfig(kind="redis", url=redis_url, prefix="settings-test"))
    try:
        assert await store.list() == []
    finally:
        await store.close()
