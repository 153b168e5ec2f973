"""The ASGI application: authentication, routing, and the simulator-only ``/sim/`` control routes."""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Awaitable, Callable

import msgspec

from backends.simulator import errors
from backends.simulator.asgi import (
    ASGIApp,
    DisconnectWatch,
    Receive,
    Scope,
    Send,
    header_map,
    read_body,
    send_response,
)
from backends.simulator.audio import serve_transcription, serve_translation
from backends.simulator.chat import serve_chat
from backends.simulator.classify import serve_classify
from backends.simulator.cohere_embed import serve_cohere_embed
from backends.simulator.completions import serve_completion
from backends.simulator.embeddings import serve_embeddings
from backends.simulator.engine import VLLM_VERSION, Engine, LastRequest
from backends.simulator.messages import serve_count_tokens, serve_messages
from backends.simulator.metrics import PROMETHEUS_CONTENT_TYPE
from backends.simulator.pooling_route import serve_pooling
from backends.simulator.protocol import RequestValidationFailure, SimDeadRequest, decode_request
from backends.simulator.responses import serve_responses
from backends.simulator.scoring import serve_rerank, serve_score
from backends.simulator.serving import HTTPRequest, new_id
from backends.simulator.settings import SimulatorSettings
from backends.simulator.tokenization import serve_detokenize, serve_tokenize

Handler = Callable[[Scope, Receive, Send], Awaitable[None]]
Service = Callable[[Engine, HTTPRequest], Awaitable[None]]

_UNSUPPORTED_MEDIA_TYPE = "Unsupported Media Type: Only 'application/json' is allowed"
"""vLLM's content-type check raises a validation error whose single entry is this bare string."""


def create_app(settings: SimulatorSettings) -> ASGIApp:
    """A fresh simulated vLLM server (its own engine state) as a plain ASGI callable."""
    return SimulatorApp(settings)


