"""From the `store` and `auth` configuration sections to working objects."""

from __future__ import annotations

from collections.abc import Mapping

from gateway.identity.authenticator import Authenticator
from gateway.identity.credentials import AdminKey, load_admin_key, load_pepper
from gateway.identity.keys import Pepper
from gateway.identity.limiter import FailureLimiter
from gateway.identity.settings import AuthConfig
from gateway.identity.store import KeyStore
from gateway.oidc.bearer import BearerTokens
from gateway.storage import StoreConfig

__all__ = ["admin_key_for", "build_authenticator", "open_key_store", "pepper_for"]


async def open_key_store(config: StoreConfig, environ: Mapping[str, str] | None = None) -> KeyStore:
    """Open the configured store; the caller closes it."""
    if config.kind == "embedded":
        from gateway.identity.embedded import EmbeddedKeyStore

        return await EmbeddedKeyStore.open(config.path)

    # Imported here: `gateway config check` and the embedded store have no use for redis-py.
    from gateway.identity.redis_store import RedisKeyStore
    from gateway.storage.redis_target import redis_target

    target = redis_target(config, environ)
    return RedisKeyStore.from_url(
        target.url,
        password=target.password,
        topology=target.topology,
        prefix=config.prefix,
        timeout=config.timeout,
    )


def pepper_for(store: StoreConfig, auth: AuthConfig, environ: Mapping[str, str] | None = None) -> Pepper:
    """The pepper; generated next to the database for the embedded store only (see `load_pepper`)."""
    generated = store.pepper_file() if store.kind == "embedded" else None
    return load_pepper(auth.pepper_env, generated_file=generated, environ=environ)


def build_authenticator(
    store: KeyStore,
    auth: AuthConfig,
    pepper: Pepper,
    admin_key: AdminKey | None = None,
    *,
    keep_cache_during_outage: bool = False,
    bearer_tokens: BearerTokens | None = None,
) -> Authenticator:
    """An authenticator for one worker; call `await authenticator.start()` on the worker's loop."""
    limiter = FailureLimiter(
        auth.failed_auth_per_minute,
        window=60.0,
        block_seconds=auth.failed_auth_block_seconds,
        max_addresses=auth.failed_auth_max_addresses,
    )
    return Authenticator(
        store,
        pepper,
        admin_key=admin_key,
        limiter=limiter,
        cache_max_age=auth.cache_max_age_seconds,
        negative_ttl=auth.unknown_key_cache_seconds,
        touch_interval=auth.last_used_interval_seconds,
        keep_cache_during_outage=keep_cache_during_outage,
        bearer_tokens=bearer_tokens,
    )


def admin_key_for(auth: AuthConfig, environ: Mapping[str, str] | None = None) -> AdminKey | None:
    return load_admin_key(auth.admin_key_env, environ)
