"""What the request path touches: plain counters per label set, handed to prometheus_client in batches.

One `RequestSeries` per (department, service, model, operation, status), one `ModelSeries` per
model, one `DurationSeries` per (model, operation). The request path adds to their integer fields
and `BucketCounts`; `flush()` adds what accumulated to the labelled prometheus_client children, taken
once when the series is made (never `.labels()` per request).

Everything runs on the worker's event loop: the request path and `flush` never interleave.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge

from gateway.telemetry.families import MetricFamilies
from gateway.telemetry.histograms import BucketCounts

__all__ = ["DurationSeries", "ModelSeries", "QueueSeries", "RejectionSeries", "RequestSeries"]


class ModelSeries:
    """Requests in flight, time to first token and token usage of one model."""

    __slots__ = (
        "_in_flight_gauge",
        "_published_in_flight",
        "in_flight",
        "input_usage",
        "output_usage",
        "ttft",
    )

    def __init__(self, families: MetricFamilies, model: str) -> None:
        self.in_flight = 0
        self._published_in_flight = 0
        self._in_flight_gauge: Gauge = families.requests_in_flight.labels(model)
        self.ttft = BucketCounts(families.time_to_first_token.labels(model))
        self.input_usage = BucketCounts(families.request_tokens.labels(model, "input"))
        self.output_usage = BucketCounts(families.request_tokens.labels(model, "output"))

    def flush(self) -> None:
        if self.in_flight != self._published_in_flight:
            self._in_flight_gauge.set(self.in_flight)
            self._published_in_flight = self.in_flight
        self.ttft.flush()
        self.input_usage.flush()
        self.output_usage.flush()


class DurationSeries:
    """Request durations of one (model, operation)."""

    __slots__ = ("durations",)

    def __init__(self, families: MetricFamilies, model: str, operation: str) -> None:
        self.durations = BucketCounts(families.request_duration.labels(model, operation))

    def flush(self) -> None:
        self.durations.flush()


class RequestSeries:
    """Requests, tokens, euros and energy of one (department, service, model, operation, status)."""

    __slots__ = (
        "_cost_counter",
        "_emissions_counter",
        "_energy_counter",
        "_input_counter",
        "_output_counter",
        "_requests_counter",
        "cost_eur",
        "duration",
        "emissions_gco2eq",
        "energy_wh",
        "input_tokens",
        "model",
        "output_tokens",
        "requests",
    )

    def __init__(
        self,
        families: MetricFamilies,
        labels: tuple[str, str, str, str, str],
        model: ModelSeries,
        duration: DurationSeries,
    ) -> None:
        department, service, model_name, _, _ = labels
        self.model = model
        self.duration = duration
        self.requests = 0
        self.input_tokens = 0
        self.output_tokens = 0
        self.cost_eur = 0.0
        self.energy_wh = 0.0
        self.emissions_gco2eq = 0.0
        self._requests_counter: Counter = families.requests.labels(*labels)
        self._cost_counter: Counter = families.cost.labels(department, service, model_name)
        self._energy_counter: Counter = families.energy.labels(department, service, model_name)
        self._emissions_counter: Counter = families.emissions.labels(department, service, model_name)
        self._input_counter: Counter = families.tokens.labels(department, service, model_name, "input")
        self._output_counter: Counter = families.tokens.labels(department, service, model_name, "output")

    def flush(self) -> None:
        if self.requests:
            self._requests_counter.inc(self.requests)
            self.requests = 0
        if self.input_tokens:
            self._input_counter.inc(self.input_tokens)
            self.input_tokens = 0
        if self.output_tokens:
            self._output_counter.inc(self.output_tokens)
            self.output_tokens = 0
        if self.cost_eur:
            self._cost_counter.inc(self.cost_eur)
            self.cost_eur = 0.0
        if self.energy_wh:
            self._energy_counter.inc(self.energy_wh)
            self.energy_wh = 0.0
        if self.emissions_gco2eq:
            self._emissions_counter.inc(self.emissions_gco2eq)
            self.emissions_gco2eq = 0.0


class RejectionSeries:
    """Requests refused before their reservation, of one (department, service, model, operation,
    status): a count only, so that refusals make no token, duration or in-flight series."""

    __slots__ = ("_requests_counter", "requests")

    def __init__(self, families: MetricFamilies, labels: tuple[str, str, str, str, str]) -> None:
        self.requests = 0
        self._requests_counter: Counter = families.requests.labels(*labels)

    def flush(self) -> None:
        if self.requests:
            self._requests_counter.inc(self.requests)
            self.requests = 0


class QueueSeries:
    """Waits in the admission queue and requests shed, of one (model, class, department)."""

    __slots__ = ("_families", "_labels", "_shed_counters", "shed", "waits")

    def __init__(self, families: MetricFamilies, labels: tuple[str, str, str]) -> None:
        self._families = families
        self._labels = labels
        self.waits = BucketCounts(families.admission_wait.labels(*labels))
        self.shed: dict[str, int] = {}
        self._shed_counters: dict[str, Counter] = {}

    def flush(self) -> None:
        self.waits.flush()
        for reason, count in self.shed.items():
            if count:
                counter = self._shed_counters.get(reason)
                if counter is None:
                    counter = self._families.admission_shed.labels(*self._labels, reason)
                    self._shed_counters[reason] = counter
                counter.inc(count)
                self.shed[reason] = 0
