"""Files that cannot be used are refused whole, every problem named with its file and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.authz import ANY_MODEL, PolicyError, load_policy
from tests.authz.conftest import MODEL_TEXT, TEST_POLICY, write_files


def _policy_problem(tmp_path: Path, text: str) -> PolicyError:
    files = write_files(tmp_path, text)
    with pytest.raises(PolicyError) as caught:
        load_policy(files.model_file, files.policy_file)
    assert caught.value.path == files.policy_file
    assert str(caught.value).startswith(str(files.policy_file))
    return caught.value


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("q, a, b, c", "line 2: unknown rule type `q`"),
        ("p, svc, dgfip, mistral-*, chat", "line 2: a `p` line has 5 fields after `p`"),
        (
            "p, svc, dgfip, mistral-*, chatt, allow",
            "line 2: unknown operation `chatt` (expected one of admin, chat,",
        ),
        ("p, svc, dgfip, mistral-*, chat, permit", "line 2: effect `permit` must be `allow` or `deny`"),
        ("p, svc-*, dgfip, mistral-*, chat, allow", "line 2: subject `svc-*` cannot contain `*`"),
        ("p, svc, dgfip, mistral small, chat, allow", "line 2: model `mistral small` must be letters"),
        ("p, svc, dgfip, mistral-*, chat, allow # reviewed", "line 2: effect `allow # reviewed`"),
        ("g, svc, user", "line 2: a `g` line has 3 fields after `g`"),
        ("g, svc, us*r, dgfip", "line 2: role `us*r` cannot contain `*`"),
        ("g, svc, svc, dgfip", "line 2: `svc` is granted itself"),
        ("p, , dgfip, m, chat, allow", "line 2: subject `` must be letters"),
    ],
)
def test_bad_policy_line_is_named(tmp_path: Path, line: str, expected: str) -> None:
    error = _policy_problem(tmp_path, f"p, user, *, *, chat, allow\n{line}\n")
    assert expected in str(error)


def test_every_problem_is_reported(tmp_path: Path) -> None:
    error = _policy_problem(
        tmp_path,
        "# header\np, a, b, c, chat, allow\np, a, b, c, chatt, allow\n\ng, a\np, a, b, c, chat, allow\n",
    )
    assert len(error.problems) == 2
    assert error.problems[0].startswith("line 3: unknown operation")
    assert error.problems[1].startswith("line 5: a `g` line")


def test_missing_and_binary_files_are_refused(tmp_path: Path) -> None:
    files = write_files(tmp_path, TEST_POLICY)
    files.policy_file.unlink()
    with pytest.raises(PolicyError, match=r"policy\.csv: no such file"):
        load_policy(files.model_file, files.policy_file)
    files.policy_file.write_bytes(b"p, a, b, c, chat, allow\n\xff\xfe\n")
    with pytest.raises(PolicyError, match="is not UTF-8"):
        load_policy(files.model_file, files.policy_file)


def test_byte_order_mark_and_windows_line_endings_are_accepted(tmp_path: Path) -> None:
    files = write_files(tmp_path, "")
    files.policy_file.write_bytes(b"\xef\xbb\xbfp, user, *, *, chat, allow\r\ng, svc, user, dgfip\r\n")
    snapshot = load_policy(files.model_file, files.policy_file)
    assert snapshot.decide("dgfip", "svc", (), "m", "chat").allowed
    assert len(snapshot.permissions) == 1 and len(snapshot.grants) == 1


def test_empty_policy_denies_everything(tmp_path: Path) -> None:
    files = write_files(tmp_path, "# nothing yet\n")
    snapshot = load_policy(files.model_file, files.policy_file)
    assert not snapshot.decide("dgfip", "svc", ("admin",), ANY_MODEL, "admin").allowed


def _model_problem(tmp_path: Path, model: str) -> PolicyError:
    files = write_files(tmp_path, TEST_POLICY, model=model)
    with pytest.raises(PolicyError) as caught:
        load_policy(files.model_file, files.policy_file)
    assert caught.value.path == files.model_file
    return caught.value


_MATCHER = (
    'm = (p.act == "*" || r.act == p.act) && wildcardMatch(r.obj, p.obj) && g(r.sub, p.sub, r.dom) '
    "&& wildcardMatch(r.dom, p.dom)"
)


def _with_matcher(matcher: str) -> str:
    assert _MATCHER in MODEL_TEXT, "the test follows policies/model.conf's matcher"
    return MODEL_TEXT.replace(_MATCHER, matcher)


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        ("this is not a model\n", "not a Casbin model"),
        (MODEL_TEXT.split("[matchers]")[0], "[matchers] is missing"),
        (MODEL_TEXT.replace("r = sub, dom, obj, act", "r = sub, obj, act"), "[request_definition] must be"),
        (
            MODEL_TEXT.replace("p = sub, dom, obj, act, eft", "p = sub, dom, obj, act"),
            "[policy_definition] must be",
        ),
        (MODEL_TEXT.replace("g = _, _, _", "g = _, _"), "[role_definition] must be"),
        (
            MODEL_TEXT.replace(" && !some(where (p.eft == deny))", ""),
            "[policy_effect] must be `e = some(where (p.eft == allow)) && !some(where (p.eft == deny))`",
        ),
        (MODEL_TEXT.replace("r = sub, dom, obj, act", "r = sub, dom, obj, act\nr2 = sub"), "defines r2"),
        (
            _with_matcher("m = wildcardMatch(r.obj, p.obj) && wildcardMatch(r.dom, p.dom)"),
            "`m` must keep `g(r.sub, p.sub, r.dom)`",
        ),
        (
            _with_matcher("m = g(r.sub, p.sub, r.dom) && wildcardMatch(r.dom, p.dom) || r.sub == p.sub"),
            "`m` must keep `g(r.sub, p.sub, r.dom)`",
        ),
        (
            _with_matcher(_MATCHER.replace("wildcardMatch(r.obj", "keyMatch9(r.obj")),
            "unknown function `keyMatch9`",
        ),
        (_with_matcher(_MATCHER.replace("r.act == p.act", "r.act == p.action")), "unknown name `p.action`"),
        (_with_matcher(_MATCHER.replace("r.act == p.act", "r.act === p.act")), "is not a valid expression"),
        # Wrong only when evaluated: caught by the check enforces run at load time.
        (
            _with_matcher(_MATCHER.replace("wildcardMatch(r.obj, p.obj)", "wildcardMatch(r.obj)")),
            "the matcher fails on policy.csv line",
        ),
    ],
)
def test_bad_model_is_named(tmp_path: Path, model: str, expected: str) -> None:
    assert expected in str(_model_problem(tmp_path, model))


def test_model_may_change_how_models_match(tmp_path: Path) -> None:
    # Exact model names instead of wildcards: the pre-selection does not depend on this condition.
    files = write_files(
        tmp_path,
        "p, svc, dgfip, mistral-*, chat, allow\np, svc, dgfip, bge-m3, embeddings, allow\n",
        model=_with_matcher(_MATCHER.replace("wildcardMatch(r.obj, p.obj)", "r.obj == p.obj")),
    )
    snapshot = load_policy(files.model_file, files.policy_file)
    assert not snapshot.decide("dgfip", "svc", (), "mistral-small", "chat").allowed
    assert snapshot.decide("dgfip", "svc", (), "mistral-*", "chat").allowed
    assert snapshot.decide("dgfip", "svc", (), "bge-m3", "embeddings").allowed


def test_repository_policies_load(tmp_path: Path) -> None:
    root = Path(__file__).resolve().parents[2] / "policies"
    snapshot = load_policy(root / "model.conf", root / "policy.csv")
    assert len(snapshot.permissions) >= 10 and snapshot.grants
    assert len(snapshot.digest) == 64
