"""What the Files and Batches APIs do, for the routes, the console and the command line: files
checked and kept, batches created, read and cancelled, each department seeing only its own."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import msgspec

from gateway.batches.disk import FileDirectory
from gateway.batches.errors import BatchInputInvalid, BatchNotFound, FileNotFound
from gateway.batches.records import BatchRecord, FileRecord, Owner, new_batch_id, new_file_id
from gateway.batches.runner import BatchRunner
from gateway.batches.settings import BatchesConfig
from gateway.batches.store import BatchStore
from gateway.batches.validation import BATCH_ENDPOINTS, check_input
from gateway.errors import InvalidRequest
from gateway.operations import Operation

__all__ = ["Batches", "ModelCheck", "Page"]

ModelCheck = Callable[[str, Operation], "str | None"]
"""(model, operation) -> None when the caller may send it, else why not."""

_COMPLETION_WINDOW = "24h"
_METADATA_KEYS = 16


class Page(msgspec.Struct):
    """A list answer, in OpenAI's cursor shape."""

    data: list[dict[str, Any]]
    has_more: bool

    def openai(self) -> dict[str, Any]:
        return {
            "object": "list",
            "data": self.data,
            "first_id": self.data[0]["id"] if self.data else None,
            "last_id": self.data[-1]["id"] if self.data else None,
            "has_more": self.has_more,
        }


def _page(items: list[dict[str, Any]], after: str | None, limit: int) -> Page:
    if after is not None:
        ids = [item["id"] for item in items]
        items = items[ids.index(after) + 1 :] if after in ids else []
    return Page(items[:limit], len(items) > limit)


class Batches:
    """The feature once started: its store, its directory and this process's runner."""

    def __init__(
        self,
        config: BatchesConfig,
        store: BatchStore,
        directory: FileDirectory,
        runner: BatchRunner | None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self.store = store
        self.directory = directory
        self.runner = runner
        self._clock = clock

    # -- files -----------------------------------------------------------------------------------

    async def upload(
        self, owner: Owner, filename: str, purpose: str, content: bytes, model_check: ModelCheck
    ) -> FileRecord:
        if purpose != "batch":
            raise InvalidRequest(
                f"Files are kept for batch jobs only: `purpose` must be 'batch', not {purpose!r}.",
                param="purpose",
            )
        lines = check_input(content, max_lines=self.config.max_lines, model_serves=model_check)
        record = FileRecord(
            id=new_file_id(),
            owner=owner,
            filename=filename,
            purpose=purpose,
            bytes=len(content),
            created_at=int(self._clock()),
            lines=len(lines),
            endpoints=tuple(sorted({line.url for line in lines})),
        )
        await self.directory.write(record.id, content)
        await self.store.add_file(record)
        return record

    async def file(self, department: str, file_id: str) -> FileRecord:
        """The file, or 404 when it is unknown or another department's."""
        record = await self.store.file(file_id) if self.directory.path(file_id) is not None else None
        if record is None or record.owner.department != department:
            raise FileNotFound(file_id)
        return record

    async def files(
        self,
        department: str,
        *,
        purpose: str | None = None,
        after: str | None = None,
        limit: int = 10_000,
        oldest_first: bool = False,
    ) -> Page:
        records = await self.store.files(department)
        if oldest_first:
            records.reverse()
        items = [record.openai() for record in records if purpose is None or record.purpose == purpose]
        return _page(items, after, limit)

    async def content(self, department: str, file_id: str) -> bytes:
        await self.file(department, file_id)
        content = await self.directory.read(file_id)
        if content is None:
            raise FileNotFound(file_id)
        return content

    async def delete_file(self, department: str, file_id: str) -> None:
        await self.file(department, file_id)
        await self.store.delete_file(file_id)
        await self.directory.delete(file_id)

    # -- batches ---------------------------------------------------------------------------------

    async def create(
        self,
        owner: Owner,
        input_file_id: str,
        endpoint: str,
        completion_window: str,
        metadata: dict[str, str] | None,
    ) -> BatchRecord:
        if endpoint not in BATCH_ENDPOINTS:
            allowed = ", ".join(sorted(BATCH_ENDPOINTS))
            raise InvalidRequest(f"`endpoint` must be one of {allowed}.", param="endpoint")
        if completion_window != _COMPLETION_WINDOW:
            raise InvalidRequest("`completion_window` must be '24h'.", param="completion_window")
        _check_metadata(metadata)
        source = await self.file(owner.department, input_file_id)
        if source.purpose != "batch":
            raise InvalidRequest(
                f"The file {input_file_id} is not a batch input file.", param="input_file_id"
            )
        if source.endpoints != (endpoint,):
            raise BatchInputInvalid(
                f"The requests of {input_file_id} name {', '.join(source.endpoints)}; "
                f"a batch on {endpoint} needs every line's `url` to be {endpoint}.",
                param="endpoint",
            )
        now = int(self._clock())
        record = BatchRecord(
            id=new_batch_id(),
            owner=owner,
            endpoint=endpoint,
            input_file_id=input_file_id,
            completion_window=completion_window,
            created_at=now,
            expires_at=now + self.config.completion_window_seconds,
            metadata=metadata,
            total=source.lines,
        )
        await self.store.add_batch(record)
        if self.runner is not None:
            self.runner.wake()
        return record

    async def batch(self, department: str | None, batch_id: str) -> dict[str, Any]:
        """OpenAI's Batch object with its live counts; 404 when unknown or another department's
        (`department` None: any, for the command line)."""
        record = await self._owned(department, batch_id)
        return await self.shown(record)

    async def shown(self, record: BatchRecord) -> dict[str, Any]:
        if record.status in ("in_progress", "finalizing", "cancelling"):
            completed, failed = await self.store.counts(record.id)
            return record.openai(completed, failed)
        return record.openai()

    async def _owned(self, department: str | None, batch_id: str) -> BatchRecord:
        record = await self.store.batch(batch_id)
        if record is None or (department is not None and record.owner.department != department):
            raise BatchNotFound(batch_id)
        return record

    async def batches(self, department: str | None, *, after: str | None = None, limit: int = 20) -> Page:
        records = await self.store.batches(department)
        return _page([await self.shown(record) for record in records], after, limit)

    async def cancel(self, department: str | None, batch_id: str) -> dict[str, Any]:
        """Ask for the batch to stop: `cancelling` until a runner writes what it has (`cancelled`)."""
        for _ in range(5):  # a runner may change the status meanwhile: read it again
            record = await self._owned(department, batch_id)
            if record.status in ("cancelling", "cancelled"):
                return await self.shown(record)
            if record.status not in ("validating", "in_progress"):
                raise InvalidRequest(
                    f"The batch is {record.status}: only a validating or in-progress batch can be cancelled.",
                    param="batch_id",
                )
            cancelling = msgspec.structs.replace(
                record, status="cancelling", cancelling_at=int(self._clock())
            )
            if await self.store.replace_batch(cancelling, (record.status,)):
                if self.runner is not None:
                    self.runner.wake()
                return await self.shown(cancelling)
        raise InvalidRequest("The batch is changing status; retry.", param="batch_id")


def _check_metadata(metadata: dict[str, str] | None) -> None:
    if metadata is None:
        return
    if len(metadata) > _METADATA_KEYS:
        raise InvalidRequest(f"`metadata` may hold at most {_METADATA_KEYS} keys.", param="metadata")
    for key, value in metadata.items():
        if not isinstance(value, str) or len(key) > 64 or len(value) > 512:
            raise InvalidRequest(
                "`metadata` keys are strings of at most 64 characters, values of at most 512.",
                param="metadata",
            )
