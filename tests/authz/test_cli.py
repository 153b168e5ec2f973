"""`gateway policy check`: its output, its exit codes, and where it finds the files."""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from gateway.authz.cli import add_policy_commands, main, run_policy_command
from tests.authz.conftest import POLICIES, ROOT, TEST_POLICY, PolicyFiles, write_files


def _line(text: str) -> int:
    return TEST_POLICY.splitlines().index(text) + 1


def _run(argv: list[str]) -> int:
    # The way `gateway` will call it: its own parser, extended with the policy commands.
    parser = argparse.ArgumentParser(prog="gateway")
    add_policy_commands(parser.add_subparsers(dest="command", required=True))
    return run_policy_command(parser.parse_args(argv))


def _check(files: PolicyFiles, *arguments: str) -> list[str]:
    return [
        "policy",
        "check",
        *arguments,
        "--model-file",
        str(files.model_file),
        "--policy-file",
        str(files.policy_file),
    ]


def test_allow_prints_the_rule_and_exits_0(files: PolicyFiles, capsys: pytest.CaptureFixture[str]) -> None:
    code = _run(
        _check(
            files,
            "--department",
            "dgfip",
            "--service",
            "assistant-courrier",
            "--model",
            "mistral-small",
            "--operation",
            "chat",
        )
    )
    out = capsys.readouterr().out.splitlines()
    assert code == 0
    assert out[0] == "ALLOW"
    line = _line("p, assistant-courrier, dgfip, mistral-*, chat, allow")
    assert (
        out[1]
        == f"matched rule: p, assistant-courrier, dgfip, mistral-*, chat, allow  ({files.policy_file}, line {line})"
    )
    assert out[2] == "subjects: service assistant-courrier (roles in dgfip: none); key roles: none"


def test_deny_by_a_rule_exits_1(files: PolicyFiles, capsys: pytest.CaptureFixture[str]) -> None:
    code = _run(
        _check(
            files,
            *("--department", "dgfip", "--service", "recherche", "--role", "admin", "--role", "user"),
            *("--model", "llama-405b", "--operation", "responses"),
        )
    )
    out = capsys.readouterr().out.splitlines()
    assert code == 1
    assert out[0] == "DENY"
    assert out[1].startswith("matched rule: p, recherche, dgfip, llama-405b, *, deny  (")
    assert out[1].endswith(f", line {_line('p, recherche, dgfip, llama-405b, *, deny')})")
    assert out[2] == "subjects: service recherche (roles in dgfip: user); key roles: admin, user"


def test_deny_by_default_exits_1(files: PolicyFiles, capsys: pytest.CaptureFixture[str]) -> None:
    code = _run(_check(files, "--department", "dinum", "--service", "console-dgfip", "--operation", "admin"))
    out = capsys.readouterr().out.splitlines()
    assert code == 1
    assert out[:2] == ["DENY", "no rule matched: denied by default"]


def test_broken_policy_exits_2_naming_the_line(
    files: PolicyFiles, capsys: pytest.CaptureFixture[str]
) -> None:
    files.write_policy("p, user, *, *, chat, allow\np, user, *, *, chat\n")
    code = _run(_check(files, "--department", "d", "--service", "s", "--model", "m", "--operation", "chat"))
    captured = capsys.readouterr()
    assert code == 2 and captured.out == ""
    assert f"{files.policy_file}: line 2: a `p` line has 5 fields" in captured.err


