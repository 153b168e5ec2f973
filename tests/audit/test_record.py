"""The audit line: its JSON form, its time format, what it can never hold, and how a request's
record becomes one."""

from __future__ import annotations

import json
import typing

import msgspec
import pytest

from gateway.audit import AuditLine, ChainedAuditLine, ChainState, audit_line, audit_time, rule_text
from gateway.request_record import RequestRecord
from tests.audit.conftest import CHAINED_FIELDS, RECORD_FIELDS, START, make_line, make_record


def test_a_record_round_trips_through_its_json_line() -> None:
    for index in range(12):
        record = make_line(index)
        line = msgspec.json.encode(record)
        assert msgspec.json.decode(line, type=AuditLine) == record


def test_the_line_has_exactly_the_fields_in_a_stable_order_null_included() -> None:
    record = make_line(1)  # odd index: trace_id is null, and null is written, not omitted
    assert list(json.loads(msgspec.json.encode(record))) == RECORD_FIELDS
    assert json.loads(msgspec.json.encode(record))["trace_id"] is None
    assert list(json.loads(msgspec.json.encode(make_line(0)))) == RECORD_FIELDS


_ESTIMATES = ["energy_wh", "emissions_gco2eq"]  # written only on the lines of estimated requests


def test_every_field_is_required_but_the_estimates_written_only_when_made() -> None:
    with pytest.raises(TypeError):
        AuditLine(time=audit_time(START))  # type: ignore[call-arg]
    info = msgspec.inspect.type_info(AuditLine)
    assert isinstance(info, msgspec.inspect.StructType)
    optional = [field.name for field in info.fields if not field.required]
    assert optional == ["energy_wh", "emissions_gco2eq"]
    assert all(field.required for field in info.fields if field.name not in optional)


def test_an_estimated_request_adds_its_energy_after_the_latency_and_still_chains() -> None:
    chain = ChainState()
    plain = chain.link(msgspec.json.encode(make_line(1)))
    estimated = chain.link(msgspec.json.encode(make_line(2, energy_wh=0.125, emissions_gco2eq=0.0051)))
    assert list(json.loads(plain)) == CHAINED_FIELDS
    assert list(json.loads(estimated)) == [*RECORD_FIELDS, "energy_wh", "emissions_gco2eq", "seq", "prev"]
    for line in (plain, estimated):
        assert msgspec.json.encode(msgspec.json.decode(line, type=ChainedAuditLine)) == line


def test_a_chained_line_reads_back_as_a_chained_record_with_seq_and_prev_last() -> None:
    chain = ChainState()
    record = make_line(3)
    line = chain.link(msgspec.json.encode(record))
    assert list(json.loads(line)) == CHAINED_FIELDS
    chained = msgspec.json.decode(line, type=ChainedAuditLine)
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
    hints = typing.get_type_hints(AuditLine)
    assert list(hints) == [*RECORD_FIELDS, *_ESTIMATES]
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
            msgspec.json.encode({**msgspec.structs.asdict(make_line()), "seq": 1, "prev": "0" * 64, "x": 1}),
            type=ChainedAuditLine,
        )


def test_a_request_record_becomes_the_line_the_log_has_always_written() -> None:
    # A line as written before the request record existed: the format files and readers rely on.
    expected = (
        b'{"time":"2026-11-03T09:15:06.123Z","request_id":"req-000004",'
        b'"trace_id":"00000000000000000000000000000004","department":"dgfip","service":"assistant-courrier",'
        b'"key_id":"key-4","model":"mistral-small","operation":"chat","backend":"http://10.0.0.5:8000",'
        b'"decision":"allow","rule":"p, dgfip, dgfip, mistral-small, chat, allow","pii":{},'
        b'"prompt_tokens":104,"completion_tokens":24,"cost_eur":0.0005,"weighted_cost":148,"status":200,'
        b'"latency_ms":812.4}'
    )
    record = make_record(4, latency_ms=812.4004)  # no PII found: None in the record, {} in the line
    assert record.pii is None
    assert msgspec.json.encode(audit_line(record)) == expected
    # The time to the millisecond, truncated; the latency to the microsecond; no cached tokens.
    line = audit_line(make_record(5, time=START + 0.0009, latency_ms=1.23449))
    assert (line.time, line.latency_ms) == ("2026-11-03T09:15:02.123Z", 1.234)
    assert "cached_tokens" not in json.loads(msgspec.json.encode(line))


def test_the_request_record_holds_only_what_a_line_may_hold() -> None:
    hints = typing.get_type_hints(RequestRecord)
    text_fields = {
        name for name, hint in hints.items() if name != "pii" and str in (hint, *typing.get_args(hint))
    }
    text_fields.add("decision")  # a Literal: text all the same
    assert text_fields == set(_IDENTIFIERS) - {"time"}  # its time is a number
    assert hints["pii"] == dict[str, int] | None
    # Counts kept for metering only, not in the audit line (its format would change).
    assert set(hints) - {"cached_tokens", "audio_seconds"} == {*RECORD_FIELDS, *_ESTIMATES}
