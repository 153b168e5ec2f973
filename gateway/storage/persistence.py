"""Whether the Redis that holds keys, budgets and usage keeps them on disk.

A Redis without persistence (no AOF, no RDB snapshots) loses everything when it restarts: every API
key, every budget counter, every usage record not yet exported. Measured: a restart of such a Redis
lost every key and 795 of 2,001 usage records written in the minutes before. Nothing about it shows
until then, so the gateway asks Redis (`CONFIG GET appendonly`, `CONFIG GET save`) at start-up and
again whenever Redis comes back after being unreachable or was restarted in between (its `run_id`
changed), and:

- logs a warning naming the risk when neither AOF nor RDB is on (or when Redis refuses `CONFIG`,
  e.g. a managed Redis: then nothing is known, which is said too);
- sets `gateway_store_persistent` (1 persisted, 0 not, -1 unknown) for an alert;
- refuses to start when `store.require_persistence` is set and persistence is not confirmed.

On Redis Cluster every primary is asked; the store persists only if they all do. The embedded store
writes SQLite on local disk: it persists by construction, and nothing is checked.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping
from typing import Any, Literal

from gateway.storage.settings import StoreConfig

__all__ = ["Persistence", "PersistenceWatch", "StoreNotPersistent", "persistence_of"]

logger = logging.getLogger("gateway.storage")

Persistence = Literal["aof", "rdb", "aof+rdb", "none", "unknown"]

RISK = (
    "a restart of Redis loses every API key, budget counter and usage record it holds: "
    "turn on AOF (appendonly yes) or RDB snapshots (save), see docs/operations.md"
)


class StoreNotPersistent(RuntimeError):
    """`store.require_persistence` is set and the Redis store does not (or cannot be seen to) persist."""


def persistence_of(appendonly: Any, save: Any) -> Persistence:
    """From `CONFIG GET appendonly` and `CONFIG GET save` values (`yes`/`no`, `""` or `3600 1 ...`)."""
    aof = str(appendonly).strip().lower() == "yes"
    rdb = bool(str(save).strip())
    if aof and rdb:
        return "aof+rdb"
    if aof:
        return "aof"
    return "rdb" if rdb else "none"


def _value(reply: Any, name: str) -> Any:
    if isinstance(reply, dict):
        for key, value in reply.items():
            if (key.decode() if isinstance(key, bytes) else str(key)) == name:
                return value.decode() if isinstance(value, bytes) else value
    return ""


async def _ask(client: Any) -> tuple[Persistence, str]:
    """The store's persistence, and an identity of the server(s) that changes when one restarts."""
    from redis.asyncio.cluster import RedisCluster

    if isinstance(client, RedisCluster):
        found: list[Persistence] = []
        ids: list[str] = []
        await client.initialize()  # the nodes are known once it has connected (a no-op after)
        for node in client.get_primaries():
            appendonly = await client.config_get("appendonly", target_nodes=node)
            save = await client.config_get("save", target_nodes=node)
            found.append(persistence_of(_value(appendonly, "appendonly"), _value(save, "save")))
            info = await client.info("server", target_nodes=node)
            ids.append(str(info.get("run_id", "")))
        worst: Persistence = "unknown" if not found else "none" if "none" in found else found[0]
        return worst, ",".join(sorted(ids))
    appendonly = await client.config_get("appendonly")
    save = await client.config_get("save")
    info = await client.info("server")
    return persistence_of(_value(appendonly, "appendonly"), _value(save, "save")), str(info.get("run_id", ""))


class PersistenceWatch:
    """Checks the Redis store's persistence at start and after each reconnection or restart."""

    def __init__(
        self,
        client: Any,
        *,
        required: bool,
        interval: float = 10.0,
        report: Callable[[int], None] | None = None,
    ) -> None:
        self._client = client
        self._required = required
        self._interval = interval
        self._report = report or (lambda value: None)
        self._task: asyncio.Task[None] | None = None
        self._server = ""
        self._reachable = True
        self.persistence: Persistence = "unknown"
        self.checks = 0
        """How many times persistence was asked (start, reconnections, restarts)."""

    @classmethod
    def for_store(
        cls,
        store: StoreConfig,
        environ: Mapping[str, str] | None = None,
        *,
        report: Callable[[int], None] | None = None,
        interval: float = 10.0,
    ) -> PersistenceWatch:
        from gateway.storage.redis_client import connect_redis
        from gateway.storage.redis_target import redis_target

        target = redis_target(store, environ)
        client = connect_redis(
            target.url,
            password=target.password,
            timeout=store.timeout,
            client_name="sovereign-gateway-persistence",
            max_connections=2,
            topology=target.topology,
        )
        return cls(client, required=store.require_persistence, interval=interval, report=report)

    async def check(self, *, starting: bool = False) -> Persistence:
        """Ask Redis now; log, report and (when starting with `required`) refuse what it answers."""
        from redis.exceptions import RedisError, ResponseError

        self.checks += 1
        try:
            persistence, server = await _ask(self._client)
        except ResponseError as exc:  # CONFIG refused (renamed, ACL, managed Redis)
            persistence, server = "unknown", self._server
            logger.warning(
                "cannot tell whether the Redis store persists its data (CONFIG GET refused: %s); if it "
                "does not, %s",
                exc,
                RISK,
            )
        except (RedisError, OSError) as exc:
            if starting and self._required:
                raise StoreNotPersistent(
                    f"store.require_persistence is set and the Redis store cannot be reached to check it: {exc}"
                ) from exc
            # Unreachable now (the stores have their own outage handling): checked when it answers.
            logger.warning("cannot check the Redis store's persistence now (%s); will when it answers", exc)
            self._reachable = False
            return self.persistence
        else:
            if persistence == "none":
                logger.warning("the Redis store has no persistence (neither AOF nor RDB): %s", RISK)
            else:
                logger.info("the Redis store persists its data (%s)", persistence)
        self.persistence, self._server = persistence, server
        self._report({"none": 0, "unknown": -1}.get(persistence, 1))
        if starting and self._required and persistence in ("none", "unknown"):
            raise StoreNotPersistent(
                f"store.require_persistence is set and the Redis store's persistence is {persistence}: {RISK}"
            )
        return persistence

    def start(self) -> None:
        """Watch in the background for reconnections and restarts."""
        if self._task is None:
            self._task = asyncio.create_task(self._watch(), name="gateway-store-persistence")

    async def _watch(self) -> None:
        from redis.exceptions import RedisError

        while True:
            await asyncio.sleep(self._interval)
            try:
                persistence, server = await _ask(self._client)
            except (RedisError, OSError):
                self._reachable = False  # down: checked again, and said, when it answers
                continue
            except Exception:  # a watcher must not die of an unexpected reply
                logger.exception("checking the Redis store's persistence failed")
                continue
            if not self._reachable or server != self._server:
                # Back after an outage, or restarted in between (a new run_id): say it again.
                self._reachable = True
                with contextlib.suppress(Exception):
                    await self.check()
                continue
            if persistence != self.persistence:  # changed at run time (CONFIG SET)
                self.persistence = persistence
                self._report({"none": 0, "unknown": -1}.get(persistence, 1))
                if persistence == "none":
                    logger.warning("the Redis store no longer persists its data: %s", RISK)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        with contextlib.suppress(Exception):
            await self._client.aclose()
