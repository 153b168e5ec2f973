"""What the store keeps about a file and a batch, and how each is shown in OpenAI's shape."""

from __future__ import annotations

import os
from typing import Any, Literal

import msgspec

__all__ = [
    "ACTIVE_STATUSES",
    "BatchRecord",
    "BatchStatus",
    "FileRecord",
    "LineError",
    "Owner",
    "new_batch_id",
    "new_file_id",
]

BatchStatus = Literal[
    "validating", "failed", "in_progress", "finalizing", "completed", "expired", "cancelling", "cancelled"
]
ACTIVE_STATUSES: frozenset[str] = frozenset({"validating", "in_progress", "finalizing", "cancelling"})
"""The statuses a batch still has work in: the runners look at these only."""


def new_file_id() -> str:
    return "file-" + os.urandom(12).hex()


def new_batch_id() -> str:
    return "batch_" + os.urandom(12).hex()


class Owner(msgspec.Struct, frozen=True, array_like=True):
    """Who created a file or a batch: its department sees it; a batch's lines run under its key."""

    department: str
    service: str
    key_id: str
    roles: tuple[str, ...] = ()


class FileRecord(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    owner: Owner
    filename: str
    purpose: str
    bytes: int
    created_at: int
    lines: int = 0
    """Requests in a `batch` input file."""
    endpoints: tuple[str, ...] = ()
    """The `url`s its lines name (a batch's `endpoint` must be the only one)."""

    def openai(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": "file",
            "bytes": self.bytes,
            "created_at": self.created_at,
            "filename": self.filename,
            "purpose": self.purpose,
            "status": "processed",
            "expires_at": None,
            "status_details": None,
        }


class LineError(msgspec.Struct, frozen=True, omit_defaults=True):
    """One entry of a batch's `errors.data` (OpenAI's `BatchError`)."""

    code: str
    message: str
    line: int | None = None
    param: str | None = None


class BatchRecord(msgspec.Struct, kw_only=True):
    """One batch, as stored. Its live `completed` and `failed` counts are the work queue's until it
    ends; they are copied here when it does."""

    id: str
    owner: Owner
    endpoint: str
    input_file_id: str
    completion_window: str
    created_at: int
    expires_at: int
    status: BatchStatus = "validating"
    metadata: dict[str, str] | None = None
    model: str | None = None
    total: int = 0
    completed: int = 0
    failed: int = 0
    in_progress_at: int | None = None
    finalizing_at: int | None = None
    completed_at: int | None = None
    failed_at: int | None = None
    expired_at: int | None = None
    cancelling_at: int | None = None
    cancelled_at: int | None = None
    output_file_id: str | None = None
    error_file_id: str | None = None
    errors: list[LineError] = []
    paused_until: float | None = None
    """While set and in the future, no line is taken: the last line was refused for want of budget or
    capacity, which `errors` says (code `batch_paused`)."""
    usage_input: int = 0
    usage_output: int = 0

    def openai(self, completed: int | None = None, failed: int | None = None) -> dict[str, Any]:
        """OpenAI's Batch object; `completed` and `failed` are the live counts while it runs."""
        done = self.completed if completed is None else completed
        refused = self.failed if failed is None else failed
        return {
            "id": self.id,
            "object": "batch",
            "endpoint": self.endpoint,
            "model": self.model,
            "errors": (
                {"object": "list", "data": [msgspec.to_builtins(error) for error in self.errors]}
                if self.errors
                else None
            ),
            "input_file_id": self.input_file_id,
            "completion_window": self.completion_window,
            "status": self.status,
            "output_file_id": self.output_file_id,
            "error_file_id": self.error_file_id,
            "created_at": self.created_at,
            "in_progress_at": self.in_progress_at,
            "expires_at": self.expires_at,
            "finalizing_at": self.finalizing_at,
            "completed_at": self.completed_at,
            "failed_at": self.failed_at,
            "expired_at": self.expired_at,
            "cancelling_at": self.cancelling_at,
            "cancelled_at": self.cancelled_at,
            "request_counts": {"total": self.total, "completed": done, "failed": refused},
            "usage": {
                "input_tokens": self.usage_input,
                "input_tokens_details": {"cached_tokens": 0},
                "output_tokens": self.usage_output,
                "output_tokens_details": {"reasoning_tokens": 0},
                "total_tokens": self.usage_input + self.usage_output,
            },
            "metadata": self.metadata,
        }


_file_encoder = msgspec.json.Encoder()
file_decoder = msgspec.json.Decoder(FileRecord)
batch_decoder = msgspec.json.Decoder(BatchRecord)


def encode(record: FileRecord | BatchRecord) -> bytes:
    return _file_encoder.encode(record)
