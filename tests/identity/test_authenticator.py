"""The authenticator: one answer for every bad key, no store round trip for a cached key,
revocations everywhere within a second."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta

import pytest

from gateway.errors import GatewayError
from gateway.identity import (
    BOOTSTRAP_ADMIN,
    AdminKey,
    AuthenticationFailed,
    Authenticator,
    FailureLimiter,
    KeyRecord,
    KeyStore,
    Pepper,
    Principal,
    TooManyFailedAttempts,
    create_key,
    revoke_key,
)
from gateway.identity.keys import display_prefix, generate_key, hash_key
from tests.identity.conftest import CHANGE_DEADLINE, Backend, CountingStore

MakeAuthenticator = Callable[..., Awaitable[Authenticator]]
CLIENT = "127.0.0.1"


def bearer(key: str) -> str:
    return f"Bearer {key}"


async def rejection(authenticator: Authenticator, header: str | None) -> AuthenticationFailed:
    with pytest.raises(AuthenticationFailed) as caught:
        await authenticator.authenticate(header, CLIENT)
    return caught.value


@pytest.mark.asyncio
async def test_a_good_key_gives_its_principal(
    store: KeyStore, pepper: Pepper, make_authenticator: MakeAuthenticator
) -> None:
    record, key = await create_key(store, pepper, "dgfip", "chatbot", ["user", "department-admin"])
    authenticator = await make_authenticator(store, pepper)
    principal = await authenticator.authenticate(bearer(key), CLIENT)
    assert principal == Principal(
        key_id=record.id, department="dgfip", service="chatbot", roles=("user", "department-admin")
    )
    # The scheme is case-insensitive (RFC 7235) and surrounding spaces do not matter.
    assert await authenticator.authenticate(f"bearer  {key} ", CLIENT) == principal


@pytest.mark.asyncio
async def test_every_bad_key_gets_the_same_answer(
    store: KeyStore, pepper: Pepper, make_authenticator: MakeAuthenticator
) -> None:
    record, key = await create_key(store, pepper, "dgfip", "chatbot")
    _, expired_key = await create_key(
        store, pepper, "dgfip", "chatbot", expires_in=timedelta(minutes=1), now=int(time.time()) - 120
    )
    revoked, revoked_key = await create_key(store, pepper, "dgfip", "chatbot")
    await revoke_key(store, revoked.id)
    other_secret = generate_key(record.id)[1]  # a valid id with a wrong secret
    unknown = generate_key()[1]
    authenticator = await make_authenticator(store, pepper)

    cases = {
        None: "no authorization header",
        "": "not a bearer token",
        f"Basic {key}": "not a bearer token",
        key: "not a bearer token",
        "Bearer": "malformed key",
        "Bearer sk-not-ours": "malformed key",
        bearer(key[:-1]): "malformed key",
        bearer(unknown): "unknown key id",
        bearer(other_secret): "wrong secret",
        bearer(expired_key): "expired key",
        bearer(revoked_key): "revoked key",
    }
    for header, reason in cases.items():
        error = await rejection(authenticator, header)
        assert error.reason == reason, header
        assert isinstance(error, GatewayError)
        assert error.status_code == 401
        assert error.as_dict() == {
            "message": "Invalid API key provided.",
            "type": "invalid_request_error",
            "param": None,
            "code": "invalid_api_key",
        }
        assert error.headers == {"www-authenticate": "Bearer"}
        assert error.body() == (
            b'{"error":{"message":"Invalid API key provided.","type":"invalid_request_error",'
            b'"param":null,"code":"invalid_api_key"}}'
        )
    # The good key still works after all that.
    assert (await authenticator.authenticate(bearer(key), CLIENT)).key_id == record.id


@pytest.mark.asyncio
async def test_the_pepper_matters(
    store: KeyStore, pepper: Pepper, make_authenticator: MakeAuthenticator
) -> None:
    _, key = await create_key(store, pepper, "dgfip", "chatbot")
    stranger = await make_authenticator(store, Pepper(os.urandom(32)))
    assert (await rejection(stranger, bearer(key))).reason == "wrong secret"
    owner = await make_authenticator(store, pepper)
    assert (await owner.authenticate(bearer(key), CLIENT)).service == "chatbot"


@pytest.mark.asyncio
async def test_a_cached_key_does_not_reach_the_store(
    store: KeyStore, pepper: Pepper, make_authenticator: MakeAuthenticator
) -> None:
    _, key = await create_key(store, pepper, "dgfip", "chatbot")
    counting = CountingStore(store)
    authenticator = await make_authenticator(counting, pepper)
    for _ in range(200):
        await authenticator.authenticate(bearer(key), CLIENT)
    assert counting.calls["get"] == 1
    # A wrong secret for a cached id is refused without a store read either.
    _, wrong = generate_key(_key_id(key))
    await rejection(authenticator, bearer(wrong))
    assert counting.calls["get"] == 1


def _key_id(key: str) -> str:
    return key[4:16]


@pytest.mark.asyncio
async def test_concurrent_first_uses_read_the_store_once(
    store: KeyStore, pepper: Pepper, make_authenticator: MakeAuthenticator
) -> None:
    _, key = await create_key(store, pepper, "dgfip", "chatbot")
    counting = CountingStore(store)
    authenticator = await make_authenticator(counting, pepper)
    principals = await asyncio.gather(*(authenticator.authenticate(bearer(key), CLIENT) for _ in range(50)))
    assert len({p.key_id for p in principals}) == 1
    assert counting.calls["get"] == 1


@pytest.mark.asyncio
async def test_unknown_ids_are_remembered_briefly_and_boundedly(
    store: KeyStore, pepper: Pepper, make_authenticator: MakeAuthenticator
) -> None:
    counting = CountingStore(store)
    clock = [1000.0]
    authenticator = await make_authenticator(
        counting, pepper, negative_ttl=5.0, negative_max_entries=20, monotonic=lambda: clock[0]
    )
    unknown = generate_key()[1]
    for _ in range(10):
        await rejection(authenticator, bearer(unknown))
    assert counting.calls["get"] == 1
    clock[0] += 6.0  # past the negative TTL: asked again
    await rejection(authenticator, bearer(unknown))
    assert counting.calls["get"] == 2
    for _ in range(100):
        await rejection(authenticator, bearer(generate_key()[1]))
    assert len(authenticator._negative) <= 20


@pytest.mark.asyncio
async def test_a_key_created_after_its_id_was_probed_works_at_once(
    backend: Backend, pepper: Pepper, make_authenticator: MakeAuthenticator
) -> None:
    serving = await backend.open()
    authenticator = await make_authenticator(serving, pepper, negative_ttl=60.0)
    key_id, key = generate_key()
    await rejection(authenticator, bearer(key))  # now remembered as unknown
    # Created elsewhere with that very id: the change notification clears the negative entry.
    admin = await backend.open()
    await admin.create(
        KeyRecord(
            id=key_id,
            prefix=display_prefix(key),
            hash=hash_key(pepper, key),
            department="dgfip",
            service="late",
            roles=("user",),
            created=int(time.time()),
        )
    )
    deadline = time.monotonic() + CHANGE_DEADLINE
    while True:
        try:
            principal = await authenticator.authenticate(bearer(key), "10.9.9.9")
            break
        except AuthenticationFailed:
            assert time.monotonic() < deadline, "the new key was still refused after 1 s"
            await asyncio.sleep(0.02)
    assert principal.service == "late"


@pytest.mark.asyncio
async def test_local_revocation_applies_to_the_next_request(
    store: KeyStore, pepper: Pepper, make_authenticator: MakeAuthenticator
) -> None:
    record, key = await create_key(store, pepper, "dgfip", "chatbot")
    authenticator = await make_authenticator(store, pepper)
    await authenticator.authenticate(bearer(key), CLIENT)
    await revoke_key(store, record.id)
    assert (await rejection(authenticator, bearer(key))).reason == "revoked key"


@pytest.mark.asyncio
async def test_revocation_by_another_process_reaches_this_cache_within_a_second(
    backend: Backend, pepper: Pepper, make_authenticator: MakeAuthenticator
) -> None:
    """Process A and B each have their own store connection and cache; an operator (C) revokes."""
    store_a, store_b, operator = await backend.open(), await backend.open(), await backend.open()
    record, key = await create_key(operator, pepper, "dgfip", "chatbot")
    a = await make_authenticator(store_a, pepper)
    b = await make_authenticator(store_b, pepper)
    for authenticator in (a, b):
        for _ in range(3):
            assert (await authenticator.authenticate(bearer(key), CLIENT)).key_id == record.id
    assert record.id in a._cache and record.id in b._cache  # both serve it from their cache

    await revoke_key(operator, record.id)
    revoked_at = time.monotonic()
    refused: dict[str, float] = {}
    reasons: dict[str, str] = {}
    while len(refused) < 2:
        for name, authenticator in (("a", a), ("b", b)):
            if name in refused:
                continue
            try:
                await authenticator.authenticate(bearer(key), CLIENT)
            except AuthenticationFailed as exc:
                refused[name] = time.monotonic() - revoked_at
                reasons[name] = exc.reason
        assert time.monotonic() - revoked_at < CHANGE_DEADLINE, f"still accepted after 1 s: {refused}"
        await asyncio.sleep(0.01)
    assert max(refused.values()) < CHANGE_DEADLINE
    assert reasons == {"a": "revoked key", "b": "revoked key"}
    assert store_a.changes_live and store_b.changes_live


@pytest.mark.asyncio
async def test_expiry_is_checked_on_every_request_of_a_cached_key(
    store: KeyStore, pepper: Pepper, make_authenticator: MakeAuthenticator
) -> None:
    now = [time.time()]
    _, key = await create_key(
        store, pepper, "dgfip", "chatbot", expires_in=timedelta(hours=1), now=int(now[0])
    )
    counting = CountingStore(store)
    authenticator = await make_authenticator(counting, pepper, clock=lambda: now[0])
    await authenticator.authenticate(bearer(key), CLIENT)
    now[0] += 3601
    assert (await rejection(authenticator, bearer(key))).reason == "expired key"
    assert counting.calls["get"] == 1


@pytest.mark.asyncio
async def test_last_use_is_written_off_the_hot_path_at_most_once_a_minute(
    store: KeyStore, pepper: Pepper, make_authenticator: MakeAuthenticator
) -> None:
    record, key = await create_key(store, pepper, "dgfip", "chatbot")
    counting = CountingStore(store)
    clock = [5000.0]
    authenticator = await make_authenticator(
        counting, pepper, monotonic=lambda: clock[0], flush_interval=3600
    )
    for _ in range(50):
        await authenticator.authenticate(bearer(key), CLIENT)
    assert counting.calls["touch"] == 0  # nothing written while serving
    await authenticator.flush_touches()
    assert counting.calls["touch"] == 1
    stored = await store.get(record.id)
    assert stored is not None and stored.last_used is not None
    assert abs(stored.last_used - time.time()) < 5
    clock[0] += 30
    await authenticator.authenticate(bearer(key), CLIENT)
    await authenticator.flush_touches()
    assert counting.calls["touch"] == 1
    clock[0] += 31
    await authenticator.authenticate(bearer(key), CLIENT)
    await authenticator.flush_touches()
    assert counting.calls["touch"] == 2


@pytest.mark.asyncio
async def test_bootstrap_admin_key(
    store: KeyStore, pepper: Pepper, make_authenticator: MakeAuthenticator
) -> None:
    admin = "adm-" + os.urandom(24).hex()
    authenticator = await make_authenticator(store, pepper, admin_key=AdminKey(admin))
    principal = await authenticator.authenticate(bearer(admin), CLIENT)
    assert principal is BOOTSTRAP_ADMIN
    assert principal == Principal(
        key_id="bootstrap-admin", department="*", service="platform", roles=("admin",)
    )
    assert (
        await rejection(authenticator, bearer(admin[:-1] + ("0" if admin[-1] != "0" else "1")))
    ).reason == ("malformed key")
    without = await make_authenticator(store, pepper)
    await rejection(without, bearer(admin))
    assert admin not in repr(AdminKey(admin))


@pytest.mark.asyncio
async def test_the_limiter_refuses_one_address_and_not_another(
    store: KeyStore, pepper: Pepper, make_authenticator: MakeAuthenticator
) -> None:
    _, key = await create_key(store, pepper, "dgfip", "chatbot")
    limiter = FailureLimiter(5, window=60, block_seconds=30)
    authenticator = await make_authenticator(store, pepper, limiter=limiter)
    for _ in range(5):
        with pytest.raises(AuthenticationFailed):
            await authenticator.authenticate("Bearer guess", "10.0.0.1")
    with pytest.raises(TooManyFailedAttempts) as caught:
        await authenticator.authenticate(bearer(key), "10.0.0.1")  # even a good key
    error = caught.value
    assert error.status_code == 429
    assert error.code == "rate_limit_exceeded"
    assert 1 <= int(error.headers["retry-after"]) <= 30
    assert (await authenticator.authenticate(bearer(key), "10.0.0.2")).department == "dgfip"


@pytest.mark.asyncio
async def test_cache_is_not_used_without_a_live_change_subscription(store: KeyStore, pepper: Pepper) -> None:
    _, key = await create_key(store, pepper, "dgfip", "chatbot")
    counting = CountingStore(store)
    authenticator = Authenticator(counting, pepper)  # never started: nobody would tell it of changes
    for _ in range(3):
        await authenticator.authenticate(bearer(key), CLIENT)
    assert counting.calls["get"] == 3
    await authenticator.close()


@pytest.mark.asyncio
async def test_cache_max_age_is_a_safety_net(
    store: KeyStore, pepper: Pepper, make_authenticator: MakeAuthenticator
) -> None:
    _, key = await create_key(store, pepper, "dgfip", "chatbot")
    counting = CountingStore(store)
    clock = [0.0]
    authenticator = await make_authenticator(counting, pepper, cache_max_age=60.0, monotonic=lambda: clock[0])
    await authenticator.authenticate(bearer(key), CLIENT)
    clock[0] += 59
    await authenticator.authenticate(bearer(key), CLIENT)
    assert counting.calls["get"] == 1
    clock[0] += 2
    await authenticator.authenticate(bearer(key), CLIENT)
    assert counting.calls["get"] == 2


@pytest.mark.asyncio
async def test_authenticator_repr_holds_no_secret(store: KeyStore, pepper: Pepper) -> None:
    admin = "x" * 40
    authenticator = Authenticator(store, pepper, admin_key=AdminKey(admin))
    text = repr(authenticator)
    assert text.startswith("Authenticator(")
    assert pepper.reveal().hex() not in text and repr(pepper.reveal()) not in text and admin not in text
