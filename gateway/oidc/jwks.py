"""One provider's signing keys (its JWKS), fetched when first needed and kept for a while.

Keys are fetched again when they are older than `max_age`, and sooner when a token names a key id
not in the set (the provider rotated its keys), at most once per `min_refresh` so that made-up key
ids cannot turn into one fetch each (nor, while the provider is down, tokens into calls to it).
When the keys cannot be fetched and the cached ones are too old, or a token names an unknown key,
verification fails closed: `ProviderUnavailable`, a metric (`on_failure`) and a log line naming the
provider and the cause.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

import httpx
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from gateway.oidc.discovery import ProviderMetadata, fetch_json, fetch_metadata
from gateway.oidc.errors import ProviderUnavailable

__all__ = ["ProviderKeys"]

logger = logging.getLogger("gateway.oidc")


class ProviderKeys:
    """The metadata and signing keys of one issuer, for one worker."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        name: str,
        issuer: str,
        *,
        max_age: float,
        min_refresh: float,
        on_failure: Callable[[], None] = lambda: None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self.name = name
        self.issuer = issuer
        self._max_age = max_age
        self._min_refresh = min_refresh
        self._on_failure = on_failure
        self._monotonic = monotonic
        self._metadata: ProviderMetadata | None = None
        self._keys: KeySet | None = None
        self._kids: frozenset[str | None] = frozenset()
        self._fetched_at = -float("inf")
        self._attempted_at = -float("inf")
        self._lock = asyncio.Lock()

    def __repr__(self) -> str:
        return f"ProviderKeys({self.name!r}, {self.issuer!r})"

    async def metadata(self) -> ProviderMetadata:
        """The provider's metadata (read once, then kept: its endpoints do not move)."""
        if self._metadata is None:
            async with self._lock:
                if self._metadata is None:
                    try:
                        self._metadata = await fetch_metadata(self._client, self.issuer)
                    except ProviderUnavailable as exc:
                        raise self._failed(str(exc)) from None
        return self._metadata

    async def key_set(self, kid: str | None) -> KeySet:
        """Keys among which one should verify a token naming `kid`; `ProviderUnavailable` when they
        cannot be had (fail closed)."""
        now = self._monotonic()
        fresh = now - self._fetched_at < self._max_age
        if self._keys is not None and fresh and kid in self._kids:
            return self._keys
        recently = now - self._attempted_at < self._min_refresh
        if self._keys is not None and fresh and now - self._attempted_at < self._min_refresh:
            return self._keys  # an unknown kid, asked again too soon: the signature check refuses it
        if self._keys is None and recently:
            # A fetch failed a moment ago: refused without asking again, so that a burst of tokens
            # while the provider is down is not a burst of calls to it (nor of log lines).
            raise ProviderUnavailable("the last fetch of the keys failed a moment ago")
        async with self._lock:
            if self._attempted_at < now:  # nobody tried while this request waited
                await self._refresh()
        if self._keys is None:  # the fetch another request made while this one waited failed
            raise ProviderUnavailable("the keys could not be fetched")
        return self._keys

    async def _refresh(self) -> None:
        self._attempted_at = self._monotonic()
        try:
            metadata = self._metadata
            if metadata is None:
                metadata = self._metadata = await fetch_metadata(self._client, self.issuer)
            document = await fetch_json(self._client, metadata.jwks_uri)
        except ProviderUnavailable as exc:
            raise self._failed(str(exc)) from None
        try:
            keys = KeySet.import_key_set(document)
        except (JoseError, ValueError, TypeError, KeyError) as exc:
            raise self._failed(f"{metadata.jwks_uri}: not a usable JWKS ({type(exc).__name__})") from None
        if any(key.is_private for key in keys):
            raise self._failed(f"{metadata.jwks_uri}: the JWKS holds private keys; refusing it")
        self._keys = keys
        self._kids = frozenset(key.kid for key in keys)
        self._fetched_at = self._monotonic()

    def _failed(self, cause: str) -> ProviderUnavailable:
        """Count and log a failed fetch; the error to raise."""
        self._on_failure()
        logger.error(
            "identity provider %s (%s): cannot fetch its metadata or signing keys, its tokens are refused: %s",
            self.name,
            self.issuer,
            cause,
        )
        cached = self._keys is not None and self._monotonic() - self._fetched_at < self._max_age
        if not cached:
            self._keys = None
        return ProviderUnavailable(cause)
