"""The shipped policies/ say what policies/README.md says they say."""

from __future__ import annotations

import pytest

from gateway.authz import ANY_MODEL, Authorizer
from tests.authz.conftest import POLICIES


@pytest.fixture(scope="module")
def shipped() -> Authorizer:
    return Authorizer.from_files(POLICIES / "model.conf", POLICIES / "policy.csv")


@pytest.mark.parametrize(
    ("request_", "allowed"),
    [
        # admin: everything, everywhere
        (("dinum", "platform", ("admin",), "any-model", "responses"), True),
        (("drees", "platform", ("admin",), ANY_MODEL, "admin"), True),
        # the bootstrap admin key's principal: department `*`, role admin
        (("*", "platform", ("admin",), ANY_MODEL, "usage:read"), True),
        (("*", "platform", ("user",), ANY_MODEL, "usage:read"), False),
        # department-admin: keys and usage of its own department, and the models as a user
        (("dgfip", "console-dgfip", (), ANY_MODEL, "admin"), True),
        (("dgfip", "console-dgfip", (), ANY_MODEL, "usage:read"), True),
        (("dgfip", "console-dgfip", (), "mistral-small", "chat"), True),
        (("dinum", "console-dgfip", (), ANY_MODEL, "admin"), False),
        (("drees", "portail", ("department-admin",), ANY_MODEL, "usage:read"), True),
        # user: every inference operation on every model, nothing else
        (("dinum", "chatbot", ("user",), "llama-3.1-8b", "completions"), True),
        (("dinum", "chatbot", ("user",), "bge-m3", "embeddings"), True),
        (("dinum", "chatbot", ("user",), ANY_MODEL, "usage:read"), False),
        # dgfip's examples
        (("dgfip", "assistant-courrier", (), "mistral-small", "chat"), True),
        (("dgfip", "assistant-courrier", (), "mistral-small", "embeddings"), False),
        (("dgfip", "assistant-courrier", (), "mistral-large-2411", "chat"), False),
        (("dgfip", "assistant-courrier", ("user",), "mistral-large-2411", "chat"), False),
        (("dgfip", "recherche-juridique", (), "bge-m3", "embeddings"), True),
        (("dgfip", "recherche-juridique", ("admin",), "llama-3.1-405b-instruct", "chat"), False),
        (("dinum", "recherche-juridique", (), "bge-m3", "embeddings"), False),
        # nothing is open by default
        (("dgfip", "new-service", (), "mistral-small", "chat"), False),
    ],
)
def test_shipped_policy(
    shipped: Authorizer, request_: tuple[str, str, tuple[str, ...], str, str], allowed: bool
) -> None:
    assert shipped.decide(*request_).allowed is allowed


def test_every_shipped_deny_line_denies(shipped: Authorizer) -> None:
    denies = [permission for permission in shipped.snapshot.permissions if permission.effect == "deny"]
    assert denies, "policy.csv shows an explicit deny"
    for permission in denies:
        model = permission.model.replace("*", "-x")
        decision = shipped.decide(permission.department, permission.subject, ("user",), model, "chat")
        assert decision.rule == ("p", *permission.row)
