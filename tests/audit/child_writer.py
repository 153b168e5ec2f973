"""A worker process for `test_workers.py`: opens an audit log, says which file it got, waits for
`go` on stdin, writes its records, closes the log.

    python -m tests.audit.child_writer PATH NAME COUNT [--chain]
"""

from __future__ import annotations

import asyncio
import sys

from gateway.audit import AuditLog
from tests.audit.conftest import make_record


async def main(path: str, name: str, count: int, chain: bool) -> None:
    log = AuditLog(path, hash_chain=chain, flush_interval=0.001, batch_size=8)
    await log.start()
    try:
        print(log.path, flush=True)
        await asyncio.wait_for(asyncio.to_thread(sys.stdin.readline), timeout=30)
        for index in range(count):
            log.write(make_record(index, request_id=f"{name}-{index:06d}"))
            if index % 16 == 0:
                await asyncio.sleep(0.001)  # let the other process's writes interleave with ours
    finally:
        await log.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3]), "--chain" in sys.argv[4:]))
