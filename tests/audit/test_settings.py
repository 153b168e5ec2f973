"""The `audit` section: defaults, refusals that say why, and the multi-worker rule."""

from __future__ import annotations

import ast
import inspect
import itertools
from pathlib import Path

import pytest
from pydantic import ValidationError

from gateway.audit import AuditConfig, AuditLog, start_audit_log
from gateway.audit.settings import STDOUT
from tests.audit.conftest import make_record, objects_of


def test_defaults_are_off_and_on_standard_output() -> None:
    config = AuditConfig()
    assert (config.enabled, config.path, config.hash_chain, config.rotate_bytes, config.keep_files) == (
        False,
        STDOUT,
        False,
        None,
        None,
    )


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"hash_chian": True}, "Extra inputs are not permitted"),
        ({"hash_chain": True}, "hash_chain needs a file path"),
        ({"rotate_bytes": 1_000_000}, "rotate_bytes needs a file path"),
        ({"path": "a.jsonl", "rotate_bytes": 100}, "greater than or equal to 65536"),
        ({"path": "a.jsonl", "keep_files": 3}, "keep_files only applies to rotated files"),
        ({"path": "audit-{pid}.jsonl"}, "the only placeholder allowed is {worker}"),
        ({"path": "audit-{worker!r}.jsonl"}, "the only placeholder allowed is {worker}"),
        ({"path": "audit-{worker.jsonl"}, "expected '}'"),
        ({"path": ""}, "at least 1 character"),
    ],
)
def test_unusable_sections_are_refused_with_a_reason(section: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        AuditConfig.model_validate(section)


def test_the_section_is_frozen() -> None:
    config = AuditConfig(path="audit.jsonl")
    with pytest.raises(ValidationError):
        config.path = "other.jsonl"


def test_several_workers_need_a_file_each_when_chained_or_rotated() -> None:
    chained = AuditConfig(enabled=True, path="/var/log/audit.jsonl", hash_chain=True)
    problem = chained.workers_problem(4)
    assert problem is not None and "put {worker} in audit.path" in problem
    assert chained.workers_problem(1) is None
    assert (
        AuditConfig(enabled=True, path="/var/log/audit-{worker}.jsonl", hash_chain=True).workers_problem(4)
        is None
    )
    assert AuditConfig(enabled=True, path="/var/log/audit.jsonl").workers_problem(4) is None  # plain appends
    assert AuditConfig(enabled=True).workers_problem(4) is None
    assert AuditConfig(path="/var/log/audit.jsonl", hash_chain=True).workers_problem(4) is None  # disabled


def test_every_field_has_a_docstring() -> None:
    tree = ast.parse(inspect.getsource(AuditConfig))
    body = tree.body[0]
    assert isinstance(body, ast.ClassDef)
    documented = {
        statement.target.id
        for statement, following in itertools.pairwise(body.body)
        if isinstance(statement, ast.AnnAssign)
        and isinstance(statement.target, ast.Name)
        and isinstance(following, ast.Expr)
        and isinstance(following.value, ast.Constant)
    }
    assert documented == set(AuditConfig.model_fields)


@pytest.mark.asyncio
async def test_start_audit_log_follows_the_section(tmp_path: Path) -> None:
    assert await start_audit_log(AuditConfig(path=str(tmp_path / "off.jsonl"))) is None
    assert not (tmp_path / "off.jsonl").exists()
    config = AuditConfig(
        enabled=True,
        path=str(tmp_path / "audit-{worker}.jsonl"),
        hash_chain=True,
        flush_interval_seconds=0.01,
    )
    log = await start_audit_log(config)
    assert isinstance(log, AuditLog)
    try:
        log.write(make_record(1))
    finally:
        await log.close()
    assert log.path == tmp_path / "audit-0.jsonl"
    assert [line["seq"] for line in objects_of(tmp_path / "audit-0.jsonl")] == [1]
