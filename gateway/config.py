"""The gateway's configuration: a YAML file validated by pydantic.

Every model and field forbids unknown keys so that a typo (`max_concurent`) fails at start
instead of being silently ignored. `load_config` reads a whole file through `gateway.config_file`,
the loader every command shares, which turns YAML and validation errors into `ConfigError` messages
that name the file, the key and the problem.
"""

from __future__ import annotations

import ipaddress
import os
from functools import cached_property
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    field_validator,
    model_validator,
)

from gateway.admission.settings import AdmissionConfig
from gateway.audit.settings import AuditConfig
from gateway.authz.settings import PolicyConfig
from gateway.batches.settings import BatchesConfig
from gateway.capabilities import ANY_KIND, KIND_OPERATIONS, ModelKind
from gateway.config_file import ConfigError, read_config
from gateway.console.settings import ConsoleConfig
from gateway.identity.settings import AuthConfig
from gateway.metering.settings import MeteringConfig
from gateway.operations import OPERATIONS
from gateway.parsing import MODEL_NAME_MAX_CHARS
from gateway.pii.settings import PiiConfig
from gateway.quotas.settings import QuotaConfig
from gateway.storage import StoreConfig
from gateway.stored_responses.settings import ResponsesConfig
from gateway.telemetry.settings import MetricsConfig
from gateway.telemetry.tracing import TracingConfig

__all__ = [
    "BackendConfig",
    "ConfigError",
    "GatewayConfig",
    "HealthConfig",
    "ModelConfig",
    "RoutingConfig",
    "ServerConfig",
    "TimeoutConfig",
    "UpstreamConfig",
    "load_config",
]

PositiveSeconds = Annotated[float, Field(gt=0)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)


