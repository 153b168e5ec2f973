"""Whose `X-Forwarded-For` the failed-authentication limiter believes, in a real `gateway serve`.

Clients get addresses of their own in the loopback range (127.0.0.2, 127.0.0.3, ...), so a limit on
one address can be seen not to touch another. 127.0.0.1 is where a reverse proxy on the same host
would connect from, which uvicorn alone would believe.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.gateway.served import ADMIN_KEY, ServedGateway, served_gateway

BAD_KEY = "Bearer sgw_aaaaaaaaaaaa_" + "A" * 43
FAILURES_BEFORE_BLOCK = 20  # auth.failed_auth_per_minute's default


@contextmanager
def _client_from(address: str) -> Iterator[httpx.Client]:
    transport = httpx.HTTPTransport(local_address=address)
    with httpx.Client(transport=transport, timeout=10) as client:
        yield client


def _models(client: httpx.Client, gateway: ServedGateway, authorization: str, forwarded: str | None) -> int:
    headers = {"authorization": authorization}
    if forwarded is not None:
        headers["x-forwarded-for"] = forwarded
    return client.get(f"{gateway.url}/v1/models", headers=headers).status_code


def test_forwarded_for_is_not_believed_by_default(tmp_path: Path) -> None:
    with served_gateway(tmp_path) as gateway:
        # Bad keys, each claiming another address: the limiter counts them against the real one.
        with _client_from("127.0.0.1") as sprayer:
            statuses = [_models(sprayer, gateway, BAD_KEY, f"198.51.100.{number}") for number in range(60)]
        assert statuses[:FAILURES_BEFORE_BLOCK] == [401] * FAILURES_BEFORE_BLOCK
        assert set(statuses[FAILURES_BEFORE_BLOCK:]) == {429}
        # Bad keys claiming a neighbour's address do not lock the neighbour out.
        with _client_from("127.0.0.1") as framer:
            for _ in range(FAILURES_BEFORE_BLOCK):
                _models(framer, gateway, BAD_KEY, "127.0.0.4")
        with _client_from("127.0.0.4") as neighbour:
            assert _models(neighbour, gateway, f"Bearer {ADMIN_KEY}", None) == 200


def test_forwarded_for_is_believed_from_listed_proxies_only(tmp_path: Path) -> None:
    extra = "server: {trusted_proxies: ['127.0.0.5', '127.0.1.0/24']}\n"
    with served_gateway(tmp_path, extra) as gateway:
        with _client_from("127.0.0.5") as proxy:
            for _ in range(FAILURES_BEFORE_BLOCK):
                _models(proxy, gateway, BAD_KEY, "203.0.113.1")
            assert _models(proxy, gateway, f"Bearer {ADMIN_KEY}", "203.0.113.1") == 429
            # The proxy's other clients are not affected.
            assert _models(proxy, gateway, f"Bearer {ADMIN_KEY}", "203.0.113.2") == 200
        with _client_from("127.0.1.7") as proxy_in_range:
            assert _models(proxy_in_range, gateway, f"Bearer {ADMIN_KEY}", "203.0.113.1") == 429
        # Not listed: its header is not believed, its failures count against its own address.
        with _client_from("127.0.0.6") as stranger:
            for _ in range(FAILURES_BEFORE_BLOCK):
                _models(stranger, gateway, BAD_KEY, "203.0.113.2")
            assert _models(stranger, gateway, f"Bearer {ADMIN_KEY}", "203.0.113.3") == 429
        with _client_from("127.0.0.5") as proxy:
            assert _models(proxy, gateway, f"Bearer {ADMIN_KEY}", "203.0.113.2") == 200


def test_a_forwarded_address_is_escaped_in_the_log(tmp_path: Path) -> None:
    # U+0085 (NEL) arrives as the byte 0x85, which HTTP allows in a header value and which several
    # log readers take for a line break; the text after it would pass for a log line of its own.
    forged = "203.0.113.9\x85WARNING gateway: all good"
    extra = "server: {trusted_proxies: ['127.0.0.5']}\n"
    with served_gateway(tmp_path, extra, log_level="debug") as gateway, _client_from("127.0.0.5") as proxy:
        response = proxy.get(
            f"{gateway.url}/v1/models",
            headers={b"authorization": BAD_KEY.encode(), b"x-forwarded-for": forged.encode("latin-1")},
        )
        assert response.status_code == 401
    log = gateway.stderr()
    assert "authentication failed from" in log
    assert "\x85" not in log
    assert "'203.0.113.9\\x85WARNING gateway: all good'" in log
