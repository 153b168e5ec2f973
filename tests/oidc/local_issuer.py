"""An issuer made in the test: its discovery document and JWKS on loopback, its keys generated here.

It signs tokens with joserfc as a provider would, can rotate to a new key, serve a JWKS missing a
key, or stop answering (503) to show that the gateway fails closed.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from joserfc import jwt
from joserfc.jwk import ECKey, KeySet, RSAKey

from tests.servers import serve_in_thread

AUDIENCE = "sovereign-gateway"


def new_key(kid: str) -> RSAKey:
    return RSAKey.generate_key(2048, parameters={"kid": kid, "alg": "RS256", "use": "sig"}, private=True)


@dataclass
class LocalIssuer:
    """The issuer's state, read by its HTTP app on every request."""

    url: str = ""
    keys: list[RSAKey | ECKey] = field(default_factory=lambda: [new_key("k1")])
    """Published keys; the first signs."""
    down: bool = False
    """True: discovery and JWKS answer 503."""
    jwks_uri: str | None = None
    """Where its discovery document says the keys are (None: its own `/jwks`)."""
    jwks_fetches: int = 0
    requests: int = 0
    """Every request it received, failed ones included."""

    @property
    def signing_key(self) -> RSAKey | ECKey:
        return self.keys[0]

    def rotate(self, kid: str) -> RSAKey:
        """A new signing key, published first; the old one stays published (a provider's rotation)."""
        key = new_key(kid)
        self.keys.insert(0, key)
        return key

    def jwks(self) -> dict[str, Any]:
        return dict(KeySet(list(self.keys)).as_dict(private=False))

    def token(
        self,
        claims: dict[str, Any] | None = None,
        *,
        key: RSAKey | ECKey | None = None,
        lifetime: int = 300,
        header: dict[str, Any] | None = None,
        **overrides: Any,
    ) -> str:
        """A signed JWT with this issuer's usual claims, `claims` added and `overrides` replacing."""
        now = int(time.time())
        body: dict[str, Any] = {
            "iss": self.url,
            "aud": AUDIENCE,
            "sub": "client-batch",
            "iat": now,
            "nbf": now,
            "exp": now + lifetime,
            **(claims or {}),
            **overrides,
        }
        body = {name: value for name, value in body.items() if value is not None}
        signer = key or self.signing_key
        return jwt.encode({"alg": "RS256", "kid": signer.kid, **(header or {})}, body, signer)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        path = scope["path"]
        self.requests += 1
        if self.down:
            status, body = 503, {"error": "down"}
        elif path == "/.well-known/openid-configuration":
            status, body = 200, {"issuer": self.url, "jwks_uri": self.jwks_uri or f"{self.url}/jwks"}
        elif path == "/jwks":
            self.jwks_fetches += 1
            status, body = 200, self.jwks()
        else:
            status, body = 404, {"error": "not found"}
        data = json.dumps(body).encode()
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": data})


@contextmanager
def running_issuer() -> Iterator[LocalIssuer]:
    issuer = LocalIssuer()
    with serve_in_thread(issuer, lifespan="off") as url:
        issuer.url = url
        yield issuer
