"""A model's backends and the choice among them for one request."""

from __future__ import annotations

import math
import zlib
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from gateway.config import GatewayConfig, ModelConfig
from gateway.routing.backend import Backend, monotonic

if TYPE_CHECKING:
    from gateway.operations import Operation

__all__ = ["ModelPool", "affinity_hash", "build_pools"]

_HASH_SPAN = float(2**32 + 1)
_UNLIMITED = 1 << 30


def affinity_hash(operation: Operation, payload: dict[str, Any], max_chars: int) -> int | None:
    """A stable hash of what opens the conversation (the operation's `affinity_text`: for chat, the
    system prompt and opening question; for completions, the start of the prompt), so that its later
    turns find vLLM's prefix cache. None when the operation has no such text. crc32 rather than
    `hash()` so that every worker and replica maps a conversation to the same backend.
    """
    text = operation.affinity_text(payload, max_chars)
    if not text:
        return None
    return zlib.crc32(text[:max_chars].encode("utf-8", "surrogatepass"))


class ModelPool:
    """The backends of one model name, and how to pick one of them."""

    __slots__ = ("_turn", "backends", "config", "name", "prioritizes", "upstream_deadlines")

    def __init__(self, config: ModelConfig, backends: list[Backend]) -> None:
        self.name = config.name
        self.config = config
        self.backends = backends
        # Some backend runs vLLM's priority scheduling: requests carry their class's `priority` there.
        self.prioritizes = any(backend.prioritizes for backend in backends)
        self._turn = 0
        timeouts = config.timeouts
        # httpx's per-request timeout extension, built once: connect, wait for the answer, send, pool.
        self.upstream_deadlines = {
            "connect": timeouts.connect,
            "read": timeouts.first_byte,
            "write": timeouts.connect,
            "pool": timeouts.connect,
        }

    def max_model_len(self) -> int | None:
        """The context length the backends report for this model (their /v1/models cards)."""
        for backend in self.backends:
            card = backend.model_cards.get(self.name)
            length = card.get("max_model_len") if card is not None else None
            if isinstance(length, int) and length > 0:
                return length
        return None

    def pinned_to(self, backend: Backend) -> ModelPool:
        """This model on one backend only: for a request that only that backend can answer (it holds
        the stored response the request names). No retry elsewhere, and its health still applies."""
        return ModelPool(self.config, [backend])

    def has_available(self) -> bool:
        now = monotonic()
        return any(backend.available(now) for backend in self.backends)

    def has_room(self) -> bool:
        """Whether a backend of this model can take one more request now (its `max_concurrent`)."""
        now = monotonic()
        return any(backend.has_room(now) for backend in self.backends)

    def free_slots(self, now: float) -> tuple[int, int]:
        """Slots free now on this model's backends, and the capacity of those in service."""
        free = capacity = 0
        for backend in self.backends:
            if not backend.available(now):
                continue
            limit = backend.max_concurrent
            if limit is None:  # no cap: never full
                return _UNLIMITED, _UNLIMITED
            capacity += limit
            if backend.has_room(now):
                free += limit - backend.in_flight - backend.admitted
        return free, capacity

    def choose_with_room(self, affinity: int | None) -> Backend | None:
        """The backend for a request the admission step lets through, among those below capacity;
        None when every one is at capacity (or down).

        The affinity's backend is the same as `choose` would prefer (ranked among every available
        backend, so that a full one does not move the conversation's home); it yields as soon as it
        is at capacity while another has room.
        """
        now = monotonic()
        roomy = [b for b in self.backends if b.has_room(now)]
        if len(roomy) <= 1:
            return roomy[0] if roomy else None
        threshold = self.config.routing.saturation_kv_cache
        if affinity is not None and self.config.routing.prefix_affinity:
            available = [b for b in self.backends if b.available(now)]
            preferred = max(available, key=lambda b: _rendezvous_score(affinity, b))
            if preferred in roomy and not preferred.saturated(now, threshold):
                return preferred
        self._turn = (self._turn + 1) % len(roomy)
        rotated = roomy[self._turn :] + roomy[: self._turn]
        return min(rotated, key=lambda b: (b.saturated(now, threshold), b.load()))

    def choose(self, affinity: int | None, tried: Iterable[Backend] = ()) -> Backend | None:
        """The backend for the next attempt, or None when no untried healthy backend is left.

        With an affinity hash, rendezvous hashing picks the same backend for the same conversation
        (and moves only that backend's share when the set changes); the choice yields to the
        least-loaded backend when the preferred one is saturated.
        """
        now = monotonic()
        candidates = [b for b in self.backends if b.available(now) and b not in tried]
        if not candidates:
            return None
        if len(candidates) == 1:
            return candidates[0]
        threshold = self.config.routing.saturation_kv_cache
        if affinity is not None and self.config.routing.prefix_affinity:
            preferred = max(candidates, key=lambda b: _rendezvous_score(affinity, b))
            if not preferred.saturated(now, threshold):
                return preferred
        # Least loaded; unsaturated first; ties broken by turns so idle backends share the work.
        self._turn = (self._turn + 1) % len(candidates)
        rotated = candidates[self._turn :] + candidates[: self._turn]
        return min(rotated, key=lambda b: (b.saturated(now, threshold), b.load()))


def _rendezvous_score(affinity: int, backend: Backend) -> float:
    # Weighted rendezvous hashing: -w / ln(u) with u uniform in (0, 1) from the pair's hash.
    unit = (zlib.crc32(backend.url.encode(), affinity) + 1) / _HASH_SPAN
    return -backend.weight / math.log(unit)


def build_pools(config: GatewayConfig) -> tuple[dict[str, ModelPool], list[Backend]]:
    """One pool per model; one `Backend` per distinct URL, shared between the models it serves."""
    by_url: dict[str, Backend] = {}
    pools: dict[str, ModelPool] = {}
    for model in config.models:
        members = []
        for entry in model.backends:
            backend = by_url.get(entry.url)
            if backend is None:
                backend = Backend(
                    entry.url,
                    weight=entry.weight,
                    max_concurrent=entry.max_concurrent,
                    api_key=entry.api_key(),
                    prioritizes=entry.scheduling_policy == "priority",
                )
                by_url[entry.url] = backend
            members.append(backend)
        pools[model.name] = ModelPool(model, members)
    return pools, list(by_url.values())
