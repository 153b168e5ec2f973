"""A provider's metadata (OpenID Connect Discovery 1.0), read from `<issuer>/.well-known/openid-configuration`."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import httpx
import msgspec

from gateway.oidc.errors import ProviderUnavailable

__all__ = ["ProviderMetadata", "fetch_json", "fetch_metadata"]

_MAX_DOCUMENT = 256 * 1024


class ProviderMetadata(msgspec.Struct, frozen=True, kw_only=True):
    """The endpoints the gateway uses; the others are ignored."""

    issuer: str
    jwks_uri: str
    authorization_endpoint: str | None = None
    token_endpoint: str | None = None
    userinfo_endpoint: str | None = None
    end_session_endpoint: str | None = None


async def fetch_json(client: httpx.AsyncClient, url: str) -> Any:
    """A JSON document from the provider, or `ProviderUnavailable` saying why not (never a token)."""
    try:
        response = await client.get(url, headers={"accept": "application/json"})
    except httpx.HTTPError as exc:
        raise ProviderUnavailable(f"{url}: {type(exc).__name__}: {exc}") from None
    if response.status_code != 200:
        raise ProviderUnavailable(f"{url}: HTTP {response.status_code}")
    if len(response.content) > _MAX_DOCUMENT:
        raise ProviderUnavailable(f"{url}: document larger than {_MAX_DOCUMENT} bytes")
    try:
        return msgspec.json.decode(response.content)
    except msgspec.DecodeError:
        raise ProviderUnavailable(f"{url}: not JSON") from None


async def fetch_metadata(client: httpx.AsyncClient, issuer: str) -> ProviderMetadata:
    """The metadata of `issuer`, whose `issuer` must be the configured one exactly (Discovery §4.3)."""
    url = issuer.rstrip("/") + "/.well-known/openid-configuration"
    document = await fetch_json(client, url)
    try:
        metadata = msgspec.convert(document, ProviderMetadata)
    except msgspec.ValidationError as exc:
        raise ProviderUnavailable(f"{url}: {exc}") from None
    if metadata.issuer != issuer:
        raise ProviderUnavailable(f"{url}: names issuer {metadata.issuer!r}, not the configured {issuer!r}")
    # The gateway calls only what its configuration names: the endpoints it fetches itself must be
    # on the configured issuer's origin, not wherever a metadata document points.
    called = (metadata.jwks_uri, metadata.token_endpoint, metadata.userinfo_endpoint)
    for endpoint in (endpoint for endpoint in called if endpoint is not None):
        if _origin(endpoint) != _origin(issuer):
            raise ProviderUnavailable(f"{url}: {endpoint} is not on the issuer's origin; refusing to call it")
    return metadata


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme.lower(), parts.netloc.lower()
