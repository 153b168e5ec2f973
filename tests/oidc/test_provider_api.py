"""API bearer tokens from a real OpenID provider (oidc-provider on loopback, tests/oidc/provider/):
a service's client-credentials access token used as the openai SDK's key, mapped by its claims;
a token for another audience refused; a rotated provider key accepted once the JWKS is fetched again."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import openai
import pytest
from joserfc import jws

from gateway.app import create_app
from tests.gateway.conftest import SOLO_MODEL, gateway_config, running_simulator
from tests.oidc.provider_fixture import (
    AUDIENCE,
    BATCH_CLIENT,
    BATCH_SECRET,
    STRANGER_CLIENT,
    STRANGER_SECRET,
    RealProvider,
    running_provider,
)
from tests.servers import serve_in_thread


@dataclass
class Site:
    url: str
    provider: RealProvider


@pytest.fixture(scope="module")
def site() -> Iterator[Site]:
    with (
        running_provider() as provider,
        running_simulator(SOLO_MODEL, mode="echo") as sim,
        tempfile.TemporaryDirectory(prefix="provider-api-") as folder,
    ):
        issuer = {
            "name": "platform",
            "issuer": provider.issuer,
            "audience": [AUDIENCE],
            "subject_claim": "client_id",
            "jwks_refresh_min_seconds": 0,
            "rules": [
                {"when": {"groups": "dgfip-batch"}, "department_claim": "department",
                 "service_claim": "client_id", "roles": ["user"]},
            ],
        }  # fmt: skip
        config = gateway_config(
            [{"name": SOLO_MODEL, "backends": [{"url": sim}]}],
            store={"kind": "embedded", "path": f"{folder}/gateway.db"},
            auth={"jwt_issuers": [issuer]},
        )
        with serve_in_thread(create_app(config)) as url:
            yield Site(url, provider)


def _chat(site: Site, token: str) -> str:
    with openai.OpenAI(base_url=f"{site.url}/v1", api_key=token, max_retries=0) as client:
        reply = client.chat.completions.create(
            model=SOLO_MODEL, messages=[{"role": "user", "content": "Bonjour de la DGFiP"}]
        )
    return reply.choices[0].message.content or ""


def test_a_services_access_token_is_its_key(site: Site) -> None:
    token = site.provider.client_credentials(BATCH_CLIENT, BATCH_SECRET)
    assert "Bonjour de la DGFiP" in _chat(site, token)
    usage = httpx.get(f"{site.url}/v1/models", headers={"authorization": f"Bearer {token}"}, timeout=10)
    assert usage.status_code == 200
    assert [model["id"] for model in usage.json()["data"]] == [SOLO_MODEL]


def test_tokens_the_gateway_should_not_take(site: Site) -> None:
    other_audience = site.provider.client_credentials(
        BATCH_CLIENT, BATCH_SECRET, resource="https://other.example"
    )
    unmapped = site.provider.client_credentials(STRANGER_CLIENT, STRANGER_SECRET)
    for token in (other_audience, unmapped):
        with pytest.raises(openai.AuthenticationError) as refused:
            _chat(site, token)
        assert refused.value.code == "invalid_api_key"


def test_a_rotated_provider_key(site: Site) -> None:
    before = site.provider.client_credentials(BATCH_CLIENT, BATCH_SECRET)
    assert _chat(site, before)
    site.provider.rotate("provider-2")
    after = site.provider.client_credentials(BATCH_CLIENT, BATCH_SECRET)
    assert jws.extract_compact(after.encode()).headers()["kid"] == "provider-2"
    assert _chat(site, after)  # a key id the gateway has not seen: it fetches the JWKS again
    assert _chat(site, before)  # the old key is still published
