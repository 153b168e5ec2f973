"""The heads of the configured audit log's chains: what a statement is signed off with.

A chain's head is its last line's `seq` and SHA-256 (`VerifyResult.last_hash`): written on a monthly
statement, it commits the statement to the audit log as it stood when the statement was issued.
Anyone holding the statement can later run `gateway audit verify` and check that the log still
holds that line, with that hash, at that position: a log cut or rewritten since no longer does.

With `{worker}` in `audit.path` each worker writes its own chain: every one of them is listed. Each
is verified whole on the way (a statement built on a broken log says so).
"""

from __future__ import annotations

import re
from pathlib import Path

import msgspec

from gateway.audit.files import WORKER_PLACEHOLDER, series_files, series_in
from gateway.audit.settings import STDOUT, AuditConfig
from gateway.audit.verify import verify_chain

__all__ = ["ChainHead", "chain_heads"]


class ChainHead(msgspec.Struct, frozen=True):
    file: str
    """The chain's current (last) file."""
    records: int
    seq: int | None
    """The last line's `seq`; None for an empty chain."""
    sha256: str | None
    """The last line's SHA-256, hex."""
    intact: bool
    """Whether `gateway audit verify` finds the whole chain intact."""


def _chains(template: str) -> list[list[Path]]:
    if WORKER_PLACEHOLDER not in template:
        series = series_files(Path(template))
        return [series] if series else []
    pattern = Path(template)
    directory = pattern.parent
    if not directory.is_dir():
        return []
    head, _, tail = pattern.name.partition(WORKER_PLACEHOLDER)
    name = re.compile(re.escape(head) + r"\d+" + re.escape(tail))
    return [chain for chain in series_in(directory) if chain and name.fullmatch(_base(chain[-1]).name)]


def _base(path: Path) -> Path:
    return path.with_name(re.sub(r"\.\d{6,}\Z", "", path.name))


def chain_heads(config: AuditConfig) -> list[ChainHead]:
    """The head of each chain of the configured audit log; empty when it is off, unchained or on
    standard output. Raises `AuditError` when a file cannot be read."""
    if not config.enabled or not config.hash_chain or config.path == STDOUT:
        return []
    heads = []
    for chain in _chains(config.path):
        result = verify_chain(chain, partial=config.keep_files is not None)
        heads.append(
            ChainHead(str(_base(chain[-1])), result.records, result.last_seq, result.last_hash, result.intact)
        )
    return heads
