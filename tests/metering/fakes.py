"""Stand-in stores for the recorder's and the reports' own logic, where a real store adds nothing."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence

from gateway.metering import Calendar, Period, UsageCell, UsageStore, UsageStoreError
from gateway.request_record import RequestRecord


class MemoryStore(UsageStore):
    """Keeps batches in a dict, counting attempts; can fail, lose answers, or hang."""

    def __init__(self) -> None:
        self.calendar = Calendar("Europe/Paris")
        self.batches: dict[str, list[RequestRecord]] = {}
        self.attempts: list[str] = []
        self.failing = False
        self.lose_next_answer = False
        self.delay = 0.0
        self.closed = False

    async def write(self, batch_id: str, records: Sequence[RequestRecord]) -> None:
        self.attempts.append(batch_id)
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.failing:
            raise UsageStoreError("store down")
        self.batches.setdefault(batch_id, list(records))  # idempotent, as the contract says
        if self.lose_next_answer:
            self.lose_next_answer = False
            raise UsageStoreError("written, but the answer was lost")

    @property
    def stored(self) -> list[RequestRecord]:
        return [record for batch in self.batches.values() for record in batch]

    async def cells(self, period: Period, department: str | None = None) -> list[UsageCell]:
        raise NotImplementedError("the recorder never reads")

    async def records(self, period: Period, department: str | None = None) -> AsyncIterator[RequestRecord]:
        for record in self.stored:
            if period.contains(record.time) and department in (None, record.department):
                yield record

    async def close(self) -> None:
        self.closed = True


class CannedCells(UsageStore):
    """Answers the same cells to every question; `leaky` ignores the department asked for, as a
    broken store would."""

    def __init__(self, cells: Sequence[UsageCell], *, leaky: bool = False) -> None:
        self.calendar = Calendar("Europe/Paris")
        self._cells = list(cells)
        self._leaky = leaky

    async def write(self, batch_id: str, records: Sequence[RequestRecord]) -> None:
        raise NotImplementedError("reports never write")

    async def cells(self, period: Period, department: str | None = None) -> list[UsageCell]:
        if self._leaky or department is None:
            return list(self._cells)
        return [cell for cell in self._cells if cell.department == department]

    async def records(self, period: Period, department: str | None = None) -> AsyncIterator[RequestRecord]:
        nothing: tuple[RequestRecord, ...] = ()
        for record in nothing:
            yield record

    async def close(self) -> None:
        pass
