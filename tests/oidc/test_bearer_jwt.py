"""Bearer JWTs on the API beside API keys, against an issuer made in the test (tests/oidc/local_issuer.py):
accepted through the openai SDK, under the same policies and records; every bad token refused with
the API key's 401; a rotated key accepted after the JWKS is fetched again; an unreachable JWKS
failing closed with a metric and a log line."""

from __future__ import annotations

import asyncio
import json
import logging
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from joserfc import jwt
from joserfc.jwk import KeySet, OctKey

from gateway.app import create_app
from gateway.oidc.errors import ProviderUnavailable, TokenRejected
from gateway.oidc.jwks import ProviderKeys
from gateway.oidc.tokens import verify_jwt
from tests.gateway.conftest import SOLO_MODEL, gateway_config, issue_key, running_simulator
from tests.gateway.test_metrics_endpoint import _samples, _value
from tests.oidc.local_issuer import AUDIENCE, LocalIssuer, new_key, running_issuer
from tests.servers import serve_in_thread

IBAN = "FR76 3000 6000 0112 3456 7890 189"


def issuer_config(issuer: LocalIssuer, **overrides: Any) -> dict[str, Any]:
    return {
        "name": "local",
        "issuer": issuer.url,
        "audience": [AUDIENCE],
        "subject_claim": "sub",
        "clock_skew_seconds": 30,
        "jwks_refresh_min_seconds": 0,
        "rules": [
            # A group claim, as Keycloak sends it.
            {"when": {"groups": "dgfip-batch"}, "department": "dgfip", "service_claim": "azp", "roles": ["user"]},
            # Department administrators: the admin API, under the same policy as their keys.
            {"when": {"groups": "dgfip-admins"}, "department": "dgfip", "service": "console",
             "roles": ["department-admin"]},
            # An organisation claim naming the department itself.
            {"when": {"realm_access.roles": "gateway-user"}, "department_claim": "ministry",
             "service": "outils", "roles": ["user"]},
        ],
        **overrides,
    }  # fmt: skip


@dataclass
class Site:
    url: str
    issuer: LocalIssuer
    audit: Path
    sim: str
    api_key: str = ""

    def post(self, token: str, content: str = "Bonjour") -> httpx.Response:
        return httpx.post(
            f"{self.url}/v1/chat/completions",
            json={"model": SOLO_MODEL, "messages": [{"role": "user", "content": content}]},
            headers={"authorization": f"Bearer {token}"},
            timeout=10,
        )

    def audit_line(self, request_id: str) -> dict[str, Any]:
        """The request's audit line, once written (within 10 s)."""
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.audit.exists():
                for text in self.audit.read_text().splitlines():
                    line: dict[str, Any] = json.loads(text)
                    if line["request_id"] == request_id:
                        return line
            time.sleep(0.1)
        raise AssertionError(f"no audit line for {request_id}")


@pytest.fixture(scope="module")
def site() -> Iterator[Site]:
    with (
        running_issuer() as issuer,
        running_simulator(SOLO_MODEL, mode="echo") as sim,
        tempfile.TemporaryDirectory(prefix="jwt-") as folder,
    ):
        audit = Path(folder) / "audit.jsonl"
        config = gateway_config(
            [{"name": SOLO_MODEL, "backends": [{"url": sim}]}],
            store={"kind": "embedded", "path": f"{folder}/gateway.db"},
            auth={"jwt_issuers": [issuer_config(issuer)], "failed_auth_per_minute": 1000},
            pii={"mode": "pseudonymize", "names": "off"},
            audit={"enabled": True, "path": str(audit), "flush_interval_seconds": 0.05},
        )
        api_key = issue_key(config)
        with serve_in_thread(create_app(config)) as url:
            yield Site(url, issuer, audit, sim, api_key)


def batch_token(issuer: LocalIssuer, **overrides: Any) -> str:
    return issuer.token({"groups": ["dgfip-batch", "other"], "azp": "courrier-batch"}, **overrides)


def test_the_openai_sdk_with_a_jwt_as_its_key(site: Site) -> None:
    token = batch_token(site.issuer, sub="svc-courrier")
    with openai.OpenAI(base_url=f"{site.url}/v1", api_key=token, max_retries=0) as client:
        reply = client.chat.completions.with_raw_response.create(
            model=SOLO_MODEL, messages=[{"role": "user", "content": f"Virement sur {IBAN}"}]
        )
    request_id = reply.headers["x-request-id"]
    # The echo backend got a placeholder; the client gets its own IBAN back.
    assert IBAN in (reply.parse().choices[0].message.content or "")
    seen = httpx.get(f"{site.sim}/sim/last-request", timeout=5).json()
    assert IBAN not in json.dumps(seen)
    line = site.audit_line(request_id)
    assert line["department"] == "dgfip"
    assert line["service"] == "courrier-batch"
    assert line["key_id"] == "local:svc-courrier"  # the token's subject ...
    assert token not in site.audit.read_text()  # ... never the token
    assert token.split(".")[2] not in site.audit.read_text()


