"""The identity providers people sign in to the console with, as one worker holds them: each one's
settings, its client secret (read once at start), and its metadata and keys (`ProviderKeys`)."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass

import httpx

from gateway.identity import read_secret
from gateway.identity.errors import CredentialError
from gateway.oidc.jwks import ProviderKeys
from gateway.oidc.settings import OidcProviderConfig
from gateway.telemetry.metrics import GatewayMetrics

__all__ = ["ConsoleProvider", "console_providers"]


@dataclass(frozen=True, slots=True)
class ConsoleProvider:
    config: OidcProviderConfig
    keys: ProviderKeys
    client_secret: str | None

    def __repr__(self) -> str:
        return f"ConsoleProvider({self.config.name!r}, {self.config.issuer!r})"


def console_providers(
    configs: list[OidcProviderConfig], client: httpx.AsyncClient, metrics: GatewayMetrics
) -> Mapping[str, ConsoleProvider]:
    """The configured providers by name; a client secret named but unset stops the start."""
    providers: dict[str, ConsoleProvider] = {}
    for config in configs:
        secret = None
        if config.client_secret_env is not None:
            secret = read_secret(config.client_secret_env)
            if secret is None:
                raise CredentialError(
                    f"console.oidc_providers[{config.name}]: {config.client_secret_env} is not set"
                )
        keys = ProviderKeys(
            client,
            config.name,
            config.issuer,
            max_age=config.jwks_cache_seconds,
            min_refresh=config.jwks_refresh_min_seconds,
            on_failure=functools.partial(metrics.identity_keys_unavailable, config.name),
        )
        providers[config.name] = ConsoleProvider(config, keys, secret)
    return providers
