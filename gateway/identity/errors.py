"""Errors of the identity package.

Three reach clients, in OpenAI's shape, through `gateway.errors.GatewayError`:

    GatewayError
    ├── AuthenticationFailed        401 invalid_api_key, one answer for every kind of bad key
    ├── TooManyFailedAttempts       429 rate_limit_exceeded, an address that failed too often
    └── AuthenticationUnavailable   503 the key store cannot be reached (fail closed, not 401)

The others are for operators and the command line; their messages are meant for a person:

    IdentityError
    ├── CredentialError     a secret (pepper, admin key, Redis password) is missing or unusable
    ├── InvalidKeyRequest   a name, role, duration or label that key management refuses
    ├── UnknownKey          no key has this id
    ├── DuplicateKeyId      a store already holds a key with this id (random ids: practically never)
    └── KeyStoreError       the store failed (SQLite or Redis error), mapped at the store's boundary

No message of any of them ever quotes a key, a secret, a pepper or a hash.
"""

from __future__ import annotations

import math

from gateway.errors import GatewayError

__all__ = [
    "AuthenticationFailed",
    "AuthenticationUnavailable",
    "CredentialError",
    "DuplicateKeyId",
    "IdentityError",
    "InvalidKeyRequest",
    "KeyStoreError",
    "TooManyFailedAttempts",
    "UnknownKey",
]


class AuthenticationFailed(GatewayError):
    """The request carries no usable API key.

    Missing header, other scheme, malformed, unknown, wrong secret, expired and revoked all give
    the same status, message and code, so that a caller cannot probe which key ids exist or which
    keys were revoked. `reason` says which it was, for logs and metrics only.
    """

    status_code = 401
    error_type = "invalid_request_error"
    code = "invalid_api_key"
    MESSAGE = "Invalid API key provided."

    def __init__(self, reason: str) -> None:
        super().__init__(self.MESSAGE, headers={"www-authenticate": "Bearer"})
        self.reason = reason

    def __repr__(self) -> str:
        return f"AuthenticationFailed(reason={self.reason!r})"


class TooManyFailedAttempts(GatewayError):
    """The client's address failed authentication too often; refused until `retry_after` seconds."""

    status_code = 429
    # OpenAI answers request-rate limits with type "requests"; the SDKs key on the status code.
    error_type = "requests"
    code = "rate_limit_exceeded"

    def __init__(self, retry_after: float) -> None:
        seconds = max(1, math.ceil(retry_after))
        super().__init__(
            f"Too many failed authentication attempts from your address; retry in {seconds} s.",
            headers={"retry-after": str(seconds)},
        )
        self.retry_after = seconds


class AuthenticationUnavailable(GatewayError):
    """A key that is not in the cache could not be checked because the store failed."""

    status_code = 503
    error_type = "server_error"
    code = "authentication_unavailable"

    def __init__(self) -> None:
        super().__init__(
            "The gateway cannot check API keys right now; retry shortly.", headers={"retry-after": "1"}
        )


class IdentityError(Exception):
    """Base of the identity errors that are not HTTP answers."""


class CredentialError(IdentityError):
    """A secret the gateway needs is missing, too short, ambiguous or unreadable."""


class InvalidKeyRequest(IdentityError, ValueError):
    """Key management input that does not follow the rules (names, roles, durations, labels).

    `param` names the request parameter at fault, as OpenAI's error bodies do, when the input was
    checked on its own (the department to list, the roles, the key id); None otherwise."""

    def __init__(self, message: str, *, param: str | None = None) -> None:
        super().__init__(message)
        self.param = param


class UnknownKey(IdentityError, LookupError):
    """No key has the given id."""


class DuplicateKeyId(IdentityError):
    """The store already holds a key with this id."""


class KeyStoreError(IdentityError):
    """The key store failed: SQLite or Redis errors, mapped where they happen."""
