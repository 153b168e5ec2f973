"""What an authorization returns: the verdict and the policy line behind it."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DENIED_BY_DEFAULT", "Decision"]


@dataclass(frozen=True, slots=True)
class Decision:
    """The outcome of one authorization.

    `rule` is the policy line that decided, as written in the policy file (`("p", sub, dom, obj, act,
    eft)`): the deny line that refused, or an allow line that granted. It is `None` when no line
    matched and the request was denied by default. It is for audit records and `gateway policy check`,
    never for the client.
    """

    allowed: bool
    rule: tuple[str, ...] | None = None


DENIED_BY_DEFAULT = Decision(allowed=False, rule=None)
