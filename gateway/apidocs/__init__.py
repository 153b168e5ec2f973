"""The gateway publishes what it serves: an OpenAPI 3.1 document at `GET /openapi.json` and a
reference page at `GET /docs` (`server.api_docs`: public, authenticated or off).

Every byte is the gateway's own: no renderer script, font or stylesheet from elsewhere.

    inference.py       the inference routes, from the operation declarations (summary, body_schema...)
    infrastructure.py  the models, health and admin routes, from Litestar's own generation
    responses.py       the error shapes and answers, and the ways a key is presented
    document.py        the whole document, built once per process
    page.py            the HTML page rendered from it (templates/, static/)
    routes.py          the three routes, as `server.api_docs` allows them
"""

from gateway.apidocs.routes import api_docs_routes

__all__ = ["api_docs_routes"]
