"""The writer: cheap `write()`, background batches, a bounded queue, restarts, rotation, workers.

Every test writes real files under `tmp_path` through a real writer thread; failures come from a real
device (`/dev/full`), not from mocks.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import random
from pathlib import Path

import msgspec
import pytest

from gateway.audit import (
    GENESIS,
    AuditError,
    AuditLine,
    AuditLog,
    ChainedAuditLine,
    audit_line,
    line_hash,
    rotated_files,
    series_files,
    verify_chain,
)
from gateway.request_record import RequestRecord
from tests.audit.conftest import (
    CHAINED_FIELDS,
    RECORD_FIELDS,
    lines_of,
    make_record,
    objects_of,
    write_log,
)
from tests.waiting import async_wait_for


def records(count: int, start: int = 0) -> list[RequestRecord]:
    return [make_record(start + index) for index in range(count)]


@pytest.mark.asyncio
async def test_each_record_is_one_json_line_with_exactly_its_fields(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    written = records(20)
    log = await write_log(path, written)
    assert log.stats().written == 20
    lines = lines_of(path)
    assert [list(line) for line in objects_of(path)] == [RECORD_FIELDS] * 20
    # Each line is its record's `audit_line`, byte for byte: the format files already hold.
    assert lines == [msgspec.json.encode(audit_line(record)) for record in written]
    assert [msgspec.json.decode(line, type=AuditLine) for line in lines] == [audit_line(r) for r in written]
    assert path.read_bytes().endswith(b"\n")


@pytest.mark.asyncio
async def test_chained_lines_add_seq_and_prev_and_verify(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    written = records(10)
    await write_log(path, written, hash_chain=True)
    lines = lines_of(path)
    assert [list(line) for line in objects_of(path)] == [CHAINED_FIELDS] * 10
    chained = [msgspec.json.decode(line, type=ChainedAuditLine) for line in lines]
    assert [record.seq for record in chained] == list(range(1, 11))
    assert chained[0].prev == GENESIS
    assert [record.prev for record in chained[1:]] == [line_hash(line) for line in lines[:-1]]
    assert [msgspec.json.decode(line, type=AuditLine) for line in lines] != []  # extra fields ignored
    result = verify_chain([path])
    assert result.intact and result.records == 10 and result.last_hash == line_hash(lines[-1])


@pytest.mark.asyncio
async def test_write_does_no_io_and_the_writer_catches_up_in_the_background(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    log = AuditLog(str(path), flush_interval=30, batch_size=5, hash_chain=True)
    await log.start()
    try:
        for record in records(4):
            log.write(record)
        assert path.read_bytes() == b""  # nothing written by write() itself
        assert log.stats().buffered == 4
        await log.flush()
        assert len(lines_of(path)) == 4
        # A full batch wakes the writer at once, without waiting for the 30 s interval.
        for record in records(5, start=4):
            log.write(record)
        assert await async_wait_for(lambda: len(lines_of(path)) == 9, 5.0)
        stats = log.stats()
        assert (stats.buffered, stats.written, stats.dropped) == (0, 9, 0)
    finally:
        await log.close()


@pytest.mark.asyncio
async def test_close_writes_everything_still_queued(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    log = AuditLog(str(path), flush_interval=30, hash_chain=True)
    await log.start()
    for record in records(250):
        log.write(record)
    await log.close()
    await log.close()  # idempotent
    assert len(lines_of(path)) == 250
    assert verify_chain([path]).records == 250
    log.write(make_record(999))  # after close: dropped, counted, never raised
    assert log.stats().dropped == 1
    assert len(lines_of(path)) == 250


@pytest.mark.asyncio
async def test_a_full_queue_drops_new_records_counts_and_logs_them(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "audit.jsonl"
    log = AuditLog(str(path), max_buffered=10, batch_size=5, hash_chain=True)
    # Not started yet: nothing drains the queue, as when the disk is too slow.
    with caplog.at_level(logging.ERROR, logger="gateway.audit"):
        for record in records(15):
            log.write(record)  # never blocks
    assert log.stats().dropped == 5 and log.stats().buffered == 10
    assert any("audit records dropped (the queue is full)" in message for message in caplog.messages)
    await log.start()
    await log.close()
    assert [line["request_id"] for line in objects_of(path)] == [f"req-{index:06d}" for index in range(10)]
    stats = log.stats()
    assert (stats.written, stats.dropped) == (10, 5)
    assert verify_chain([path]).intact  # dropped records never entered the chain


@pytest.mark.asyncio
async def test_a_malformed_record_is_refused_before_it_enters_the_chain(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "audit.jsonl"
    bad = make_record(1, status="200")  # msgspec does not check types when a struct is built in code
    with caplog.at_level(logging.ERROR, logger="gateway.audit"):
        log = await write_log(path, [make_record(0), bad, make_record(2)], hash_chain=True)
    assert [line["request_id"] for line in objects_of(path)] == ["req-000000", "req-000002"]
    assert log.stats().dropped == 1
    assert any("malformed audit record dropped (request 'req-000001')" in m for m in caplog.messages)
    assert verify_chain([path]).intact


@pytest.mark.asyncio
async def test_a_restart_resumes_the_chain(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    await write_log(path, records(10), hash_chain=True)
    await write_log(path, records(10, start=10), hash_chain=True)
    lines = lines_of(path)
    eleventh = msgspec.json.decode(lines[10], type=ChainedAuditLine)
    assert (eleventh.seq, eleventh.prev) == (11, line_hash(lines[9]))
    result = verify_chain([path])
    assert result.intact and (result.records, result.first_seq, result.last_seq) == (20, 1, 20)


@pytest.mark.asyncio
async def test_a_restart_just_after_a_rotation_continues_from_the_newest_rotated_file(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    await write_log(path, records(6), hash_chain=True)
    # As if the gateway stopped between renaming the full file and writing to the new one.
    path.rename(path.with_name("audit.jsonl.000001"))
    log = await write_log(path, records(4, start=6), hash_chain=True, rotate_bytes=100_000)
    assert log.stats().rotations == 0
    files = series_files(path)
    assert [file.name for file in files] == ["audit.jsonl.000001", "audit.jsonl"]
    result = verify_chain(files)
    assert result.intact and result.records == 10


@pytest.mark.asyncio
async def test_a_line_cut_short_by_a_crash_is_removed_at_the_next_start(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "audit.jsonl"
    await write_log(path, records(5), hash_chain=True)
    complete = path.read_bytes()
    with path.open("ab") as file:
        file.write(b'{"time":"2026-11-03T09:1')  # what a crash in the middle of a write leaves
    assert verify_chain([path]).problems[0].kind == "incomplete"
    with caplog.at_level(logging.WARNING, logger="gateway.audit"):
        await write_log(path, records(5, start=5), hash_chain=True)
    assert any("removing 24 bytes after the last complete line" in message for message in caplog.messages)
    assert path.read_bytes().startswith(complete)
    result = verify_chain([path])
    assert result.intact and result.records == 10


@pytest.mark.asyncio
async def test_a_file_that_is_not_a_chain_cannot_be_continued_as_one(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    await write_log(path, records(3))  # written without hash_chain
    log = AuditLog(str(path), hash_chain=True)
    with pytest.raises(AuditError, match="last line is not a chained audit line"):
        await log.start()
    await log.close()
    # The refusal released the file: a writer that does not chain can still use it.
    await write_log(path, records(1, start=3))
    assert len(lines_of(path)) == 4


@pytest.mark.asyncio
async def test_rotation_keeps_the_chain_across_files(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    limit = 2000
    log = await write_log(path, records(50), hash_chain=True, rotate_bytes=limit, batch_size=7)
    rotated = rotated_files(path)
    assert [number for number, _ in rotated] == list(range(1, len(rotated) + 1))
    assert log.stats().rotations == len(rotated) >= 5
    files = series_files(path)
    assert files == [file for _, file in rotated] + [path]
    assert all(0 < file.stat().st_size <= limit for file in files)
    # Each new file's first line chains to the previous file's last line.
    for older, newer in itertools.pairwise(files):
        first = msgspec.json.decode(lines_of(newer)[0], type=ChainedAuditLine)
        assert first.prev == line_hash(lines_of(older)[-1])
    result = verify_chain(files)
    assert result.intact and (result.records, result.last_seq) == (50, 50)
    # A restart continues the same series and the same chain.
    await write_log(path, records(20, start=50), hash_chain=True, rotate_bytes=limit)
    result = verify_chain(series_files(path))
    assert result.intact and result.records == 70
    assert [line["request_id"] for line in objects_of(*series_files(path))] == [
        f"req-{index:06d}" for index in range(70)
    ]


@pytest.mark.asyncio
async def test_keep_files_deletes_the_oldest_rotated_files(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    await write_log(path, records(50), hash_chain=True, rotate_bytes=2000, keep_files=2)
    rotated = rotated_files(path)
    assert len(rotated) == 2 and rotated[0][0] >= 5
    files = series_files(path)
    assert [problem.kind for problem in verify_chain(files).problems] == ["start"]
    result = verify_chain(files, partial=True)
    assert result.intact and result.last_seq == 50


@pytest.mark.asyncio
async def test_concurrent_tasks_keep_the_chain_valid(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    log = AuditLog(str(path), hash_chain=True, flush_interval=0.001, batch_size=16, rotate_bytes=20_000)
    await log.start()
    randomness = random.Random(7)
    pauses = [[randomness.random() < 0.3 for _ in range(50)] for _ in range(40)]

    async def client(number: int) -> None:
        for index in range(50):
            log.write(make_record(number * 50 + index))
            await asyncio.sleep(0.001 if pauses[number][index] else 0)

    try:
        await asyncio.wait_for(asyncio.gather(*(client(number) for number in range(40))), timeout=30)
    finally:
        await log.close()
    files = series_files(path)
    assert len(files) > 2
    result = verify_chain(files)
    assert result.intact and (result.records, result.last_seq) == (2000, 2000)
    ids = sorted(line["request_id"] for line in objects_of(*files))
    assert ids == [f"req-{index:06d}" for index in range(2000)]


@pytest.mark.asyncio
async def test_each_worker_claims_a_file_of_its_own_and_gets_it_back_after_a_restart(tmp_path: Path) -> None:
    template = str(tmp_path / "logs" / "audit-{worker}.jsonl")
    first = AuditLog(template, hash_chain=True, flush_interval=0.01)
    second = AuditLog(template, hash_chain=True, flush_interval=0.01)
    await first.start()
    await second.start()
    try:
        assert (first.path, second.path) == (
            tmp_path / "logs" / "audit-0.jsonl",
            tmp_path / "logs" / "audit-1.jsonl",
        )
        for index in range(30):
            (first if index % 3 else second).write(make_record(index))
    finally:
        await first.close()
    # Worker 0 is replaced: its successor claims number 0 again and continues that chain.
    try:
        await write_log(template, records(5, start=100), hash_chain=True)
    finally:
        await second.close()
    zero, one = verify_chain([tmp_path / "logs" / "audit-0.jsonl"]), verify_chain([second.path or ""])
    assert zero.intact and (zero.records, zero.last_seq) == (25, 25)
    assert one.intact and one.records == 10


@pytest.mark.asyncio
async def test_a_second_writer_of_a_chained_file_is_refused(tmp_path: Path) -> None:
    path = str(tmp_path / "audit.jsonl")
    owner = AuditLog(path, hash_chain=True)
    await owner.start()
    intruder = AuditLog(path, hash_chain=True)
    try:
        with pytest.raises(AuditError, match=r"another process writes this audit log.*\{worker\}"):
            await intruder.start()
    finally:
        await intruder.close()
        await owner.close()


@pytest.mark.asyncio
async def test_writers_without_a_chain_can_share_one_file(tmp_path: Path) -> None:
    path = str(tmp_path / "audit.jsonl")
    logs = [AuditLog(path, flush_interval=0.001, batch_size=3) for _ in range(3)]
    for log in logs:
        await log.start()
    try:
        for index in range(300):
            logs[index % 3].write(make_record(index))
            if index % 10 == 0:
                await asyncio.sleep(0.001)
    finally:
        for log in logs:
            await log.close()
    ids = sorted(line["request_id"] for line in objects_of(Path(path)))
    assert ids == [f"req-{index:06d}" for index in range(300)]


@pytest.mark.asyncio
async def test_standard_output_receives_whole_lines(capfd: pytest.CaptureFixture[str]) -> None:
    log = AuditLog("-", flush_interval=0.01)
    await log.start()
    try:
        for record in records(3):
            log.write(record)
        await log.flush()
    finally:
        await log.close()
    out = capfd.readouterr().out.splitlines()
    assert [msgspec.json.decode(line, type=AuditLine) for line in out] == [audit_line(r) for r in records(3)]
    assert log.path is None and log.stats().path == "-"


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
@pytest.mark.asyncio
async def test_a_failing_disk_is_retried_then_what_is_left_is_counted_at_close(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Every write to /dev/full fails with ENOSPC: a real full disk.
    log = AuditLog("/dev/full", flush_interval=0.01, max_retry_delay=0.05, close_timeout=0.3)
    await log.start()
    with caplog.at_level(logging.WARNING, logger="gateway.audit"):
        for record in records(3):
            log.write(record)
        assert await async_wait_for(lambda: log.stats().failed_writes >= 2, 5.0)
        assert log.stats().buffered == 3 and log.stats().written == 0
        waiting = asyncio.ensure_future(log.flush())
        await asyncio.sleep(0)  # the flush is asked for before the close
        await log.close()
        with pytest.raises(AuditError, match="3 audit records could not be written"):
            await waiting
    stats = log.stats()
    assert (stats.dropped, stats.buffered) == (3, 0)
    assert any("cannot write the audit log" in message for message in caplog.messages)
    assert any("3 records lost" in message for message in caplog.messages)
