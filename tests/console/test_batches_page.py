"""The console's Batches page: a department's batches with their progress and file links, and
another department's administrator seeing none of them."""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from gateway.app import create_app
from tests.console.conftest import ConsoleSite, sign_in
from tests.gateway.conftest import CHAT_MODEL, gateway_config, issue_key, running_simulator
from tests.servers import serve_in_thread


@pytest.fixture(scope="module")
def site() -> Iterator[ConsoleSite]:
    """A gateway of its own: the package's shared site has figures other pages' tests count."""
    with running_simulator(CHAT_MODEL) as sim, tempfile.TemporaryDirectory(prefix="batches-page-") as tmp:
        folder = Path(tmp)
        config = gateway_config(
            [{"name": CHAT_MODEL, "backends": [{"url": sim}]}],
            store={"kind": "embedded", "path": str(folder / "gateway.db")},
        )
        platform = issue_key(config, "dinum", "plateforme", "admin")
        dgfip_admin = issue_key(config, "dgfip", "console-dgfip", "department-admin")
        drees_admin = issue_key(config, "drees", "console-drees", "department-admin")
        user = issue_key(config, "dgfip", "assistant-courrier", "user")
        with serve_in_thread(create_app(config)) as url:
            yield ConsoleSite(url, config, folder, platform, dgfip_admin, drees_admin, user)


def _run_batch(site: ConsoleSite) -> tuple[str, str]:
    """A two-line batch of the dgfip user, run to its end: its id and its output file's id."""
    lines = [
        {
            "custom_id": f"c{n}",
            "method": "POST",
            "url": "/v1/chat/completions",
            "body": {"model": CHAT_MODEL, "messages": [{"role": "user", "content": "x"}], "max_tokens": 2},
        }
        for n in range(2)
    ]
    content = "\n".join(json.dumps(line) for line in lines).encode()
    headers = {"authorization": f"Bearer {site.user_key}"}
    with httpx.Client(base_url=f"{site.url}/v1", headers=headers, timeout=10) as api:
        uploaded = api.post("/files", files={"file": ("in.jsonl", content)}, data={"purpose": "batch"})
        assert uploaded.status_code == 200, uploaded.text
        created = api.post(
            "/batches",
            json={
                "input_file_id": uploaded.json()["id"],
                "endpoint": "/v1/chat/completions",
                "completion_window": "24h",
            },
        )
        batch_id = created.json()["id"]
        deadline = time.monotonic() + 30
        while (batch := api.get(f"/batches/{batch_id}").json())["status"] != "completed":
            assert time.monotonic() < deadline, batch
            time.sleep(0.1)
    return batch_id, batch["output_file_id"]


def test_a_department_sees_its_batches_progress_and_files_and_no_other(site: ConsoleSite) -> None:
    batch_id, output_id = _run_batch(site)
    with httpx.Client(timeout=10) as dgfip:
        sign_in(dgfip, site.console, site.dgfip_admin_key)
        page = dgfip.get(f"{site.console}/batches")
        assert page.status_code == 200
        assert batch_id in page.text and '<progress max="2" value="2"' in page.text
        assert f"/console/batches/files/{output_id}" in page.text
        download = dgfip.get(f"{site.console}/batches/files/{output_id}")
        assert download.status_code == 200
        assert sorted(json.loads(line)["custom_id"] for line in download.text.splitlines()) == ["c0", "c1"]
    with httpx.Client(timeout=10) as drees:
        sign_in(drees, site.console, site.drees_admin_key)
        page = drees.get(f"{site.console}/batches")
        assert page.status_code == 200 and batch_id not in page.text
        assert drees.get(f"{site.console}/batches/files/{output_id}").status_code == 404
    with httpx.Client(timeout=10) as platform:
        sign_in(platform, site.console, site.platform_key)
        assert batch_id in platform.get(f"{site.console}/batches").text
