"""Configuration files: clear errors naming the file, the key and the problem."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from gateway.config import ConfigError, load_config


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "gateway.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_minimal_file_gets_safe_defaults(tmp_path: Path) -> None:
    config = load_config(
        _write(tmp_path, "models:\n  - name: m\n    backends: [{url: 'http://127.0.0.1:8001/'}]\n")
    )
    assert config.server.host == "127.0.0.1"
    assert config.server.trusted_proxies == (), "no one's X-Forwarded-For is believed by default"
    assert 16 * 1024 <= config.server.max_header_bytes <= 64 * 1024
    assert config.server.header_timeout_seconds <= 30 and config.server.body_timeout_seconds <= 120
    assert config.models[0].backends[0].url == "http://127.0.0.1:8001"
    timeouts = config.models[0].timeouts
    assert timeouts.first_byte >= 60 and timeouts.total >= 600, (
        "long generations must not time out by default"
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("models: [{name: m, backends: [{url: 'ftp://x'}]}]", "models[0].backends[0].url: must be an http"),
        ("models: [{name: m, backends: [{url: 'http://h:1/v1'}]}]", "without /v1"),
        (
            "models: [{name: m, backends: [{url: 'http://h:1', weigth: 2}]}]",
            "models[0].backends[0].weigth: unknown key",
        ),
        ("models: [{name: m, backends: []}]", "models[0].backends"),
        ("models: []", "models"),
        ("server: {port: 70000}\nmodels: [{name: m, backends: [{url: 'http://h:1'}]}]", "server.port"),
        (
            "models: [{name: m, backends: [{url: 'http://h:1'}]}, {name: m, backends: [{url: 'http://h:2'}]}]",
            "model defined twice: m",
        ),
        (
            "models: [{name: a, backends: [{url: 'http://h:1', weight: 2}]}, {name: b, backends: [{url: 'http://h:1'}]}]",
            "configured differently",
        ),
        ("models: [{name: m, backends: [{url: 'http://h:1'}]}", "line 1"),
        ("- just\n- a list\n", "top level must be a mapping"),
        (
            "server: {trusted_proxies: ['ingress']}\nmodels: [{name: m, backends: [{url: 'http://h:1'}]}]",
            "server.trusted_proxies: 'ingress' is not an IP address or network",
        ),
    ],
)
def test_errors_say_where_and_what(tmp_path: Path, text: str, expected: str) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    message = str(caught.value)
    assert str(path) in message
    assert expected in message


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such file"):
        load_config(tmp_path / "absent.yaml")


def test_config_check_command(tmp_path: Path) -> None:
    good = _write(tmp_path, "models: [{name: m, backends: [{url: 'http://127.0.0.1:8001'}]}]")
    result = subprocess.run(
        [sys.executable, "-m", "gateway", "config", "check", str(good)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "OK" in result.stdout

    bad = tmp_path / "bad.yaml"
    bad.write_text("models: [{name: m, backends: [{url: 'http://h:1', max_concurent: 3}]}]", encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "gateway", "config", "check", str(bad)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert "models[0].backends[0].max_concurent: unknown key" in result.stderr
    assert "Traceback" not in result.stderr


_QUOTAS = "quotas:\n  departments: {dgfip: {tokens_per_day: 1000}}\n"


def test_default_reservations_outlast_the_default_timeouts(tmp_path: Path) -> None:
    config = load_config(_write(tmp_path, "models: [{name: m, backends: [{url: 'http://h:1'}]}]\n" + _QUOTAS))
    timeouts = config.models[0].timeouts
    assert config.quotas.enabled
    assert config.quotas.reservation_ttl_seconds > timeouts.connect + timeouts.first_byte + timeouts.total


@pytest.mark.parametrize(
    ("ttl", "total"),
    [(900, None), (3600, None), (4200, 5000)],
)
def test_a_reservation_shorter_than_the_longest_request_is_refused(
    tmp_path: Path, ttl: int, total: int | None
) -> None:
    long_model = f", timeouts: {{total: {total}}}" if total else ""
    text = (
        "models:\n"
        "  - {name: short, backends: [{url: 'http://h:1'}], timeouts: {total: 60}}\n"
        f"  - {{name: long, backends: [{{url: 'http://h:2'}}]{long_model}}}\n"
        f"{_QUOTAS}  reservation_ttl_seconds: {ttl}\n"
    )
    with pytest.raises(ConfigError) as caught:
        load_config(_write(tmp_path, text))
    message = str(caught.value)
    assert f"quotas.reservation_ttl_seconds ({ttl}) must be longer than the longest request" in message
    assert f"model `long` allows timeouts.total {total or 3600} s" in message


def test_reservation_ttl_matters_only_with_quotas(tmp_path: Path) -> None:
    models = "models: [{name: m, backends: [{url: 'http://h:1'}]}]\n"
    config = load_config(_write(tmp_path, models + "quotas: {reservation_ttl_seconds: 900}\n"))
    assert not config.quotas.enabled and config.quotas.reservation_ttl_seconds == 900
    longer = load_config(_write(tmp_path, models + _QUOTAS + "  reservation_ttl_seconds: 3601\n"))
    assert longer.quotas.reservation_ttl_seconds == 3601
