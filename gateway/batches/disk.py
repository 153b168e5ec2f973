"""The files' bytes, on disk in `batches.directory` (shared by every replica): one file per id.

A file is written under a temporary name, flushed to disk and renamed, so that a crash never
leaves a half-written file under its id, and a result file written again (a batch finalized twice
after a crash) replaces the first whole.
"""

from __future__ import annotations

import asyncio
import os
import re
from pathlib import Path

__all__ = ["FileDirectory"]

# The ids the gateway makes (`file-` and hex): nothing else ever becomes a path.
_FILE_ID = re.compile(r"file-[0-9a-z_-]{1,96}")


class FileDirectory:
    __slots__ = ("root",)

    def __init__(self, root: Path) -> None:
        self.root = root

    def create(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)

    def path(self, file_id: str) -> Path | None:
        """Where the file lives, or None for a string that is no id of the gateway's."""
        return self.root / file_id if _FILE_ID.fullmatch(file_id) else None

    async def write(self, file_id: str, content: bytes) -> None:
        await asyncio.to_thread(self._write, file_id, content)

    def _write(self, file_id: str, content: bytes) -> None:
        path = self.path(file_id)
        if path is None:
            raise ValueError(f"not a file id: {file_id!r}")
        temporary = path.with_name(f".{file_id}.{os.getpid()}.tmp")
        with temporary.open("wb") as out:
            out.write(content)
            out.flush()
            os.fsync(out.fileno())
        temporary.replace(path)

    async def read(self, file_id: str) -> bytes | None:
        """The file's bytes, or None when it is not (or no longer) on disk."""
        path = self.path(file_id)
        if path is None:
            return None
        try:
            return await asyncio.to_thread(path.read_bytes)
        except FileNotFoundError:
            return None

    async def delete(self, file_id: str) -> None:
        path = self.path(file_id)
        if path is not None:
            await asyncio.to_thread(path.unlink, True)
