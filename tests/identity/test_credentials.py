"""Secrets from the environment or from files: the pepper and the bootstrap admin key."""

from __future__ import annotations

import logging
import stat
from pathlib import Path

import pytest

from gateway.identity import CredentialError, Pepper, load_admin_key, load_pepper, read_secret

PEPPER = "p" * 40


def test_read_secret_from_the_variable_or_the_file(tmp_path: Path) -> None:
    file = tmp_path / "secret"
    file.write_text("  from-file\n", encoding="utf-8")
    assert read_secret("S", {"S": " direct "}) == "direct"
    assert read_secret("S", {"S_FILE": str(file)}) == "from-file"
    assert read_secret("S", {}) is None
    with pytest.raises(CredentialError, match="both S and S_FILE"):
        read_secret("S", {"S": "x", "S_FILE": str(file)})
    with pytest.raises(CredentialError, match="S_FILE: cannot read"):
        read_secret("S", {"S_FILE": str(tmp_path / "missing")})
    (tmp_path / "empty").write_text("\n", encoding="utf-8")
    with pytest.raises(CredentialError, match="is empty"):
        read_secret("S", {"S_FILE": str(tmp_path / "empty")})


def test_pepper_from_the_environment_must_be_long_enough() -> None:
    assert load_pepper("PEPPER", environ={"PEPPER": PEPPER}) == Pepper(PEPPER.encode())
    with pytest.raises(CredentialError, match="at least 32 bytes") as caught:
        load_pepper("PEPPER", environ={"PEPPER": "short-pepper"})
    assert "short-pepper" not in str(caught.value)


def test_without_a_generated_file_a_missing_pepper_is_an_error() -> None:
    with pytest.raises(CredentialError, match="set PEPPER or PEPPER_FILE"):
        load_pepper("PEPPER", environ={})


def test_embedded_pepper_is_generated_once_with_mode_0600(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    file = tmp_path / "data" / "gateway.pepper"
    with caplog.at_level(logging.WARNING, logger="gateway.identity"):
        first = load_pepper("PEPPER", generated_file=file, environ={})
    assert stat.S_IMODE(file.stat().st_mode) == 0o600
    assert len(first.reveal()) >= 32
    assert [r for r in caplog.records if "generated a key pepper" in r.getMessage()]
    assert first.reveal().decode() not in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="gateway.identity"):
        again = load_pepper("PEPPER", generated_file=file, environ={})
    assert again == first
    assert not caplog.records  # read, not generated again
    # An explicit pepper wins over the generated file.
    assert load_pepper("PEPPER", generated_file=file, environ={"PEPPER": PEPPER}) == Pepper(PEPPER.encode())


def test_a_pepper_file_readable_by_others_is_refused(tmp_path: Path) -> None:
    file = tmp_path / "gateway.pepper"
    load_pepper("PEPPER", generated_file=file, environ={})
    file.chmod(0o644)
    with pytest.raises(CredentialError, match="chmod 600"):
        load_pepper("PEPPER", generated_file=file, environ={})


def test_admin_key_is_optional_long_and_hidden(tmp_path: Path) -> None:
    assert load_admin_key("ADMIN", {}) is None
    value = "a" * 32
    admin = load_admin_key("ADMIN", {"ADMIN": value})
    assert admin is not None and admin.reveal() == value
    assert value not in repr(admin) and value not in str(admin)
    file = tmp_path / "admin"
    file.write_text(value + "\n", encoding="utf-8")
    from_file = load_admin_key("ADMIN", {"ADMIN_FILE": str(file)})
    assert from_file is not None and from_file.reveal() == value
    with pytest.raises(CredentialError, match="at least 32"):
        load_admin_key("ADMIN", {"ADMIN": "a" * 31})
    with pytest.raises(CredentialError, match="printable ASCII"):
        load_admin_key("ADMIN", {"ADMIN": "é" * 40})
