"""A real OpenID provider on loopback: `oidc-provider` (npm, tests/oidc/provider/) run by node.

`running_provider` writes the provider's settings (clients, accounts, signing keys) to a temporary
folder, starts `node provider.mjs` on a free loopback port, waits for it to listen, and stops it by
its PID. `restart` starts it again on the same port with other keys: a key rotation as a provider
does one (a new key signs, the old one is still published).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from joserfc.jwk import RSAKey

from tests.oidc.local_issuer import new_key

PROVIDER = Path(__file__).resolve().parent / "provider"
SCRIPT = PROVIDER / "provider.mjs"
AUDIENCE = "https://gateway.example.gouv.fr"
START_TIMEOUT = 20.0

CONSOLE_CLIENT = "gateway-console"
CONSOLE_SECRET = "console-client-secret-for-tests-only"
BATCH_CLIENT = "dgfip-batch"
BATCH_SECRET = "batch-client-secret-for-tests-only"
STRANGER_CLIENT = "stranger"
STRANGER_SECRET = "stranger-client-secret-for-tests-only"

ACCOUNTS = {
    # An agent of the DGFiP's department administrators (a Keycloak-style group claim).
    "claire": {"email": "claire.martin@dgfip.finances.gouv.fr", "given_name": "Claire", "usual_name": "Martin",
               "groups": ["/dgfip/console-admins"], "siret": "11000201100044", "organizational_unit": "DGFiP"},
    # An agent of the DGFiP who administers nothing.
    "marc": {"email": "marc.petit@dgfip.finances.gouv.fr", "given_name": "Marc", "usual_name": "Petit",
             "groups": ["/dgfip/agents"], "siret": "11000201100044", "organizational_unit": "DGFiP"},
    # An agent whose organisation no rule maps.
    "paul": {"email": "paul.durand@example.org", "given_name": "Paul", "usual_name": "Durand",
             "groups": ["/elsewhere"], "siret": "99999999999999", "organizational_unit": "Ailleurs"},
}  # fmt: skip
TOKEN_CLAIMS = {
    BATCH_CLIENT: {"department": "dgfip", "groups": ["dgfip-batch"]},
    STRANGER_CLIENT: {"groups": ["nobody"]},
}


def node() -> str:
    found = shutil.which("node")
    if found is None:
        pytest.fail("node is missing: the OpenID provider of tests/oidc runs on it")
    if not (PROVIDER / "node_modules" / "oidc-provider").is_dir():
        pytest.fail("oidc-provider is not installed: run `make oidc-provider` (make unit does)")
    return found


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class RealProvider:
    folder: Path
    port: int
    redirect_uris: list[str]
    keys: list[RSAKey] = field(default_factory=lambda: [new_key("provider-1")])
    process: subprocess.Popen[bytes] | None = None

    @property
    def issuer(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def settings(self) -> dict[str, Any]:
        post_logout = [uri.replace("/oidc/callback", "/login") for uri in self.redirect_uris]
        return {
            "issuer": self.issuer,
            "port": self.port,
            "audience": AUDIENCE,
            "keys": [dict(key.as_dict(private=True)) for key in self.keys],
            "accounts": ACCOUNTS,
            "tokenClaims": TOKEN_CLAIMS,
            "clients": [
                {
                    "client_id": CONSOLE_CLIENT,
                    "client_secret": CONSOLE_SECRET,
                    "redirect_uris": self.redirect_uris,
                    "post_logout_redirect_uris": post_logout,
                    "grant_types": ["authorization_code"],
                    "response_types": ["code"],
                    "scope": "openid email profile groups organization",
                    "userinfo_signed_response_alg": "RS256",
                },
                *(
                    {
                        "client_id": client,
                        "client_secret": secret,
                        "grant_types": ["client_credentials"],
                        "response_types": [],
                        "redirect_uris": [],
                        "scope": "api",
                    }
                    for client, secret in ((BATCH_CLIENT, BATCH_SECRET), (STRANGER_CLIENT, STRANGER_SECRET))
                ),
            ],
        }

    def start(self) -> None:
        path = self.folder / "provider.json"
        path.write_text(json.dumps(self.settings()))
        with (self.folder / "provider.log").open("ab") as log:
            self.process = subprocess.Popen(
                [node(), str(SCRIPT), str(path)],
                cwd=self.folder,
                stdout=log,
                stderr=log,
                stdin=subprocess.DEVNULL,
                env={**os.environ, "NODE_ENV": "test"},
            )
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.issuer}/.well-known/openid-configuration", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if self.process.poll() is not None:
                break
            time.sleep(0.1)
        self.stop()
        raise AssertionError(
            f"the OpenID provider did not start: {(self.folder / 'provider.log').read_text()}"
        )

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        os.kill(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:  # a provider that ignores SIGTERM
            os.kill(process.pid, signal.SIGKILL)
            process.wait(timeout=5)

    def rotate(self, kid: str) -> None:
        """Restart with a new signing key first and the old ones still published."""
        self.stop()
        self.keys.insert(0, new_key(kid))
        self.start()

    def client_credentials(self, client: str, secret: str, resource: str = AUDIENCE) -> str:
        """An access token (a JWT) for `client`, as a service running on the platform would get one."""
        answer = httpx.post(
            f"{self.issuer}/token",
            data={"grant_type": "client_credentials", "scope": "api", "resource": resource},
            auth=(client, secret),
            timeout=10,
        )
        assert answer.status_code == 200, answer.text
        token: str = answer.json()["access_token"]
        return token


@contextmanager
def running_provider(redirect_uris: list[str] | None = None) -> Iterator[RealProvider]:
    with tempfile.TemporaryDirectory(prefix="oidc-provider-") as folder:
        provider = RealProvider(
            Path(folder), free_port(), redirect_uris or ["http://127.0.0.1:9/console/oidc/callback"]
        )
        provider.start()
        try:
            yield provider
        finally:
            provider.stop()
