"""The request log: audit files read newest first, filtered, a page at a time, within a byte budget.

The audit log is append-only JSON lines, one series of files per writer (`{worker}` paths), each in
time order. A page reads every series backwards from its end, block by block, and merges them by
time, newest first. Cheap tests run on the raw line before it is decoded: its time (the first field,
always at the same place), and whether it contains the JSON of the department, service, model or
request id asked for. A series stops at the first line older than the time range's start.

At most `max_bytes` are read for one page (`console.log_scan_mib`): a search that reaches it stops
and says so, and the person narrows the time range. The next page continues before the last record
shown (its time and request id), so pages neither skip nor repeat records.
"""

from __future__ import annotations

import heapq
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec

from gateway.audit.files import WORKER_PLACEHOLDER, WORKER_SLOTS, series_files
from gateway.audit.settings import STDOUT, AuditConfig

__all__ = [
    "AuditUnreadable",
    "LogFilters",
    "LogPage",
    "StatusCounts",
    "audit_series",
    "read_page",
    "recent_status",
]

_BLOCK = 256 * 1024
_TIME_START = len(b'{"time":"')
_TIME_END = _TIME_START + len("2026-11-03T09:15:02.123Z")
_decode = msgspec.json.Decoder().decode
_encode = msgspec.json.encode


class AuditUnreadable(Exception):
    """The audit log is off (`off`) or written to standard output (`stdout`)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class LogFilters:
    department: str | None = None
    service: str | None = None
    model: str | None = None
    status: str | None = None
    """`2xx`, `4xx`, `5xx`, or one code (`429`)."""
    since: str | None = None
    """Records at or after this UTC time (`2026-11-03T09:15:00.000Z`)."""
    until: str | None = None
    """Records strictly before this UTC time."""
    request_id: str | None = None

    def needles(self) -> list[bytes]:
        """Byte strings a matching line must contain, as the writer encodes them (no spaces)."""
        fields = {
            "department": self.department,
            "service": self.service,
            "model": self.model,
            "request_id": self.request_id,
        }
        return [b'"' + name.encode() + b'":' + _encode(value) for name, value in fields.items() if value]

    def matches(self, record: dict[str, Any]) -> bool:
        for name in ("department", "service", "model", "request_id"):
            wanted = getattr(self, name)
            if wanted and record.get(name) != wanted:
                return False
        if self.status:
            status = record.get("status")
            if not isinstance(status, int):
                return False
            if self.status.endswith("xx"):
                return str(status)[:1] == self.status[:1]
            return str(status) == self.status
        return True


@dataclass(slots=True)
class _Budget:
    remaining: int
    exhausted: bool = False

    def spend(self, amount: int) -> bool:
        """Take `amount` bytes; False (and exhausted from then on) when there is not enough left."""
        if amount > self.remaining:
            self.exhausted = True
            return False
        self.remaining -= amount
        return True


@dataclass(slots=True)
class LogPage:
    records: list[dict[str, Any]] = field(default_factory=list)
    more: bool = False
    """Older matching records may exist: the page is full."""
    stopped: bool = False
    """The byte budget ran out before the page was full."""

    @property
    def cursor(self) -> str | None:
        """Where the next page starts (before the last record shown)."""
        if not self.more or not self.records:
            return None
        last = self.records[-1]
        return f"{last.get('time')}|{last.get('request_id')}"


@dataclass(slots=True)
class StatusCounts:
    count: int = 0
    client_errors: int = 0
    server_errors: int = 0
    since: str | None = None

    @property
    def errors(self) -> int:
        return self.client_errors + self.server_errors

    @property
    def error_rate(self) -> float:
        return self.errors / self.count if self.count else 0.0


def _check(config: AuditConfig) -> None:
    if not config.enabled:
        raise AuditUnreadable("off")
    if config.path == STDOUT:
        raise AuditUnreadable("stdout")


def audit_series(config: AuditConfig) -> list[list[Path]]:
    """Every writer's files, each series newest first."""
    _check(config)
    template = config.path
    if WORKER_PLACEHOLDER not in template:
        return [list(reversed(series_files(Path(template))))]
    path = Path(template)
    if WORKER_PLACEHOLDER in str(path.parent):
        slots: list[int] = list(range(WORKER_SLOTS))
    else:
        # The workers' numbers, from one listing of the folder rather than 256 lookups.
        before, after = path.name.split(WORKER_PLACEHOLDER, 1)
        pattern = re.compile(re.escape(before) + r"(\d{1,3})" + re.escape(after) + r"(?:\.\d{6,})?")
        try:
            names = [entry.name for entry in path.parent.iterdir()]
        except FileNotFoundError:
            return []
        slots = sorted({int(match[1]) for name in names if (match := pattern.fullmatch(name))})
    series = []
    for slot in slots:
        files = list(reversed(series_files(Path(template.replace(WORKER_PLACEHOLDER, str(slot))))))
        if files:
            series.append(files)
    return series


