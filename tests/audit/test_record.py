"""The record: its JSON form, its time format, and what it can never hold."""

from __future__ import annotations

import json
import typing

import msgspec
import pytest

from gateway.audit import AuditRecord, ChainedAuditRecord, ChainState, audit_time, rule_text
from tests.audit.conftest import CHAINED_FIELDS, RECORD_FIELDS, START, make_record


def test_a_record_round_trips_through_its_json_line() -> None:
    for index in range(12):
        record = make_record(index)
        line = msgspec.json.encode(record)
        assert msgspec.json.decode(line, type=AuditRecord) == record


def test_the_line_has_exactly_the_fields_in_a_stable_order_null_included() -> None:
    record = make_record(1)  # odd index: trace_id is null, and null is written, not omitted
    assert list(json.loads(msgspec.json.encode(record))) == RECORD_FIELDS
    assert json.loads(msgspec.json.encode(record))["trace_id"] is None
    assert list(json.loads(msgspec.json.encode(make_record(0)))) == RECORD_FIELDS


def test_every_field_is_required() -> None:
    with pytest.raises(TypeError):
        AuditRecord(time=audit_time(START))  # type: ignore[call-arg]
    info = msgspec.inspect.type_info(AuditRecord)
    assert isinstance(info, msgspec.inspect.StructType)
    assert all(field.required for field in info.fields)


def test_a_chained_line_reads_back_as_a_chained_record_with_seq_and_prev_last() -> None:
    chain = ChainState()
    record = make_record(3)
    line = chain.link(msgspec.json.encode(record))
    assert list(json.loads(line)) == CHAINED_FIELDS
    chained = msgspec.json.decode(line, type=ChainedAuditRecord)
    assert (chained.seq, chained.prev) == (1, "0" * 64)
    assert msgspec.json.encode(chained) == line  # the splice is exactly the struct's own encoding
    assert msgspec.structs.asdict(chained) == {**msgspec.structs.asdict(record), "seq": 1, "prev": "0" * 64}


def test_time_is_rfc3339_utc_with_milliseconds() -> None:
    assert audit_time(START) == "2026-11-03T09:15:02.123Z"
    assert audit_time(START - 0.123) == "2026-11-03T09:15:02.000Z"
    # Truncated, never rounded up into the next second (or year).
    assert audit_time(1_798_761_599.9999) == "2026-12-31T23:59:59.999Z"
    now = audit_time()
    assert len(now) == len("2026-11-03T09:15:02.123Z") and now.endswith("Z")


def test_rule_text_writes_the_policy_line_as_the_policy_check_prints_it() -> None:
    assert rule_text(("p", "dgfip", "dgfip", "mistral-small", "chat", "allow")) == (
        "p, dgfip, dgfip, mistral-small, chat, allow"
    )
    assert rule_text(None) is None


# Each text field, and why it cannot carry a prompt, a secret or personal data.
_IDENTIFIERS = {
    "time": "a timestamp",
    "request_id": "the gateway's random id",
    "trace_id": "an OpenTelemetry id",
    "department": "an organisation's label",
    "service": "an application's label",
    "key_id": "a key's public id",
    "model": "a configured model name",
    "operation": "an operation name",
    "backend": "a configured URL",
    "decision": "allow or deny",
    "rule": "a line of the policy file",
}


def test_the_record_has_no_field_that_could_hold_prompt_text_or_a_secret() -> None:
    hints = typing.get_type_hints(AuditRecord)
    assert list(hints) == RECORD_FIELDS
    text_fields = {
        name for name, hint in hints.items() if name != "pii" and str in (hint, *typing.get_args(hint))
    }
    # Literal["allow", "deny"] has no `str` among its arguments, but is text all the same.
    text_fields.add("decision")
    assert text_fields == set(_IDENTIFIERS)
    # Personal data appears only as counts per entity type: never a value.
    assert hints["pii"] == dict[str, int]
    verdict, nothing = typing.get_args(hints["decision"])  # Literal["allow", "deny"] | None
    assert typing.get_args(verdict) == ("allow", "deny") and nothing is type(None)
    numbers = set(RECORD_FIELDS) - text_fields - {"pii"}
    assert all(hints[name] in (int, float) for name in numbers)
    suspicious = ("prompt_text", "messages", "content", "input", "secret", "password", "hash", "address")
    assert not [name for name in RECORD_FIELDS for word in suspicious if word in name]
    # No catch-all: a field added to a line is not an audit line.
    with pytest.raises(msgspec.ValidationError, match="unknown field"):
        msgspec.json.decode(
            msgspec.json.encode(
                {**msgspec.structs.asdict(make_record()), "seq": 1, "prev": "0" * 64, "x": 1}
            ),
            type=ChainedAuditRecord,
        )
