"""Errors of the quota package.

Two reach clients, in OpenAI's shape, through `gateway.errors.GatewayError`:

    GatewayError
    ├── QuotaExceeded      429 `insufficient_quota` (a token budget of the day or month is spent) or
    │                      `rate_limit_exceeded` (tokens or requests per minute, concurrent requests),
    │                      naming the level and limit, with Retry-After and the x-ratelimit-* headers
    └── QuotaUnavailable   503 the quota store cannot be reached and `on_store_error` is `fail_closed`

One stays inside the gateway:

    QuotaError
    └── QuotaStoreError    the store failed (SQLite or Redis error), mapped where it happens
"""

from __future__ import annotations

import math

from gateway.errors import GatewayError
from gateway.quotas.headers import format_duration, rate_limit_headers
from gateway.quotas.ledger import Refusal

__all__ = ["QuotaError", "QuotaExceeded", "QuotaStoreError", "QuotaUnavailable"]


def _number(value: int) -> str:
    return f"{value:,}"


def _euros(micro: int) -> str:
    return f"{micro / 1_000_000:,.2f} EUR" if micro >= 10_000 else f"{micro / 1_000_000:.6f} EUR"


def _euro_message(refusal: Refusal) -> str:
    counter = refusal.counter
    what = counter.describe()
    need = _euros(refusal.amount)
    if refusal.retry_after is None:
        return (
            f"This request may cost up to {need} (its prompt plus max_tokens at the model's prices), "
            f"more than the budget of {_euros(counter.limit)} for {what}. Lower max_tokens or shorten the prompt."
        )
    when = f" (at {refusal.reset_local})" if refusal.reset_local else ""
    return (
        f"Euro budget exhausted for {what}: {_euros(refusal.used)} of {_euros(counter.limit)} used, "
        f"and this request may cost up to {need}. The budget resets in {format_duration(refusal.retry_after)}{when}."
    )


def refusal_message(refusal: Refusal) -> str:
    counter = refusal.counter
    if counter.euros:
        return _euro_message(refusal)
    what = counter.describe()
    unit = "weighted tokens" if counter.tokens else "requests"
    if refusal.retry_after is None:
        if counter.tokens:
            return (
                f"This request may use up to {_number(refusal.amount)} weighted tokens (its prompt plus "
                f"max_tokens), more than the limit of {_number(counter.limit)} for {what}. "
                "Lower max_tokens or shorten the prompt."
            )
        return f"No request is allowed for {what} (its limit is {counter.limit})."
    wait = format_duration(refusal.retry_after)
    if counter.budget:
        when = f" (at {refusal.reset_local})" if refusal.reset_local else ""
        return (
            f"Token budget exhausted for {what}: {_number(refusal.used)} of {_number(counter.limit)} "
            f"{unit} used, and this request may need up to {_number(refusal.amount)}. "
            f"The budget resets in {wait}{when}."
        )
    if counter.kind == "max_concurrent":
        return (
            f"Too many requests in progress for {what}: {refusal.used} of {counter.limit}. "
            "Retry when one of them has finished."
        )
    need = f", and this request may need up to {_number(refusal.amount)}" if counter.tokens else ""
    return (
        f"Rate limit reached for {what}: {_number(refusal.used)} of {_number(counter.limit)} {unit} "
        f"used in the last minute{need}. Retry in {wait}."
    )


class QuotaExceeded(GatewayError):
    """The request does not fit a budget or a rate limit; built from the ledger's `Refusal`."""

    status_code = 429
    # A spent budget's; a rate limit's type and code are chosen per refusal (the catalogue in
    # gateway/errors.py lists the three).
    error_type = "insufficient_quota"
    code = "insufficient_quota"

    def __init__(self, refusal: Refusal) -> None:
        headers = rate_limit_headers(refusal)
        if refusal.retry_after is not None:
            headers["retry-after"] = str(max(1, math.ceil(refusal.retry_after)))
            headers["retry-after-ms"] = str(max(1, math.ceil(refusal.retry_after * 1000)))
        super().__init__(refusal_message(refusal), code=refusal.code, headers=headers)
        # OpenAI's types: `insufficient_quota` for a spent budget, `tokens` or `requests` for rates.
        if refusal.counter.budget:
            self.error_type = "insufficient_quota"
        else:
            self.error_type = "tokens" if refusal.counter.tokens else "requests"
        self.refusal = refusal


class QuotaUnavailable(GatewayError):
    """The quota store failed and the deployment fails closed: nothing is forwarded unmetered."""

    status_code = 503
    error_type = "server_error"
    code = "quota_unavailable"

    def __init__(self) -> None:
        super().__init__(
            "The gateway cannot check usage quotas right now (its quota store is unreachable); "
            "retry shortly.",
            headers={"retry-after": "1"},
        )


class QuotaError(Exception):
    """Base of the quota errors that are not HTTP answers."""


class QuotaStoreError(QuotaError):
    """The quota store failed: SQLite or Redis errors, mapped where they happen."""
