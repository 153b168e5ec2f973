"""The errors of admission, as clients see them (listed in the catalogue of gateway/errors.py)."""

from __future__ import annotations

import math

from gateway.errors import GatewayError, InvalidRequest

__all__ = ["InvalidPriority", "PoolSaturated"]


class InvalidPriority(InvalidRequest):
    """400: `x-gateway-priority` names no class."""

    code = "invalid_priority"


class PoolSaturated(GatewayError):
    """429: every backend of the model is at capacity and the request's class cannot wait longer
    (its queue is full, or its `max_wait_seconds` ran out). Nothing was reserved on its budgets."""

    status_code = 429
    error_type = "requests"
    code = "pool_saturated"

    def __init__(self, model: str, class_name: str, reason: str, retry_after: float, waited: float) -> None:
        seconds = max(1, math.ceil(retry_after))
        what = "is full" if reason == "queue_full" else f"did not free a slot within {retry_after:g} s"
        super().__init__(
            f"Every backend serving `{model}` is busy and the {class_name} queue {what}. "
            f"Retry in {seconds} s.",
            headers={"retry-after": str(seconds), "x-gateway-queue-ms": str(round(waited * 1000))},
        )
        self.reason = reason
        """`queue_full` or `max_wait`: the label of the shed-requests metric."""
