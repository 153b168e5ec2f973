"""vLLM 0.32's in-memory store of Responses (``VLLM_ENABLE_RESPONSES_API_STORE=1``), one per server.

What vLLM keeps and answers:

- a response asked with ``store`` (true unless the request says false) is kept once it is finished,
  streamed or not; without the store, ``store`` is silently ignored;
- ``GET /v1/responses/{id}`` answers the kept response object; an unknown id is a 404
  ``Response with id '<id>' not found.`` (param ``response_id``);
- ``POST /v1/responses/{id}/cancel`` cancels a background response still ``queued`` or
  ``in_progress`` (its object comes back, ``status: cancelled``, and stays so); a finished one is a
  400 ``Cannot cancel a synchronous response.``;
- ``previous_response_id`` must name a kept response of this server, or the request is that 404.

Like vLLM, nothing is ever evicted: the store lives as long as the server.
"""

from __future__ import annotations

import asyncio
from typing import Any

from backends.simulator import errors

__all__ = ["StoredResponses", "response_not_found"]

CANNOT_CANCEL = "Cannot cancel a synchronous response."
_CANCELLABLE = ("queued", "in_progress")


def response_not_found(response_id: str) -> errors.SimulatorHTTPError:
    """vLLM's answer for an id its store does not hold (GET, cancel, ``previous_response_id``)."""
    return errors.openai_error(
        404, f"Response with id '{response_id}' not found.", "invalid_request_error", "response_id"
    )


class StoredResponses:
    """The kept response objects, and the background runs that may still be cancelled."""

    __slots__ = ("_responses", "_tasks", "enabled")

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self._responses: dict[str, dict[str, Any]] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}

    def keeps(self, store: bool | None) -> bool:
        """Whether a request's answer is kept: vLLM's ``store`` defaults to true."""
        return self.enabled and store is not False

    def keep(self, response: dict[str, Any]) -> None:
        """Keep a finished (or queued) response, unless it was cancelled meanwhile (vLLM's rule)."""
        kept = self._responses.get(response["id"])
        if kept is None or kept["status"] != "cancelled":
            self._responses[response["id"]] = response

    def get(self, response_id: str) -> dict[str, Any] | None:
        return self._responses.get(response_id)

    def require(self, response_id: str) -> dict[str, Any]:
        """The kept response, or vLLM's 404."""
        response = self._responses.get(response_id)
        if response is None:
            raise response_not_found(response_id)
        return response

    def run_in_background(self, response_id: str, task: asyncio.Task[None]) -> None:
        self._tasks[response_id] = task
        task.add_done_callback(lambda _: self._tasks.pop(response_id, None))

    async def cancel(self, response_id: str) -> dict[str, Any]:
        """Mark a background response cancelled and stop its run; the object as it is then."""
        response = self.require(response_id)
        if response["status"] not in _CANCELLABLE:
            raise errors.openai_error(400, CANNOT_CANCEL, "invalid_request_error", "response_id")
        response["status"] = "cancelled"
        task = self._tasks.get(response_id)
        if task is not None:
            task.cancel()
            # Waited, not awaited: the task's CancelledError is its own, not this request's.
            await asyncio.wait([task])
        return response
