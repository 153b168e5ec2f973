"""Where the store's Redis is, from the `store` section: its URL, its topology, its secrets.

Kept apart from `redis_client.py` so that reading the configuration never imports redis-py: the three
Redis stores' factories call `redis_target`, then hand the result to `connect_redis`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from gateway.identity.credentials import read_secret
from gateway.identity.errors import CredentialError
from gateway.storage.settings import RedisMode, StoreConfig, split_address

__all__ = ["STANDALONE", "RedisTarget", "RedisTopology", "redis_target"]


@dataclass(frozen=True)
class RedisTopology:
    """How the servers behind a store's URL are arranged. Standalone needs nothing more than the URL."""

    mode: RedisMode = "standalone"
    sentinels: tuple[tuple[str, int], ...] = ()
    """Sentinel mode: (host, port) of every Sentinel."""
    sentinel_master: str = ""
    """Sentinel mode: the name the Sentinels know the master by."""
    sentinel_password: str | None = field(default=None, repr=False)
    """Sentinel mode: the Sentinels' own password, if they have one."""
    cluster_nodes: tuple[tuple[str, int], ...] = ()
    """Cluster mode: (host, port) of startup nodes, besides the URL's host."""


STANDALONE = RedisTopology()


@dataclass(frozen=True)
class RedisTarget:
    """Everything `connect_redis` needs, secrets included (left out of the repr, so never logged)."""

    url: str
    password: str | None = field(default=None, repr=False)
    topology: RedisTopology = STANDALONE


def _secret(setting: str, variable: str, environ: Mapping[str, str] | None) -> str:
    value = read_secret(variable, environ)
    if value is None:
        raise CredentialError(f"store.{setting} names {variable}, but neither it nor {variable}_FILE is set")
    return value


def redis_target(store: StoreConfig, environ: Mapping[str, str] | None = None) -> RedisTarget:
    """The Redis of a `kind: redis` store section, its secrets read from the environment (or the files
    `<NAME>_FILE` name). Raises CredentialError when a variable the section names is unset."""
    password = None if store.password_env is None else _secret("password_env", store.password_env, environ)
    sentinel_password = None
    if store.sentinel_password_env is not None:
        sentinel_password = _secret("sentinel_password_env", store.sentinel_password_env, environ)
    topology = RedisTopology(
        mode=store.redis_mode,
        sentinels=tuple(split_address(address) for address in store.sentinels),
        sentinel_master=store.sentinel_master or "",
        sentinel_password=sentinel_password,
        cluster_nodes=tuple(split_address(address) for address in store.cluster_nodes),
    )
    # Sentinel and cluster modes may leave the URL out: then plain TCP, no user, database 0.
    return RedisTarget(url=store.url or "redis://", password=password, topology=topology)
