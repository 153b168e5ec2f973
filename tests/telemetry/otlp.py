"""Reading OTLP/JSON back into the protobuf message, as a collector does."""

from __future__ import annotations

import base64
import json
from typing import Any

from google.protobuf import json_format  # type: ignore[import-untyped]
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

__all__ = ["parse_otlp_json"]

_ID_FIELDS = ("traceId", "spanId", "parentSpanId")


def _hex_ids_to_base64(node: Any) -> None:
    # OTLP/JSON writes ids in hex where the protobuf JSON mapping (json_format) expects base64.
    if isinstance(node, dict):
        for key, value in node.items():
            if key in _ID_FIELDS and isinstance(value, str):
                node[key] = base64.b64encode(bytes.fromhex(value)).decode()
            else:
                _hex_ids_to_base64(value)
    elif isinstance(node, list):
        for item in node:
            _hex_ids_to_base64(item)


def parse_otlp_json(body: bytes) -> ExportTraceServiceRequest:
    """The message an OTLP/JSON body stands for; unknown fields are an error, as in a strict receiver."""
    document = json.loads(body)
    _hex_ids_to_base64(document)
    message = ExportTraceServiceRequest()
    json_format.ParseDict(document, message)
    return message
