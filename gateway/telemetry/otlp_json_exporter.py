"""The OTLP/HTTP JSON span exporter, configured by the same `OTEL_EXPORTER_OTLP_*` variables as the
SDK's protobuf one.

It runs in the batch span processor's thread and sends with a blocking httpx client. Retries follow
the OTLP specification: 429, 502, 503 and 504 and connection failures are retried with exponential
backoff (honouring `Retry-After`), within the export timeout; anything else drops the batch. Logs
name the status or the exception type, never a span's content.
"""

from __future__ import annotations

import gzip
import logging
import os
import ssl
import threading
import time
from collections.abc import Mapping, Sequence

import httpx
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from opentelemetry.util.re import parse_env_headers

from gateway.telemetry.otlp_json import encode_spans

__all__ = ["OtlpJsonSpanExporter"]

logger = logging.getLogger("gateway.tracing")

_RETRYABLE = frozenset({429, 502, 503, 504})
_DEFAULT_TIMEOUT_SECONDS = 10.0
_FIRST_BACKOFF_SECONDS = 0.5
_MAX_BACKOFF_SECONDS = 8.0


def _setting(name: str) -> str | None:
    """The traces-specific variable, else the general one (`OTEL_EXPORTER_OTLP_TRACES_X`, `..._X`)."""
    return os.environ.get(f"OTEL_EXPORTER_OTLP_TRACES_{name}") or os.environ.get(f"OTEL_EXPORTER_OTLP_{name}")


def _endpoint() -> str:
    specific = os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    if specific:
        return specific  # used as given, path included
    base = os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT", "")
    if not base:
        raise ValueError("no collector is named (OTEL_EXPORTER_OTLP_ENDPOINT)")
    return base.rstrip("/") + "/v1/traces"


def _timeout() -> float:
    # In seconds, as the SDK's own exporters read it.
    text = _setting("TIMEOUT")
    try:
        return float(text) if text else _DEFAULT_TIMEOUT_SECONDS
    except ValueError:
        raise ValueError(f"OTEL_EXPORTER_OTLP_TIMEOUT={text!r} is not a number of seconds") from None


def _tls() -> tuple[ssl.SSLContext | bool, tuple[str, str] | None]:
    certificate = _setting("CERTIFICATE")
    verify: ssl.SSLContext | bool = ssl.create_default_context(cafile=certificate) if certificate else True
    client_certificate, client_key = _setting("CLIENT_CERTIFICATE"), _setting("CLIENT_KEY")
    return verify, (client_certificate, client_key) if client_certificate and client_key else None


class OtlpJsonSpanExporter(SpanExporter):
    """Sends each batch as one `POST` of `application/json` to the collector's `/v1/traces`."""

    def __init__(
        self,
        endpoint: str,
        *,
        headers: Mapping[str, str] | None = None,
        timeout: float = _DEFAULT_TIMEOUT_SECONDS,
        gzip_body: bool = False,
        verify: ssl.SSLContext | bool = True,
        client_certificate: tuple[str, str] | None = None,
    ) -> None:
        self._endpoint = endpoint
        self._timeout = timeout
        self._gzip = gzip_body
        self._headers = {**(headers or {}), "content-type": "application/json"}
        if gzip_body:
            self._headers["content-encoding"] = "gzip"
        self._client = httpx.Client(timeout=timeout, verify=verify, cert=client_certificate)
        self._stopping = threading.Event()

    @classmethod
    def from_environment(cls) -> OtlpJsonSpanExporter:
        compression = (_setting("COMPRESSION") or "none").lower()
        if compression not in ("none", "gzip"):
            raise ValueError(f"OTEL_EXPORTER_OTLP_COMPRESSION={compression!r}: use gzip or none")
        verify, client_certificate = _tls()
        return cls(
            _endpoint(),
            headers=parse_env_headers(_setting("HEADERS") or "", liberal=True),
            timeout=_timeout(),
            gzip_body=compression == "gzip",
            verify=verify,
            client_certificate=client_certificate,
        )

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        if self._stopping.is_set():
            return SpanExportResult.FAILURE
        body = encode_spans(spans, pause=_let_the_event_loop_run)
        if self._gzip:
            body = gzip.compress(body)
        deadline = time.monotonic() + self._timeout
        backoff = _FIRST_BACKOFF_SECONDS
        while True:
            retry_after: float | None = None
            try:
                response = self._client.post(self._endpoint, content=body, headers=self._headers)
            except httpx.HTTPError as exc:
                problem = type(exc).__name__
            else:
                if response.is_success:
                    return SpanExportResult.SUCCESS
                problem = f"HTTP {response.status_code}"
                if response.status_code not in _RETRYABLE:
                    logger.warning("the collector refused %d spans (%s)", len(spans), problem)
                    return SpanExportResult.FAILURE
                retry_after = _seconds(response.headers.get("retry-after"))
            wait = min(retry_after if retry_after is not None else backoff, _MAX_BACKOFF_SECONDS)
            if time.monotonic() + wait >= deadline or self._stopping.wait(wait):
                logger.warning("could not export %d spans to the collector (%s)", len(spans), problem)
                return SpanExportResult.FAILURE
            backoff *= 2

    def shutdown(self) -> None:
        self._stopping.set()
        self._client.close()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True  # nothing is held here: the batch processor holds the spans


def _let_the_event_loop_run() -> None:
    # sleep(0) releases the interpreter lock: a thread waiting for it (the worker's event loop)
    # takes it at once, instead of after the 5 ms switch interval of a thread that never blocks.
    time.sleep(0)


def _seconds(text: str | None) -> float | None:
    if text is None:
        return None
    try:
        return max(0.0, float(text))
    except ValueError:
        return None  # an HTTP date: the exponential backoff instead