def test_claims_name_the_department(site: Site) -> None:
    token = site.issuer.token({"realm_access": {"roles": ["gateway-user"]}, "ministry": "DREES"})
    answer = site.post(token)
    assert answer.status_code == 200, answer.text
    request_id = answer.headers["x-request-id"]
    line = site.audit_line(request_id)
    assert (line["department"], line["service"]) == ("drees", "outils")


def test_a_claim_that_is_no_department_name_maps_to_nothing(site: Site) -> None:
    token = site.issuer.token({"realm_access": {"roles": ["gateway-user"]}, "ministry": "not a name!"})
    assert site.post(token).status_code == 401  # a claim that is not a valid department name


@pytest.mark.parametrize(
    ("case", "make"),
    [
        ("expired", lambda issuer: batch_token(issuer, lifetime=-120)),
        ("not yet valid", lambda issuer: batch_token(issuer, nbf=int(time.time()) + 600)),
        ("wrong audience", lambda issuer: batch_token(issuer, aud="another-service")),
        ("other issuer", lambda issuer: batch_token(issuer, iss="https://elsewhere.example")),
        # Signed by a key the issuer never published, under a kid it did publish.
        ("wrongly signed", lambda issuer: batch_token(issuer, key=new_key(issuer.signing_key.kid))),
        ("no expiry", lambda issuer: batch_token(issuer, exp=None)),
        ("no rule matches", lambda issuer: issuer.token({"groups": ["someone-else"], "azp": "x"})),
        ("no subject", lambda issuer: batch_token(issuer, sub=None)),
        (
            "symmetric algorithm",
            lambda issuer: jwt.encode(
                {"alg": "HS256", "kid": issuer.signing_key.kid},
                {"iss": issuer.url, "aud": AUDIENCE, "sub": "x", "exp": int(time.time()) + 60,
                 "groups": ["dgfip-batch"], "azp": "a"},
                OctKey.import_key(b"k" * 32),
            ),
        ),
        ("tampered payload", lambda issuer: _tampered(batch_token(issuer))),
    ],
)  # fmt: skip
def test_bad_tokens_are_refused_like_bad_keys(site: Site, case: str, make: Any) -> None:
    answer = site.post(make(site.issuer))
    assert answer.status_code == 401, (case, answer.text)
    assert answer.json()["error"]["code"] == "invalid_api_key"


def _tampered(token: str) -> str:
    import base64

    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["groups"] = ["dgfip-batch"]
    claims["sub"] = "someone-else"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
    return f"{header}.{forged}.{signature}"


def test_within_the_clock_skew_a_token_is_accepted(site: Site) -> None:
    assert site.post(batch_token(site.issuer, lifetime=-10)).status_code == 200  # expired 10 s ago, skew 30
    assert site.post(batch_token(site.issuer, nbf=int(time.time()) + 10)).status_code == 200


def test_a_rotated_key_is_accepted_after_the_keys_are_fetched_again(site: Site) -> None:
    assert site.post(batch_token(site.issuer)).status_code == 200
    fetches = site.issuer.jwks_fetches
    site.issuer.rotate("k2")
    answer = site.post(batch_token(site.issuer))  # signed by k2, unknown to the gateway's cache
    assert answer.status_code == 200, answer.text
    assert site.issuer.jwks_fetches == fetches + 1
    # The old key is still published: its tokens still pass, with no new fetch.
    assert site.post(batch_token(site.issuer, key=site.issuer.keys[1])).status_code == 200
    assert site.issuer.jwks_fetches == fetches + 1


def test_the_admin_api_and_anthropic_clients_take_jwts_too(site: Site) -> None:
    admin = site.issuer.token({"groups": ["dgfip-admins"]}, sub="claire")
    own = httpx.get(f"{site.url}/admin/keys", headers={"authorization": f"Bearer {admin}"}, timeout=10)
    assert own.status_code == 200, own.text
    other = httpx.get(
        f"{site.url}/admin/keys",
        params={"department": "drees"},
        headers={"authorization": f"Bearer {admin}"},
        timeout=10,
    )
    assert other.status_code == 403
    user = batch_token(site.issuer)
    refused = httpx.get(f"{site.url}/admin/keys", headers={"authorization": f"Bearer {user}"}, timeout=10)
    assert refused.status_code == 403
    # Anthropic's SDKs send the key in `x-api-key`: a JWT there is checked the same way.
    answer = httpx.post(
        f"{site.url}/v1/messages",
        json={"model": SOLO_MODEL, "max_tokens": 20, "messages": [{"role": "user", "content": "Bonjour"}]},
        headers={"x-api-key": user, "anthropic-version": "2023-06-01"},
        timeout=10,
    )
    assert answer.status_code == 200, answer.text


