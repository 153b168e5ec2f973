"""Reading the two policy files in one go, with a digest of what was read.

The digest is what the hot reload compares: content, not modification times, decides whether the
policy changed, and the policy that gets compiled is exactly the bytes that were hashed.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from gateway.authz.errors import PolicyError

__all__ = ["PolicyTexts", "read_policy_files"]


@dataclass(frozen=True, slots=True)
class PolicyTexts:
    """The contents of model.conf and policy.csv as read together."""

    model_file: Path
    policy_file: Path
    model_text: str
    policy_text: str
    digest: str
    """SHA-256 over both files (hex): equal digests mean the same policy."""


def _read(path: Path) -> tuple[str, bytes]:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise PolicyError(path, ["no such file"]) from None
    except OSError as exc:
        raise PolicyError(path, [f"cannot be read: {exc.strerror or exc}"]) from None
    try:
        # utf-8-sig: a byte-order mark left by a Windows editor must not become part of the first rule.
        return data.decode("utf-8-sig"), data
    except UnicodeDecodeError as exc:
        raise PolicyError(path, [f"is not UTF-8 text (byte {exc.start})"]) from None


def read_policy_files(model_file: Path, policy_file: Path) -> PolicyTexts:
    """Read both files, or raise `PolicyError` naming the one that cannot be read."""
    model_text, model_bytes = _read(model_file)
    policy_text, policy_bytes = _read(policy_file)
    digest = hashlib.sha256()
    for data in (model_bytes, policy_bytes):
        digest.update(hashlib.sha256(data).digest())
    return PolicyTexts(model_file, policy_file, model_text, policy_text, digest.hexdigest())
