"""Which roles a department administrator may put on the keys it creates, through the admin API and the
console: only roles it holds itself, and none that would reach what its own key may not."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from gateway.app import create_app
from tests.console.conftest import csrf_of, sign_in
from tests.gateway.conftest import CHAT_MODEL, POLICIES, gateway_config, issue_key, running_simulator
from tests.servers import serve_in_thread

LARGE_MODEL = "mistral-large"

# Department administrators use the small model only (as users); the role `gpu`, which they do not
# hold, reaches the large one; `delegated` is granted to them, so they may hand it out.
HOLDS_POLICY = """\
p, admin, *, *, *, allow
p, department-admin, *, *, admin, allow
p, department-admin, *, *, usage:read, allow
g, department-admin, user, *
p, user, *, mistral-small, *, allow
p, gpu, *, mistral-large, chat, allow
g, department-admin, delegated, *
p, delegated, *, mistral-small, embeddings, allow
"""

# Users reach every model, department administrators are users, yet a deny keeps them from the
# large model: a `user` key made by one of them would reach further than its maker.
DENY_POLICY = """\
p, admin, *, *, *, allow
p, department-admin, *, *, admin, allow
g, department-admin, user, *
p, user, *, *, chat, allow
p, department-admin, *, mistral-large, *, deny
"""


class Site:
    def __init__(self, url: str, dgfip_admin: str, platform: str) -> None:
        self.url = url
        self.dgfip_admin = dgfip_admin
        self.platform = platform

    def create(self, key: str, service: str, roles: list[str]) -> httpx.Response:
        return httpx.post(
            f"{self.url}/admin/keys",
            json={"service": service, "roles": roles},
            headers={"authorization": f"Bearer {key}"},
            timeout=10,
        )

    def chat(self, key: str, model: str) -> int:
        answer = httpx.post(
            f"{self.url}/v1/chat/completions",
            json={"model": model, "messages": [{"role": "user", "content": "x"}], "max_tokens": 1},
            headers={"authorization": f"Bearer {key}"},
            timeout=10,
        )
        return answer.status_code


@contextmanager
def _site(policy: str) -> Iterator[Site]:
    with (
        running_simulator(CHAT_MODEL, LARGE_MODEL) as sim,
        tempfile.TemporaryDirectory(prefix="grants-") as folder,
    ):
        (Path(folder) / "policy.csv").write_text(policy, encoding="utf-8")
        config = gateway_config(
            [{"name": name, "backends": [{"url": sim}]} for name in (CHAT_MODEL, LARGE_MODEL)],
            store={"kind": "embedded", "path": f"{folder}/gateway.db"},
            policy={"model_file": str(POLICIES / "model.conf"), "policy_file": f"{folder}/policy.csv"},
        )
        dgfip_admin = issue_key(config, "dgfip", "console-dgfip", "department-admin")
        platform = issue_key(config, "dinum", "plateforme", "admin")
        with serve_in_thread(create_app(config)) as url:
            yield Site(url, dgfip_admin, platform)


@pytest.fixture(scope="module")
def holds() -> Iterator[Site]:
    with _site(HOLDS_POLICY) as site:
        yield site


def test_a_department_admin_cannot_grant_a_role_it_does_not_hold(holds: Site) -> None:
    assert holds.chat(holds.dgfip_admin, LARGE_MODEL) == 403  # the administrator's own reach
    refused = holds.create(holds.dgfip_admin, "escalade", ["gpu"])
    assert refused.status_code == 403, refused.text
    error = refused.json()["error"]
    assert error["code"] == "permission_denied" and error["param"] == "roles"
    assert "`gpu`" in error["message"]
    listing = httpx.get(
        f"{holds.url}/admin/keys", headers={"authorization": f"Bearer {holds.dgfip_admin}"}, timeout=10
    )
    assert "escalade" not in {row["service"] for row in listing.json()["data"]}


def test_a_department_admin_grants_the_roles_it_holds(holds: Site) -> None:
    for roles in (["user"], ["department-admin"], ["delegated"], []):
        created = holds.create(holds.dgfip_admin, "appli", roles)
        assert created.status_code == 201, (roles, created.text)
    user_key = holds.create(holds.dgfip_admin, "appli", ["user"]).json()["key"]
    assert holds.chat(user_key, CHAT_MODEL) == 200
    assert holds.chat(user_key, LARGE_MODEL) == 403


def test_a_platform_admin_grants_any_role(holds: Site) -> None:
    created = holds.create(holds.platform, "calcul", ["gpu"])
    assert created.status_code == 201, created.text
    assert holds.chat(created.json()["key"], LARGE_MODEL) == 200


def test_the_console_applies_the_same_rule(holds: Site) -> None:
    console = f"{holds.url}/console"
    with httpx.Client(timeout=10) as client:
        assert sign_in(client, console, holds.dgfip_admin).status_code == 303
        token = csrf_of(client.get(f"{console}/keys").text)
        refused = client.post(
            f"{console}/keys", data={"service": "par-console", "roles": "gpu", "csrf_token": token}
        )
        assert refused.status_code == 403
        assert "par-console" not in client.get(f"{console}/keys").text
        created = client.post(
            f"{console}/keys", data={"service": "par-console", "roles": "user", "csrf_token": token}
        )
        assert created.status_code == 200 and "sgw_" in created.text


def test_a_role_that_reaches_past_a_deny_on_the_admin_is_refused() -> None:
    with _site(DENY_POLICY) as site:
        assert site.chat(site.dgfip_admin, LARGE_MODEL) == 403
        refused = site.create(site.dgfip_admin, "contournement", ["user"])
        assert refused.status_code == 403, refused.text
        assert LARGE_MODEL in refused.json()["error"]["message"]
        # Its own role reaches nothing it lacks: that one it may hand out.
        assert site.create(site.dgfip_admin, "collegue", ["department-admin"]).status_code == 201
