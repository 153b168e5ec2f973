"""Console sessions as signed, self-contained cookies: nothing is kept on the server but sign-outs.

A session cookie is `<payload>.<signature>`, both base64url without padding: the payload is a small
JSON object (key id, department, service, roles, issue and expiry times, a random nonce, and for the
bootstrap admin key a fingerprint of that key), the signature HMAC-SHA256 of the payload under the
console's secret. Any worker or replica holding the same secret accepts it, so several workers need
no shared session store. The API key itself is never in it.

A valid signature only says "this key signed in, and the session has not expired": `auth.py` checks
the key again on every request (revoked, expired or deleted keys end their sessions at once), and
`access.py` asks the policy in force what the key may do.

Signing out records the session's `ended_id` in the key store until the session would have expired
(`auth.py`), so that a copy of the cookie stops working too, on every worker and replica.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets

import msgspec

from gateway.identity import Principal

__all__ = ["SESSION_VERSION", "Session", "SessionCodec", "derive_secret"]

SESSION_VERSION = 1
_MAX_COOKIE = 4096
_DERIVATION_LABEL = b"sovereign-gateway/console/session/v1"
_ENDED_LABEL = b"sovereign-gateway/console/ended/v1\0"


class Session(msgspec.Struct, frozen=True, kw_only=True):
    """What a session cookie says."""

    v: int
    kid: str
    """The key id (`bootstrap-admin` for the bootstrap key)."""
    dep: str
    svc: str
    roles: tuple[str, ...]
    iat: int
    """Issued at (epoch seconds)."""
    exp: int
    """Expires at (epoch seconds)."""
    nonce: str
    """Random, per sign-in: CSRF tokens are derived from it."""
    fp: str | None = None
    """Bootstrap admin key only: a fingerprint of that key, so that changing it ends its sessions."""
    idp: str | None = None
    """The identity provider (its configured name) a person signed in with; None for an API key."""

    def principal(self) -> Principal:
        return Principal(key_id=self.kid, department=self.dep, service=self.svc, roles=self.roles)

    def ended_id(self) -> str:
        """What the store keeps of a signed-out session: a digest of its nonce, since the nonce
        itself binds the session's CSRF tokens and is nobody else's to read."""
        return hashlib.sha256(_ENDED_LABEL + self.nonce.encode("ascii", "replace")).hexdigest()[:32]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def derive_secret(pepper: bytes) -> bytes:
    """The signing secret when none is configured: HMAC(pepper, a fixed label). The pepper is the same
    on every replica (it must be, for keys to verify), so the derived secret is too."""
    return hmac.digest(pepper, _DERIVATION_LABEL, hashlib.sha256)


class SessionCodec:
    """Issues and checks session cookies, and derives what is bound to them."""

    def __init__(self, secret: bytes) -> None:
        if len(secret) < 32:
            raise ValueError("the console's session secret must be at least 32 bytes")
        self._secret = secret
        self._encode = msgspec.json.Encoder().encode
        self._decode = msgspec.json.Decoder(Session).decode

    def __repr__(self) -> str:
        return "SessionCodec(<secret hidden>)"

    def _sign(self, purpose: bytes, data: bytes) -> bytes:
        return hmac.digest(self._secret, purpose + b"\0" + data, hashlib.sha256)

    def seal(self, purpose: bytes, payload: bytes) -> str:
        """`payload` signed for `purpose`, as cookie text."""
        return f"{_b64(payload)}.{_b64(self._sign(purpose, payload))}"

    def unseal(self, purpose: bytes, text: str | None) -> bytes | None:
        """The payload `seal` signed for `purpose`, or None if missing, forged or malformed."""
        if not text or len(text) > _MAX_COOKIE or text.count(".") != 1:
            return None
        encoded, signature = text.split(".")
        try:
            payload = _unb64(encoded)
            given = _unb64(signature)
        except (binascii.Error, ValueError):
            return None
        if not hmac.compare_digest(given, self._sign(purpose, payload)):
            return None
        return payload

    def issue(
        self,
        principal: Principal,
        now: int,
        minutes: int,
        *,
        fingerprint: str | None = None,
        provider: str | None = None,
    ) -> str:
        session = Session(
            v=SESSION_VERSION,
            kid=principal.key_id,
            dep=principal.department,
            svc=principal.service,
            roles=principal.roles,
            iat=now,
            exp=now + minutes * 60,
            nonce=secrets.token_urlsafe(16),
            fp=fingerprint,
            idp=provider,
        )
        return self.seal(b"session", self._encode(session))

    def read(self, cookie: str | None, now: float) -> Session | None:
        """The session in `cookie`, or None if it is missing, forged, malformed or expired."""
        payload = self.unseal(b"session", cookie)
        if payload is None:
            return None
        try:
            session = self._decode(payload)
        except msgspec.DecodeError:  # ValidationError included
            return None
        if session.v != SESSION_VERSION or not session.iat <= now < session.exp:
            return None
        return session

    def fingerprint(self, admin_key: str) -> str:
        """What a session of the bootstrap admin key carries instead of the key."""
        return _b64(self._sign(b"bootstrap-admin", admin_key.encode("utf-8"))[:16])

    def csrf_token(self, binding: str) -> str:
        """The form token bound to a session nonce (or to a sign-in cookie's value)."""
        return _b64(self._sign(b"csrf", binding.encode("ascii", "replace")))