class ServerConfig(_Strict):
    """Where the gateway listens and what it accepts."""

    host: str = "127.0.0.1"
    """Interface to bind. Use 0.0.0.0 only behind a network policy or a firewall."""
    port: Annotated[int, Field(ge=1, le=65535)] = 8080
    """TCP port."""
    workers: Annotated[int, Field(ge=1, le=64)] = 1
    """Worker processes (one event loop each). Recommended: one per CPU core given to the gateway."""
    max_body_bytes: Annotated[int, Field(ge=1024)] = 16 * 1024 * 1024
    """Largest request body accepted; larger ones get 413. Images sent inline count here."""
    max_audio_bytes: Annotated[int, Field(ge=1024)] = 25 * 1024 * 1024
    """Largest audio file accepted by `/v1/audio/transcriptions` and `/v1/audio/translations`
    (OpenAI's limit, and vLLM's default `VLLM_MAX_AUDIO_CLIP_FILESIZE_MB`); a larger file gets 413
    before any backend sees it. Those routes accept a body this large plus 1 MiB of form fields,
    whatever `max_body_bytes` says."""
    max_choices: Annotated[int, Field(ge=1, le=1024)] = 128
    """Largest `n` (choices generated for one request) accepted; above it the request gets 400
    before any backend sees it. Each choice is a generation of its own: without a bound, one
    request could make a backend plan 10**18 of them. 128 is OpenAI's own limit."""
    shutdown_timeout_seconds: Annotated[int, Field(ge=1, le=3600)] = 30
    """On SIGTERM the gateway stops accepting connections and lets requests in flight, streams
    included, finish for up to this long; then it cancels what is left, settles every request's
    usage and exits. Kubernetes' terminationGracePeriodSeconds must be longer."""
    max_header_bytes: Annotated[int, Field(ge=8 * 1024, le=1024 * 1024)] = 32 * 1024
    """Largest request line and headers of one request, in bytes; larger ones get 431 and the
    connection is closed, as soon as the limit is passed (a header is never held whole first)."""
    header_timeout_seconds: Annotated[float, Field(gt=0, le=600)] = 10.0
    """Time a client has, from opening a connection (or from a request's first byte on a kept-alive
    one), to send the request's headers: 408 after it, or a silent close if it sent nothing."""
    body_timeout_seconds: Annotated[float, Field(gt=0, le=3600)] = 60.0
    """Time a client has, once its headers are in, to send the whole body (at most `max_body_bytes`:
    the default pair asks for about 280 KB/s); 408 after it. Answers then take as long as the models
    need: this bounds only what the client sends."""
    api_docs: Literal["public", "authenticated", "off"] = "public"
    """The API reference: the OpenAPI document at `GET /openapi.json` and its page at `GET /docs`.
    `public`: anyone who reaches the gateway may read them (they describe the routes, and reveal no
    key, model or policy); `authenticated`: only with an API key, as the other routes (401 without);
    `off`: neither route exists (404)."""
    trusted_proxies: tuple[str, ...] = ()
    """Addresses or networks (`10.0.0.7`, `10.42.0.0/16`) of the reverse proxies whose
    `X-Forwarded-For` and `X-Forwarded-Proto` are believed: a request from one of them is taken as
    coming from the client that header names (for the failed-authentication limiter, and HTTPS for
    the console's cookies). Empty: no header is believed, from anywhere, loopback included."""

    @field_validator("trusted_proxies")
    @classmethod
    def _check_proxies(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        networks = []
        for entry in value:
            try:
                network = ipaddress.ip_network(entry.strip(), strict=False)
            except ValueError:
                raise ValueError(
                    f"{entry!r} is not an IP address or network (e.g. 10.0.0.7 or 10.42.0.0/16)"
                ) from None
            networks.append(str(network))
        return tuple(networks)


class TimeoutConfig(_Strict):
    """Upstream timeouts. Long generations are normal, so none of them defaults to a few seconds."""

    connect: PositiveSeconds = 10.0
    """Time to open a TCP connection to a backend (then the next backend is tried)."""
    first_byte: PositiveSeconds = 600.0
    """Time until the backend answers: the whole generation for a non-streamed request,
    the wait for the first event of a stream (queueing and prefill included)."""
    idle: PositiveSeconds = 120.0
    """Longest silence allowed between two events of a stream."""
    total: PositiveSeconds = 3600.0
    """Upper bound for one whole upstream exchange, streams included."""


class RoutingConfig(_Strict):
    """How requests for one model are spread over its backends."""

    prefix_affinity: bool = True
    """Send requests that share a conversation prefix to the same backend (vLLM's prefix cache
    then hits), unless that backend is saturated."""
    affinity_prefix_chars: Annotated[int, Field(ge=16, le=65536)] = 1024
    """How many characters of the conversation's opening messages identify it."""
    max_attempts: Annotated[int, Field(ge=1, le=10)] = 3
    """Attempts on distinct backends for one request (connection errors, 5xx, queue full),
    only while nothing has been sent to the client."""
    saturation_kv_cache: Annotated[float, Field(gt=0, le=1)] = 0.9
    """KV-cache use (0-1) from which a backend counts as saturated."""


class BackendConfig(_Strict):
    """One vLLM server."""

    url: str
    """Base URL of the vLLM server, without `/v1` (e.g. http://10.0.0.5:8000)."""
    api_key_env: str | None = None
    """Name of the environment variable holding the backend's `--api-key`, if it has one.
    Keeping the secret out of this file lets it come from a Kubernetes Secret."""
    weight: Annotated[float, Field(gt=0)] = 1.0
    """Relative capacity: a backend of weight 2 is given twice the load of one of weight 1."""
    max_concurrent: Annotated[int, Field(ge=1)] = 256
    """Requests the backend should run at once: set it to the server's `--max-num-seqs` (256 is
    vLLM's default on most GPUs; recent releases take 1024 on the largest). At it, the backend
    counts as saturated: prefix affinity yields to another backend with room, and when every backend
    of a model is at capacity, requests wait in the gateway's queues (`admission`) instead of vLLM's.
    With several gateway processes on a shared store, each one admits against its share (see
    docs/operations.md)."""
    scheduling_policy: Literal["fcfs", "priority"] = "fcfs"
    """The server's `--scheduling-policy`. With `priority`, each request carries vLLM's `priority`
    field set from its class (`admission.classes.*.vllm_priority`); vLLM refuses a non-zero
    `priority` from servers that run `fcfs`, so it is sent to those only as the client gave it."""

    @field_validator("url")
    @classmethod
    def _check_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("must be an http:// or https:// URL with a host, e.g. http://127.0.0.1:8001")
        if parts.query or parts.fragment:
            raise ValueError("must not carry a query string or fragment")
        path = parts.path.rstrip("/")
        if path.endswith("/v1"):
            raise ValueError("give the server's base URL without /v1 (the gateway adds the API path)")
        return f"{parts.scheme}://{parts.netloc}{path}"

    def api_key(self) -> SecretStr | None:
        if self.api_key_env is None:
            return None
        value = os.environ.get(self.api_key_env)
        return SecretStr(value) if value else None


class ModelConfig(_Strict):
    """A model name that clients send, and the backends that serve it."""

    name: Annotated[str, Field(min_length=1, max_length=MODEL_NAME_MAX_CHARS)]
    """The name clients put in `model`; backends must serve it under the same name
    (vLLM's `--served-model-name`)."""
    backends: Annotated[list[BackendConfig], Field(min_length=1)]
    """The vLLM servers that serve this model, one or more."""
    timeouts: TimeoutConfig = TimeoutConfig()
    """Upstream timeouts for this model."""
    routing: RoutingConfig = RoutingConfig()
    """How this model's requests are spread over its backends."""
    kind: ModelKind = "any"
    """What the model is, which gives the operations it serves: `generative` (chat, completions,
    responses, tokenize, detokenize), `embedding` (embeddings, pooling, score, rerank, tokenize,
    detokenize), `cross-encoder` (rerank, score, classify, pooling, tokenize, detokenize),
    `transcription` (transcriptions, translations, tokenize, detokenize), or `any`: every operation is
    forwarded and the backend says whether it serves it. A request for an operation the model does
    not serve gets 400 `operation_not_supported` before anything is reserved or forwarded; `GET
    /v1/models` lists the served operations in each card's `operations`."""
    operations: tuple[str, ...] | None = None
    """The operations this model serves (policy action names, e.g. `[chat, embeddings]`), instead of
    its kind's; for a model a vLLM server runs with more than one task."""

    @model_validator(mode="after")
    def _unique_backends(self) -> ModelConfig:
        urls = [backend.url for backend in self.backends]
        duplicates = sorted({url for url in urls if urls.count(url) > 1})
        if duplicates:
            raise ValueError(f"backend listed twice: {', '.join(duplicates)}")
        return self

    @field_validator("operations")
    @classmethod
    def _known_operations(cls, value: tuple[str, ...] | None) -> tuple[str, ...] | None:
        if value is None:
            return None
        known = [operation.value for operation in OPERATIONS]
        unknown = sorted(set(value) - set(known))
        if unknown:
            raise ValueError(f"unknown operation(s) {', '.join(unknown)}; known: {', '.join(known)}")
        return tuple(name for name in known if name in value)  # the registry's order, each once

    @cached_property
    def served_operations(self) -> tuple[str, ...]:
        """The operations requests may ask of this model, in the registry's order (computed once:
        the pipeline reads it on every request)."""
        if self.operations is not None:
            return self.operations
        if self.kind == ANY_KIND:
            return tuple(operation.value for operation in OPERATIONS)
        kind = KIND_OPERATIONS[self.kind]
        return tuple(operation.value for operation in OPERATIONS if operation.value in kind)


class HealthConfig(_Strict):
    """Active health checks and passive ejection, shared by every backend."""

    interval: PositiveSeconds = 5.0
    """Seconds between two `GET /health` of a backend."""
    metrics_interval: Annotated[float, Field(ge=0)] = 1.0
    """Seconds between two scrapes of a backend's `/metrics` for its queue and KV-cache load
    (`vllm:num_requests_running`, `vllm:num_requests_waiting`, `vllm:kv_cache_usage_perc`, or the
    pre-0.9 `vllm:gpu_cache_usage_perc`); 0 turns scraping off (routing then relies on the gateway's own
    in-flight counts)."""
    timeout: PositiveSeconds = 2.0
    """Timeout of one health check or scrape."""
    eject_after: Annotated[int, Field(ge=1)] = 3
    """Consecutive failed requests (connection errors, 5xx other than "queue full") after which a
    backend is taken out."""
    eject_seconds: PositiveSeconds = 10.0
    """How long a backend taken out for failed requests stays out: all that time, even if its
    `/health` answers meanwhile (requests can fail while `/health` answers)."""


class UpstreamConfig(_Strict):
    """The one pooled HTTP client each worker uses to reach backends."""

    transport: Literal["aiohttp", "httpx"] = "aiohttp"
    """`aiohttp` (httpx's API on an aiohttp transport, measured faster under concurrency) or
    httpx's own `httpx` transport."""
    max_connections: Annotated[int, Field(ge=1)] = 1000
    """Connections kept open to all backends together, per worker."""
    keepalive_seconds: PositiveSeconds = 60.0
    """How long an idle connection to a backend is kept open for the next request."""
    max_response_bytes: Annotated[int, Field(ge=65536)] = 64 * 1024 * 1024
    """Largest non-streamed answer read from a backend (the gateway holds it whole to restore
    placeholders and read its usage), and largest single event of a stream (streams are otherwise
    relayed event by event). Beyond it the connection is closed with the rest unread and the client
    gets 502 `upstream_response_too_large` (an error event in a stream); the request is charged its
    exact prompt and every output token it reserved. The default holds 2,048 embeddings of 1,024
    floats."""


class GatewayConfig(_Strict):
    """The whole configuration file."""

    server: ServerConfig = ServerConfig()
    models: Annotated[list[ModelConfig], Field(min_length=1)]
    health: HealthConfig = HealthConfig()
    upstream: UpstreamConfig = UpstreamConfig()
    store: StoreConfig = StoreConfig()
    auth: AuthConfig = AuthConfig()
    policy: PolicyConfig = PolicyConfig()
    quotas: QuotaConfig = QuotaConfig()
    metering: MeteringConfig = MeteringConfig()
    pii: PiiConfig = PiiConfig()
    tracing: TracingConfig = TracingConfig()
    metrics: MetricsConfig = MetricsConfig()
    audit: AuditConfig = AuditConfig()
    console: ConsoleConfig = ConsoleConfig()
    responses: ResponsesConfig = ResponsesConfig()
    batches: BatchesConfig = BatchesConfig()
    admission: AdmissionConfig = AdmissionConfig()

    @model_validator(mode="after")
    def _unique_models(self) -> GatewayConfig:
        names = [model.name for model in self.models]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"model defined twice: {', '.join(duplicates)}")
        if self.metering.timezone != self.quotas.timezone:
            raise ValueError(
                f"metering.timezone ({self.metering.timezone}) and quotas.timezone ({self.quotas.timezone}) "
                "differ: usage reports and budgets would not count the same days and months"
            )
        unknown = sorted(set(self.quotas.model_names()) - set(names))
        if unknown:
            raise ValueError(f"quotas name model(s) that no `models` entry defines: {', '.join(unknown)}")
        unknown = sorted({rule.model for rule in self.pii.rules if rule.model is not None} - set(names))
        if unknown:
            raise ValueError(f"pii rules name model(s) that no `models` entry defines: {', '.join(unknown)}")
        problem = self.audit.workers_problem(self.server.workers)
        if problem is not None:
            raise ValueError(problem)
        if self.server.workers > 1 and self.store.kind == "embedded":
            raise ValueError(
                "server.workers > 1 needs store.kind: redis; the embedded store belongs to one process "
                "(its keys, budgets and counters would be split between workers)"
            )
        # One server hosting several models is one backend with one load: its settings must agree.
        seen: dict[str, tuple[str, BackendConfig]] = {}
        for model in self.models:
            for backend in model.backends:
                first = seen.setdefault(backend.url, (model.name, backend))
                if first[1] != backend:
                    raise ValueError(
                        f"backend {backend.url} is configured differently in models `{first[0]}` and "
                        f"`{model.name}`; give it the same weight, max_concurrent, scheduling_policy and api_key_env everywhere"
                    )
        return self

    @model_validator(mode="after")
    def _reservations_outlast_requests(self) -> GatewayConfig:
        # A reservation given back while its request still runs frees budget and a concurrency slot
        # that the request still uses: the limits would let through more than they allow.
        ttl = self.quotas.reservation_ttl_seconds
        longest = max(self.models, key=lambda model: model.timeouts.total)
        if self.quotas.enabled and ttl <= longest.timeouts.total:
            raise ValueError(
                f"quotas.reservation_ttl_seconds ({ttl:g}) must be longer than the longest request: "
                f"model `{longest.name}` allows timeouts.total {longest.timeouts.total:g} s, and a "
                "reservation given back before its request ends frees budget and concurrency it still uses"
            )
        return self


def load_config(path: str | os.PathLike[str]) -> GatewayConfig:
    """Read and validate a whole configuration file, or raise ConfigError saying what is wrong where."""
    return read_config(path, GatewayConfig)
