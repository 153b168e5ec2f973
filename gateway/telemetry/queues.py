"""The admission queues' lengths, read from the queues themselves when metrics are flushed (nothing
is counted on the request path for them)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from prometheus_client import Gauge

from gateway.telemetry.families import MetricFamilies

if TYPE_CHECKING:
    from gateway.admission.scheduler import Admission

__all__ = ["QueueGauges"]


class QueueGauges:
    """`gateway_admission_queue_length` per (model, class, department) that has had a waiting request."""

    def __init__(self, families: MetricFamilies, admission: Admission) -> None:
        self._family = families.admission_queue_length
        self._admission = admission
        self._gauges: dict[tuple[str, str, str], Gauge] = {}

    def publish(self) -> None:
        seen: set[tuple[str, str, str]] = set()
        for model, class_name, department, waiting in self._admission.queue_lengths():
            key = (model, class_name, department)
            gauge = self._gauges.get(key)
            if gauge is None:
                gauge = self._gauges[key] = self._family.labels(*key)
            gauge.set(waiting)
            seen.add(key)
        for key, gauge in self._gauges.items():
            if key not in seen:
                gauge.set(0)  # its department no longer waits
