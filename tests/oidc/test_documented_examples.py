"""The Keycloak and ProConnect examples of docs/configuration.md are configurations the gateway takes."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from gateway.console.settings import ConsoleConfig
from gateway.identity.settings import AuthConfig

REFERENCE = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"


def test_the_sign_in_examples_are_valid() -> None:
    blocks = [
        yaml.safe_load(block) for block in re.findall(r"```yaml\n(.*?)```", REFERENCE.read_text(), re.S)
    ]
    issuers = [
        AuthConfig.model_validate(block["auth"]) for block in blocks if "jwt_issuers" in block.get("auth", {})
    ]
    consoles = [
        ConsoleConfig.model_validate(block["console"])
        for block in blocks
        if "oidc_providers" in block.get("console", {})
    ]
    assert [issuer.name for config in issuers for issuer in config.jwt_issuers] == ["keycloak"]
    assert sorted(provider.name for config in consoles for provider in config.oidc_providers) == [
        "keycloak",
        "proconnect",
    ]
