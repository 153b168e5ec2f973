"""Records to audit and small helpers shared by the audit tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from gateway.audit import AuditLine, AuditLog, audit_line
from gateway.request_record import RequestRecord

RECORD_FIELDS = [
    "time",
    "request_id",
    "trace_id",
    "department",
    "service",
    "key_id",
    "model",
    "operation",
    "backend",
    "decision",
    "rule",
    "pii",
    "prompt_tokens",
    "completion_tokens",
    "cost_eur",
    "weighted_cost",
    "status",
    "latency_ms",
]
CHAINED_FIELDS = [*RECORD_FIELDS, "seq", "prev"]

# 2026-11-03T09:15:02.123Z
START = 1_793_697_302.123


def make_record(index: int = 0, **changes: Any) -> RequestRecord:
    """A plausible record, as a request hands it to the log; `index` makes its id and counts distinct."""
    fields: dict[str, Any] = {
        "time": START + index,
        "request_id": f"req-{index:06d}",
        "trace_id": None if index % 2 else f"{index:032x}",
        "department": "dgfip",
        "service": "assistant-courrier",
        "key_id": f"key-{index % 7}",
        "model": "mistral-small",
        "operation": "chat",
        "backend": "http://10.0.0.5:8000",
        "decision": "allow" if index % 5 else "deny",
        "rule": "p, dgfip, dgfip, mistral-small, chat, allow" if index % 5 else None,
        "pii": {"EMAIL": index % 3, "PHONE": 1} if index % 4 else None,
        "prompt_tokens": 100 + index,
        "completion_tokens": 20 + index,
        "cost_eur": 0.000125 * index,
        "weighted_cost": 140 + 2 * index,
        "status": 200 if index % 5 else 403,
        "latency_ms": 12.5 + index + 0.0004,  # written rounded to the microsecond
        "cached_tokens": index % 10,  # metered, not audited
    }
    fields.update(changes)
    return RequestRecord(**fields)


def make_line(index: int = 0, **changes: Any) -> AuditLine:
    """The line `make_record(index, **changes)` is written as."""
    return audit_line(make_record(index, **changes))


def lines_of(*paths: Path) -> list[bytes]:
    """Every line of the files, in order, without newlines."""
    lines: list[bytes] = []
    for path in paths:
        lines.extend(path.read_bytes().splitlines())
    return lines


def objects_of(*paths: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in lines_of(*paths)]


async def write_log(path: Path | str, records: list[RequestRecord], **options: Any) -> AuditLog:
    """Start a log, write `records`, close it; returns the closed log (for its stats and path)."""
    options.setdefault("flush_interval", 0.01)
    log = AuditLog(str(path), **options)
    await log.start()
    try:
        for record in records:
            log.write(record)
    finally:
        await log.close()
    return log


def edit_line(path: Path, number: int, change: Any) -> None:
    """Rewrite line `number` (from 1) of `path` with `change(line_bytes) -> line_bytes`."""
    lines = path.read_bytes().splitlines(keepends=True)
    lines[number - 1] = change(lines[number - 1])
    path.write_bytes(b"".join(lines))
