"""One loader for every command: the same file, the same problem, the same words, whichever command."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from gateway.authz.settings import PolicyConfig
from gateway.cli import main
from gateway.config_file import CONFIG_ENV, ConfigError, Sections, config_path, find_config, read_config
from gateway.metering.cli import main as metering_main

MODELS = "models: [{name: m, backends: [{url: 'http://127.0.0.1:9'}]}]\n"
POLICY_CHECK = ["policy", "check", "--department", "d", "--service", "s", "--operation", "admin"]


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "gateway.yaml"
    path.write_text(text, encoding="utf-8")
    return path.resolve()


def _stderr_of(
    capsys: pytest.CaptureFixture[str], command: Callable[[list[str]], int], argv: list[str], status: int
) -> str:
    """What `command(argv)` printed on standard error, having exited with `status` and printed nothing
    else."""
    returned = command(argv)
    captured = capsys.readouterr()
    assert returned == status, captured.err
    assert captured.out == "" and "Traceback" not in captured.err
    return captured.err


def test_every_command_reading_a_section_names_its_wrong_key_the_same_way(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _write(tmp_path, MODELS + "store:\n  pth: x.db\npolicy:\n  reload_intervall: 2\n")
    store_problem = f"  {config}: store.pth: unknown key (check its spelling)"
    policy_problem = f"  {config}: policy.reload_intervall: unknown key (check its spelling)"
    whole_file = [
        (["config", "check", str(config)], 1),
        (["serve", "--config", str(config)], 2),
        (["keys", "list", "--config", str(config)], 2),
        (["usage", "report", "--config", str(config), "--period", "2026-11"], 2),
    ]
    for argv, status in whole_file:
        lines = _stderr_of(capsys, main, argv, status).splitlines()
        assert lines[0] == f"{config}: 2 problem(s)", argv
        assert store_problem in lines and policy_problem in lines, argv

    # The commands that read some sections only: theirs, in the same words.
    usage = ["usage", "report", "--config", str(config), "--period", "2026-11"]
    lines = _stderr_of(capsys, metering_main, usage, 2).splitlines()
    assert lines == [f"{config}: 1 problem(s)", store_problem]
    lines = _stderr_of(capsys, main, [*POLICY_CHECK, "--config", str(config)], 2).splitlines()
    assert lines == [f"{config}: 1 problem(s)", policy_problem]


def test_broken_yaml_is_reported_alike_by_every_command(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _write(tmp_path, "models: [{name: m\n")
    commands: list[tuple[Callable[[list[str]], int], list[str], int]] = [
        (main, ["config", "check", str(config)], 1),
        (main, ["serve", "--config", str(config)], 2),
        (main, ["keys", "list", "--config", str(config)], 2),
        (main, [*POLICY_CHECK, "--config", str(config)], 2),
        (metering_main, ["usage", "report", "--config", str(config), "--period", "2026-11"], 2),
    ]
    messages = {_stderr_of(capsys, command, argv, status).strip() for command, argv, status in commands}
    assert len(messages) == 1, messages
    (message,) = messages
    assert message.startswith(f"{config}: line 2, column 1: not valid YAML")


def test_no_configuration_at_all_names_both_ways_to_give_one(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv(CONFIG_ENV, raising=False)
    commands: list[tuple[Callable[[list[str]], int], list[str]]] = [
        (main, ["serve"]),
        (main, ["keys", "list"]),
        (main, ["usage", "report", "--period", "2026-11"]),
        (metering_main, ["usage", "report", "--period", "2026-11"]),
    ]
    for command, argv in commands:
        error = _stderr_of(capsys, command, argv, 2)
        assert error.strip() == f"no configuration file: pass --config FILE or set {CONFIG_ENV}", argv


def test_config_path_prefers_the_option_then_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(CONFIG_ENV, raising=False)
    assert find_config(None) is None
    with pytest.raises(ConfigError, match=CONFIG_ENV):
        config_path(None)
    monkeypatch.setenv(CONFIG_ENV, "from-env.yaml")
    monkeypatch.chdir(tmp_path)
    assert config_path(None) == tmp_path.resolve() / "from-env.yaml"
    assert config_path("given.yaml") == tmp_path.resolve() / "given.yaml"


class _PolicyOnly(Sections):
    policy: PolicyConfig = PolicyConfig()


def test_sections_validate_only_what_they_declare(tmp_path: Path) -> None:
    config = _write(tmp_path, "models: [{name: no-backends}]\npolicy: {reload_interval: 0}\n")
    assert read_config(config, _PolicyOnly).policy.reload_interval == 0
    assert read_config(_write(tmp_path, "server: {port: 1}\n"), _PolicyOnly).policy == PolicyConfig()
    broken = _write(tmp_path, "policy: {reload_interval: -1}\n")
    with pytest.raises(ConfigError) as caught:
        read_config(broken, _PolicyOnly)
    assert f"{broken}: policy.reload_interval: Input should be greater than or equal to 0" in str(
        caught.value
    )
