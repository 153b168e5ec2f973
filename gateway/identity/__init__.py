"""Identity and access, the key part: API keys, their stores, and authenticating requests.

    keys.py           key material: `sgw_<id>_<secret>`, stored as HMAC-SHA256(pepper, key)
    credentials.py    the pepper, the bootstrap admin key, store passwords: env var or `<VAR>_FILE`
    records.py        KeyRecord (what is stored), Principal (what the pipeline gets)
    store.py          the KeyStore interface, change notification included
    embedded.py       SQLite store (one process)         redis_store.py  Redis store (shared)
    authenticator.py  header -> Principal, cached, invalidated by changes
    limiter.py        per-address limit on failed authentications
    management.py     create, list, revoke (command line and admin API)
    cli.py            `gateway keys ...`
    settings.py       the `auth` configuration section (the `store` one is gateway.storage's)
    factory.py        configuration -> store, pepper, authenticator
    errors.py         the errors, HTTP ones included

`redis_store` is not imported here, so that processes without Redis never load redis-py.
"""

from gateway.identity.authenticator import BOOTSTRAP_ADMIN, Authenticator, presented_authorization
from gateway.identity.credentials import AdminKey, load_admin_key, load_pepper, read_secret
from gateway.identity.embedded import EmbeddedKeyStore
from gateway.identity.errors import (
    AuthenticationFailed,
    AuthenticationUnavailable,
    CredentialError,
    DuplicateKeyId,
    IdentityError,
    InvalidKeyRequest,
    KeyStoreError,
    TooManyFailedAttempts,
    UnknownKey,
)
from gateway.identity.factory import admin_key_for, build_authenticator, open_key_store, pepper_for
from gateway.identity.keys import Pepper, display_prefix, generate_key, hash_key, parse_key, verify_key
from gateway.identity.limiter import FailureLimiter
from gateway.identity.management import create_key, list_keys, parse_duration, revoke_key
from gateway.identity.records import KeyRecord, Principal
from gateway.identity.settings import AuthConfig
from gateway.identity.store import ChangeCallback, KeyStore

__all__ = [
    "BOOTSTRAP_ADMIN",
    "AdminKey",
    "AuthConfig",
    "AuthenticationFailed",
    "AuthenticationUnavailable",
    "Authenticator",
    "ChangeCallback",
    "CredentialError",
    "DuplicateKeyId",
    "EmbeddedKeyStore",
    "FailureLimiter",
    "IdentityError",
    "InvalidKeyRequest",
    "KeyRecord",
    "KeyStore",
    "KeyStoreError",
    "Pepper",
    "Principal",
    "TooManyFailedAttempts",
    "UnknownKey",
    "admin_key_for",
    "build_authenticator",
    "create_key",
    "display_prefix",
    "generate_key",
    "hash_key",
    "list_keys",
    "load_admin_key",
    "load_pepper",
    "open_key_store",
    "parse_duration",
    "parse_key",
    "pepper_for",
    "presented_authorization",
    "read_secret",
    "revoke_key",
    "verify_key",
]
