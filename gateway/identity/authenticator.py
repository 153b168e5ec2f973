"""From an `Authorization` header to a `Principal`, without a store round trip in the steady state.

A bearer JWT from an issuer of `auth.jwt_issuers` is checked by `gateway.oidc.BearerTokens` instead
(its keys cached there), with the same limit on failures per address; everything else is an API key.

Each worker caches key records by id, filled on first use. The checks that make a key valid run on
every request against the cached record: the HMAC of the presented key, expiry, revocation. The
cache is kept true by the store's change subscription (a revocation anywhere drops the record
everywhere within a second), not by a lifetime; `cache_max_age` only bounds the damage of a failure
nobody noticed. While the store cannot promise to deliver changes (`changes_live` is False), every
request reads the store.

Unknown key ids are remembered for a few seconds in a bounded table, so a client retrying with a
deleted key does not turn into one store read per request; a key created meanwhile is announced as a
change and forgotten there at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import ipaddress
import logging
import time
from collections.abc import Callable, Mapping

from gateway.identity.credentials import AdminKey
from gateway.identity.errors import (
    AuthenticationFailed,
    AuthenticationUnavailable,
    KeyStoreError,
    TooManyFailedAttempts,
)
from gateway.identity.keys import Pepper, display_prefix, parse_key
from gateway.identity.limiter import FailureLimiter
from gateway.identity.records import KeyRecord, Principal
from gateway.identity.store import KeyStore
from gateway.oidc.bearer import BearerTokens, looks_like_jwt
from gateway.oidc.errors import ProviderUnavailable, TokenRejected

__all__ = ["BOOTSTRAP_ADMIN", "Authenticator", "presented_authorization"]

logger = logging.getLogger("gateway.identity")

_SHOWN_CHARACTERS = 64


def shown_address(address: str) -> str:
    """A client address as the log shows it: an IP address as it is; anything else quoted, escaped and
    cut. Behind a trusted proxy the address is text from a header, which must neither break the line
    (obs-text such as U+0085 is a line break to some log readers) nor pass for more of it."""
    try:
        ipaddress.ip_address(address)
    except ValueError:
        cut = address[:_SHOWN_CHARACTERS]
        return ascii(cut) + ("..." if len(address) > len(cut) else "")
    return address


def presented_authorization(headers: Mapping[str, str], key_header: str | None = None) -> str | None:
    """The request's `Authorization` value; without one, the key sent bare in `key_header` (Anthropic's
    SDKs send `x-api-key`) as a bearer token, so that both take the same checks, the same failure
    limiter and the same logs, which never show a key."""
    authorization = headers.get("authorization")
    if authorization is None and key_header is not None:
        key = headers.get(key_header)
        if key is not None:
            return "Bearer " + key
    return authorization


BOOTSTRAP_ADMIN = Principal(key_id="bootstrap-admin", department="*", service="platform", roles=("admin",))


class _Cached:
    """One cached record with what the hot path needs already computed."""

    __slots__ = ("digest", "expires", "loaded_at", "principal", "revoked")

    def __init__(self, record: KeyRecord, loaded_at: float) -> None:
        self.digest = bytes.fromhex(record.hash)
        self.expires = record.expires
        self.revoked = record.revoked is not None
        self.principal = record.principal()
        self.loaded_at = loaded_at


class Authenticator:
    """Authenticates requests for one worker. `start()` subscribes to key changes; `close()` stops."""

    def __init__(
        self,
        store: KeyStore,
        pepper: Pepper,
        *,
        admin_key: AdminKey | None = None,
        limiter: FailureLimiter | None = None,
        cache_max_age: float = 60.0,
        negative_ttl: float = 10.0,
        negative_max_entries: int = 10_000,
        touch_interval: float = 60.0,
        flush_interval: float = 5.0,
        keep_cache_during_outage: bool = False,
        bearer_tokens: BearerTokens | None = None,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._bearer_tokens = bearer_tokens
        # fail_open deployments: keys already checked keep working while the store is unreachable.
        # No key can be revoked meanwhile (revocations go through the store), and the cache is
        # flushed as soon as the change subscription is back.
        self._keep_cache_during_outage = keep_cache_during_outage
        self._pepper = pepper
        self._admin_key = admin_key.reveal().encode("ascii") if admin_key is not None else None
        self._limiter = limiter if limiter is not None else FailureLimiter()
        self._cache_max_age = cache_max_age
        self._negative_ttl = negative_ttl
        self._negative_max = negative_max_entries
        self._touch_interval = touch_interval
        self._flush_interval = flush_interval
        self._clock = clock
        self._monotonic = monotonic

        self._cache: dict[str, _Cached] = {}
        self._negative: dict[str, float] = {}  # key id -> monotonic time until which it is unknown
        self._loading: dict[str, asyncio.Task[KeyRecord | None]] = {}
        # Bumped by every invalidation: a load that started before one must not fill the cache.
        self._generation = 0
        self._last_touch: dict[str, float] = {}
        self._pending_touches: dict[str, int] = {}
        self._flusher: asyncio.Task[None] | None = None

    def __repr__(self) -> str:
        return f"Authenticator(store={self._store!r}, cached={len(self._cache)})"

    # -- lifecycle ----------------------------------------------------------------------------------

    async def start(self) -> None:
        await self._store.subscribe_changes(self.invalidate)
        if self._flusher is None:
            self._flusher = asyncio.create_task(self._flush_loop(), name="gateway-key-last-used")

    async def close(self) -> None:
        if self._flusher is not None:
            self._flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._flusher
            self._flusher = None
        await self.flush_touches()

    # -- the hot path -------------------------------------------------------------------------------

    async def authenticate(self, authorization: str | None, client_address: str) -> Principal:
        """The caller's principal, or `AuthenticationFailed` (401), `TooManyFailedAttempts` (429),
        `AuthenticationUnavailable` (503, the store failed on a key not in the cache)."""
        blocked_for = self._limiter.retry_after(client_address)
        if blocked_for:
            raise TooManyFailedAttempts(blocked_for)
        if authorization is None:
            raise self._failure(client_address, "no authorization header")
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer":
            raise self._failure(client_address, "not a bearer token")
        token = token.strip()
        admin = self._admin_key
        if admin is not None and len(token) == len(admin) and hmac.compare_digest(token.encode(), admin):
            return BOOTSTRAP_ADMIN
        if self._bearer_tokens is not None and looks_like_jwt(token):
            try:
                return await self._bearer_tokens.principal(token)
            except TokenRejected as exc:
                raise self._failure(client_address, f"bearer JWT refused: {exc.reason}") from None
            except ProviderUnavailable:
                raise AuthenticationUnavailable() from None  # fail closed; jwks.py logged the cause
        parsed = parse_key(token)
        if parsed is None:
            raise self._failure(client_address, "malformed key")
        key_id = parsed[0]

        now = self._monotonic()
        cached = self._cache.get(key_id)
        if cached is None or now - cached.loaded_at > self._cache_max_age:
            try:
                cached = await self._load(key_id, client_address)
            except AuthenticationUnavailable:
                if cached is None or not self._keep_cache_during_outage:
                    raise
        if not hmac.compare_digest(self._pepper.digest(token.encode()), cached.digest):
            raise self._failure(client_address, "wrong secret", key_id)
        if cached.revoked:
            raise self._failure(client_address, "revoked key", key_id)
        if cached.expires is not None and self._clock() >= cached.expires:
            raise self._failure(client_address, "expired key", key_id)
        last_touch = self._last_touch.get(key_id)
        if last_touch is None or now - last_touch >= self._touch_interval:
            # Only noted here; the background loop writes it, off the request's path.
            self._last_touch[key_id] = now
            self._pending_touches[key_id] = int(self._clock())
        return cached.principal

    def _failure(self, address: str, reason: str, key_id: str | None = None) -> AuthenticationFailed:
        blocked = self._limiter.record_failure(address)
        if logger.isEnabledFor(logging.DEBUG):
            shown = shown_address(address)
            if key_id is None:
                logger.debug("authentication failed from %s: %s", shown, reason)
            else:
                logger.debug("authentication failed from %s: %s (%s)", shown, reason, display_prefix(key_id))
        if blocked:
            logger.warning(
                "refusing %s for %.0f s: %d failed authentications within %.0f s",
                shown_address(address),
                self._limiter.block_seconds,
                self._limiter.max_failures,
                self._limiter.window,
            )
        return AuthenticationFailed(reason)

    # -- cache misses -------------------------------------------------------------------------------

    async def _load(self, key_id: str, address: str) -> _Cached:
        now = self._monotonic()
        unknown_until = self._negative.get(key_id)
        if unknown_until is not None:
            if unknown_until > now:
                raise self._failure(address, "unknown key id", key_id)
            del self._negative[key_id]

        generation = self._generation
        task = self._loading.get(key_id)
        if task is None:
            # One read per key id, however many requests wait for it.
            task = asyncio.ensure_future(self._store.get(key_id))
            self._loading[key_id] = task
            task.add_done_callback(lambda done: self._loaded(key_id, done))
        try:
            record = await asyncio.shield(task)
        except KeyStoreError as exc:
            logger.warning("cannot check key %s: %s", display_prefix(key_id), exc)
            raise AuthenticationUnavailable() from None

        # Cache only what no invalidation may have overtaken, and only while invalidations arrive.
        cacheable = generation == self._generation and self._store.changes_live
        if record is None:
            if cacheable and self._negative_ttl > 0:
                self._remember_unknown(key_id, now)
            raise self._failure(address, "unknown key id", key_id)
        cached = _Cached(record, now)
        if cacheable:
            self._cache[key_id] = cached
        return cached

    def _loaded(self, key_id: str, task: asyncio.Task[KeyRecord | None]) -> None:
        if self._loading.get(key_id) is task:
            del self._loading[key_id]
        if not task.cancelled():
            task.exception()  # retrieved here, so that a load nobody awaits any more logs nothing

    def _remember_unknown(self, key_id: str, now: float) -> None:
        negative = self._negative
        if len(negative) >= self._negative_max:
            for stale in [k for k, until in negative.items() if until <= now]:
                del negative[stale]
            while len(negative) >= self._negative_max:
                del negative[next(iter(negative))]  # the oldest entry
        negative[key_id] = now + self._negative_ttl

    def invalidate(self, key_id: str | None) -> None:
        """Forget `key_id` (None: everything). The store's change subscription calls this."""
        self._generation += 1
        if key_id is None:
            if self._keep_cache_during_outage and not self._store.changes_live:
                self._negative.clear()  # the outage begins: known keys stay, unknown ones are asked again
                return
            self._cache.clear()
            self._negative.clear()
        else:
            self._cache.pop(key_id, None)
            self._negative.pop(key_id, None)

    # -- last use -----------------------------------------------------------------------------------

    async def flush_touches(self) -> None:
        """Write the pending last-use times to the store (the background loop does it regularly)."""
        pending, self._pending_touches = self._pending_touches, {}
        for key_id, when in pending.items():
            try:
                await self._store.touch(key_id, when)
            except KeyStoreError as exc:
                logger.debug("cannot record the last use of %s: %s", display_prefix(key_id), exc)
        # Keys no longer in the cache (revoked, or not used for a while) need no throttling entry.
        if len(self._last_touch) > 2 * len(self._cache) + 1024:
            self._last_touch = {k: v for k, v in self._last_touch.items() if k in self._cache}

    async def _flush_loop(self) -> None:
        while True:
            await asyncio.sleep(self._flush_interval)
            await self.flush_touches()
