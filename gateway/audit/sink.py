"""Where the writer thread puts lines: a file (locked, resumed, rotated) or standard output.

Only the writer thread uses a sink. It keeps the lines it could not write yet (`backlog`), in order,
and writes them first on the next `drain`; a line cut short by a failing disk is finished, not
repeated, so the file never holds half a line followed by another.
"""

from __future__ import annotations

import errno
import logging
import os
import select
from pathlib import Path

from gateway.audit.errors import AuditError
from gateway.audit.files import (
    FILE_MODE,
    claim_file,
    last_complete_line,
    rotated_files,
    rotated_path,
)

__all__ = ["LineSink"]

logger = logging.getLogger("gateway.audit")

STDOUT = "-"
_FILE_CHUNK = 1024 * 1024
# Writes to a pipe of at most PIPE_BUF bytes are never interleaved with another process's writes:
# whole lines from several workers can then share one standard output.
_PIPE_CHUNK = select.PIPE_BUF
_OPEN_FLAGS = os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC


class LineSink:
    """A file or standard output that takes newline-terminated lines."""

    def __init__(
        self,
        target: str,
        *,
        exclusive: bool,
        rotate_bytes: int | None = None,
        keep_files: int | None = None,
        fsync: bool = False,
    ) -> None:
        self.target = target
        self.path: Path | None = None
        self.lines_written = 0
        self.rotations = 0
        self._exclusive = exclusive
        self._rotate_bytes = rotate_bytes
        self._keep_files = keep_files
        self._fsync = fsync and target != STDOUT
        self._chunk = _PIPE_CHUNK if target == STDOUT else _FILE_CHUNK
        self._descriptor: int | None = None
        self._lock: int | None = None
        self._size = 0
        self._generation = 0
        self._queue: list[bytes] = []
        # True while the first queued line is the rest of a line partly written: it must go to the
        # same file, right after its beginning, so no rotation may come between.
        self._continuing = False

    @property
    def backlog(self) -> int:
        """Lines waiting to be written."""
        return len(self._queue)

    # -- opening ----------------------------------------------------------------------------------

    def open(self) -> bytes | None:
        """Open the target; for an exclusive file, return the last complete line of its series (the
        line a chain continues from), after cutting off a line left incomplete by a crash."""
        if self.target == STDOUT:
            self._descriptor = 1
            return None
        if self._exclusive:
            self.path, self._lock = claim_file(self.target)
        else:
            self.path = Path(self.target)
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise AuditError(f"{self.path.parent}: cannot create the audit directory: {exc}") from None
        try:
            return self._open_series(self.path)
        except OSError as exc:
            self.close()
            raise AuditError(f"{self.path}: cannot open the audit log: {exc}") from None

    def _open_series(self, path: Path) -> bytes | None:
        rotated = rotated_files(path)
        self._generation = rotated[-1][0] if rotated else 0
        self._descriptor = descriptor = os.open(path, _OPEN_FLAGS, FILE_MODE)
        size = os.fstat(descriptor).st_size
        if not self._exclusive:
            self._size = size  # other processes append too: nothing to resume, nothing to cut
            return None
        last, end = last_complete_line(descriptor, size)
        if end < size:
            # A batch cut short by a crash: what follows the last newline is no complete record, and
            # new lines appended after it would be glued to it.
            logger.warning(
                "%s: removing %d bytes after the last complete line (a write interrupted by a crash)",
                path,
                size - end,
            )
            os.ftruncate(descriptor, end)
            size = end
        self._size = size
        if last is None and rotated:
            # A rotation happened just before the last stop: the chain ends in the newest rotated file.
            newest = os.open(rotated[-1][1], os.O_RDONLY | os.O_CLOEXEC)
            try:
                last, _ = last_complete_line(newest, os.fstat(newest).st_size)
            finally:
                os.close(newest)
        return last

    def _open_current(self) -> int:
        assert self.path is not None
        descriptor = os.open(self.path, _OPEN_FLAGS, FILE_MODE)
        self._size = os.fstat(descriptor).st_size
        return descriptor

    # -- writing ----------------------------------------------------------------------------------

    def append(self, lines: list[bytes]) -> None:
        """Queue `lines` (each ending with a newline) and write everything queued. Raises `OSError`
        when the target fails; what was not written stays queued for the next `drain`."""
        self._queue.extend(lines)
        self.drain()

    def drain(self) -> None:
        """Write every queued line, rotating on the way. Raises `OSError`, keeping the rest queued."""
        if not self._queue:
            return
        if self._descriptor is None:
            self._descriptor = self._open_current()  # a rotation could not open the new file
        queue = self._queue
        for _ in range(len(queue)):  # each pass writes at least one line, or raises
            if not queue:
                break
            if self._rotation_due(len(queue[0])):
                self._rotate()
            count, length = 1, len(queue[0])
            room = self._room()
            while count < len(queue) and length + len(queue[count]) <= room:
                length += len(queue[count])
                count += 1
            self._write(queue[0] if count == 1 else b"".join(queue[:count]), count)
        if self._fsync:
            os.fsync(self._checked_descriptor())

    def _room(self) -> int:
        """Bytes one write may carry: a chunk, and no more than the file has left before rotating."""
        if self._rotate_bytes is None:
            return self._chunk
        return min(self._chunk, self._rotate_bytes - self._size)

    def _rotation_due(self, next_line: int) -> bool:
        return (
            self._rotate_bytes is not None
            and not self._continuing
            and self._size > 0
            and self._size + next_line > self._rotate_bytes
        )

    def _checked_descriptor(self) -> int:
        if self._descriptor is None:
            self._descriptor = self._open_current()
        return self._descriptor

    def _write(self, data: bytes, count: int) -> None:
        descriptor = self._checked_descriptor()
        view = memoryview(data)
        done = 0
        try:
            while done < len(data):  # every pass writes at least one byte, or raises
                written = os.write(descriptor, view[done:])
                if written <= 0:
                    raise OSError(errno.EIO, "the write made no progress")
                done += written
        finally:
            self._size += done
            self._consume(count, done)

    def _consume(self, count: int, done: int) -> None:
        """Remove from the queue what the first `done` bytes of its first `count` lines covered."""
        queue = self._queue
        whole = 0
        for line in queue[:count]:
            if done < len(line):
                break
            done -= len(line)
            whole += 1
        del queue[:whole]
        self.lines_written += whole
        if done:
            queue[0] = queue[0][done:]
        self._continuing = done > 0

    def _rotate(self) -> None:
        assert self.path is not None and self._descriptor is not None
        if self._fsync:
            os.fsync(self._descriptor)
        generation = self._generation + 1
        for _ in range(1000):  # a file left by hand under the next name is never overwritten
            if not rotated_path(self.path, generation).exists():
                break
            generation += 1
        os.rename(self.path, rotated_path(self.path, generation))
        self._generation = generation
        self.rotations += 1
        os.close(self._descriptor)
        self._descriptor = None
        self._size = 0
        self._descriptor = self._open_current()
        if self._fsync:
            self._sync_directory()
        self._prune()

    def _sync_directory(self) -> None:
        assert self.path is not None
        directory = os.open(self.path.parent, os.O_RDONLY | os.O_CLOEXEC)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)

    def _prune(self) -> None:
        if self._keep_files is None or self.path is None:
            return
        for _, old in rotated_files(self.path)[: -self._keep_files]:
            try:
                old.unlink()
            except OSError as exc:
                logger.warning("%s: cannot delete an old rotated audit file: %s", old, exc)

    # -- closing ----------------------------------------------------------------------------------

    def close(self) -> None:
        """Close the file and release the lock (standard output stays open). Idempotent."""
        descriptor, self._descriptor = self._descriptor, None
        lock, self._lock = self._lock, None
        try:
            if descriptor is not None and descriptor != 1:
                if self._fsync:
                    os.fsync(descriptor)
                os.close(descriptor)
        finally:
            if lock is not None:
                os.close(lock)  # closing the descriptor releases the flock
