"""The garbage collector of a `gateway serve` worker: start-up's heap frozen, young collections rarer."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from gateway.app import create_app
from gateway.collector import YOUNG_THRESHOLD, freeze_startup_heap
from tests.gateway.conftest import gateway_config

_CHECK = textwrap.dedent(
    """
    import gc, json
    import gateway.pii, gateway.authz  # a heap of long-lived objects, as a worker has
    before = gc.get_freeze_count()
    from gateway.collector import freeze_startup_heap
    freeze_startup_heap()
    print(json.dumps([before, gc.get_freeze_count(), gc.get_threshold()[0]]))
    """
)


def test_freezing_moves_the_start_up_heap_out_of_collections() -> None:
    # In a process of its own: freezing is process-wide, and this test process is not a server.
    done = subprocess.run(
        [sys.executable, "-c", _CHECK],
        cwd=Path(__file__).resolve().parents[2],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    before, after, young = (int(value) for value in done.stdout.strip().strip("[]").split(","))
    assert before == 0
    assert after > 10_000
    assert young == YOUNG_THRESHOLD


def test_only_a_server_process_freezes_its_heap() -> None:
    config = gateway_config([{"name": "m", "backends": [{"url": "http://127.0.0.1:9"}]}])
    assert freeze_startup_heap not in create_app(config).on_startup
    assert freeze_startup_heap in create_app(config, server_process=True).on_startup
