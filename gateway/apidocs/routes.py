"""`GET /openapi.json`, `GET /docs` and the page's stylesheet, as `server.api_docs` allows them.

Each answer is bytes made once per process: the routes only check the key (when `authenticated`)
and send them. The stylesheet is public in every case but `off`: a browser does not send the API key
for a `<link>`, and it is the gateway's own CSS.
"""

from __future__ import annotations

import functools
from typing import Literal

from litestar import Response, get
from litestar.handlers import HTTPRouteHandler

from gateway.apidocs.document import document_bytes, openapi_document
from gateway.apidocs.page import STYLESHEET, render_page
from gateway.state import AnyRequest
from gateway.worker import worker_of

__all__ = ["DOCUMENT_PATH", "PAGE_HEADERS", "PAGE_PATH", "STYLESHEET_PATH", "api_docs_routes"]

DOCUMENT_PATH = "/openapi.json"
PAGE_PATH = "/docs"
STYLESHEET_PATH = "/docs/reference.css"

_COMMON_HEADERS = {"X-Content-Type-Options": "nosniff", "Cache-Control": "no-cache"}
PAGE_HEADERS = {
    **_COMMON_HEADERS,
    # Nothing but the gateway's own files, and no script at all: the page has none.
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'none'; object-src 'none'; base-uri 'none'; "
        "form-action 'none'; frame-ancestors 'none'"
    ),
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}


@functools.cache
def _page() -> bytes:
    return render_page(openapi_document(), stylesheet=STYLESHEET_PATH, document_path=DOCUMENT_PATH)


@functools.cache
def _stylesheet() -> bytes:
    return STYLESHEET.read_bytes()


def api_docs_routes(access: Literal["public", "authenticated", "off"]) -> list[HTTPRouteHandler]:
    """The routes for one application; none when `off`. The document and the page are built here,
    at start-up, so that a mistake in a declaration's schema stops the gateway rather than a request."""
    if access == "off":
        return []
    document, page, stylesheet = document_bytes(), _page(), _stylesheet()
    keyed = access == "authenticated"

    async def check_key(request: AnyRequest) -> None:
        if keyed:
            await worker_of(request).principal(request)  # 401 without a valid key

    @get(DOCUMENT_PATH, include_in_schema=False)
    async def openapi_json(request: AnyRequest) -> Response[bytes]:
        await check_key(request)
        return Response(document, media_type="application/json", headers=_COMMON_HEADERS)

    @get(PAGE_PATH, include_in_schema=False)
    async def reference_page(request: AnyRequest) -> Response[bytes]:
        await check_key(request)
        return Response(page, media_type="text/html; charset=utf-8", headers=PAGE_HEADERS)

    @get(STYLESHEET_PATH, include_in_schema=False)
    async def reference_stylesheet() -> Response[bytes]:
        return Response(stylesheet, media_type="text/css; charset=utf-8", headers=_COMMON_HEADERS)

    return [openapi_json, reference_page, reference_stylesheet]
