"""The policy matrix: who may do what, which rule says so, and what the client is told."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import casbin  # type: ignore[import-untyped]
import pytest

from gateway.authz import (
    ANY_MODEL,
    Authorizer,
    Decision,
    PermissionDenied,
    load_policy,
    wildcard_match,
)
from gateway.authz.casbin_model import MATCH_FUNCTION
from tests.authz.conftest import PolicyFiles, write_files


def rule(*fields: str) -> tuple[str, ...]:
    return ("p", *fields)


ALLOW_COURRIER = rule("assistant-courrier", "dgfip", "mistral-*", "chat", "allow")
DENY_LARGE = rule("assistant-courrier", "dgfip", "mistral-large*", "*", "deny")
DENY_405B = rule("recherche", "dgfip", "llama-405b", "*", "deny")
USER_CHAT = rule("user", "*", "*", "chat", "allow")
USER_EMBEDDINGS = rule("user", "*", "*", "embeddings", "allow")
ADMIN_ALL = rule("admin", "*", "*", "*", "allow")
DEPARTMENT_ADMIN = rule("department-admin", "*", "*", "admin", "allow")
DEPARTMENT_USAGE = rule("department-admin", "*", "*", "usage:read", "allow")
SUSPENDED = rule("suspended", "*", "*", "*", "deny")

# (department, service, key roles, model, operation) -> (allowed, rule)
MATRIX: list[tuple[tuple[str, str, tuple[str, ...], str, str], bool, tuple[str, ...] | None]] = [
    # allowed by the service's own line
    (("dgfip", "assistant-courrier", (), "mistral-small", "chat"), True, ALLOW_COURRIER),
    # denied by default: no line for this operation, or for this service
    (("dgfip", "assistant-courrier", (), "mistral-small", "embeddings"), False, None),
    (("dgfip", "unknown-service", (), "mistral-small", "chat"), False, None),
    # an explicit deny overrides the same subject's allow
    (("dgfip", "assistant-courrier", (), "mistral-large-2411", "chat"), False, DENY_LARGE),
    # ... and another subject's allow: the key's `user` role, even its `admin` role
    (("dgfip", "assistant-courrier", ("user",), "mistral-large-2411", "chat"), False, DENY_LARGE),
    (("dgfip", "recherche", ("admin",), "llama-405b", "chat"), False, DENY_405B),
    # a deny carried by a key role overrides the service's allow
    (("dgfip", "assistant-courrier", ("suspended",), "mistral-small", "chat"), False, SUSPENDED),
    # wildcard models: `mistral-*` is a prefix, `*` matches names with slashes
    (("dgfip", "assistant-courrier", (), "mixtral-8x7b", "chat"), False, None),
    (("dgfip", "recherche", (), "mistralai/Mistral-7B-Instruct", "chat"), True, USER_CHAT),
    # a role granted in dgfip only: the same service name elsewhere gets nothing
    (("dgfip", "recherche", (), "bge-m3", "embeddings"), True, USER_EMBEDDINGS),
    (("dinum", "recherche", (), "bge-m3", "embeddings"), False, None),
    # another department's models and services
    (
        ("dgfip", "fiscal-bot", (), "dgfip-finetune-v2", "chat"),
        True,
        rule("fiscal-bot", "dgfip", "dgfip-finetune-*", "chat", "allow"),
    ),
    (("dinum", "fiscal-bot", (), "dgfip-finetune-v2", "chat"), False, None),
    (("dinum", "assistant-courrier", (), "mistral-small", "chat"), False, None),
    # a role granted in `*`: a platform administrator everywhere
    (("dinum", "ops", (), ANY_MODEL, "admin"), True, ADMIN_ALL),
    (("dgfip", "ops", (), "mistral-large-2411", "responses"), True, ADMIN_ALL),
    # a department admin (granted by a g line) administers its own department only
    (("dgfip", "console-dgfip", (), ANY_MODEL, "admin"), True, DEPARTMENT_ADMIN),
    (("dgfip", "console-dgfip", (), ANY_MODEL, "usage:read"), True, DEPARTMENT_USAGE),
    (("dinum", "console-dgfip", (), ANY_MODEL, "admin"), False, None),
    (("dinum", "console-dgfip", (), ANY_MODEL, "usage:read"), False, None),
    # ... and is a user there through the role hierarchy (`g, department-admin, user, *`)
    (("dgfip", "console-dgfip", (), "mistral-small", "chat"), True, USER_CHAT),
    # a key carrying department-admin: decided in the key's own department
    (("dinum", "portail", ("department-admin",), ANY_MODEL, "usage:read"), True, DEPARTMENT_USAGE),
    # users may not administer or read usage; a model-scoped line never grants admin
    (("dgfip", "recherche", (), ANY_MODEL, "admin"), False, None),
    (("dinum", "portail", ("user",), ANY_MODEL, "usage:read"), False, None),
    (("dgfip", "assistant-courrier", (), ANY_MODEL, "admin"), False, None),
    # a key role alone is enough when nothing denies
    (("dinum", "portail", ("user",), "llama-405b", "chat"), True, USER_CHAT),
    (("dinum", "portail", ("user",), "llama-405b", "completions"), False, None),
]


@pytest.fixture
def authorizer(files: PolicyFiles) -> Authorizer:
    return Authorizer.from_files(files.model_file, files.policy_file)


@pytest.mark.parametrize(("request_", "allowed", "expected_rule"), MATRIX)
def test_policy_matrix(
    authorizer: Authorizer,
    request_: tuple[str, str, tuple[str, ...], str, str],
    allowed: bool,
    expected_rule: tuple[str, ...] | None,
) -> None:
    decision = authorizer.decide(*request_)
    assert decision == Decision(allowed=allowed, rule=expected_rule)


def test_matched_rule_is_found_in_the_file(authorizer: Authorizer, files: PolicyFiles) -> None:
    decision = authorizer.decide("dgfip", "assistant-courrier", (), "mistral-large-2411", "chat")
    assert decision.rule is not None
    line = authorizer.snapshot.line_of(decision.rule)
    assert line is not None
    text = files.policy_file.read_text(encoding="utf-8").splitlines()[line - 1]
    assert [field.strip() for field in text.split(",")] == list(decision.rule)


def test_reported_rule_does_not_depend_on_role_order(authorizer: Authorizer) -> None:
    first = authorizer.decide("dgfip", "x", ("admin", "user"), "mistral-small", "chat")
    second = authorizer.decide("dgfip", "x", ("user", "admin"), "mistral-small", "chat")
    assert first.allowed and first == second


def test_roles_may_be_any_collection(authorizer: Authorizer) -> None:
    for roles in (["user"], frozenset({"user"}), ("user",)):
        assert authorizer.decide("dinum", "portail", roles, "bge-m3", "embeddings").allowed


def test_roles_given_as_one_string_are_refused(authorizer: Authorizer) -> None:
    with pytest.raises(TypeError, match="not one string"):
        authorizer.decide("dgfip", "x", "admin", "mistral-small", "chat")


def test_unknown_operation_is_a_programming_error(authorizer: Authorizer) -> None:
    with pytest.raises(ValueError, match="unknown operation 'usage_read'"):
        authorizer.decide("dgfip", "console-dgfip", (), ANY_MODEL, "usage_read")


def test_visible_models_keeps_only_usable_models_in_order(authorizer: Authorizer) -> None:
    models = ["llama-405b", "mistral-small", "mistral-large-2411", "bge-m3", "dgfip-finetune-v2"]
    assert authorizer.visible_models("dgfip", "assistant-courrier", (), models) == ["mistral-small"]
    assert authorizer.visible_models("dgfip", "recherche", (), models) == [
        "mistral-small",
        "mistral-large-2411",
        "bge-m3",
        "dgfip-finetune-v2",
    ]
    assert authorizer.visible_models("dgfip", "fiscal-bot", (), iter(models)) == ["dgfip-finetune-v2"]
    assert authorizer.visible_models("dinum", "nobody", (), models) == []
    assert authorizer.visible_models("dgfip", "assistant-courrier", ("suspended",), models) == []


def test_authorize_raises_permission_denied_without_policy_internals(authorizer: Authorizer) -> None:
    assert authorizer.authorize("dgfip", "assistant-courrier", (), "mistral-small", "chat").allowed
    with pytest.raises(PermissionDenied) as caught:
        authorizer.authorize("dgfip", "assistant-courrier", (), "mistral-large-2411", "chat")
    error = caught.value
    assert error.status_code == 403
    assert error.decision == Decision(allowed=False, rule=DENY_LARGE)
    body = json.loads(error.body())
    assert body == {
        "error": {
            "message": "Your key is not allowed to use the model `mistral-large-2411` for chat.",
            "type": "invalid_request_error",
            "param": "model",
            "code": "permission_denied",
        }
    }
    assert "deny" not in error.message and "assistant-courrier" not in error.message


def test_permission_denied_for_an_action_without_model(authorizer: Authorizer) -> None:
    with pytest.raises(PermissionDenied) as caught:
        authorizer.authorize("dinum", "console-dgfip", (), ANY_MODEL, "admin")
    assert caught.value.message == "Your key is not allowed to perform `admin` in its department."
    assert caught.value.param is None


def test_decisions_are_cached_and_the_cache_is_bounded(files: PolicyFiles) -> None:
    snapshot = load_policy(files.model_file, files.policy_file, cache_size=2)
    first = snapshot.decide("dgfip", "assistant-courrier", (), "mistral-small", "chat")
    assert snapshot.decide("dgfip", "assistant-courrier", (), "mistral-small", "chat") is first
    snapshot.decide("dgfip", "recherche", (), "bge-m3", "embeddings")
    snapshot.decide("dinum", "ops", (), ANY_MODEL, "admin")
    assert snapshot.cached_decisions() == 2
    # The oldest entry went first; answering it again gives an equal, newly computed decision.
    again = snapshot.decide("dgfip", "assistant-courrier", (), "mistral-small", "chat")
    assert again == first and again is not first


def test_cache_size_zero_caches_nothing(files: PolicyFiles) -> None:
    snapshot = load_policy(files.model_file, files.policy_file, cache_size=0)
    assert snapshot.decide("dgfip", "assistant-courrier", (), "mistral-small", "chat").allowed
    assert snapshot.cached_decisions() == 0


def _plain_enforcer(files: PolicyFiles) -> Any:
    enforcer = casbin.Enforcer(str(files.model_file), str(files.policy_file))
    enforcer.add_function(MATCH_FUNCTION, wildcard_match)
    enforcer.get_role_manager().add_domain_matching_func(wildcard_match)
    return enforcer


def _random_policy(rng: random.Random) -> str:
    departments = ["dgfip", "dinum", "dgfip-sud", "drees"]
    patterns = [*departments, "*", "dgfip*"]
    subjects = ["svc-a", "svc-b", "svc-c", "role-x", "role-y", "role-z"]
    models = ["mistral-*", "mistral-large*", "llama-8b", "*", "*-instruct", "bge-m3"]
    actions = ["chat", "completions", "embeddings", "responses", "admin", "usage:read", "*"]
    lines = []
    for _ in range(120):
        effect = "deny" if rng.random() < 0.2 else "allow"
        lines.append(
            f"p, {rng.choice(subjects)}, {rng.choice(patterns)}, {rng.choice(models)}, "
            f"{rng.choice(actions)}, {effect}"
        )
    for _ in range(25):
        subject, role = rng.sample(subjects, 2)
        lines.append(f"g, {subject}, {role}, {rng.choice(patterns)}")
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("seed", range(4))
def test_pre_selection_agrees_with_casbin_scanning_every_line(tmp_path: Path, seed: int) -> None:
    """The gateway evaluates only the lines a request can match; plain Casbin evaluates them all."""
    rng = random.Random(seed)
    files = write_files(tmp_path, _random_policy(rng))
    plain = _plain_enforcer(PolicyFiles(files.model_file, files.policy_file))
    snapshot = load_policy(files.model_file, files.policy_file, cache_size=0)
    subjects = ["svc-a", "svc-b", "svc-c", "svc-d"]
    roles = ["role-x", "role-y", "role-z"]
    models = ["mistral-small", "mistral-large-2", "llama-8b", "qwen-instruct", "bge-m3", ANY_MODEL]
    actions = ["chat", "completions", "embeddings", "responses", "admin", "usage:read"]
    outcomes = set()
    for _ in range(300):
        department = rng.choice(["dgfip", "dinum", "dgfip-sud", "drees", "other"])
        service = rng.choice(subjects)
        key_roles = tuple(rng.sample(roles, rng.randrange(3)))
        model, action = rng.choice(models), rng.choice(actions)
        verdicts = [plain.enforce_ex(subject, department, model, action) for subject in (service, *key_roles)]
        denied_by = [rule for _, rule in verdicts if rule and rule[-1] == "deny"]
        allowed = any(allowed for allowed, _ in verdicts) and not denied_by
        decision = snapshot.decide(department, service, key_roles, model, action)
        assert decision.allowed == allowed, (department, service, key_roles, model, action)
        if denied_by:
            assert decision.rule is not None and decision.rule[1:] in [tuple(r) for r in denied_by]
        outcomes.add((decision.allowed, decision.rule is None))
    # The sample exercised allows, denies by a line and denials by default.
    assert outcomes == {(True, False), (False, False), (False, True)}