def test_model_is_required_for_model_operations(
    files: PolicyFiles, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _run(_check(files, "--department", "d", "--service", "s", "--operation", "embeddings")) == 2
    assert "--model is required for embeddings" in capsys.readouterr().err


def test_unknown_operation_is_a_usage_error(files: PolicyFiles) -> None:
    with pytest.raises(SystemExit) as caught:
        _run(_check(files, "--department", "d", "--service", "s", "--model", "m", "--operation", "chatt"))
    assert caught.value.code == 2


def _config_with_policies(tmp_path: Path) -> Path:
    config_dir = tmp_path / "etc"
    write_files(config_dir / "rules", TEST_POLICY)
    config = config_dir / "gateway.yaml"
    config.write_text(
        "models: [{name: m, backends: [{url: 'http://127.0.0.1:1'}]}]\n"
        "policy:\n  model_file: rules/model.conf\n  policy_file: rules/policy.csv\n",
        encoding="utf-8",
    )
    return config


def test_config_paths_are_relative_to_the_config_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _config_with_policies(tmp_path)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    argv = ["policy", "check", "--department", "dgfip", "--service", "ops", "--operation", "usage:read"]
    assert _run([*argv, "--config", str(config)]) == 0
    assert str(config.parent.resolve() / "rules" / "policy.csv") in capsys.readouterr().out

    monkeypatch.setenv("GATEWAY_CONFIG", str(config))
    assert _run(argv) == 0, "$GATEWAY_CONFIG names the configuration when --config does not"


def test_config_and_files_together_are_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = _config_with_policies(tmp_path)
    code = _run(
        [
            *("policy", "check", "--department", "d", "--service", "s", "--operation", "admin"),
            *("--config", str(config), "--policy-file", "x.csv"),
        ]
    )
    assert code == 2 and "either --config or --model-file/--policy-file" in capsys.readouterr().err


def test_bad_policy_section_is_reported(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "gateway.yaml"
    config.write_text("policy:\n  reload_intervall: 2\n", encoding="utf-8")
    code = _run(
        [
            "policy",
            "check",
            "--department",
            "d",
            "--service",
            "s",
            "--operation",
            "admin",
            "--config",
            str(config),
        ]
    )
    assert code == 2 and "policy.reload_intervall" in capsys.readouterr().err


def test_defaults_to_the_working_directory(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(ROOT)
    code = main(
        [
            "policy",
            "check",
            "--department",
            "dgfip",
            "--service",
            "x",
            "--role",
            "admin",
            "--operation",
            "admin",
        ]
    )
    assert code == 0
    assert "(policies/policy.csv, line" in capsys.readouterr().out


def _subprocess(*arguments: str) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if key != "GATEWAY_CONFIG"}
    return subprocess.run(
        [sys.executable, "-m", "gateway.authz", "policy", "check", *arguments],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_runs_as_a_module_in_a_real_process() -> None:
    allowed = _subprocess(
        "--department",
        "dgfip",
        "--service",
        "assistant-courrier",
        "--model",
        "mistral-small",
        "--operation",
        "chat",
    )
    assert allowed.returncode == 0, allowed.stderr
    assert allowed.stdout.startswith(
        "ALLOW\nmatched rule: p, assistant-courrier, dgfip, mistral-*, chat, allow"
    )
    denied = _subprocess(
        "--department",
        "dgfip",
        "--service",
        "assistant-courrier",
        "--model",
        "mistral-large-2411",
        "--operation",
        "chat",
    )
    assert denied.returncode == 1 and denied.stdout.startswith("DENY\n")
    assert denied.stderr == ""


def _readme_examples() -> list[tuple[list[str], list[str]]]:
    """Each `$ gateway policy check ...` in policies/README.md with the lines it shows."""
    text = (POLICIES / "README.md").read_text(encoding="utf-8")
    examples = []
    for block in re.findall(r"```\n(.*?)```", text, flags=re.DOTALL):
        for example in re.split(r"\n(?=\$ )", block.strip()):
            if example.startswith("$ gateway policy check "):
                command, *output = example.strip().splitlines()
                examples.append((command.removeprefix("$ gateway ").split(), output))
    return examples


def test_readme_examples_are_what_the_command_prints(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(ROOT)
    examples = _readme_examples()
    assert len(examples) >= 2
    for argv, shown in examples:
        code = main(argv)
        printed = capsys.readouterr().out.splitlines()
        assert printed == shown, " ".join(argv)
        assert code == (0 if shown[0] == "ALLOW" else 1)
