"""Where a stored response lives and who created it, and the protocol of the stores that keep it."""

from __future__ import annotations

from typing import Protocol

import msgspec

__all__ = ["ResponseHome", "ResponseHomes", "decode_home", "encode_home"]


class ResponseHome(msgspec.Struct, frozen=True, array_like=True):
    """One response's backend and owner: what routing and the department check need, nothing more."""

    backend: str
    """The backend's URL, as configured."""
    model: str
    """The model it was created with: its policy decides whether the caller may read it."""
    department: str
    service: str


_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(ResponseHome)


def encode_home(home: ResponseHome) -> bytes:
    return _encoder.encode(home)


def decode_home(raw: bytes | str) -> ResponseHome | None:
    """None for a value this version cannot read (written by another one): treated as unknown."""
    try:
        return _decoder.decode(raw)
    except msgspec.DecodeError:
        return None


class ResponseHomes(Protocol):
    """Response id -> home, each entry forgotten `ttl` seconds after it was recorded.

    Both methods raise `ResponseStoreUnavailable` when the store cannot be reached."""

    async def record(self, response_id: str, home: ResponseHome, ttl: int) -> None: ...

    async def find(self, response_id: str) -> ResponseHome | None: ...

    async def close(self) -> None: ...
