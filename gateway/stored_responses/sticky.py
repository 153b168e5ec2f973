"""The pipeline's side of stored responses: follow `previous_response_id`, record created ids.

Only `POST /v1/responses` is concerned, and recording only when the request keeps its response
(`store`, true unless the body says false): other requests pay one dictionary lookup.
"""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator
from typing import Any

import msgspec

from gateway.identity import Principal
from gateway.routing.backend import Backend
from gateway.routing.pool import ModelPool
from gateway.stored_responses.errors import ResponseNotFound, ResponseStoreUnavailable
from gateway.stored_responses.homes import ResponseHome, ResponseHomes

__all__ = ["StickyResponses", "home_backend"]

logger = logging.getLogger("gateway.stored_responses")

_RESPONSES = "responses"
# A response id as vLLM makes them (`resp_` and hex or a uuid): anything else is no id of its, and
# never goes into an upstream URL (no `/`, `?`, `%` or `..`).
_RESPONSE_ID = re.compile(r"[A-Za-z0-9_-]{1,128}")
_CREATED = b"event: response.created\n"
_decode = msgspec.json.Decoder().decode


def home_backend(home: ResponseHome, pool: ModelPool) -> Backend | None:
    """The backend that holds the response, if the model still has it (the configuration may have
    changed since): the response cannot be reached through any other."""
    return next((backend for backend in pool.backends if backend.url == home.backend), None)


class StickyResponses:
    """Reads and writes response homes for the pipeline and the retrieve/cancel routes."""

    __slots__ = ("homes", "ttl")

    def __init__(self, homes: ResponseHomes, ttl: int) -> None:
        self.homes = homes
        self.ttl = ttl

    async def owned_home(self, response_id: str, principal: Principal) -> ResponseHome:
        """The home of a response the caller's department created, or the 404 an unknown id gets:
        another department's response is never told apart from one that does not exist."""
        home = await self.homes.find(response_id) if _RESPONSE_ID.fullmatch(response_id) else None
        if home is None or home.department != principal.department:
            raise ResponseNotFound(response_id)
        return home

    async def previous_backend(
        self, operation_value: str, payload: dict[str, Any], principal: Principal, pool: ModelPool
    ) -> Backend | None:
        """For a `previous_response_id`: the one backend that can continue it (404 if none); None when
        the request names no previous response."""
        if operation_value != _RESPONSES:
            return None
        previous = payload.get("previous_response_id")
        if not isinstance(previous, str):
            return None  # absent, or a type the backend refuses itself
        home = await self.owned_home(previous, principal)
        backend = home_backend(home, pool)
        if backend is None:
            raise ResponseNotFound(previous)
        return backend

    @staticmethod
    def keeps(operation_value: str, payload: dict[str, Any]) -> bool:
        """Whether the answer to this request may be kept by its backend (vLLM's `store` default: true)."""
        return operation_value == _RESPONSES and payload.get("store") is not False

    async def record(self, response_id: object, model: str, principal: Principal, backend: Backend) -> None:
        """Remember the home of a created response; a store failure costs only its later lookups."""
        if not isinstance(response_id, str) or not _RESPONSE_ID.fullmatch(response_id):
            return
        home = ResponseHome(backend.url, model, principal.department, principal.service)
        try:
            await self.homes.record(response_id, home, self.ttl)
        except ResponseStoreUnavailable:
            # The answer is still good; only GET/cancel/previous_response_id of it will be 404.
            logger.warning("could not record where a stored response lives; its later requests will fail")

    async def record_answer(self, content: bytes, model: str, principal: Principal, backend: Backend) -> None:
        """A non-streamed answer: its `id`."""
        try:
            document = _decode(content)
        except msgspec.DecodeError:
            return
        if isinstance(document, dict):
            await self.record(document.get("id"), model, principal, backend)

    async def recording(
        self, events: AsyncIterator[bytes], model: str, principal: Principal, backend: Backend
    ) -> AsyncIterator[bytes]:
        """A stream: the id of `response.created` (its first event) is recorded before that event
        reaches the client, so that the client can never ask for an id the gateway does not know."""
        async for chunk in events:
            start = chunk.find(_CREATED)
            if start >= 0:
                await self._record_created(chunk[start:], model, principal, backend)
                yield chunk
                break
            yield chunk
        async for chunk in events:
            yield chunk

    async def _record_created(self, event: bytes, model: str, principal: Principal, backend: Backend) -> None:
        data = event.find(b"\ndata: ")
        end = event.find(b"\n\n")
        if data < 0:
            return
        try:
            document = _decode(event[data + 7 : end if end > data else None])
        except msgspec.DecodeError:
            return
        response = document.get("response") if isinstance(document, dict) else None
        if isinstance(response, dict):
            await self.record(response.get("id"), model, principal, backend)
