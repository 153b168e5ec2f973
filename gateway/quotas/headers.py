"""OpenAI's rate-limit headers, for every response that went through a reservation (or a refusal).

    x-ratelimit-limit-requests      x-ratelimit-remaining-requests      x-ratelimit-reset-requests
    x-ratelimit-limit-tokens        x-ratelimit-remaining-tokens        x-ratelimit-reset-tokens

Several levels may limit one request: each pair reports the tightest one, the counter with the
fewest remaining (requests: requests per minute; tokens: weighted tokens of any period, so a nearly
spent monthly budget shows before a generous per-minute one). Resets use OpenAI's format (`1s`,
`6m0s`, `20ms`). A request with no limit of a kind gets no header of that kind.
"""

from __future__ import annotations

import math

from gateway.quotas.ledger import Refusal, Reservation

__all__ = ["format_duration", "rate_limit_headers"]


def format_duration(seconds: float) -> str:
    """`250ms`, `1s`, `6m0s`, `21h30m0s` (Go's duration format, as OpenAI sends it)."""
    if math.isinf(seconds):
        return "never"
    if seconds < 1:
        return f"{max(0, math.ceil(seconds * 1000))}ms" if seconds > 0 else "0s"
    total = math.ceil(seconds)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes}m{secs}s"
    if minutes:
        return f"{minutes}m{secs}s"
    return f"{secs}s"


def rate_limit_headers(outcome: Reservation | Refusal) -> dict[str, str]:
    """The x-ratelimit-* headers for a response (empty when no limit applied)."""
    used = outcome.used if isinstance(outcome, Reservation) else outcome.all_used
    counters = outcome.counters
    headers: dict[str, str] = {}
    if not counters:
        return headers
    requests = tokens = -1
    requests_left = tokens_left = math.inf
    for index, counter in enumerate(counters):
        left = counter.limit - used[index]
        if counter.kind == "requests_per_minute":
            if left < requests_left:
                requests, requests_left = index, left
        elif counter.tokens and left < tokens_left:
            tokens, tokens_left = index, left
    resets = outcome.resets
    if requests >= 0:
        headers["x-ratelimit-limit-requests"] = str(counters[requests].limit)
        headers["x-ratelimit-remaining-requests"] = str(max(0, int(requests_left)))
        headers["x-ratelimit-reset-requests"] = format_duration(resets[requests])
    if tokens >= 0:
        headers["x-ratelimit-limit-tokens"] = str(counters[tokens].limit)
        headers["x-ratelimit-remaining-tokens"] = str(max(0, int(tokens_left)))
        headers["x-ratelimit-reset-tokens"] = format_duration(resets[tokens])
    return headers
