"""Key material never reaches a log record, an error message or a repr."""

from __future__ import annotations

import argparse
import io
import logging
import traceback
from collections.abc import Awaitable, Callable
from datetime import timedelta

import pytest

from gateway.identity import (
    AuthenticationFailed,
    Authenticator,
    FailureLimiter,
    IdentityError,
    KeyStore,
    Pepper,
    TooManyFailedAttempts,
    create_key,
    revoke_key,
)
from gateway.identity.cli import add_key_commands, run_key_command
from gateway.identity.keys import generate_key, hash_key

MakeAuthenticator = Callable[..., Awaitable[Authenticator]]


def secret_part(key: str) -> str:
    return key.split("_", 2)[2]


@pytest.mark.asyncio
async def test_no_key_material_in_logs_errors_or_reprs(
    store: KeyStore, pepper: Pepper, make_authenticator: MakeAuthenticator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    record, key = await create_key(store, pepper, "dgfip", "chatbot", expires_in=timedelta(days=1), label="t")
    expired, expired_key = await create_key(
        store, pepper, "dgfip", "chatbot", expires_in=timedelta(seconds=1), now=1
    )
    wrong = generate_key(record.id)[1]
    unknown = generate_key()[1]
    garbage = "sgw_" + secret_part(key)  # something a client might paste by mistake
    authenticator = await make_authenticator(store, pepper, limiter=FailureLimiter(5, block_seconds=60))

    principal = await authenticator.authenticate(f"Bearer {key}", "10.1.1.1")
    errors: list[BaseException] = []
    for header in (f"Bearer {wrong}", f"Bearer {unknown}", f"Bearer {expired_key}", f"Bearer {garbage}",
                   f"Basic {key}", f"Bearer {key[:-2]}", f"Bearer {key}"):  # fmt: skip
        try:
            await authenticator.authenticate(header, "10.6.6.6")
        except (AuthenticationFailed, TooManyFailedAttempts) as exc:
            errors.append(exc)
    assert isinstance(errors[-1], TooManyFailedAttempts)  # the limiter spoke, and logged
    await revoke_key(store, record.id)
    try:
        await revoke_key(store, wrong[:-1])
    except IdentityError as exc:
        errors.append(exc)
    await authenticator.flush_touches()

    root = argparse.ArgumentParser()
    add_key_commands(root.add_subparsers(dest="command"))
    out, err = io.StringIO(), io.StringIO()
    await run_key_command(root.parse_args(["keys", "list"]), store, lambda: pepper, out=out, err=err)

    secrets = [key, secret_part(key), wrong, secret_part(wrong), secret_part(unknown), secret_part(expired_key),
               hash_key(pepper, key), pepper.reveal().hex()]  # fmt: skip
    texts = [caplog.text, out.getvalue(), err.getvalue(), repr(principal), repr(record), repr(expired),
             repr(authenticator), repr(pepper)]  # fmt: skip
    for record_ in caplog.records:
        texts.append(record_.getMessage())
        texts.append(repr(record_.args))
    for error in errors:
        texts += [str(error), repr(error), "".join(traceback.format_exception(error))]
    # The failures were logged, with their reason and display prefix, just not their keys.
    for reason in (
        "wrong secret",
        "unknown key id",
        "expired key",
        "malformed key",
        "not a bearer token",
        "refusing",
    ):
        assert reason in caplog.text
    assert record.prefix in caplog.text
    for text in texts:
        for secret in secrets:
            assert secret not in text
        assert secret_part(key)[:12] not in text
