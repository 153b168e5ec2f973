"""Delivery of budget alerts to the webhooks the configuration names, and to no other address.

Each event is one JSON body POSTed to each receiver whose `departments` include its department,
signed with HMAC-SHA256 under that receiver's secret:

    x-gateway-event-id:   the event's id (the same from every replica: receivers dedupe on it)
    x-gateway-timestamp:  seconds since the epoch when this attempt was sent
    x-gateway-signature:  sha256=<hex HMAC-SHA256 of "<timestamp>.<body>">

A receiver checks the signature, and the timestamp against replays. An answer other than 2xx, or
none within `timeout_seconds`, is retried with back-off (0.5 s doubling, at most `max_attempts`);
then the event is dropped and logged. Redirects are never followed and the environment's proxies
never used: the body goes to the configured URL or nowhere. Delivery runs in one background task
per process, off the request path, its queue bounded by `max_pending` (oldest dropped first).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
import time
from collections import deque
from collections.abc import Mapping

import httpx
import msgspec

from gateway.identity.credentials import read_secret
from gateway.identity.errors import CredentialError
from gateway.quotas.settings import BudgetAlerts, Webhook

__all__ = ["WebhookSender", "sign"]

logger = logging.getLogger("gateway.quotas.alerts")

_FIRST_BACKOFF = 0.5


def sign(secret: bytes, timestamp: str, body: bytes) -> str:
    """The `x-gateway-signature` value of `body` sent at `timestamp`."""
    return "sha256=" + hmac.new(secret, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


class _Receiver:
    __slots__ = ("config", "secret")

    def __init__(self, config: Webhook, secret: bytes) -> None:
        self.config = config
        self.secret = secret

    def wants(self, department: str) -> bool:
        return not self.config.departments or department in self.config.departments


class WebhookSender:
    """Queues events and POSTs them to the configured receivers. `start`, then `close` at shutdown."""

    def __init__(self, settings: BudgetAlerts, environ: Mapping[str, str] | None = None) -> None:
        self._receivers: list[_Receiver] = []
        for webhook in settings.webhooks:
            secret = read_secret(webhook.secret_env, environ)
            if not secret:
                raise CredentialError(
                    f"quotas.alerts.webhooks: {webhook.url} names {webhook.secret_env}, but neither it nor "
                    f"{webhook.secret_env}_FILE is set"
                )
            self._receivers.append(_Receiver(webhook, secret.encode()))
        self._queue: deque[tuple[_Receiver, str, str, bytes]] = deque()
        self._max_pending = settings.max_pending
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._client: httpx.AsyncClient | None = None
        self.delivered = 0
        self.dropped = 0

    @property
    def enabled(self) -> bool:
        return bool(self._receivers)

    def start(self) -> None:
        if not self._receivers or self._task is not None:
            return
        # Its own client: no proxy from the environment, no redirect, nothing shared with upstream.
        self._client = httpx.AsyncClient(trust_env=False, follow_redirects=False)
        self._task = asyncio.create_task(self._deliver(), name="gateway-budget-webhooks")

    def send(self, event_id: str, department: str, event: dict[str, object]) -> None:
        """Queue `event` for every receiver that wants its department (never blocks)."""
        if not self._receivers:
            return
        body = msgspec.json.encode(event)
        for receiver in self._receivers:
            if not receiver.wants(department):
                continue
            if len(self._queue) >= self._max_pending:
                self._queue.popleft()
                self.dropped += 1
                logger.error("budget alert queue full: %d events dropped so far", self.dropped)
            self._queue.append((receiver, receiver.config.url, event_id, body))
        self._wakeup.set()

    async def _deliver(self) -> None:
        while True:
            if not self._queue:
                self._wakeup.clear()
                await self._wakeup.wait()
                continue
            receiver, url, event_id, body = self._queue.popleft()
            if not await self._post(receiver, url, event_id, body):
                self.dropped += 1
                logger.error(
                    "budget alert %s not delivered to %s after %d attempts; dropped",
                    event_id,
                    url,
                    receiver.config.max_attempts,
                )

    async def _post(self, receiver: _Receiver, url: str, event_id: str, body: bytes) -> bool:
        assert self._client is not None
        delay = _FIRST_BACKOFF
        for attempt in range(1, receiver.config.max_attempts + 1):
            timestamp = str(int(time.time()))
            headers = {
                "content-type": "application/json",
                "user-agent": "sovereign-gateway-alerts",
                "x-gateway-event-id": event_id,
                "x-gateway-timestamp": timestamp,
                "x-gateway-signature": sign(receiver.secret, timestamp, body),
            }
            try:
                answer = await self._client.post(
                    url, content=body, headers=headers, timeout=receiver.config.timeout_seconds
                )
                if 200 <= answer.status_code < 300:
                    self.delivered += 1
                    return True
                reason = f"status {answer.status_code}"
            except httpx.HTTPError as exc:
                reason = f"{type(exc).__name__}"
            logger.warning("budget alert %s to %s failed (attempt %d: %s)", event_id, url, attempt, reason)
            if attempt < receiver.config.max_attempts:
                await asyncio.sleep(delay)
                delay *= 2
        return False

    async def close(self) -> None:
        if self._queue:
            logger.warning("%d budget alert deliveries left undone at shutdown", len(self._queue))
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._client is not None:
            await self._client.aclose()
            self._client = None
