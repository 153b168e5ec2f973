"""Key management operations: validation, durations, create, list, revoke."""

from __future__ import annotations

from datetime import timedelta

import pytest

from gateway.identity import (
    InvalidKeyRequest,
    KeyStore,
    Pepper,
    UnknownKey,
    create_key,
    list_keys,
    parse_duration,
    revoke_key,
    verify_key,
)
from gateway.identity.keys import generate_key
from gateway.identity.management import key_id_from, validate_name, validate_roles


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("90m", timedelta(minutes=90)),
        ("12h", timedelta(hours=12)),
        ("30d", timedelta(days=30)),
        ("2w", timedelta(weeks=2)),
        ("45s", timedelta(seconds=45)),
        ("1d12h", timedelta(hours=36)),
        (" 7D ", timedelta(days=7)),
    ],
)
def test_durations(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "30", "d", "30 d", "-1d", "1.5h", "0d", "1y", "10000d", "1d 2h", "h1"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(InvalidKeyRequest):
        parse_duration(text)


@pytest.mark.parametrize("name", ["dgfip", "dinum", "a", "chatbot-impots", "team_2.prod", "x" * 63, "0day"])
def test_good_names(name: str) -> None:
    assert validate_name("service", name) == name


@pytest.mark.parametrize("name", ["", "DGFiP", "-lead", ".hidden", "a b", "a/b", "x" * 64, "é", "*", "a:b"])
def test_bad_names(name: str) -> None:
    with pytest.raises(InvalidKeyRequest, match="not a valid name"):
        validate_name("department", name)


def test_roles_default_to_user_and_lose_duplicates() -> None:
    assert validate_roles([]) == ("user",)
    assert validate_roles(["admin", "user", "admin"]) == ("admin", "user")
    assert validate_roles(["auditeur-cnil"]) == ("auditeur-cnil",)  # free-form names are allowed
    with pytest.raises(InvalidKeyRequest):
        validate_roles(["Admin"])


@pytest.mark.asyncio
async def test_create_key_returns_a_working_key_and_stores_only_its_hash(
    store: KeyStore, pepper: Pepper
) -> None:
    record, key = await create_key(
        store, pepper, "dgfip", "chatbot", ["user"], timedelta(days=30), "pilote", now=1_700_000_000
    )
    assert record.created == 1_700_000_000
    assert record.expires == 1_700_000_000 + 30 * 86400
    assert record.prefix == key[:16] and record.label == "pilote" and record.roles == ("user",)
    stored = await store.get(record.id)
    assert stored == record
    assert key not in repr(stored) and stored.hash != key
    assert verify_key(pepper, key, stored.hash)


@pytest.mark.asyncio
async def test_create_key_validates_before_writing(store: KeyStore, pepper: Pepper) -> None:
    for arguments in (
        {"department": "DGFiP"},
        {"service": "a b"},
        {"roles": ["ROOT"]},
        {"label": "line\nbreak"},
        {"label": "x" * 201},
        {"expires_in": timedelta(0)},
        {"expires_in": timedelta(days=5000)},
    ):
        options: dict[str, object] = {"department": "dgfip", "service": "chatbot", **arguments}
        with pytest.raises(InvalidKeyRequest):
            await create_key(store, pepper, **options)  # type: ignore[arg-type]
    assert await list_keys(store) == []


@pytest.mark.asyncio
async def test_list_and_revoke(store: KeyStore, pepper: Pepper) -> None:
    a, key_a = await create_key(store, pepper, "dgfip", "chatbot", now=1_700_000_000)
    b, _ = await create_key(store, pepper, "dinum", "albert", now=1_700_000_001)
    assert [r.id for r in await list_keys(store)] == [a.id, b.id]
    assert [r.id for r in await list_keys(store, "dinum")] == [b.id]
    with pytest.raises(InvalidKeyRequest):
        await list_keys(store, "Bad Name")

    revoked = await revoke_key(store, a.prefix, now=1_700_000_100)  # by display prefix
    assert revoked.revoked == 1_700_000_100
    again = await revoke_key(store, key_a, now=1_700_000_200)  # by the whole key: unchanged
    assert again.revoked == 1_700_000_100
    with pytest.raises(UnknownKey, match="no key sgw_"):
        await revoke_key(store, generate_key()[0])


def test_key_references() -> None:
    key_id, key = generate_key()
    assert key_id_from(key_id) == key_id_from(f"sgw_{key_id}") == key_id_from(key) == key_id
    with pytest.raises(InvalidKeyRequest) as caught:
        key_id_from(key[:-3])  # a mangled key: refused, and never echoed
    assert key[:-3] not in str(caught.value) and key_id not in str(caught.value)
