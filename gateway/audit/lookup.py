"""Find one request's audit record in the files the log writes, for `GET /admin/requests/{id}`.

The audit log is an append-only file, not a database: a lookup reads the files of every writer
(`{worker}` paths), newest first, and stops at the first line naming the request. It runs in a
thread and is meant for looking up the request someone complains about, not for bulk queries.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import msgspec

from gateway.audit.files import WORKER_PLACEHOLDER, WORKER_SLOTS, series_files
from gateway.audit.settings import STDOUT, AuditConfig

__all__ = ["AuditNotSearchable", "find_record", "is_request_id"]

_REQUEST_ID = re.compile(r"req-[0-9a-f]{24}\Z")
_decode = msgspec.json.Decoder().decode


class AuditNotSearchable(Exception):
    """The configuration writes no file that could be searched."""


def is_request_id(value: str) -> bool:
    """Only the gateway's own ids are looked up: nothing a caller sends reaches a file search."""
    return _REQUEST_ID.match(value) is not None


def _files(config: AuditConfig) -> list[Path]:
    """Every writer's files, each series newest first."""
    template = config.path
    slots = range(WORKER_SLOTS) if WORKER_PLACEHOLDER in template else range(1)
    files: list[Path] = []
    for slot in slots:
        files.extend(reversed(series_files(Path(template.replace(WORKER_PLACEHOLDER, str(slot))))))
    return files


def find_record(config: AuditConfig, request_id: str) -> dict[str, Any] | None:
    """The record of `request_id` as written, or None when no file holds it."""
    if not config.enabled or config.path == STDOUT:
        raise AuditNotSearchable("the audit log is off or written to standard output")
    needle = f'"request_id":"{request_id}"'.encode()
    for path in _files(config):
        try:
            content = path.read_bytes()
        except FileNotFoundError:
            continue  # rotated away meanwhile
        position = content.rfind(needle)
        if position < 0:
            continue
        start = content.rfind(b"\n", 0, position) + 1
        end = content.find(b"\n", position)
        record = _decode(content[start : end if end >= 0 else len(content)])
        if isinstance(record, dict):
            return record
    return None
