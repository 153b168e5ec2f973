"""`gateway keys create|list|revoke` through the same parser and runner the gateway command uses."""

from __future__ import annotations

import argparse
import io
import json
import re
from pathlib import Path

import pytest

from gateway.identity import AuthConfig, KeyStore, Pepper
from gateway.identity.cli import add_key_commands, run_key_command, run_keys
from gateway.identity.keys import hash_key, parse_key
from gateway.storage import StoreConfig


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="gateway")
    commands = root.add_subparsers(dest="command", required=True)
    add_key_commands(commands)
    return root


async def run(store: KeyStore, pepper: Pepper, *argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    args = parser().parse_args(["keys", *argv])
    status = await run_key_command(args, store, lambda: pepper, out=out, err=err)
    return status, out.getvalue(), err.getvalue()


@pytest.mark.asyncio
async def test_create_prints_the_key_once_and_list_never_shows_it(store: KeyStore, pepper: Pepper) -> None:
    status, out, err = await run(
        store, pepper, "create", "--department", "dgfip", "--service", "chatbot", "--role", "user",
        "--role", "department-admin", "--expires", "30d", "--label", "pilote impôts",
    )  # fmt: skip
    assert status == 0
    key = out.strip()
    parsed = parse_key(key)
    assert parsed is not None  # standard output is the key alone: KEY=$(gateway keys create ...)
    assert "shown only this once" in err and key not in err and parsed[0] in err

    status, out, _ = await run(store, pepper, "list")
    assert status == 0
    header, row = out.splitlines()
    assert header.split()[:5] == ["ID", "PREFIX", "DEPARTMENT", "SERVICE", "ROLES"]
    assert "LAST USED" in header and "REVOKED" in header and "EXPIRES" in header
    assert row.split()[:6] == [parsed[0], key[:16], "dgfip", "chatbot", "user,department-admin", "active"]
    assert "pilote impôts" in row
    assert key not in out and key[17:] not in out and hash_key(pepper, key) not in out

    status, out, _ = await run(store, pepper, "list", "--json", "--department", "dgfip")
    listed = json.loads(out)
    assert status == 0 and len(listed) == 1
    assert set(listed[0]) == {
        "id", "prefix", "department", "service", "roles", "label", "created", "expires", "revoked", "last_used",
        "status",
    }  # fmt: skip
    assert listed[0]["expires"] - listed[0]["created"] == 30 * 86400
    assert key not in out and hash_key(pepper, key) not in out


@pytest.mark.asyncio
async def test_create_json_and_revoke(store: KeyStore, pepper: Pepper) -> None:
    status, out, err = await run(
        store, pepper, "create", "--department", "dinum", "--service", "albert", "--json"
    )
    assert status == 0 and err == ""
    created = json.loads(out)
    assert parse_key(created["key"]) == (created["id"], created["key"])
    assert created["roles"] == ["user"] and created["expires"] is None and created["status"] == "active"
    assert "hash" not in created

    status, out, _ = await run(store, pepper, "revoke", created["prefix"])
    assert status == 0
    assert re.fullmatch(rf"Revoked {created['prefix']} \(dinum/albert\) at \S+Z\.\n", out)
    _, out, _ = await run(store, pepper, "list", "--json")
    assert json.loads(out)[0]["status"] == "revoked"


@pytest.mark.asyncio
async def test_errors_are_reported_with_an_exit_status(store: KeyStore, pepper: Pepper) -> None:
    status, out, err = await run(store, pepper, "create", "--department", "DGFiP", "--service", "x")
    assert status == 2 and out == "" and "not a valid name" in err
    status, _, err = await run(
        store, pepper, "create", "--department", "d", "--service", "s", "--expires", "soon"
    )
    assert status == 2 and "not a duration" in err
    status, _, err = await run(store, pepper, "revoke", "sgw_abcdefghijkl")
    assert status == 1 and "no key sgw_abcdefghijkl" in err
    status, _, err = await run(store, pepper, "list")
    assert status == 0 and "no keys" in err


@pytest.mark.asyncio
async def test_listing_does_not_need_the_pepper(store: KeyStore) -> None:
    def no_pepper() -> Pepper:
        raise AssertionError("the pepper was asked for")

    out, err = io.StringIO(), io.StringIO()
    args = parser().parse_args(["keys", "list"])
    assert await run_key_command(args, store, no_pepper, out=out, err=err) == 0


def test_run_keys_opens_the_configured_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("TEST_GATEWAY_PEPPER", "q" * 40)
    store = StoreConfig(kind="embedded", path=tmp_path / "gateway.db")
    auth = AuthConfig(pepper_env="TEST_GATEWAY_PEPPER")
    args = parser().parse_args(["keys", "create", "--department", "dgfip", "--service", "chatbot"])
    assert run_keys(args, store, auth) == 0
    key = capsys.readouterr().out.strip()
    assert parse_key(key) is not None
    assert run_keys(parser().parse_args(["keys", "list", "--json"]), store, auth) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [k["prefix"] for k in listed] == [key[:16]]
    assert not store.pepper_file().exists()  # the pepper came from the environment
