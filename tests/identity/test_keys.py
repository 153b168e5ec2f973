"""Key material: shape, parsing, hashing, and what may be shown."""

from __future__ import annotations

import base64
import hmac
import os
import re

import pytest

from gateway.identity import KeyRecord, Pepper, display_prefix, generate_key, hash_key, parse_key, verify_key
from gateway.identity.keys import KEY_LENGTH, is_key_id

KEY_SHAPE = re.compile(r"sgw_[a-z2-7]{12}_[A-Za-z0-9_-]{43}")


def test_generated_keys_have_the_documented_shape_and_parse_back() -> None:
    seen: set[str] = set()
    for _ in range(500):
        key_id, key = generate_key()
        assert KEY_SHAPE.fullmatch(key), key[:16]
        assert len(key) == KEY_LENGTH == 60
        assert key.startswith(f"sgw_{key_id}_")
        assert parse_key(key) == (key_id, key)
        secret = key.split("_", 2)[2]
        assert len(base64.urlsafe_b64decode(secret + "=")) == 32
        seen.add(key_id)
    assert len(seen) == 500  # 60 random bits: no repeats


def test_display_prefix_is_sgw_and_the_id_only() -> None:
    key_id, key = generate_key()
    assert display_prefix(key) == f"sgw_{key_id}" == key[:16]
    assert display_prefix(key_id) == f"sgw_{key_id}"


@pytest.mark.parametrize(
    "text",
    [
        "",
        "sgw_",
        "Bearer sgw_abcdefghijkl_" + "A" * 43,
        "sgw_abcdefghijkl_" + "A" * 42,  # short
        "sgw_abcdefghijkl_" + "A" * 44,  # long
        "sgw_ABCDEFGHIJKL_" + "A" * 43,  # upper-case id
        "sgw_abcdefghijk1_" + "A" * 43,  # 1 is not base32
        "sgx_abcdefghijkl_" + "A" * 43,  # other prefix
        "sgw_abcdefghijkl-" + "A" * 43,  # other separator
        "sgw_abcdefghijkl_" + "A" * 42 + "=",  # padding
        "sgw_abcdefghijkl_" + "A" * 42 + "B",  # non-canonical last character
        "sgw_abcdefghijkl_" + "A" * 41 + "é" + "A",  # non-ASCII
        "sgw_abcdefghijkl_" + "A" * 41 + " A",
    ],
)
def test_parse_key_rejects_malformed_text(text: str) -> None:
    assert parse_key(text) is None


def test_parse_key_accepts_a_well_formed_key() -> None:
    key = "sgw_abcdefghijkl_" + "A" * 43
    assert parse_key(key) == ("abcdefghijkl", key)
    assert is_key_id("abcdefghijkl")
    assert not is_key_id("abcdefghijk")


def test_hash_is_an_hmac_of_the_whole_key_and_depends_on_the_pepper() -> None:
    _, key = generate_key()
    pepper, other = Pepper(os.urandom(32)), Pepper(os.urandom(32))
    stored = hash_key(pepper, key)
    assert re.fullmatch(r"[0-9a-f]{64}", stored)
    assert key not in stored and key.split("_", 2)[2] not in stored
    assert verify_key(pepper, key, stored)
    assert not verify_key(other, key, stored)
    assert hash_key(other, key) != stored
    _, another_key = generate_key()
    assert not verify_key(pepper, another_key, stored)
    assert not verify_key(pepper, key, "not hex")


@pytest.mark.parametrize("length", [32, 63, 64, 65, 200])
def test_pepper_digest_is_standard_hmac_sha256(length: int) -> None:
    value = os.urandom(length)
    for message in (b"", b"sgw_abcdefghijkl_" + b"A" * 43, os.urandom(300)):
        assert Pepper(value).digest(message) == hmac.digest(value, message, "sha256")


def test_pepper_is_at_least_32_bytes_and_never_shown() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        Pepper(b"x" * 31)
    value = os.urandom(32)
    pepper = Pepper(value)
    assert value.hex() not in repr(pepper) and repr(value) not in repr(pepper)
    assert str(pepper) == repr(pepper) == "Pepper(<hidden>)"
    assert pepper == Pepper(value) and pepper != Pepper(os.urandom(32))


def test_record_repr_shows_no_hash() -> None:
    key_id, key = generate_key()
    stored = hash_key(Pepper(os.urandom(32)), key)
    record = KeyRecord(
        id=key_id,
        prefix=display_prefix(key),
        hash=stored,
        department="dgfip",
        service="chatbot",
        roles=("user",),
        created=1_700_000_000,
    )
    for text in (repr(record), str(record), f"{record}", repr([record])):
        assert stored not in text
        assert key not in text
        assert key_id in text
    assert record.principal().department == "dgfip"
    assert record.status(1_700_000_000) == "active"
