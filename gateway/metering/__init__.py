"""Metering: one usage record per request, written durably in batches, and monthly reports.

    records.py      METERED_FIELDS (what is kept of each RequestRecord), UsageCell (a rollup)
    recorder.py     UsageRecorder: `record()` on the request path, batches written in the background
    store.py        the UsageStore interface: idempotent batch writes, sums per cell, records
    embedded.py     SQLite store (one process)      redis_store.py  Redis stream + rollups (shared)
    periods.py      months and days in the metering time zone (Europe/Paris by default)
    reports.py      usage_report, admin_usage, table / CSV / JSON renderers
    cli.py          `gateway usage report ...` (also `python -m gateway.metering usage report ...`)
    settings.py     the `metering` configuration section
    factory.py      configuration -> store, recorder
    errors.py       the errors

`redis_store` is not imported here, so that processes without Redis never load redis-py.
"""

from gateway.metering.embedded import EmbeddedUsageStore
from gateway.metering.errors import InvalidUsageQuery, MeteringError, UsageStoreError
from gateway.metering.factory import open_usage_store, start_usage_recorder, usage_database_path
from gateway.metering.periods import DEFAULT_TIMEZONE, Calendar, Period
from gateway.metering.recorder import RecorderStats, UsageRecorder
from gateway.metering.records import METERED_FIELDS, UsageCell, check_record, micro_euros
from gateway.metering.reports import (
    DIMENSIONS,
    FORMATS,
    Dimension,
    UsageReport,
    UsageRow,
    UsageTotals,
    admin_usage,
    grouping,
    render,
    render_csv,
    render_json,
    render_table,
    usage_report,
)
from gateway.metering.settings import MeteringConfig
from gateway.metering.store import UsageStore

__all__ = [
    "DEFAULT_TIMEZONE",
    "DIMENSIONS",
    "FORMATS",
    "METERED_FIELDS",
    "Calendar",
    "Dimension",
    "EmbeddedUsageStore",
    "InvalidUsageQuery",
    "MeteringConfig",
    "MeteringError",
    "Period",
    "RecorderStats",
    "UsageCell",
    "UsageRecorder",
    "UsageReport",
    "UsageRow",
    "UsageStore",
    "UsageStoreError",
    "UsageTotals",
    "admin_usage",
    "check_record",
    "grouping",
    "micro_euros",
    "open_usage_store",
    "render",
    "render_csv",
    "render_json",
    "render_table",
    "start_usage_recorder",
    "usage_database_path",
    "usage_report",
]
