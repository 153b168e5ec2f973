"""The claim-mapping rules and the issuer settings, on their own."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from gateway.identity import AuthConfig
from gateway.oidc.claims import map_claims
from gateway.oidc.settings import ClaimRule

RULES = [
    ClaimRule(when={"groups": "/dgfip/admins"}, department="dgfip", service="console", roles=["department-admin"]),
    ClaimRule(when={"groups": "/dgfip"}, department="dgfip", service_claim="azp"),
    ClaimRule(when={"siret": "13002526500013"}, department="dinum", service="agents"),
    ClaimRule(when={"org.unit": "drees"}, department_claim="org.unit", service="agents"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("claims", "expected"),
    [
        ({"groups": ["/dgfip", "/dgfip/admins"]}, ("dgfip", "console", ("department-admin",))),  # first wins
        ({"groups": ["/dgfip"], "azp": "Courrier"}, ("dgfip", "courrier", ("user",))),
        ({"siret": "13002526500013"}, ("dinum", "agents", ("user",))),
        ({"org": {"unit": "drees"}}, ("drees", "agents", ("user",))),
    ],
)
def test_the_first_matching_rule_decides(claims: dict[str, object], expected: tuple[object, ...]) -> None:
    principal = map_claims(claims, RULES, "idp:someone")
    assert principal is not None
    assert (principal.department, principal.service, principal.roles) == expected
    assert principal.key_id == "idp:someone"


@pytest.mark.parametrize(
    "claims",
    [
        {},
        {"groups": "/dgfip/other"},
        {"groups": ["/dgfip"]},  # service from `azp`, which is missing
        {"groups": ["/dgfip"], "azp": "not a name"},
        {"siret": 13002526500014},
        {"org": "drees"},
    ],
)
def test_no_rule_means_no_principal(claims: dict[str, object]) -> None:
    assert map_claims(claims, RULES, "idp:someone") is None


def _issuer(**overrides: object) -> dict[str, object]:
    return {
        "name": "keycloak",
        "issuer": "https://sso.example.gouv.fr/realms/agents",
        "audience": ["gateway"],
        "rules": [{"department": "dgfip", "service": "x"}],
        **overrides,
    }


def test_issuer_settings_refuse_what_cannot_be_safe() -> None:
    AuthConfig(jwt_issuers=[_issuer()])  # type: ignore[list-item]
    with pytest.raises(ValidationError, match="only public-key"):
        AuthConfig(jwt_issuers=[_issuer(algorithms=["HS256"])])  # type: ignore[list-item]
    with pytest.raises(ValidationError, match="given twice"):
        AuthConfig(jwt_issuers=[_issuer(), _issuer()])  # type: ignore[list-item]
    with pytest.raises(ValidationError, match="exactly one of `department`"):
        ClaimRule(department="a", department_claim="b", service="x")
    with pytest.raises(ValidationError, match="exactly one of `service`"):
        ClaimRule(department="a")
