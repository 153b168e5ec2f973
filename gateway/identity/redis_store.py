"""The Redis key store: keys shared by every worker and replica, changes broadcast at once.

Layout, with the default prefix `sgw`:

    sgw:key:{<id>}                    hash: one key record (absent fields are None)
    sgw:keys:department:<department>  set of key ids, for listing one department
    sgw:keys:all                      set of every key id, for listing them all
    sgw:keys:changed                  pub/sub channel: the id of every created or revoked key
    sgw:session:ended:<id>            a console session signed out, until it would have expired

Every command touches one key (the Lua scripts too), so the layout works on Redis Cluster as is; the
`{<id>}` hash tag lets later per-key data (budgets) share that key's slot. The two sets are written
and read in pipelines without a transaction, which a Cluster client splits by node. On a Cluster,
PUBLISH reaches the subscribers of every node, so each process subscribes on whichever node it is
given.

Each process subscribes to the channel: a revocation reaches every cache within a second. A
subscription that is lost, or silent for three heartbeats, is reported as "changes may have been
missed" and `changes_live` turns False until it is back, so caches flush and stop serving records
they can no longer trust.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Iterator, Mapping
from typing import Any

import msgspec
from redis.exceptions import RedisError

from gateway.identity.errors import DuplicateKeyId, KeyStoreError
from gateway.identity.records import KeyRecord
from gateway.identity.store import ChangeCallback, KeyRecords, KeyStore
from gateway.storage.redis_client import RedisClient, connect_redis, open_pubsub
from gateway.storage.redis_target import STANDALONE, RedisTopology

__all__ = ["RedisKeyStore"]

logger = logging.getLogger("gateway.identity")

_encode_roles = msgspec.json.Encoder().encode
_decode_roles = msgspec.json.Decoder(tuple[str, ...]).decode

# Create only if absent: a plain HSET would merge into an existing record.
_CREATE = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV))
return 1
"""
# -1: no such key, 0: already revoked, 1: revoked now. HSET on a missing key would create a stub.
_REVOKE = """
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
return redis.call('HSETNX', KEYS[1], 'revoked', ARGV[1])
"""
_TOUCH = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local current = tonumber(redis.call('HGET', KEYS[1], 'last_used') or '0')
if tonumber(ARGV[1]) > current then redis.call('HSET', KEYS[1], 'last_used', ARGV[1]) end
return 1
"""


def _text(value: Any) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def _optional_int(fields: Mapping[str, str], name: str) -> int | None:
    value = fields.get(name)
    return None if value is None or value == "" else int(value)


def _record(raw: Mapping[Any, Any]) -> KeyRecord | None:
    if not raw:
        return None
    fields = {_text(name): _text(value) for name, value in raw.items()}
    try:
        return KeyRecord(
            id=fields["id"],
            prefix=fields["prefix"],
            hash=fields["hash"],
            department=fields["department"],
            service=fields["service"],
            roles=_decode_roles(fields["roles"]),
            label=fields.get("label", ""),
            created=int(fields["created"]),
            expires=_optional_int(fields, "expires"),
            revoked=_optional_int(fields, "revoked"),
            last_used=_optional_int(fields, "last_used"),
        )
    except (KeyError, ValueError, msgspec.DecodeError) as exc:
        raise KeyStoreError(f"malformed key record {fields.get('id', '?')} in Redis: {exc!r}") from None


def _fields(record: KeyRecord) -> list[str | int]:
    fields: list[str | int] = [
        "id",
        record.id,
        "prefix",
        record.prefix,
        "hash",
        record.hash,
        "department",
        record.department,
        "service",
        record.service,
        "roles",
        _encode_roles(record.roles).decode("utf-8"),
        "label",
        record.label,
        "created",
        record.created,
    ]
    for name in ("expires", "revoked", "last_used"):
        value = getattr(record, name)
        if value is not None:
            fields += [name, value]
    return fields


@contextlib.contextmanager
def _mapped_errors(action: str) -> Iterator[None]:
    try:
        yield
    except (RedisError, OSError) as exc:
        raise KeyStoreError(f"Redis key store: cannot {action}: {type(exc).__name__}: {exc}") from exc


class RedisKeyStore(KeyStore):
    """Keys in Redis. `from_url` builds its own client; the constructor takes one (and closes it)."""

    def __init__(self, client: RedisClient, *, prefix: str = "sgw", heartbeat: float = 1.0) -> None:
        self._client = client
        self._prefix = prefix
        self._heartbeat = heartbeat
        self.channel = f"{prefix}:keys:changed"
        self._all = f"{prefix}:keys:all"
        self._create_script = client.register_script(_CREATE)
        self._revoke_script = client.register_script(_REVOKE)
        self._touch_script = client.register_script(_TOUCH)
        self._callbacks: list[ChangeCallback] = []
        self._listener: asyncio.Task[None] | None = None
        self._subscribed = asyncio.Event()
        self._live = False
        self._warned = False  # about a subscription that never came up: once is enough
        self._closed = False

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        password: str | None = None,
        prefix: str = "sgw",
        timeout: float = 2.0,
        heartbeat: float = 1.0,
        topology: RedisTopology = STANDALONE,
    ) -> RedisKeyStore:
        client = connect_redis(
            url, password=password, timeout=timeout, client_name="sovereign-gateway", topology=topology
        )
        return cls(client, prefix=prefix, heartbeat=heartbeat)

    def __repr__(self) -> str:
        return f"RedisKeyStore(prefix={self._prefix!r})"

    def _key(self, key_id: str) -> str:
        return f"{self._prefix}:key:{{{key_id}}}"

    def _ended_session(self, session_id: str) -> str:
        return f"{self._prefix}:session:ended:{session_id}"

    def _department(self, department: str) -> str:
        return f"{self._prefix}:keys:department:{department}"

    # -- KeyStore ---------------------------------------------------------------------------------

    async def create(self, record: KeyRecord) -> None:
        with _mapped_errors("create a key"):
            created = await self._create_script(keys=[self._key(record.id)], args=_fields(record))
            if not created:
                raise DuplicateKeyId(f"a key with id {record.id} already exists")
            # The record is usable from here; the sets only serve listings.
            async with self._client.pipeline(transaction=False) as pipe:
                pipe.sadd(self._department(record.department), record.id)
                pipe.sadd(self._all, record.id)
                await pipe.execute()
            await self._announce(record.id)

    async def end_session(self, session_id: str, until: int) -> None:
        # Redis forgets it when the session would have expired anyway.
        seconds = until - int(time.time())
        if seconds <= 0:
            return
        with _mapped_errors("end a console session"):
            await self._client.set(self._ended_session(session_id), b"1", ex=seconds)

    async def session_ended(self, session_id: str) -> bool:
        with _mapped_errors("check a console session"):
            return bool(await self._client.exists(self._ended_session(session_id)))

    async def get(self, key_id: str) -> KeyRecord | None:
        with _mapped_errors("read a key"):
            raw = await self._client.hgetall(self._key(key_id))
        return _record(raw)

    async def list(self, department: str | None = None) -> KeyRecords:
        index = self._all if department is None else self._department(department)
        with _mapped_errors("list keys"):
            ids = sorted(_text(key_id) for key_id in await self._client.smembers(index))
            async with self._client.pipeline(transaction=False) as pipe:
                for key_id in ids:
                    pipe.hgetall(self._key(key_id))
                rows = await pipe.execute()
        records = [record for row in rows if (record := _record(row)) is not None]
        records.sort(key=lambda record: (record.created, record.id))
        return records

    async def revoke(self, key_id: str, at: int) -> bool:
        with _mapped_errors("revoke a key"):
            outcome = int(await self._revoke_script(keys=[self._key(key_id)], args=[at]))
            if outcome >= 0:
                # Announced even if it was already revoked: a cache that missed the first
                # announcement gets another chance.
                await self._announce(key_id)
        return outcome == 1

    async def touch(self, key_id: str, when: int) -> None:
        with _mapped_errors("record a key's use"):
            await self._touch_script(keys=[self._key(key_id)], args=[when])

    async def _announce(self, key_id: str) -> None:
        try:
            await self._client.publish(self.channel, key_id)
        except (RedisError, OSError):
            await asyncio.sleep(0.1)
            await self._client.publish(self.channel, key_id)

    # -- change notification ----------------------------------------------------------------------

    async def subscribe_changes(self, callback: ChangeCallback) -> None:
        self._callbacks.append(callback)
        if self._listener is None:
            self._listener = asyncio.create_task(self._listen(), name="gateway-key-changes")
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(max(2.0, 2 * self._heartbeat)):
                await self._subscribed.wait()

    @property
    def changes_live(self) -> bool:
        return self._live

    def _notify(self, key_id: str | None) -> None:
        for callback in self._callbacks:
            try:
                callback(key_id)
            except Exception:
                logger.exception("a key change subscriber failed")

    def _lost(self, reason: str) -> None:
        if self._live:
            logger.warning(
                "lost the key change subscription (%s); key caches disabled until it is back", reason
            )
            self._live = False
            self._notify(None)
        elif not self._warned:
            logger.warning("cannot subscribe to key changes yet (%s); key caches disabled until then", reason)
        self._warned = True

    async def _listen(self) -> None:
        loop = asyncio.get_running_loop()
        delay = 0.1
        while True:
            pubsub = None
            try:
                pubsub = await open_pubsub(self._client)
                await pubsub.subscribe(self.channel)
                heard = loop.time()
                while True:
                    message = await pubsub.get_message(timeout=self._heartbeat)
                    now = loop.time()
                    if message is None:
                        if now - heard > 3 * self._heartbeat:
                            raise ConnectionError("no answer to the last heartbeats")
                        await pubsub.ping()  # the answer comes back as a "pong" message
                        continue
                    heard = now
                    kind = _text(message.get("type"))
                    if kind == "message":
                        self._notify(_text(message["data"]))
                    elif kind == "subscribe":
                        # First subscription, or redis-py reconnected and subscribed again by itself:
                        # whatever was published in between is lost, so caches start over.
                        if self._live:
                            logger.warning("key change subscription re-established; key caches flushed")
                        else:
                            logger.info("subscribed to key changes on %s", self.channel)
                        self._live = True
                        self._subscribed.set()
                        self._notify(None)
                        delay = 0.1
            except asyncio.CancelledError:
                raise
            except (RedisError, OSError) as exc:
                self._lost(f"{type(exc).__name__}: {exc}")
            finally:
                if pubsub is not None:
                    with contextlib.suppress(RedisError, OSError):
                        await pubsub.aclose()
            await asyncio.sleep(delay)
            delay = min(delay * 2, 1.0)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._live = False
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
            self._listener = None
        with contextlib.suppress(RedisError, OSError):
            await self._client.aclose()
