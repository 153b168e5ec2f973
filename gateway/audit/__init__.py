"""The audit log: one JSON line per request, optionally hash-chained, written off the request path.

    line.py       AuditLine (the line's format: ids, decision, counts, costs; no content), audit_line,
                  audit_time, rule_text
    writer.py     AuditLog: `write()` queues, a writer thread appends batches; start_audit_log
    sink.py       the file (locked, resumed, rotated) or standard output behind the writer
    chain.py      seq + prev (SHA-256 of the previous line), the genesis value, ChainState
    files.py      rotated names, series, `{worker}` files and their locks, the last line on disk
    verify.py     verify_chain: where a chain breaks, and how
    cli.py        `gateway audit verify ...` (also `python -m gateway.audit audit verify ...`)
    settings.py   the `audit` configuration section
    errors.py     AuditError

See docs/audit.md.
"""

from gateway.audit.chain import GENESIS, ChainedAuditLine, ChainState, line_hash
from gateway.audit.cli import add_audit_commands, chains_to_verify, run_audit_command
from gateway.audit.errors import AuditError
from gateway.audit.files import rotated_files, rotated_path, series_files, series_in
from gateway.audit.line import AuditDecision, AuditLine, audit_line, audit_time, rule_text
from gateway.audit.settings import AuditConfig
from gateway.audit.verify import ChainProblem, ProblemKind, VerifyResult, verify_chain
from gateway.audit.writer import AuditLog, AuditStats, start_audit_log

__all__ = [
    "GENESIS",
    "AuditConfig",
    "AuditDecision",
    "AuditError",
    "AuditLine",
    "AuditLog",
    "AuditStats",
    "ChainProblem",
    "ChainState",
    "ChainedAuditLine",
    "ProblemKind",
    "VerifyResult",
    "add_audit_commands",
    "audit_line",
    "audit_time",
    "chains_to_verify",
    "line_hash",
    "rotated_files",
    "rotated_path",
    "rule_text",
    "run_audit_command",
    "series_files",
    "series_in",
    "start_audit_log",
    "verify_chain",
]
