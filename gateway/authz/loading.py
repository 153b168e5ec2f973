"""From the two files to a `PolicySnapshot`, checked all the way, or a `PolicyError`."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from casbin.util.log import DEFAULT_LOGGING  # type: ignore[import-untyped]

from gateway.authz.casbin_model import load_model, new_enforcer
from gateway.authz.errors import PolicyError
from gateway.authz.rules import parse_policy
from gateway.authz.snapshot import DEFAULT_CACHE_SIZE, PolicySnapshot
from gateway.authz.sources import PolicyTexts, read_policy_files

__all__ = ["compile_policy", "load_policy"]


def _silence_casbin() -> None:
    """Casbin logs every model, policy line and decision (a denial at WARNING, with the department,
    service and model). Its own `disabled_logging()` sets `Logger.disabled`, which any later
    `logging.config.dictConfig` (uvicorn's, at start) clears again; a level stays."""
    for name in DEFAULT_LOGGING["loggers"]:
        logging.getLogger(name).setLevel(logging.ERROR)


def compile_policy(texts: PolicyTexts, *, cache_size: int = DEFAULT_CACHE_SIZE) -> PolicySnapshot:
    """Check and build a policy from the files' contents. Nothing is shared with any other snapshot,
    so this may run in a worker thread while the current policy keeps answering."""
    model = load_model(texts.model_text, texts.model_file)
    parsed = parse_policy(texts.policy_text, texts.policy_file)
    _silence_casbin()
    try:
        enforcer = new_enforcer(model)
        rows = enforcer.model["p"]["p"].policy
        rows.extend(permission.row for permission in parsed.permissions)
        enforcer.model["g"]["g"].policy.extend(grant.row for grant in parsed.grants)
        enforcer.build_role_links()
    except Exception as exc:  # Casbin reports model problems as assorted exceptions
        raise PolicyError(texts.model_file, [f"Casbin cannot use this model: {exc}"]) from None
    snapshot = PolicySnapshot(enforcer=enforcer, policy=parsed, texts=texts, cache_size=cache_size)
    problems = snapshot.self_check()
    if problems:
        raise PolicyError(texts.model_file, problems)
    return snapshot


def load_policy(
    model_file: str | os.PathLike[str],
    policy_file: str | os.PathLike[str],
    *,
    cache_size: int = DEFAULT_CACHE_SIZE,
) -> PolicySnapshot:
    """Read both files and build the policy, or raise `PolicyError` naming the file and the problem."""
    return compile_policy(read_policy_files(Path(model_file), Path(policy_file)), cache_size=cache_size)
