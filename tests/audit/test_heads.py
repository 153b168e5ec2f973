"""The heads of the configured audit log's chains, as statements are signed off with them."""

from __future__ import annotations

import asyncio
from pathlib import Path

from gateway.audit import AuditConfig, verify_chain
from gateway.audit.heads import chain_heads
from gateway.audit.writer import start_audit_log
from tests.audit.conftest import make_record


def _write(config: AuditConfig, counts: list[int]) -> None:
    async def write() -> None:
        logs = [await start_audit_log(config) for _ in counts]  # each claims the next {worker} number
        for log, count in zip(logs, counts, strict=True):
            assert log is not None
            for index in range(count):
                log.write(make_record(index))
        for log in logs:
            assert log is not None
            await log.close()

    asyncio.run(write())


def test_one_head_per_worker_chain_with_its_last_line_hash(tmp_path: Path) -> None:
    config = AuditConfig(enabled=True, path=str(tmp_path / "audit-{worker}.jsonl"), hash_chain=True)
    (tmp_path / "other.jsonl").write_text("not an audit line\n")  # another file of the folder
    _write(config, [3, 5])
    heads = chain_heads(config)
    assert [(Path(head.file).name, head.records, head.seq) for head in heads] == [
        ("audit-0.jsonl", 3, 3),
        ("audit-1.jsonl", 5, 5),
    ]
    for head in heads:
        assert head.intact and head.sha256 == verify_chain([Path(head.file)]).last_hash


def test_a_broken_chain_is_said_and_an_unchained_log_has_no_head(tmp_path: Path) -> None:
    config = AuditConfig(enabled=True, path=str(tmp_path / "audit.jsonl"), hash_chain=True)
    _write(config, [4])
    path = tmp_path / "audit.jsonl"
    lines = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(b"".join([lines[0], lines[2], lines[3]]))  # a line removed
    (head,) = chain_heads(config)
    assert not head.intact and head.records == 3
    assert chain_heads(AuditConfig(enabled=True, path=str(path))) == []
    assert chain_heads(AuditConfig()) == []
