"""The KeyStore contract, run against both stores: embedded (SQLite) and Redis (one server, a Cluster,
a Sentinel-watched master)."""

from __future__ import annotations

import os
import time

import msgspec
import pytest

from gateway.identity import Authenticator, DuplicateKeyId, KeyRecord, KeyStore, Pepper, create_key
from gateway.identity.keys import display_prefix, generate_key, hash_key
from tests.identity.conftest import CHANGE_DEADLINE, Backend
from tests.redis_topologies import STORE_KINDS
from tests.waiting import async_wait_for

pytestmark = pytest.mark.parametrize("backend", STORE_KINDS, indirect=True)


def make_record(
    department: str = "dgfip", service: str = "chatbot", created: int = 1_700_000_000
) -> KeyRecord:
    key_id, key = generate_key()
    return KeyRecord(
        id=key_id,
        prefix=display_prefix(key),
        hash=hash_key(Pepper(os.urandom(32)), key),
        department=department,
        service=service,
        roles=("user", "department-admin"),
        label="Équipe IA — tests",
        created=created,
        expires=created + 3600,
    )


@pytest.mark.asyncio
async def test_create_then_get_returns_the_same_record(store: KeyStore) -> None:
    record = make_record()
    await store.create(record)
    assert await store.get(record.id) == record
    assert await store.get(generate_key()[0]) is None


@pytest.mark.asyncio
async def test_create_refuses_an_existing_id(store: KeyStore) -> None:
    record = make_record()
    await store.create(record)
    with pytest.raises(DuplicateKeyId):
        await store.create(msgspec.structs.replace(make_record(department="other"), id=record.id))
    stored = await store.get(record.id)
    assert stored is not None and stored.department == "dgfip"


@pytest.mark.asyncio
async def test_list_per_department_oldest_first(store: KeyStore) -> None:
    a2 = make_record("dgfip", created=1_700_000_200)
    a1 = make_record("dgfip", created=1_700_000_100)
    b1 = make_record("dinum", "albert", created=1_700_000_150)
    for record in (a2, a1, b1):
        await store.create(record)
    assert [r.id for r in await store.list("dgfip")] == [a1.id, a2.id]
    assert [r.id for r in await store.list("dinum")] == [b1.id]
    assert await store.list("nobody") == []
    assert [r.id for r in await store.list()] == [a1.id, b1.id, a2.id]
    assert await store.list(None) == [a1, b1, a2]


@pytest.mark.asyncio
async def test_revoke_marks_once_and_ignores_unknown_ids(store: KeyStore) -> None:
    record = make_record()
    await store.create(record)
    assert await store.revoke(record.id, 1_700_000_500) is True
    assert await store.revoke(record.id, 1_700_000_900) is False
    stored = await store.get(record.id)
    assert stored is not None and stored.revoked == 1_700_000_500
    assert stored.status(time.time()) == "revoked"
    unknown = generate_key()[0]
    assert await store.revoke(unknown, 1_700_000_500) is False
    assert await store.get(unknown) is None  # no stub record left behind


@pytest.mark.asyncio
async def test_touch_keeps_the_latest_use_and_creates_nothing(store: KeyStore) -> None:
    record = make_record()
    await store.create(record)
    await store.touch(record.id, 1_700_000_300)
    await store.touch(record.id, 1_700_000_200)  # late write of an older use
    stored = await store.get(record.id)
    assert stored is not None and stored.last_used == 1_700_000_300
    unknown = generate_key()[0]
    await store.touch(unknown, 1_700_000_300)
    assert await store.get(unknown) is None


@pytest.mark.asyncio
async def test_changes_reach_a_subscriber_of_another_instance(backend: Backend) -> None:
    writer = await backend.open()
    reader = await backend.open()
    heard: list[str | None] = []
    await reader.subscribe_changes(heard.append)
    assert reader.changes_live
    heard.clear()  # a subscription may start with a "flush everything"

    record = make_record()
    await writer.create(record)
    assert await async_wait_for(lambda: record.id in heard, CHANGE_DEADLINE)
    heard.clear()
    await writer.touch(record.id, 1_700_000_600)
    await writer.revoke(record.id, 1_700_000_700)
    assert await async_wait_for(lambda: record.id in heard, CHANGE_DEADLINE)
    assert None not in heard


@pytest.mark.asyncio
async def test_local_changes_reach_local_subscribers(store: KeyStore) -> None:
    heard: list[str | None] = []
    await store.subscribe_changes(heard.append)
    record = make_record()
    await store.create(record)
    await store.revoke(record.id, 1_700_000_700)
    assert await async_wait_for(lambda: heard.count(record.id) >= 2, CHANGE_DEADLINE)


@pytest.mark.asyncio
async def test_records_survive_closing_and_reopening(backend: Backend, pepper: Pepper) -> None:
    first = await backend.open()
    record, key = await create_key(first, pepper, "dgfip", "chatbot", ["user"], None, "survivor")
    await first.close()
    second = await backend.open()
    stored = await second.get(record.id)
    assert stored == record
    assert stored.hash == hash_key(pepper, key)
    authenticator = Authenticator(second, pepper)
    await authenticator.start()
    try:
        principal = await authenticator.authenticate(f"Bearer {key}", "127.0.0.1")
    finally:
        await authenticator.close()
    assert principal.key_id == record.id


@pytest.mark.asyncio
async def test_an_ended_session_is_seen_by_every_instance_until_it_expires(backend: Backend) -> None:
    writer = await backend.open()
    reader = await backend.open()
    now = int(time.time())
    assert not await reader.session_ended("a" * 32)
    await writer.end_session("a" * 32, now + 60)
    await writer.end_session("b" * 32, now + 2)
    await writer.end_session("c" * 32, now - 1)  # already expired: nothing to remember
    assert await reader.session_ended("a" * 32)
    assert not await reader.session_ended("c" * 32)
    assert not await reader.session_ended("d" * 32)
    assert await async_wait_for(lambda: time.time() >= now + 3, 5)
    assert not await reader.session_ended("b" * 32)
    assert await reader.session_ended("a" * 32)


@pytest.mark.asyncio
async def test_close_is_idempotent(store: KeyStore) -> None:
    await store.close()
    await store.close()
    assert not store.changes_live
