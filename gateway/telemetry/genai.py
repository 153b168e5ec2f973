"""OpenTelemetry GenAI semantic conventions for the upstream CLIENT span."""

from __future__ import annotations

from typing import Any

import msgspec

from gateway.parsing import ParsedRequest
from gateway.usage import Usage

__all__ = ["request_attributes", "response_attributes", "span_name"]

_PROVIDER = "vllm"
_MAX_TOKEN_FIELDS = ("max_completion_tokens", "max_tokens", "max_output_tokens")
_decode = msgspec.json.Decoder().decode


def span_name(parsed: ParsedRequest) -> str:
    return f"{parsed.operation.genai_name} {parsed.model}"


def request_attributes(parsed: ParsedRequest, *, record_content: bool) -> dict[str, Any]:
    payload = parsed.payload
    attributes: dict[str, Any] = {
        "gen_ai.operation.name": parsed.operation.genai_name,
        "gen_ai.provider.name": _PROVIDER,
        "gen_ai.request.model": parsed.model,
        "gen_ai.request.stream": parsed.stream,
    }
    for field in _MAX_TOKEN_FIELDS:
        value = payload.get(field)
        if isinstance(value, int):
            attributes["gen_ai.request.max_tokens"] = value
            break
    for field, name in (("temperature", "gen_ai.request.temperature"), ("top_p", "gen_ai.request.top_p")):
        value = payload.get(field)
        if isinstance(value, int | float) and not isinstance(value, bool):
            attributes[name] = value
    if record_content:
        # The payload is the redacted one: what the backend received, never the caller's raw values.
        for field in ("messages", "prompt", "input", "instructions"):
            if field in payload:
                attributes["gen_ai.input.messages"] = msgspec.json.encode(payload[field]).decode()
                break
        if "system" in payload:  # Anthropic Messages keep the system prompt out of `messages`
            attributes["gen_ai.system_instructions"] = msgspec.json.encode(payload["system"]).decode()
    return attributes


def response_attributes(
    document: Any, finish_reasons: list[str] | None, usage: Usage | None, *, record_content: bool = False
) -> dict[str, Any]:
    """From a decoded answer (or a stream's usage chunk) and what the relay saw."""
    attributes: dict[str, Any] = {}
    if isinstance(document, dict):
        if isinstance(document.get("id"), str):
            attributes["gen_ai.response.id"] = document["id"]
        if isinstance(document.get("model"), str):
            attributes["gen_ai.response.model"] = document["model"]
        if finish_reasons is None:
            choices = document.get("choices")
            if isinstance(choices, list):
                finish_reasons = [
                    choice["finish_reason"]
                    for choice in choices
                    if isinstance(choice, dict) and isinstance(choice.get("finish_reason"), str)
                ]
            elif isinstance(document.get("status"), str):  # Responses API
                finish_reasons = [document["status"]]
            elif isinstance(document.get("stop_reason"), str):  # Anthropic Messages
                finish_reasons = [document["stop_reason"]]
        if record_content:
            output = document.get("choices", document.get("content"))  # chat and completions; Messages
            if output is not None:
                attributes["gen_ai.output.messages"] = msgspec.json.encode(output).decode()
    if finish_reasons:
        attributes["gen_ai.response.finish_reasons"] = tuple(finish_reasons)
    if usage is not None:
        attributes["gen_ai.usage.input_tokens"] = usage.prompt_tokens
        attributes["gen_ai.usage.output_tokens"] = usage.completion_tokens
    return attributes


def decoded(body: bytes) -> Any:
    try:
        return _decode(body)
    except msgspec.DecodeError:
        return None
