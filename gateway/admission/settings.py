"""The `admission` section: capacity sharing between departments when a model's backends are full.

Three priority classes, in order: `interactive`, `standard`, `batch`. A request's class comes from its
key, else its service (`department/service`), else its department, else `default_class`; the request
may lower it (never raise it) with the header `x-gateway-priority`. Between classes the order is strict,
except that a class given a `min_share` gets at least that fraction of the freed slots while it has
requests waiting, so `batch` never starves. Within a class, departments share by weighted fair queueing
(`weights`, 1 by default): a department alone gets the whole pool, nothing is held idle.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

__all__ = ["CLASS_NAMES", "AdmissionConfig", "ClassConfig", "ClassName"]

ClassName = Literal["interactive", "standard", "batch"]
CLASS_NAMES: tuple[ClassName, ...] = ("interactive", "standard", "batch")
"""The classes, highest priority first: a class's index is its rank."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)


class ClassConfig(_Strict):
    """How long and how many requests of one class may wait in a model's queue."""

    max_wait_seconds: Annotated[float, Field(gt=0, le=86400)] = 30.0
    """Longest wait for a slot; then the request gets 429 `pool_saturated` with `Retry-After`."""
    max_queue_length: Annotated[int, Field(ge=0, le=1_000_000)] = 1000
    """Requests of this class waiting for one model at most (per gateway process); one more gets 429
    `pool_saturated` at once. 0: the class never waits."""
    min_share: Annotated[float, Field(ge=0, le=0.5)] = 0.0
    """Fraction of the model's freed slots this class is guaranteed while it has requests waiting,
    whatever higher classes have waiting (strict priority otherwise)."""
    headroom: Annotated[float, Field(ge=0, le=0.9)] = 0.0
    """Fraction of the model's capacity this class leaves free for the higher classes while one of
    them is active (has asked for a slot in the last `admission.active_seconds`): its requests wait
    rather than take the last free slots, so that an interactive request finds one at once instead
    of waiting for a running request to end. Nothing is held back once the higher classes are quiet."""
    vllm_priority: Annotated[int, Field(ge=-1000, le=1000)] = 0
    """vLLM's `priority` request field (lower runs first) sent for this class to the backends that run
    with `--scheduling-policy priority` (`scheduling_policy: priority` in their configuration). A
    client's own `priority` field is replaced there, so that it cannot jump the queue."""


_DEFAULT_CLASSES: dict[ClassName, ClassConfig] = {
    "interactive": ClassConfig(max_wait_seconds=30.0, vllm_priority=0),
    "standard": ClassConfig(max_wait_seconds=60.0, headroom=0.1, vllm_priority=1),
    "batch": ClassConfig(
        max_wait_seconds=600.0, max_queue_length=10000, min_share=0.05, headroom=0.25, vllm_priority=2
    ),
}


class AdmissionConfig(_Strict):
    """Admission at saturation: per-model queues in the gateway when every backend is at capacity
    (`max_concurrent` of each backend), instead of piling requests into vLLM's own queue."""

    enabled: bool = True
    """Hold requests in the gateway's queues when a model's backends are at capacity. Off, every
    request is forwarded at once (vLLM queues what it cannot run) and `x-gateway-priority` is still
    checked."""
    default_class: ClassName = "standard"
    """The class of a request whose key, service and department are not listed below."""
    departments: dict[str, ClassName] = {}
    """Class per department."""
    services: dict[str, ClassName] = {}
    """Class per service, as `department/service`; before its department's."""
    keys: dict[str, ClassName] = {}
    """Class per key id; before its service's and department's."""
    weights: dict[str, Annotated[float, Field(gt=0, le=1000)]] = {}
    """Share of each department within a class, relative to the others that have requests waiting
    (1 when not listed)."""
    classes: dict[ClassName, ClassConfig] = _DEFAULT_CLASSES
    """Waiting limits, minimum share, headroom and vLLM priority of each class; what is not given
    keeps its default (interactive: 30 s; standard: 60 s, 10 % headroom; batch: 600 s, 10,000
    waiting, 5 % guaranteed, 25 % headroom)."""
    active_seconds: Annotated[float, Field(gt=0, le=3600)] = 10.0
    """How long after its last request a class counts as active, for the lower classes' `headroom`."""

    renew_seconds: Annotated[float, Field(gt=0, le=60)] = 1.0
    """With the Redis store (several processes): how often each process renews its leases on the
    backends' capacity and recomputes its share from the others' demand."""
    lease_seconds: Annotated[float, Field(gt=0, le=600)] = 5.0
    """How long a lease outlives its last renewal: a process that died gives its share back to the
    others after at most this long (plus one renewal)."""

    @field_validator("classes", mode="before")
    @classmethod
    def _over_the_defaults(cls, value: object) -> object:
        # A class's settings change its defaults field by field: `batch: {max_wait_seconds: 60}`
        # keeps batch's minimum share and headroom.
        if not isinstance(value, dict):
            return value
        merged: dict[object, object] = {}
        for name, given in value.items():
            default = _DEFAULT_CLASSES.get(name)
            merged[name] = {**default.model_dump(), **given} if default and isinstance(given, dict) else given
        return merged

    @model_validator(mode="after")
    def _every_class(self) -> AdmissionConfig:
        filled = {name: self.classes.get(name, _DEFAULT_CLASSES[name]) for name in CLASS_NAMES}
        object.__setattr__(self, "classes", filled)
        if self.lease_seconds <= 2 * self.renew_seconds:
            raise ValueError(
                "lease_seconds must be more than twice renew_seconds: one late renewal would drop a lease"
            )
        if sum(config.min_share for config in filled.values()) > 0.9:
            raise ValueError("the classes' min_share add up to more than 0.9: strict priority would be gone")
        return self

    def class_of(self, department: str, service: str, key_id: str) -> ClassName:
        """The configured class of a caller: its key's, else its service's, else its department's."""
        found = self.keys.get(key_id) or self.services.get(f"{department}/{service}")
        return found or self.departments.get(department) or self.default_class

    def weight_of(self, department: str) -> float:
        return self.weights.get(department, 1.0)