def _lines_backwards(path: Path, budget: _Budget) -> Iterator[bytes]:
    """The complete lines of `path`, last first, reading at most what `budget` allows."""
    try:
        file = path.open("rb")
    except FileNotFoundError:
        return  # rotated away meanwhile
    with file:
        position = file.seek(0, 2)
        remainder = b""
        while position > 0:
            size = min(_BLOCK, position)
            if not budget.spend(size):
                return
            position -= size
            file.seek(position)
            lines = (file.read(size) + remainder).split(b"\n")
            remainder = lines[0]
            for line in reversed(lines[1:]):
                if line:
                    yield line
        if remainder:
            yield remainder


def _matching(
    files: list[Path], filters: LogFilters, before: tuple[str, str] | None, budget: _Budget
) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """One series' matching records, newest first, as (time, request id, record)."""
    needles = filters.needles()
    for path in files:
        for line in _lines_backwards(path, budget):
            moment = line[_TIME_START:_TIME_END].decode("ascii", "replace")
            if filters.since is not None and moment < filters.since:
                return  # the series is in time order: everything further back is older still
            if (filters.until is not None and moment >= filters.until) or (
                before is not None and moment > before[0]
            ):
                continue
            if not all(needle in line for needle in needles):
                continue
            try:
                record = _decode(line)
            except msgspec.DecodeError:
                continue  # a line cut short by a crash, or being written right now
            if not isinstance(record, dict):
                continue
            key = (str(record.get("time", "")), str(record.get("request_id", "")))
            if before is not None and key >= before:
                continue
            if filters.matches(record):
                yield (*key, record)


def _merged(
    config: AuditConfig, filters: LogFilters, before: tuple[str, str] | None, budget: _Budget
) -> Iterator[tuple[str, str, dict[str, Any]]]:
    sources = [_matching(files, filters, before, budget) for files in audit_series(config)]
    return heapq.merge(*sources, key=lambda item: (item[0], item[1]), reverse=True)


def parse_cursor(text: str | None) -> tuple[str, str] | None:
    if not text or "|" not in text:
        return None
    moment, request_id = text.split("|", 1)
    return moment, request_id


def read_page(
    config: AuditConfig, filters: LogFilters, *, limit: int, before: str | None, max_bytes: int
) -> LogPage:
    """Up to `limit` matching records, newest first, older than the cursor `before`."""
    budget = _Budget(max_bytes)
    page = LogPage()
    for _, _, record in _merged(config, filters, parse_cursor(before), budget):
        if len(page.records) == limit:
            page.more = True
            break
        page.records.append(record)
    page.stopped = budget.exhausted and not page.more
    return page


def recent_status(
    config: AuditConfig, department: str | None, *, max_records: int, max_bytes: int
) -> StatusCounts:
    """Status classes of the latest `max_records` requests (of `department` only, when given)."""
    budget = _Budget(max_bytes)
    counts = StatusCounts()
    for moment, _, record in _merged(config, LogFilters(department=department), None, budget):
        status = record.get("status")
        counts.count += 1
        counts.since = moment
        if isinstance(status, int) and 400 <= status < 500:
            counts.client_errors += 1
        elif isinstance(status, int) and status >= 500:
            counts.server_errors += 1
        if counts.count >= max_records:
            break
    return counts
