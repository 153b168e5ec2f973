"""The `store` configuration section: where keys, budgets and usage are kept.

One section for the three of them: the embedded store's SQLite file (usage in a file beside it), or
one Redis, however it is deployed. Secrets are never written here: the section names the environment
variables that hold them (each may instead give a file path in `<NAME>_FILE`, as Kubernetes mounts
Secrets).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

__all__ = ["RedisMode", "StoreConfig", "split_address"]

_ENV_NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)


RedisMode = Literal["standalone", "sentinel", "cluster"]
"""How the Redis of `kind: redis` is deployed (see `StoreConfig.redis_mode`)."""

# host:port, the host a name, an IPv4 address or a bracketed IPv6 address.
_ADDRESS = r"^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.-]+):[0-9]{1,5}$"
Address = Annotated[str, Field(pattern=_ADDRESS)]


def split_address(address: str) -> tuple[str, int]:
    """`"host:port"` -> `("host", port)`; `"[::1]:26379"` -> `("::1", 26379)`."""
    host, _, port = address.rpartition(":")
    return host.removeprefix("[").removesuffix("]"), int(port)


class StoreConfig(_Strict):
    """Where keys, budgets and usage are kept."""

    kind: Literal["embedded", "redis"] = "embedded"
    """`embedded`: a SQLite file on local disk, for one gateway process. `redis`: shared by several
    workers or replicas, with changes (revocations) broadcast to all of them at once."""
    path: Path = Path("data/gateway.db")
    """The SQLite file of the embedded store (relative to the working directory), created with its
    directory if missing. Usage goes to a file beside it (`data/gateway.usage.db`)."""
    redis_mode: RedisMode = "standalone"
    """How that Redis is deployed. `standalone`: one server, at `url`. `sentinel`: a master and its
    replicas watched by Redis Sentinel, which names the master, also after a failover (`sentinels`,
    `sentinel_master`). `cluster`: a Redis Cluster, discovered from `url` and/or `cluster_nodes`."""
    url: str | None = None
    """Redis URL for `kind: redis`: `redis://host:6379/0`, `rediss://` for TLS. Never a password:
    use `password_env`. A user name (Redis ACL) may be given: `redis://gateway@host:6379/0`.
    `sentinel`: optional and without a host (the Sentinels say where the master is), for the scheme,
    user and database only: `rediss://gateway@/0`. `cluster`: one node to discover the cluster from
    (database 0, the only one a cluster has), or without a host next to `cluster_nodes`."""
    password_env: Annotated[str, Field(pattern=_ENV_NAME)] | None = None
    """Environment variable holding the Redis password: the master's and its replicas', or every
    Cluster node's (or `<NAME>_FILE`, a file holding it)."""
    sentinels: tuple[Address, ...] = ()
    """`host:port` of every Sentinel (`redis_mode: sentinel`; `[fd00::1]:26379` for IPv6), asked in
    turn where the master is."""
    sentinel_master: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")] | None = None
    """The name the Sentinels know the master by (`sentinel monitor <name> ...` in their configuration)."""
    sentinel_password_env: Annotated[str, Field(pattern=_ENV_NAME)] | None = None
    """Environment variable holding the Sentinels' own password (their `requirepass`), when they have
    one (or `<NAME>_FILE`). The master's password is `password_env`'s."""
    cluster_nodes: tuple[Address, ...] = ()
    """`host:port` of Cluster nodes to discover the cluster from (`redis_mode: cluster`), besides
    `url`'s: list several, so that one node down at startup does not matter. The other nodes are
    learned from them."""
    prefix: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]{1,32}$")] = "sgw"
    """Prefix of every Redis key and channel, so that several gateways can share one Redis."""
    timeout: Annotated[float, Field(gt=0, le=60)] = 2.0
    """Seconds to connect to Redis or get an answer to one command."""
    require_persistence: bool = False
    """Refuse to start unless the Redis store is seen to persist its data (AOF or RDB on, asked with
    `CONFIG GET`). Either way the gateway checks at start and after Redis comes back or restarts, logs
    a warning naming the risk when it does not persist, and sets `gateway_store_persistent`."""

    @field_validator("url")
    @classmethod
    def _check_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("redis", "rediss", "unix"):
            raise ValueError("must be a redis://, rediss:// or unix:// URL, e.g. redis://127.0.0.1:6379/0")
        if parts.password or "password=" in parts.query:
            raise ValueError(
                "must not contain a password: put it in an environment variable named by password_env"
            )
        return value

    @field_validator("sentinels", "cluster_nodes")
    @classmethod
    def _check_ports(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for address in value:
            if not 0 < split_address(address)[1] < 65536:
                raise ValueError(f"{address}: the port must be between 1 and 65535")
        return value

    @model_validator(mode="after")
    def _check_kind(self) -> StoreConfig:
        sentinel_keys = bool(self.sentinels or self.sentinel_master or self.sentinel_password_env)
        if self.kind == "embedded":
            if self.url or self.password_env or self.redis_mode != "standalone" or sentinel_keys:
                raise ValueError(
                    "url, password_env, redis_mode and the sentinel keys are for kind: redis; "
                    "the embedded store only uses path"
                )
        elif self.redis_mode != "sentinel" and sentinel_keys:
            raise ValueError(
                "sentinels, sentinel_master and sentinel_password_env are for redis_mode: sentinel"
            )
        if self.redis_mode != "cluster" and self.cluster_nodes:
            raise ValueError("cluster_nodes are for redis_mode: cluster (and kind: redis)")
        if self.kind == "redis":
            if self.redis_mode == "standalone":
                self._check_standalone()
            elif self.redis_mode == "sentinel":
                self._check_sentinel()
            else:
                self._check_cluster()
        return self

    def _check_standalone(self) -> None:
        if self.url is None:
            raise ValueError("kind: redis needs a url, e.g. redis://127.0.0.1:6379/0")

    def _check_sentinel(self) -> None:
        if not self.sentinels or self.sentinel_master is None:
            raise ValueError(
                "redis_mode: sentinel needs sentinels (host:port of each Sentinel) and sentinel_master "
                "(the name they know the master by)"
            )
        if self.url is not None:
            parts = urlsplit(self.url)
            if parts.scheme == "unix" or parts.hostname or parts.port:
                raise ValueError(
                    "with redis_mode: sentinel the url names no server, the Sentinels say where the master "
                    "is: give only the scheme, user and database, e.g. rediss://gateway@/0, or no url"
                )

    def _check_cluster(self) -> None:
        parts = urlsplit(self.url or "")
        if parts.scheme == "unix":
            raise ValueError(
                "redis_mode: cluster reaches its nodes over TCP: give a redis:// or rediss:// url"
            )
        if not parts.hostname and not self.cluster_nodes:
            raise ValueError(
                "redis_mode: cluster needs a node to discover the cluster from: a url with a host "
                "(redis://node-1:6379) or cluster_nodes (host:port of some nodes)"
            )
        if parts.path.strip("/") not in ("", "0"):
            raise ValueError("a Redis Cluster has only database 0: end the url with /0 or nothing")

    def pepper_file(self) -> Path:
        """Where the embedded store keeps a generated pepper when none is given: next to the database."""
        return self.path.with_suffix(".pepper")
