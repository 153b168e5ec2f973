"""Several worker processes: chained logs get a file each; plain lines can share one file."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest

from gateway.audit import series_in, verify_chain
from tests.audit.conftest import objects_of

ROOT = Path(__file__).resolve().parents[2]
COUNT = 400


async def run_workers(path: str, names: list[str], *, chain: bool) -> list[str]:
    """Start one process per name, all holding the log open at once, then let them write together."""
    children = []
    try:
        for name in names:
            children.append(
                await asyncio.create_subprocess_exec(
                    sys.executable,
                    "-m",
                    "tests.audit.child_writer",
                    path,
                    name,
                    str(COUNT),
                    *(["--chain"] if chain else []),
                    cwd=ROOT,
                    stdin=asyncio.subprocess.PIPE,
                    stdout=asyncio.subprocess.PIPE,
                )
            )
        files = []
        for child in children:
            assert child.stdout is not None
            files.append((await asyncio.wait_for(child.stdout.readline(), 30)).decode().strip())
        for child in children:
            assert child.stdin is not None
            child.stdin.write(b"go\n")
            await child.stdin.drain()
        for child in children:
            assert await asyncio.wait_for(child.wait(), 60) == 0
        return files
    finally:
        for child in children:
            if child.returncode is None:
                child.kill()
                await child.wait()


@pytest.mark.slow
@pytest.mark.asyncio
async def test_each_chained_worker_process_owns_a_file_and_every_chain_verifies(tmp_path: Path) -> None:
    names = ["alpha", "beta", "gamma"]
    files = await run_workers(str(tmp_path / "audit-{worker}.jsonl"), names, chain=True)
    assert sorted(files) == [str(tmp_path / f"audit-{worker}.jsonl") for worker in range(3)]
    chains = series_in(tmp_path)
    assert len(chains) == 3
    writers = set()
    for chain in chains:
        result = verify_chain(chain)
        assert result.intact and result.records == COUNT
        writers |= {line["request_id"].split("-")[0] for line in objects_of(*chain)}
    assert writers == set(names)


@pytest.mark.slow
@pytest.mark.asyncio
async def test_plain_lines_from_several_processes_share_one_file_intact(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    names = ["alpha", "beta", "gamma"]
    assert await run_workers(str(path), names, chain=False) == [str(path)] * 3
    ids = sorted(line["request_id"] for line in objects_of(path))  # every line whole, valid JSON
    assert ids == sorted(f"{name}-{index:06d}" for name in names for index in range(COUNT))