class SimulatorApp:
    """Routes requests to the handlers; owns the engine state."""

    def __init__(self, settings: SimulatorSettings) -> None:
        self.settings = settings
        self.engine = Engine(settings)
        self._api_key_digest = (
            hashlib.sha256(settings.api_key.encode("utf-8")).digest()
            if settings.api_key is not None
            else None
        )
        # Like vLLM, only the routes the served models' kinds use exist: a server with no generation
        # model answers chat with FastAPI's 404, one with no pooling model answers embeddings so.
        self._routes: dict[str, dict[str, Handler]] = {}
        if settings.models:
            self._routes |= {
                "/v1/chat/completions": {"POST": self._generation_route(serve_chat)},
                "/v1/completions": {"POST": self._generation_route(serve_completion)},
                "/v1/responses": {"POST": self._generation_route(serve_responses)},
                "/v1/messages": {"POST": self._generation_route(serve_messages)},
                "/v1/messages/count_tokens": {"POST": self._plain_route(serve_count_tokens)},
            }
        if settings.embedding_models:
            self._routes |= {
                "/v1/embeddings": {"POST": self._generation_route(serve_embeddings)},
                "/v2/embed": {"POST": self._generation_route(serve_cohere_embed)},
            }
        if settings.embedding_models or settings.rerank_models:
            # Both kinds score: a cross-encoder reads each pair, an embedding model compares vectors.
            self._routes |= {
                path: {"POST": self._generation_route(service)}
                for path, service in (
                    ("/pooling", serve_pooling),
                    ("/score", serve_score),
                    ("/v1/score", serve_score),
                    ("/rerank", serve_rerank),
                    ("/v1/rerank", serve_rerank),
                    ("/v2/rerank", serve_rerank),
                )
            }
        if settings.rerank_models:
            self._routes["/classify"] = {"POST": self._generation_route(serve_classify)}
        if settings.transcription_models:
            # Multipart forms: the route reads the form itself (no JSON content-type check).
            self._routes |= {
                "/v1/audio/transcriptions": {
                    "POST": self._generation_route(serve_transcription, json_body=False)
                },
                "/v1/audio/translations": {
                    "POST": self._generation_route(serve_translation, json_body=False)
                },
            }
        self._routes |= {
            "/v1/models": {"GET": self._models},
            "/tokenize": {"POST": self._plain_route(serve_tokenize)},
            "/detokenize": {"POST": self._plain_route(serve_detokenize)},
            "/health": {"GET": self._health},
            "/ping": {"GET": self._health, "POST": self._health},
            "/version": {"GET": self._version},
            "/load": {"GET": self._load},
            "/metrics": {"GET": self._metrics},
            "/sim/dead": {"POST": self._set_dead},
            "/sim/last-request": {"GET": self._last_request},
            "/sim/stats": {"GET": self._stats},
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            await self._dispatch(scope, receive, send)
        elif kind == "lifespan":
            await _lifespan(receive, send)

    async def _dispatch(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope["path"]
        method: str = scope["method"]
        # Like vLLM's middleware, the key is checked before routing, on /v1 and /v2 paths only.
        if (
            self._api_key_digest is not None
            and method != "OPTIONS"
            and path.startswith(("/v1", "/v2"))
            and not self._authorized(scope)
        ):
            await send_response(send, 401, errors.UNAUTHORIZED_BODY)
            return
        methods = self._routes.get(path)
        if methods is None:
            methods = self._stored_response_route(path)
        if methods is None:
            await send_response(send, 404, errors.NOT_FOUND_BODY)
            return
        handler = methods.get(method)
        if handler is None:
            await send_response(send, 405, errors.METHOD_NOT_ALLOWED_BODY)
            return
        await handler(scope, receive, send)

    def _stored_response_route(self, path: str) -> dict[str, Handler] | None:
        """``GET /v1/responses/{id}`` and ``POST /v1/responses/{id}/cancel``: registered with the
        Responses API; they answer from this server's store (empty unless the store is enabled)."""
        if not self.settings.models or not path.startswith("/v1/responses/"):
            return None
        response_id, _, rest = path.removeprefix("/v1/responses/").partition("/")
        if not response_id or rest not in ("", "cancel"):
            return None
        stored = self.engine.stored_responses

        async def retrieve(scope: Scope, receive: Receive, send: Send) -> None:
            try:
                response = stored.require(response_id)
            except errors.SimulatorHTTPError as error:
                await send_response(send, error.status, error.body)
                return
            await send_response(send, 200, msgspec.json.encode(response))

        async def cancel(scope: Scope, receive: Receive, send: Send) -> None:
            try:
                response = await stored.cancel(response_id)
            except errors.SimulatorHTTPError as error:
                await send_response(send, error.status, error.body)
                return
            await send_response(send, 200, msgspec.json.encode(response))

        return {"POST": cancel} if rest else {"GET": retrieve}

    def _authorized(self, scope: Scope) -> bool:
        for name, value in scope["headers"]:
            if name.lower() == b"authorization":
                scheme, _, token = value.decode("latin-1").partition(" ")
                if scheme.lower() != "bearer":
                    return False
                digest = hashlib.sha256(token.encode("utf-8")).digest()
                assert self._api_key_digest is not None
                return hmac.compare_digest(digest, self._api_key_digest)
        return False

    def _generation_route(self, service: Service, *, json_body: bool = True) -> Handler:
        """Chat, completions, responses, embeddings, audio: recorded for ``/sim/last-request``, failure
        headers honoured; ``json_body=False`` for the routes that read a form."""
        engine = self.engine

        async def handle(scope: Scope, receive: Receive, send: Send) -> None:
            body = await read_body(receive)
            if body is None:
                return
            headers = header_map(scope)
            path: str = scope["path"]
            engine.last_request = LastRequest(path, headers, body.decode("utf-8", "replace"))
            engine.stats.requests += 1
            forced = _forced_status(headers.get("x-sim-force-status"))
            if forced is not None:
                error = errors.forced_status(forced)
                await send_response(send, error.status, error.body)
                return
            await _serve(
                engine, service, receive, send, path, headers, body, load_aware=True, json_body=json_body
            )

        return handle

    def _plain_route(self, service: Service) -> Handler:
        engine = self.engine

        async def handle(scope: Scope, receive: Receive, send: Send) -> None:
            body = await read_body(receive)
            if body is None:
                return
            await _serve(
                engine, service, receive, send, scope["path"], header_map(scope), body, load_aware=False
            )

        return handle

    async def _models(self, scope: Scope, receive: Receive, send: Send) -> None:
        settings = self.settings
        now = int(time.time())
        cards = [
            {
                "id": name,
                "object": "model",
                "created": now,
                "owned_by": "vllm",
                "root": name,
                "parent": None,
                "max_model_len": settings.max_model_len,
                "permission": [
                    {
                        "id": new_id("modelperm"),
                        "object": "model_permission",
                        "created": now,
                        "allow_create_engine": False,
                        "allow_sampling": True,
                        "allow_logprobs": True,
                        "allow_search_indices": False,
                        "allow_view": True,
                        "allow_fine_tuning": False,
                        "organization": "*",
                        "group": None,
                        "is_blocking": False,
                    }
                ],
            }
            for name in settings.served_models
        ]
        await send_response(send, 200, msgspec.json.encode({"object": "list", "data": cards}))

    async def _health(self, scope: Scope, receive: Receive, send: Send) -> None:
        await _send_empty(send, 503 if self.engine.dead else 200)

    async def _version(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send_response(send, 200, msgspec.json.encode({"version": VLLM_VERSION}))

    async def _load(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send_response(send, 200, msgspec.json.encode({"server_load": self.engine.in_flight}))

    async def _metrics(self, scope: Scope, receive: Receive, send: Send) -> None:
        engine = self.engine
        text = engine.metrics.render(engine.scheduler, engine.cache_config)
        await send_response(send, 200, text, PROMETHEUS_CONTENT_TYPE)

    async def _set_dead(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = await read_body(receive)
        if body is None:
            return
        try:
            request = decode_request(body, SimDeadRequest)
        except RequestValidationFailure as failure:
            error = errors.request_validation_failed(failure.errors)
            await send_response(send, error.status, error.body)
            return
        self.engine.dead = request.dead
        await send_response(send, 200, msgspec.json.encode({"dead": request.dead}))

    async def _last_request(self, scope: Scope, receive: Receive, send: Send) -> None:
        last = self.engine.last_request
        if last is None:
            await send_response(send, 404, b'{"detail":"No generation or embedding request received yet"}')
            return
        await send_response(
            send, 200, msgspec.json.encode({"path": last.path, "headers": last.headers, "body": last.body})
        )

    async def _stats(self, scope: Scope, receive: Receive, send: Send) -> None:
        engine = self.engine
        stats = engine.stats
        body = msgspec.json.encode(
            {
                "requests": stats.requests,
                "aborted": stats.aborted,
                "running": engine.scheduler.running,
                "waiting": engine.scheduler.waiting,
                "completed": stats.completed,
                "peak_running": engine.scheduler.peak_running,
                "peak_waiting": engine.scheduler.peak_waiting,
            }
        )
        await send_response(send, 200, body)


async def _serve(
    engine: Engine,
    service: Service,
    receive: Receive,
    send: Send,
    path: str,
    headers: dict[str, str],
    body: bytes,
    *,
    load_aware: bool,
    json_body: bool = True,
) -> None:
    """Run one JSON route, turning raised errors into vLLM's error responses.

    ``load_aware`` routes count in ``/load`` while they run, like vLLM's ``@load_aware_call`` ones.
    """
    media_type = headers.get("content-type", "").lower().split(";", 1)[0].strip()
    if json_body and media_type != "application/json":
        error = errors.request_validation_failed([_UNSUPPORTED_MEDIA_TYPE])
        await send_response(send, error.status, error.body)
        return
    watch = DisconnectWatch(receive)
    load = 1 if load_aware else 0
    engine.in_flight += load
    try:
        await service(engine, HTTPRequest(path, headers, body, send, watch))
    except RequestValidationFailure as failure:
        error = errors.request_validation_failed(failure.errors)
        await send_response(send, error.status, error.body)
    except errors.SimulatorHTTPError as error:
        await send_response(send, error.status, error.body)
    finally:
        engine.in_flight -= load
        watch.close()


def _forced_status(raw: str | None) -> int | None:
    if raw is None:
        return None
    try:
        status = int(raw)
    except ValueError:
        return None
    return status if 400 <= status <= 599 else None


async def _send_empty(send: Send, status: int) -> None:
    await send({"type": "http.response.start", "status": status, "headers": [(b"content-length", b"0")]})
    await send({"type": "http.response.body", "body": b""})


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
