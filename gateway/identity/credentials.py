"""Where the gateway's own secrets come from: the key pepper, the bootstrap admin key, store passwords.

Each is read from an environment variable `NAME`, or from the file whose path is in `NAME_FILE`
(how Kubernetes mounts Secrets); setting both is an error rather than a silent choice. None of them
is ever written to the configuration file.

Rotating the pepper is not supported: every stored hash depends on it, so a new pepper invalidates
every key (they must then be created again). Keep it in the same backup as the store.
"""

from __future__ import annotations

import logging
import os
import secrets
import stat
import time
from collections.abc import Mapping
from pathlib import Path

from gateway.identity.errors import CredentialError
from gateway.identity.keys import MIN_PEPPER_BYTES, Pepper

__all__ = ["MIN_ADMIN_KEY_LENGTH", "AdminKey", "load_admin_key", "load_pepper", "read_secret"]

logger = logging.getLogger("gateway.identity")

MIN_ADMIN_KEY_LENGTH = 32
_PEPPER_HINT = 'generate one with: python -c "import secrets; print(secrets.token_urlsafe(48))"'


class AdminKey:
    """The bootstrap admin key. Its repr never shows the value."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        if len(value) < MIN_ADMIN_KEY_LENGTH:
            raise ValueError(f"the admin key must be at least {MIN_ADMIN_KEY_LENGTH} characters long")
        if not value.isascii() or not value.isprintable() or any(c.isspace() for c in value):
            raise ValueError("the admin key must be printable ASCII without spaces")
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "AdminKey(<hidden>)"

    __str__ = __repr__


def read_secret(name: str, environ: Mapping[str, str] | None = None) -> str | None:
    """The value of `$name`, or the content of the file named by `$name_FILE`, or None.

    Surrounding whitespace is dropped: files written with `echo` end with a newline.
    """
    env = os.environ if environ is None else environ
    direct = env.get(name)
    file_var = f"{name}_FILE"
    path = env.get(file_var)
    if direct and path:
        raise CredentialError(f"both {name} and {file_var} are set; keep only one")
    if direct:
        return direct.strip()
    if not path:
        return None
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or type(exc).__name__
        raise CredentialError(f"{file_var}: cannot read {path}: {reason}") from None
    value = text.strip()
    if not value:
        raise CredentialError(f"{file_var}: {path} is empty")
    return value


def _pepper(value: str, origin: str) -> Pepper:
    raw = value.encode("utf-8")
    if len(raw) < MIN_PEPPER_BYTES:
        raise CredentialError(
            f"{origin}: the key pepper must be at least {MIN_PEPPER_BYTES} bytes long; {_PEPPER_HINT}"
        )
    return Pepper(raw)


def load_pepper(
    env_name: str, *, generated_file: Path | None = None, environ: Mapping[str, str] | None = None
) -> Pepper:
    """The key pepper from `$env_name` or `$env_name_FILE`.

    `generated_file` is for the embedded store only: when neither variable is set, the pepper is read
    from that file, or generated once into it with mode 0600. Without it (the Redis store, shared by
    several replicas that must agree on the pepper) a missing pepper is an error.
    """
    value = read_secret(env_name, environ)
    if value is not None:
        return _pepper(value, env_name)
    if generated_file is None:
        raise CredentialError(
            f"no key pepper: set {env_name} or {env_name}_FILE (at least {MIN_PEPPER_BYTES} bytes, the "
            f"same on every replica); {_PEPPER_HINT}"
        )
    return _generated_pepper(generated_file, env_name)


def _generated_pepper(path: Path, env_name: str) -> Pepper:
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        # O_EXCL: when the server and `gateway keys` start together, one creates and the other reads.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return _read_pepper_file(path)
    except OSError as exc:
        raise CredentialError(f"cannot create the pepper file {path}: {exc.strerror}") from None
    value = secrets.token_urlsafe(48)
    with os.fdopen(fd, "w", encoding="utf-8") as file:
        file.write(value + "\n")
    logger.warning(
        "generated a key pepper in %s (mode 0600) because %s is not set; every key depends on it: back it "
        "up with the database, never share it, and set %s instead to manage it yourself",
        path,
        env_name,
        env_name,
    )
    return _pepper(value, str(path))


def _read_pepper_file(path: Path) -> Pepper:
    # Another process may have created the file a moment ago and still be writing it.
    deadline = time.monotonic() + 1.0
    while True:
        try:
            mode = path.stat().st_mode
            text = path.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            reason = getattr(exc, "strerror", None) or type(exc).__name__
            raise CredentialError(f"cannot read the pepper file {path}: {reason}") from None
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise CredentialError(f"the pepper file {path} is accessible to others; run: chmod 600 {path}")
        if text:
            return _pepper(text, str(path))
        if time.monotonic() > deadline:
            raise CredentialError(f"the pepper file {path} is empty; remove it to generate a new one")
        time.sleep(0.05)


def load_admin_key(env_name: str, environ: Mapping[str, str] | None = None) -> AdminKey | None:
    """The bootstrap admin key from `$env_name` or `$env_name_FILE`, or None when neither is set."""
    value = read_secret(env_name, environ)
    if value is None:
        return None
    try:
        return AdminKey(value)
    except ValueError as exc:
        raise CredentialError(f"{env_name}: {exc}") from None
