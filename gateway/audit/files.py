"""Where audit lines live on disk: the current file, its rotated predecessors, the lock that makes
a writer the only one on its file, and the last line a restarted writer continues from.

    audit.jsonl              the current file, appended to
    audit.jsonl.000001       rotated files, numbered in the order they were filled: the lowest is the
    audit.jsonl.000002       oldest; a name never changes once given, so archiving tools can copy it
    audit.jsonl.lock         held (flock) by the one process that writes this series

A path with `{worker}` (`audit-{worker}.jsonl`) is a template: each process claims the lowest number
whose lock is free, `audit-0.jsonl`, `audit-1.jsonl`..., and keeps it until it exits. A restarted
worker therefore takes a number back, finds its series, and continues its chain.
"""

from __future__ import annotations

import fcntl
import os
import re
from collections import defaultdict
from pathlib import Path

from gateway.audit.errors import AuditError

__all__ = [
    "FILE_MODE",
    "WORKER_PLACEHOLDER",
    "WORKER_SLOTS",
    "claim_file",
    "last_complete_line",
    "lock_path",
    "rotated_files",
    "rotated_path",
    "series_files",
    "series_in",
]

WORKER_PLACEHOLDER = "{worker}"
WORKER_SLOTS = 256
"""Numbers a `{worker}` template may take; far above any worker count the gateway accepts."""

_ROTATED_SUFFIX = re.compile(r"\.(\d{6,})\Z")
_LOCK_SUFFIX = ".lock"
_TAIL_BLOCK = 64 * 1024
FILE_MODE = 0o640
"""Audit files are readable by the owner's group (log shippers), by no one else."""


def rotated_path(path: Path, generation: int) -> Path:
    """The name of the `generation`-th file rotated out of `path` (from 1)."""
    return path.with_name(f"{path.name}.{generation:06d}")


def lock_path(path: Path) -> Path:
    return path.with_name(path.name + _LOCK_SUFFIX)


def rotated_files(path: Path) -> list[tuple[int, Path]]:
    """`path`'s rotated files with their numbers, oldest first."""
    found: list[tuple[int, Path]] = []
    prefix = path.name + "."
    try:
        entries = list(path.parent.iterdir())
    except FileNotFoundError:
        return []
    for entry in entries:
        if not entry.name.startswith(prefix):
            continue
        match = _ROTATED_SUFFIX.search(entry.name)
        if match is not None and match.start() == len(path.name):
            found.append((int(match.group(1)), entry))
    found.sort()
    return found


def series_files(path: Path) -> list[Path]:
    """One chain's files in order: `path`'s rotated files, oldest first, then `path` if it exists."""
    files = [rotated for _, rotated in rotated_files(path)]
    if path.exists():
        files.append(path)
    return files


def series_in(directory: Path) -> list[list[Path]]:
    """Every series of files in `directory` (one per writer), each in chain order, sorted by name.
    Lock files are not audit files; anything else is taken to be one."""
    bases: dict[Path, list[tuple[int, Path]]] = defaultdict(list)
    for entry in directory.iterdir():
        if not entry.is_file() or entry.name.endswith(_LOCK_SUFFIX):
            continue
        match = _ROTATED_SUFFIX.search(entry.name)
        if match is None:
            # The current file sorts after every rotated one.
            bases[entry].append((1 << 62, entry))
        else:
            bases[entry.with_name(entry.name[: match.start()])].append((int(match.group(1)), entry))
    return [[file for _, file in sorted(bases[base])] for base in sorted(bases)]


def claim_file(template: str) -> tuple[Path, int]:
    """Become the only writer of a series: take the lock of `template`'s file, or of the lowest free
    number when it has `{worker}`. Returns the file's path and the lock's descriptor, held until it is
    closed (or the process ends). Raises `AuditError` when every candidate is taken.

    `flock` locks belong to an open file, not to a process: two logs in one process exclude each
    other too, as two processes do. They are released by the kernel when a process dies, so a
    crashed worker's number is free for the next one."""
    slots = range(WORKER_SLOTS) if WORKER_PLACEHOLDER in template else range(1)
    for slot in slots:
        path = Path(template.replace(WORKER_PLACEHOLDER, str(slot)))
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            descriptor = os.open(lock_path(path), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, FILE_MODE)
        except OSError as exc:
            raise AuditError(f"{path}: cannot create the audit log's lock file: {exc}") from None
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(descriptor)
            continue
        except OSError as exc:
            os.close(descriptor)
            raise AuditError(f"{path}: cannot lock the audit log: {exc}") from None
        return path, descriptor
    if WORKER_PLACEHOLDER in template:
        raise AuditError(f"{template}: all {WORKER_SLOTS} worker numbers are taken by other processes")
    raise AuditError(
        f"{template}: another process writes this audit log (it holds {lock_path(Path(template))}); "
        f"a chained or rotated file has one writer: put {WORKER_PLACEHOLDER} in audit.path "
        "to give each worker its own file"
    )


def last_complete_line(descriptor: int, size: int) -> tuple[bytes | None, int]:
    """The last newline-terminated line of the first `size` bytes of an open file (without its
    newline), and the offset just after it: where complete content ends. `(None, 0)` when there is
    no complete line. Bytes after that offset are a write cut short by a crash."""
    buffer = b""
    position = size
    for _ in range(size // _TAIL_BLOCK + 2):  # reads backwards, one block at a time, to the start
        if position == 0:
            break
        start = max(0, position - _TAIL_BLOCK)
        buffer = os.pread(descriptor, position - start, start) + buffer
        position = start
        last_newline = buffer.rfind(b"\n")
        if last_newline == -1:
            continue
        previous_newline = buffer.rfind(b"\n", 0, last_newline)
        if previous_newline != -1 or position == 0:
            return buffer[previous_newline + 1 : last_newline], position + last_newline + 1
    return None, 0
