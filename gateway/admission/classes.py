"""A request's priority class: the configured one, which the request may lower, never raise."""

from __future__ import annotations

from gateway.admission.errors import InvalidPriority
from gateway.admission.settings import CLASS_NAMES, AdmissionConfig
from gateway.identity import Principal

__all__ = ["PRIORITY_HEADER", "request_rank"]

PRIORITY_HEADER = "x-gateway-priority"
_RANKS: dict[str, int] = {name: rank for rank, name in enumerate(CLASS_NAMES)}


def request_rank(config: AdmissionConfig, principal: Principal, asked: str | None) -> int:
    """The rank (0: `interactive`, the highest) of the class the request runs in: the lower of its
    configured class and the class its `x-gateway-priority` header asks for. Raises InvalidPriority
    (400) for a header that names no class."""
    rank = _RANKS[config.class_of(principal.department, principal.service, principal.key_id)]
    if asked is None:
        return rank
    wanted = _RANKS.get(asked.strip().lower())
    if wanted is None:
        raise InvalidPriority(
            f"Header {PRIORITY_HEADER} must be one of {', '.join(CLASS_NAMES)}, not {asked[:40]!r}."
        )
    return max(rank, wanted)
