"""What one OpenAI request carries besides Litestar's own: its id and trace id, which the error
handlers put on error answers (`x-request-id`, `x-trace-id`).

One slotted object per request, set by the pipeline once and read through `context_of`. It lives in
the ASGI scope's `state` dict, which Litestar creates for every connection and which its
`request.state` wraps; it is read directly so that a read costs no wrapper object. Routes that do not
go through the pipeline (admin, health, metrics) have none.
"""

from __future__ import annotations

from typing import Any, Final

from litestar import Request

__all__ = ["RequestContext", "attach_context", "context_of"]

_KEY: Final = "gateway.request"


class RequestContext:
    __slots__ = ("request_id", "trace_id")

    def __init__(self, request_id: str) -> None:
        self.request_id = request_id
        self.trace_id: str | None = None
        """Set once the request's trace has started, when tracing is on."""


def attach_context(request: Request[Any, Any, Any], request_id: str) -> RequestContext:
    context = RequestContext(request_id)
    request.scope["state"][_KEY] = context
    return context


def context_of(request: Request[Any, Any, Any]) -> RequestContext | None:
    context = request.scope["state"].get(_KEY)
    return context if isinstance(context, RequestContext) else None
