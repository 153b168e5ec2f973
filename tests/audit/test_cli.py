"""`gateway audit verify`: exit status and output, through the parser `gateway` uses and a real process."""

from __future__ import annotations

import argparse
import asyncio
import io
import subprocess
import sys
from pathlib import Path

import pytest

from gateway.audit import add_audit_commands, chains_to_verify, run_audit_command
from gateway.audit.cli import main
from tests.audit.conftest import edit_line, make_record, write_log

REPOSITORY = Path(__file__).resolve().parents[2]


def run(*argv: str) -> tuple[int, str, str]:
    root = argparse.ArgumentParser(prog="gateway")
    add_audit_commands(root.add_subparsers(dest="command", required=True))
    args = root.parse_args(["audit", "verify", *argv])
    out, err = io.StringIO(), io.StringIO()
    status = run_audit_command(args, out=out, err=err)
    return status, out.getvalue(), err.getvalue()


def write_chain(path: Path, count: int, **options: object) -> None:
    asyncio.run(write_log(path, [make_record(index) for index in range(count)], hash_chain=True, **options))


def test_an_intact_series_is_found_from_its_current_file_and_passes(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    write_chain(path, 30, rotate_bytes=2000)
    assert len(chains_to_verify([path])[0]) >= 4
    status, out, err = run(str(path))
    assert status == 0 and err == ""
    assert "OK: 30 records, seq 1 to 30, last line hash " in out
    assert f"{path}.000001 ... {path} (" in out


def test_a_broken_chain_exits_1_and_says_where(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    write_chain(path, 10)
    edit_line(path, 4, lambda line: line.replace(b'"status":200', b'"status":201'))
    status, out, _ = run(str(path))
    assert status == 1
    assert f"{path}:4: hash mismatch: " in out
    assert out.rstrip().endswith(f"{path}: BROKEN: 1 problem(s) in 10 lines")


def test_a_directory_stands_for_every_series_in_it(tmp_path: Path) -> None:
    directory = tmp_path / "logs"
    for worker in (0, 1):
        write_chain(directory / f"audit-{worker}.jsonl", 12, rotate_bytes=2000)
    assert [len(files) > 1 for files in chains_to_verify([directory])] == [True, True]
    status, out, _ = run(str(directory))
    assert status == 0 and out.count("OK: 12 records") == 2
    (directory / "audit-1.jsonl.000001").unlink()  # the oldest file of worker 1 gone
    status, out, _ = run(str(directory))
    assert status == 1 and "chain start missing" in out
    assert run(str(directory), "--partial")[0] == 0


def test_files_are_one_chain_in_the_order_given(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    write_chain(path, 30, rotate_bytes=2000)
    first, second = f"{path}.000001", f"{path}.000002"
    assert run(first, second)[0] == 0
    status, out, _ = run(second, first)
    assert status == 1 and "sequence break" in out


def test_a_missing_file_exits_2(tmp_path: Path) -> None:
    status, out, err = run(str(tmp_path / "nothing.jsonl"))
    assert (status, out) == (2, "")
    assert err == f"gateway audit verify: {tmp_path / 'nothing.jsonl'}: no such file\n"
    (tmp_path / "empty").mkdir()
    status, _, err = run(str(tmp_path / "empty"))
    assert status == 2 and "no audit files found" in err


def test_main_parses_its_own_arguments(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "audit.jsonl"
    write_chain(path, 3)
    assert main(["audit", "verify", str(path)]) == 0
    assert "OK: 3 records" in capsys.readouterr().out


def test_python_m_gateway_audit_runs_the_command(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    write_chain(path, 5)
    path.write_bytes(path.read_bytes().replace(b'"seq":3,', b'"seq":4,'))
    done = subprocess.run(
        [sys.executable, "-m", "gateway.audit", "audit", "verify", str(path)],
        cwd=REPOSITORY,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1
    assert f"{path}:3: sequence break: seq 4 follows seq 2 (line 2)" in done.stdout
