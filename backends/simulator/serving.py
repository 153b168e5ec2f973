"""What every generation and embedding route does the same way: model lookup, checks, headers, ids."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Literal

import msgspec

from backends.simulator import errors
from backends.simulator.asgi import DisconnectWatch, Send
from backends.simulator.engine import Engine
from backends.simulator.settings import SimulatorSettings

MAX_LOGPROBS = 20
"""vLLM's default ``--max-logprobs``."""


@dataclass(slots=True)
class HTTPRequest:
    """One request as the handlers see it."""

    path: str
    headers: dict[str, str]
    body: bytes
    send: Send
    watch: DisconnectWatch

    def _injection(self, header: str, xarg: str) -> object:
        """A failure-injection setting from a header or, for requests that reach the simulator through
        a gateway (which does not forward client headers), from the body's ``vllm_xargs``: vLLM accepts
        that field for extra arguments, so it passes through any OpenAI-compatible proxy untouched."""
        raw = self.headers.get(header)
        if raw is not None or xarg.encode() not in self.body:
            return raw
        try:
            payload = msgspec.json.decode(self.body)
        except msgspec.DecodeError:
            return None
        xargs = payload.get("vllm_xargs") if isinstance(payload, dict) else None
        return xargs.get(xarg) if isinstance(xargs, dict) else None

    @property
    def extra_delay(self) -> float:
        """Seconds added before the first token (``x-sim-delay-ms`` or ``vllm_xargs.sim_delay_ms``)."""
        raw = self._injection("x-sim-delay-ms", "sim_delay_ms")
        if raw is None:
            return 0.0
        try:
            return max(float(str(raw)), 0.0) / 1000.0
        except ValueError:
            return 0.0

    @property
    def break_after(self) -> int | None:
        """Events to send before dropping the connection (``x-sim-break-after`` or
        ``vllm_xargs.sim_break_after``), if asked."""
        raw = self._injection("x-sim-break-after", "sim_break_after")
        if raw is None:
            return None
        try:
            return max(int(str(raw)), 0)
        except ValueError:
            return None


def new_id(prefix: str) -> str:
    """``<prefix>-<16 hex>`` like vLLM 0.32's ``random_uuid()`` ids."""
    return f"{prefix}-{os.urandom(8).hex()}"


def resolve_model(engine: Engine, requested: str | None, kind: Literal["generation", "embedding"]) -> str:
    """The served name a request targets, or vLLM's error: 404 unknown model (generation routes name
    the served aliases, the embeddings route does not), or FastAPI's 404 for a model of the other kind,
    as the vLLM process serving that model has not registered this route.

    An absent ``model`` means the first served model, as in vLLM.
    """
    settings = engine.settings
    served, other = (
        (settings.models, settings.embedding_models)
        if kind == "generation"
        else (settings.embedding_models, settings.models)
    )
    if not served:
        raise errors.route_not_found()
    if not requested:
        return served[0]
    if requested in served:
        return requested
    if requested in other:
        raise errors.route_not_found()
    if kind == "generation":
        raise errors.model_not_found(requested, served)
    raise errors.model_not_found(requested, param=None)


def check_engine_alive(engine: Engine) -> None:
    """vLLM raises its engine-dead error before doing anything once the engine core is gone."""
    if engine.is_dead():
        raise errors.engine_dead()


def check_priority(engine: Engine, priority: int) -> None:
    """vLLM's engine refuses a non-zero ``priority`` unless it runs ``--scheduling-policy priority``."""
    if priority != 0 and engine.settings.scheduling_policy != "priority":
        raise errors.bad_request(f"Got priority {priority} but Priority scheduling is not enabled.")


def model_validator_error(message: str, parameter: str | None) -> errors.SimulatorHTTPError:
    """A failure of one of vLLM's request-model validators: 0.32 reports it as a ``VLLMValidationError``
    naming the parameter, e.g. ``Stream options can only be defined when `stream=True`.
    (parameter=stream_options)``."""
    return errors.bad_request(message, parameter)


def most_choices(settings: SimulatorSettings) -> int:
    """The largest ``n`` the simulator plans: every slot and queue place it has. vLLM sets no bound of
    its own; without one, a client's ``n`` of 10**18 kept the simulator planning choices forever."""
    return settings.max_num_seqs + settings.max_queue


def check_sampling(
    *, n: int, temperature: float | None, top_p: float | None, max_tokens: int | None, most_n: int
) -> None:
    """``SamplingParams`` checks, in vLLM's order (``most_n``: the simulator's own bound on ``n``)."""
    if n < 1:
        raise errors.bad_request(f"n must be at least 1, got {n}.")
    if n > most_n:
        raise errors.bad_request(f"n must be at most {most_n}, got {n}.", "n", n)
    if temperature is not None and temperature < 0:
        raise errors.bad_request(
            f"temperature must be non-negative, got {temperature}.", "temperature", temperature
        )
    if top_p is not None and not 0.0 < top_p <= 1.0:
        raise errors.bad_request(f"top_p must be in (0, 1], got {top_p}.", "top_p", top_p)
    if max_tokens is not None and max_tokens < 1:
        # vLLM names ``max_tokens`` even when the client sent ``max_completion_tokens``.
        raise errors.bad_request(
            f"max_tokens must be at least 1, got {max_tokens}.", "max_tokens", max_tokens
        )


def check_logprobs_limit(requested: int | None) -> None:
    """vLLM refuses more logprobs than ``--max-logprobs``."""
    if requested is not None and requested > MAX_LOGPROBS:
        raise errors.bad_request(
            f"Requested sample logprobs of {requested}, which is greater than max allowed: {MAX_LOGPROBS}",
            "logprobs",
            requested,
        )


def stop_list(stop: str | list[str] | None) -> list[str]:
    """``stop`` as a list."""
    if stop is None:
        return []
    return [stop] if isinstance(stop, str) else stop


def usage_object(prompt_tokens: int, completion_tokens: int) -> dict[str, Any]:
    """``usage`` of a non-streamed response (``model_dump`` keeps both ``*_details: null``)."""
    return {
        "prompt_tokens": prompt_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
        "completion_tokens": completion_tokens,
        "prompt_tokens_details": None,
        "completion_tokens_details": None,
    }


def output_limit(requested: int | None, name: str, *, room: int, max_model_len: int) -> int | None:
    """The output limit vLLM 0.32 applies: one above the whole context is refused, one above what the
    prompt leaves is clamped to it; ``None`` (no limit asked) stays ``None``."""
    if requested is None:
        return None
    if requested > max_model_len:
        raise errors.max_tokens_over_context(name, requested, max_model_len)
    return min(requested, room)


encode_json = msgspec.json.encode
