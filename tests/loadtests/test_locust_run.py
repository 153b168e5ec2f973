"""`make loadtest` end to end, briefly: locust against simulators through a gateway, on loopback."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path


def test_a_short_headless_run_writes_its_report(tmp_path: Path) -> None:
    results = tmp_path / "results"
    command = ["--users", "8", "--run-time", "8", "--results", str(results)]
    finished = subprocess.run(
        [sys.executable, "-m", "loadtests.run_locust", *command],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert finished.returncode == 0, finished.stdout[-3000:] + finished.stderr[-3000:]
    with (results / "locust_stats.csv").open(encoding="utf-8") as file:
        rows = {(row["Type"], row["Name"]): row for row in csv.DictReader(file)}
    for row in ("POST", "chat"), ("POST", "embeddings"), ("TTFT", "chat stream"), ("ITL", "chat stream"):
        assert int(rows[row]["Request Count"]) > 0, row
    # The small budget ran out: its 429s are counted, as expected answers, never as failures.
    assert int(rows[("POST", "chat (over quota, refused)")]["Request Count"]) > 0
    assert all(int(row["Failure Count"]) == 0 for row in rows.values())
    assert (results / "report.html").stat().st_size > 10_000
    assert not (results / "keys.json").exists()  # the run's keys are not left behind
