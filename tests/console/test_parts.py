"""The console's parts on their own: session cookies, charts, labels, the audit log reader, access."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import msgspec
import pytest

from gateway.audit import AuditConfig, AuditLine, audit_time
from gateway.authz import Authorizer
from gateway.console.access import Administrator
from gateway.console.auditlog import AuditUnreadable, LogFilters, audit_series, read_page, recent_status
from gateway.console.charts import Budget, Series, budget_bars, nice_ceiling, stacked_bars, top_series
from gateway.console.i18n import LABELS, Formatter
from gateway.console.sessions import SessionCodec, derive_secret
from gateway.console.settings import ConsoleConfig
from gateway.console.usage import CellsCache
from gateway.identity import BOOTSTRAP_ADMIN, Principal
from gateway.metering import EmbeddedUsageStore
from gateway.metering.periods import load_zone
from tests.gateway.conftest import POLICIES

SECRET = b"s" * 32
PRINCIPAL = Principal(
    key_id="abcdefghijkl", department="dgfip", service="console-dgfip", roles=("department-admin",)
)


# -- sessions ---------------------------------------------------------------------------------------


def test_a_session_cookie_round_trips_and_expires() -> None:
    codec = SessionCodec(SECRET)
    cookie = codec.issue(PRINCIPAL, 1_000_000, 30)
    session = codec.read(cookie, 1_000_000 + 60)
    assert session is not None and session.principal() == PRINCIPAL
    assert session.exp == 1_000_000 + 30 * 60
    assert codec.read(cookie, 1_000_000 + 30 * 60) is None  # expired
    assert codec.read(cookie, 999_999) is None  # not yet valid: a clock gone backwards


def test_a_tampered_or_foreign_cookie_is_refused() -> None:
    codec = SessionCodec(SECRET)
    cookie = codec.issue(PRINCIPAL, 1_000_000, 30)
    payload, signature = cookie.split(".")
    forged = msgspec.json.encode({**msgspec.json.decode(_unb64(payload)), "dep": "*", "roles": ["admin"]})
    assert codec.read(f"{_b64(forged)}.{signature}", 1_000_001) is None
    assert SessionCodec(b"t" * 32).read(cookie, 1_000_001) is None  # another secret
    for garbage in ("", "x", "a.b.c", "....", "é.é", "a" * 5000, f"{payload}.", f".{signature}"):
        assert codec.read(garbage, 1_000_001) is None


def test_csrf_tokens_are_bound_to_their_session() -> None:
    codec = SessionCodec(SECRET)
    first = codec.read(codec.issue(PRINCIPAL, 1_000_000, 30), 1_000_001)
    second = codec.read(codec.issue(PRINCIPAL, 1_000_000, 30), 1_000_001)
    assert first is not None and second is not None and first.nonce != second.nonce
    assert codec.csrf_token(f"session:{first.nonce}") != codec.csrf_token(f"session:{second.nonce}")
    assert codec.csrf_token("login:x") != SessionCodec(b"t" * 32).csrf_token("login:x")


def test_the_secret_is_derived_from_the_pepper_and_never_shown() -> None:
    assert derive_secret(b"p" * 32) == derive_secret(b"p" * 32) != derive_secret(b"q" * 32)
    assert SECRET.decode() not in repr(SessionCodec(SECRET))
    with pytest.raises(ValueError, match="32 bytes"):
        SessionCodec(b"short")
    codec = SessionCodec(SECRET)
    cookie = codec.issue(BOOTSTRAP_ADMIN, 1_000_000, 30, fingerprint=codec.fingerprint("k" * 40))
    session = codec.read(cookie, 1_000_001)
    assert session is not None and session.fp == codec.fingerprint("k" * 40) != codec.fingerprint("j" * 40)
    assert "k" * 40 not in cookie


def _b64(data: bytes) -> str:
    import base64

    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    import base64

    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


# -- access -----------------------------------------------------------------------------------------


def test_access_follows_the_policy_and_the_department() -> None:
    authorizer = Authorizer.from_files(POLICIES / "model.conf", POLICIES / "policy.csv")
    department_admin = Administrator(PRINCIPAL, authorizer, "n")
    assert department_admin.may_read_usage("dgfip") and department_admin.may_manage_keys("dgfip")
    assert not department_admin.may_read_usage("drees") and not department_admin.may_manage_keys("*")
    assert not department_admin.may_see_platform() and not department_admin.may_grant(("admin",))
    assert department_admin.usage_scope() == "dgfip"
    platform = Administrator(Principal("abcdefghijkm", "dinum", "plateforme", ("admin",)), authorizer, "n")
    assert platform.may_read_usage("drees") and platform.may_see_platform() and platform.usage_scope() == "*"
    bootstrap = Administrator(BOOTSTRAP_ADMIN, authorizer, "n")
    assert bootstrap.may_manage_keys("*") and bootstrap.may_grant(("admin",))
    user = Administrator(Principal("abcdefghijkn", "dgfip", "assistant-courrier", ("user",)), authorizer, "n")
    assert not user.may_use_console()


# -- charts -----------------------------------------------------------------------------------------


def test_axis_tops_are_round() -> None:
    assert nice_ceiling(0) == (1.0, 0.25)
    assert nice_ceiling(9_300) == (10_000, 2_500)
    assert nice_ceiling(24_700) == (30_000, 10_000)
    top, step = nice_ceiling(1_234_567)
    assert top >= 1_234_567 and top / step <= 5


def test_small_series_are_summed_as_other() -> None:
    series = [Series(f"s{index}", (index, index)) for index in range(12)]
    shown = top_series(series, 8, "autres")
    assert [item.name for item in shown[:3]] == ["s11", "s10", "s9"]
    assert shown[-1] == Series("autres", (0 + 1 + 2 + 3, 0 + 1 + 2 + 3))
    assert sum(item.total for item in shown) == sum(item.total for item in series)


def test_charts_escape_names_and_draw_every_value() -> None:
    series = [Series("<script>", (1, 0, 3)), Series("b&b", (2, 2, 2))]
    svg = str(
        stacked_bars(
            ["2026-11-01", "2026-11-02", "2026-11-03"],
            series,
            chart_id="c",
            title="T <1>",
            description="D",
            axis_format=str,
            value_format=str,
        )
    )
    assert "<script>" not in svg and "&lt;script&gt;" in svg and "b&amp;b" in svg
    assert svg.count("<rect") == 5  # the zero is not drawn
    assert 'role="img"' in svg and 'aria-labelledby="c-t c-d"' in svg and "style=" not in svg
    bars = str(
        budget_bars(
            [Budget("dgfip", 50, 100), Budget("drees", 300, 100)],
            chart_id="b",
            title="B",
            description="D",
            value_format=str,
            share_format=lambda share: f"{share * 100:.0f} %",
            limit_label="limite",
        )
    )
    assert bars.count('class="limit"') == 2 and bars.count('class="over"') == 1 and "300 %" in bars


# -- labels -----------------------------------------------------------------------------------------


def test_both_languages_have_the_same_labels_and_no_label_hides_a_dict_method() -> None:
    assert set(LABELS["fr"]) == set(LABELS["en"])
    # Jinja reads `t.copy` as the dict's method before the key: no label may be named like one.
    assert not [name for name in LABELS["fr"] if hasattr({}, name)]
    for language, labels in LABELS.items():
        for name, text in labels.items():
            assert text.strip(), f"{language}:{name} is empty"


def test_numbers_and_times_are_written_the_local_way() -> None:
    french = Formatter("fr", load_zone("Europe/Paris"))
    english = Formatter("en", load_zone("Europe/Paris"))
    assert french.num(1234567) == "1\u202f234\u202f567" and english.num(1234567) == "1,234,567"
    assert french.eur(12_345_678) == "12,35\u00a0€" and english.eur(12_345_678) == "€12.35"
    assert french.compact(1_200_000) == "1,2 M" and english.compact(25_000) == "25 k"
    assert french.pct(0.165) == "16,5\u00a0%"
    assert french.when_iso("2026-11-03T09:15:02.123Z") == "2026-11-03 10:15:02"
    assert french.when(None) == "—"


# -- the audit log reader ----------------------------------------------------------------------------


def _record(moment: float, number: int, department: str = "dgfip", status: int = 200) -> AuditLine:
    return AuditLine(
        time=audit_time(moment),
        request_id=f"req-{number:024x}",
        trace_id=None,
        department=department,
        service="svc",
        key_id="aaaaaaaaaaaa",
        model="m",
        operation="chat",
        backend="",
        decision="allow",
        rule=None,
        pii={},
        prompt_tokens=1,
        completion_tokens=1,
        cost_eur=0.0,
        weighted_cost=2,
        status=status,
        latency_ms=1.0,
    )


def _write(path: Path, records: list[AuditLine]) -> None:
    encoder = msgspec.json.Encoder()
    with path.open("ab") as file:
        for record in records:
            file.write(encoder.encode(record) + b"\n")


def test_pages_merge_every_worker_newest_first_without_gaps(tmp_path: Path) -> None:
    start = time.time() - 3600
    # Two workers' files, one with a rotated predecessor; records interleaved in time.
    _write(tmp_path / "audit-0.jsonl.000001", [_record(start + 2 * n, n) for n in range(0, 40)])
    _write(tmp_path / "audit-0.jsonl", [_record(start + 2 * n, n) for n in range(40, 60)])
    _write(tmp_path / "audit-1.jsonl", [_record(start + 2 * n + 1, 1000 + n, "drees") for n in range(60)])
    (tmp_path / "audit-1.jsonl.lock").touch()
    config = AuditConfig(enabled=True, path=str(tmp_path / "audit-{worker}.jsonl"))
    assert [len(series) for series in audit_series(config)] == [2, 1]
    seen: list[str] = []
    cursor = None
    for _ in range(10):
        page = read_page(config, LogFilters(), limit=25, before=cursor, max_bytes=10**8)
        seen += [record["request_id"] for record in page.records]
        times = [record["time"] for record in page.records]
        assert times == sorted(times, reverse=True)
        cursor = page.cursor
        if cursor is None:
            break
    assert len(seen) == 120 == len(set(seen))
    drees = read_page(config, LogFilters(department="drees"), limit=100, before=None, max_bytes=10**8)
    assert len(drees.records) == 60 and {record["department"] for record in drees.records} == {"drees"}


def test_filters_and_the_byte_budget(tmp_path: Path) -> None:
    start = time.time() - 3600
    path = tmp_path / "audit.jsonl"
    records = [_record(start + n, n, status=429 if n % 7 == 0 else 200) for n in range(2000)]
    _write(path, records)
    config = AuditConfig(enabled=True, path=str(path))
    limited = read_page(config, LogFilters(status="4xx"), limit=1000, before=None, max_bytes=10**8)
    assert [record["request_id"] for record in limited.records] == [
        record.request_id for record in reversed(records) if record.status == 429
    ]
    exact = read_page(config, LogFilters(status="429", request_id=records[7].request_id), limit=5, before=None,
                      max_bytes=10**8)  # fmt: skip
    assert [record["request_id"] for record in exact.records] == [records[7].request_id]
    window = LogFilters(since=records[100].time, until=records[110].time)
    assert len(read_page(config, window, limit=100, before=None, max_bytes=10**8).records) == 10
    stopped = read_page(config, LogFilters(department="nobody"), limit=10, before=None, max_bytes=300_000)
    assert stopped.stopped and stopped.records == [] and not stopped.more
    counts = recent_status(config, None, max_records=700, max_bytes=10**8)
    assert counts.count == 700 and counts.client_errors == sum(1 for r in records[-700:] if r.status == 429)


def test_a_log_off_or_on_standard_output_is_unreadable(tmp_path: Path) -> None:
    for config, reason in (
        (AuditConfig(enabled=False, path=str(tmp_path / "a.jsonl")), "off"),
        (AuditConfig(enabled=True), "stdout"),
    ):
        with pytest.raises(AuditUnreadable) as caught:
            read_page(config, LogFilters(), limit=1, before=None, max_bytes=1000)
        assert caught.value.reason == reason


def test_a_line_cut_short_is_skipped(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    _write(path, [_record(time.time() - 10, 1)])
    with path.open("ab") as file:
        file.write(b'{"time":"2026-11-03T09:15:02.123Z","request_id":"req-')  # a crash mid-write
    page = read_page(
        AuditConfig(enabled=True, path=str(path)), LogFilters(), limit=5, before=None, max_bytes=10**6
    )
    assert [record["request_id"] for record in page.records] == [f"req-{1:024x}"]


def test_console_settings_defaults() -> None:
    settings = ConsoleConfig()
    assert settings.enabled and settings.session_minutes == 60 and settings.language == "fr"
    with pytest.raises(ValueError, match="extra"):
        ConsoleConfig.model_validate({"enable": False})


# -- the usage cache -----------------------------------------------------------------------------------


def test_the_usage_cache_serves_fresh_then_stale_then_reads_again(tmp_path: Path) -> None:
    async def scenario() -> None:
        store = await EmbeddedUsageStore.open(tmp_path / "usage.db")
        now = [1000.0]
        cache = CellsCache(10, clock=lambda: now[0])
        try:
            period = store.calendar.current()
            await cache.cells(store, period, None)
            await cache.cells(store, period, None)
            assert cache.reads == 1  # fresh: served from memory
            now[0] += 15
            await cache.cells(store, period, None)  # stale: served, and read again behind the page
            await asyncio.sleep(0.2)
            assert cache.reads == 2
            now[0] += 100
            await cache.cells(store, period, "dgfip")
            await cache.cells(store, period, None)  # too old: read before answering
            assert cache.reads == 4
            closed = period.previous().previous()
            await cache.cells(store, closed, None)
            now[0] += 10_000
            await cache.cells(store, closed, None)  # a month long over does not change
            assert cache.reads == 5
            assert (await CellsCache(0).cells(store, period, None))[0] == []
        finally:
            await store.close()

    asyncio.run(scenario())