def test_api_keys_still_work_beside_jwts(site: Site) -> None:
    assert site.post(site.api_key).status_code == 200
    assert site.post(site.api_key + "x").status_code == 401


def test_an_unreachable_jwks_fails_closed(caplog: pytest.LogCaptureFixture) -> None:
    with (
        running_issuer() as issuer,
        running_simulator(SOLO_MODEL) as sim,
        tempfile.TemporaryDirectory(prefix="jwt-") as folder,
    ):
        config = gateway_config(
            [{"name": SOLO_MODEL, "backends": [{"url": sim}]}],
            store={"kind": "embedded", "path": f"{folder}/gateway.db"},
            auth={"jwt_issuers": [issuer_config(issuer)]},
            metrics={"allow_anonymous": True},
        )
        with serve_in_thread(create_app(config)) as url, caplog.at_level(logging.ERROR, "gateway.oidc"):
            site = Site(url, issuer, Path(folder) / "none", sim)
            issuer.down = True
            answer = site.post(batch_token(issuer))  # nothing cached yet
            assert answer.status_code == 503, answer.text
            assert answer.json()["error"]["code"] == "authentication_unavailable"
            issuer.down = False
            assert site.post(batch_token(issuer)).status_code == 200
            issuer.down = True
            # Keys fetched a moment ago still verify; a key they do not hold cannot be checked: 503.
            assert site.post(batch_token(issuer)).status_code == 200
            issuer.rotate("k2")
            assert site.post(batch_token(issuer)).status_code == 503
            metric = _value(
                _samples(url), "gateway_identity_provider_keys_unavailable_total", provider="local"
            )
            assert metric == 2
            logged = [record.getMessage() for record in caplog.records if record.name == "gateway.oidc"]
            assert len(logged) == 2
            assert all("identity provider local" in line and "HTTP 503" in line for line in logged), logged
            assert all(str(issuer.signing_key.kid) not in line for line in logged)
            issuer.down = False
            assert site.post(batch_token(issuer)).status_code == 200


def test_an_id_token_with_another_nonce_is_refused() -> None:
    """The console's check of an ID token: the nonce of the flow, the client as audience."""

    async def verify(token: str, nonce: str) -> dict[str, Any]:
        async with httpx.AsyncClient() as client:
            keys = ProviderKeys(client, "local", issuer.url, max_age=60, min_refresh=0)
            return await verify_jwt(
                token, keys, audiences=["console"], algorithms=["RS256"], clock_skew=0, nonce=nonce
            )

    with running_issuer() as issuer:
        token = issuer.token(aud="console", nonce="n-1")
        assert asyncio.run(verify(token, "n-1"))["nonce"] == "n-1"
        for bad, nonce in ((token, "n-2"), (issuer.token(aud="console"), "n-1")):
            with pytest.raises(TokenRejected):
                asyncio.run(verify(bad, nonce))


def test_a_burst_of_tokens_while_the_provider_is_down_is_one_call_to_it() -> None:
    failures: list[str] = []

    async def burst(issuer: LocalIssuer) -> list[BaseException | KeySet]:
        async with httpx.AsyncClient() as client:
            keys = ProviderKeys(
                client,
                "local",
                issuer.url,
                max_age=60,
                min_refresh=10,
                on_failure=lambda: failures.append("x"),
            )
            first = await asyncio.gather(*(keys.key_set("k1") for _ in range(20)), return_exceptions=True)
            second = await asyncio.gather(*(keys.key_set("k1") for _ in range(20)), return_exceptions=True)
            return [*first, *second]

    with running_issuer() as issuer:
        issuer.down = True
        results = asyncio.run(burst(issuer))
        assert all(isinstance(result, ProviderUnavailable) for result in results), results
        assert issuer.requests == 1
        assert failures == ["x"]


def test_keys_published_on_another_origin_are_never_fetched() -> None:
    """A discovery document may point anywhere: the gateway fetches keys from the issuer's origin only."""

    async def fetch(issuer: LocalIssuer) -> None:
        async with httpx.AsyncClient() as client:
            keys = ProviderKeys(client, "local", issuer.url, max_age=60, min_refresh=0)
            await keys.key_set("k1")

    with running_issuer() as elsewhere, running_issuer() as issuer:
        issuer.jwks_uri = f"{elsewhere.url}/jwks"
        with pytest.raises(ProviderUnavailable, match="not on the issuer's origin"):
            asyncio.run(fetch(issuer))
        assert elsewhere.requests == 0
        issuer.jwks_uri = None  # the same issuer with its keys at home: fetched
        asyncio.run(fetch(issuer))
        assert issuer.jwks_fetches == 1
