"""`loadtests.bench_relay` end to end, briefly: stamped streams, direct and through a gateway, on loopback."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
CONCURRENCIES = (1, 4)


def test_a_short_run_measures_every_event_direct_and_through_the_gateway(tmp_path: Path) -> None:
    output = tmp_path / "relay.json"
    command = ["--concurrency", ",".join(map(str, CONCURRENCIES)), "--duration", "1", "--warmup", "0.3"]
    # No waiting for a quiet machine, no repeats: the suite may run beside other tests.
    command += ["--max-tokens", "16", "--quiet-wait", "0", "--attempts", "1", "--json", str(output)]
    finished = subprocess.run(
        [sys.executable, "-m", "loadtests.bench_relay", *command],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert finished.returncode == 0, finished.stdout[-3000:] + finished.stderr[-3000:]
    assert "| gateway | 4 |" in finished.stdout  # the markdown table

    document = json.loads(output.read_text(encoding="utf-8"))
    runs = {(run["target"], run["concurrency"]): run for run in document["runs"]}
    assert set(runs) == {(target, c) for target in ("direct", "gateway") for c in CONCURRENCIES}
    for key, run in runs.items():
        # Every stream had all its tokens stamped, through the gateway too (else it counts as an error).
        assert run["errors"] == 0 and run["requests"] > 0, key
        delays = run["delays"]
        assert delays["events"] > 0, key
        assert run["negative_delays"] == 0, key
        figures = [delays[name] for name in ("p50_ms", "p99_ms", "p999_ms", "max_ms")]
        assert all(value is not None and math.isfinite(value) and value >= 0 for value in figures), key
        assert figures == sorted(figures), key
    for concurrency in CONCURRENCIES:
        gateway = runs[("gateway", concurrency)]
        assert math.isfinite(gateway["added_p50_ms"]) and math.isfinite(gateway["added_p99_ms"])
        assert 0.0 <= gateway["over_budget"] <= 1.0
        assert gateway["gateway_cpu"] > 0
        assert runs[("direct", concurrency)]["over_budget"] is None
