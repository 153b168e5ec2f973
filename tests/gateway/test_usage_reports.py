"""Usage through the gateway: every forwarded request metered, reports equal to the backends' usage."""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import yaml

from tests.gateway.conftest import (
    DEPARTMENT,
    POLICIES,
    SOLO_MODEL,
    issue_key,
    running_gateway,
    running_simulator,
)


def test_reports_match_what_the_backends_reported(tmp_path: Path) -> None:
    store = {"kind": "embedded", "path": str(tmp_path / "gateway.db")}
    with (
        running_simulator(SOLO_MODEL) as sim,
        running_gateway([{"name": SOLO_MODEL, "backends": [{"url": sim}]}], store=store) as gw,
    ):
        reported = {"prompt": 0, "completion": 0}
        for index in range(12):
            response = httpx.post(
                f"{gw.v1}/chat/completions",
                json={
                    "model": SOLO_MODEL,
                    "messages": [{"role": "user", "content": f"q{index}"}],
                    "max_tokens": 3 + index,
                },
                headers=gw.headers,
                timeout=10,
            )
            usage = response.json()["usage"]
            reported["prompt"] += usage["prompt_tokens"]
            reported["completion"] += usage["completion_tokens"]
        other = issue_key(gw.state.config, "dinum", "albert")
        httpx.post(
            f"{gw.v1}/chat/completions",
            json={"model": SOLO_MODEL, "messages": [{"role": "user", "content": "x"}], "max_tokens": 2},
            headers={"authorization": f"Bearer {other}"},
            timeout=10,
        )

        admin = issue_key(gw.state.config, DEPARTMENT, "console-dgfip")
        headers = {"authorization": f"Bearer {admin}"}
        deadline = time.monotonic() + 5
        rows: list[dict[str, object]] = []
        while time.monotonic() < deadline:  # records are written in the background, every 0.5 s
            report = httpx.get(
                f"{gw.url}/admin/usage", params={"by": "department"}, headers=headers, timeout=10
            )
            assert report.status_code == 200, report.text
            rows = report.json()["rows"]
            if rows and rows[0]["requests"] == 12:
                break
            time.sleep(0.2)
        assert [row["department"] for row in rows] == [DEPARTMENT], "another department's usage leaked"
        assert rows[0]["prompt_tokens"] == reported["prompt"]
        assert rows[0]["completion_tokens"] == reported["completion"]

        refused = httpx.get(
            f"{gw.url}/admin/usage", params={"department": "dinum"}, headers=headers, timeout=10
        )
        assert refused.status_code == 403
        user = httpx.get(f"{gw.url}/admin/usage", headers=gw.headers, timeout=10)
        assert user.status_code == 403
        bad = httpx.get(f"{gw.url}/admin/usage", params={"period": "novembre"}, headers=headers, timeout=10)
        assert bad.status_code == 400

    # After a clean shutdown, the command-line report reads the same figures from the store.
    config = tmp_path / "gateway.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "models": [{"name": SOLO_MODEL, "backends": [{"url": "http://127.0.0.1:9"}]}],
                "store": store,
                "policy": {
                    "model_file": str(POLICIES / "model.conf"),
                    "policy_file": str(POLICIES / "policy.csv"),
                },
            }
        ),
        encoding="utf-8",
    )
    period = datetime.now(ZoneInfo("Europe/Paris")).strftime("%Y-%m")  # the month the records fell in
    filters = ["--period", period, "--department", DEPARTMENT, "--format", "csv"]
    result = subprocess.run(
        [sys.executable, "-m", "gateway", "usage", "report", "--config", str(config), *filters],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert str(reported["completion"]) in result.stdout
