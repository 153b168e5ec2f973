"""The key store interface, implemented by the embedded (SQLite) and the Redis stores.

Change notification is part of the contract because caches depend on it: every process that caches
key records subscribes, and a revocation made anywhere (another replica, `gateway keys revoke` on an
operator's shell) reaches it within a second, instead of after a cache lifetime.
"""

from __future__ import annotations

import abc
from collections.abc import Callable

from gateway.identity.records import KeyRecord

__all__ = ["ChangeCallback", "KeyRecords", "KeyStore"]

ChangeCallback = Callable[[str | None], None]
"""Called with a key id when that key changed (created, revoked) in any process, or with None when
changes may have been missed (the subscription was lost or re-established): drop every cached record.
Called on the event loop; it must not block."""

KeyRecords = list[KeyRecord]


class KeyStore(abc.ABC):
    """Async access to key records. Implementations map their own errors to `KeyStoreError`."""

    @abc.abstractmethod
    async def create(self, record: KeyRecord) -> None:
        """Store a new record; `DuplicateKeyId` if its id is taken. Announced as a change."""

    @abc.abstractmethod
    async def get(self, key_id: str) -> KeyRecord | None:
        """The record with this id, or None."""

    @abc.abstractmethod
    async def list(self, department: str | None = None) -> KeyRecords:
        """Every record of `department` (of every department when None), oldest first."""

    @abc.abstractmethod
    async def revoke(self, key_id: str, at: int) -> bool:
        """Mark the key revoked at epoch `at`. True if it existed and was not revoked yet.

        Announced as a change to every subscriber, in this process and the others."""

    @abc.abstractmethod
    async def touch(self, key_id: str, when: int) -> None:
        """Record a use at epoch `when` (kept only if later than the stored one). Not a change:
        caches need not hear about it. A key that does not exist is left alone."""

    @abc.abstractmethod
    async def end_session(self, session_id: str, until: int) -> None:
        """Remember that the console session `session_id` was ended (signed out) before it expires at
        epoch `until`; forgotten after that, when its cookie is refused anyway."""

    @abc.abstractmethod
    async def session_ended(self, session_id: str) -> bool:
        """Whether `end_session` was called for `session_id` and its `until` has not passed."""

    @abc.abstractmethod
    async def subscribe_changes(self, callback: ChangeCallback) -> None:
        """Start calling `callback` on changes, until `close()`. Returns once the subscription is
        established, or after a short wait if it cannot be yet (it keeps trying in the background)."""

    @property
    @abc.abstractmethod
    def changes_live(self) -> bool:
        """True while every change is sure to be delivered to the subscribers. Caches must not
        serve records while it is False."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Stop the subscription and release connections. Idempotent."""
