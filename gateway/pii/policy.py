"""Which treatment each entity type gets for one department, service and model."""

from __future__ import annotations

from collections.abc import Mapping

from gateway.pii.settings import PiiConfig, PiiMode

__all__ = ["PiiPolicy", "Treatment"]

# Distinct (department, service, model) triples are bounded by the keys issued and the models
# configured; the cap only protects memory if a store holds an unusual number of services.
_CACHE_LIMIT = 10_000


class Treatment:
    """The resolved modes for one (department, service, model): a default and per-entity overrides."""

    __slots__ = ("default", "overrides", "pseudonymizes", "scanned")

    def __init__(self, default: PiiMode, overrides: Mapping[str, PiiMode], known: tuple[str, ...]) -> None:
        self.default: PiiMode = default
        self.overrides = dict(overrides)
        # Types worth looking for: those whose mode is not `off`.
        self.scanned = frozenset(entity for entity in known if self.mode_of(entity) != "off")
        self.pseudonymizes = any(self.mode_of(entity) == "pseudonymize" for entity in self.scanned)

    def mode_of(self, entity: str) -> PiiMode:
        return self.overrides.get(entity, self.default)

    @property
    def active(self) -> bool:
        return bool(self.scanned)


class PiiPolicy:
    """Resolves the configuration's mode, entity overrides and rules for each request."""

    def __init__(self, config: PiiConfig, known_entities: tuple[str, ...]) -> None:
        self._config = config
        self._known = known_entities
        self._cache: dict[tuple[str, str, str], Treatment] = {}

    def treatment(self, department: str, service: str, model: str) -> Treatment:
        key = (department, service, model)
        found = self._cache.get(key)
        if found is None:
            found = self._resolve(department, service, model)
            if len(self._cache) >= _CACHE_LIMIT:
                self._cache.clear()
            self._cache[key] = found
        return found

    def _resolve(self, department: str, service: str, model: str) -> Treatment:
        mode: PiiMode = self._config.mode
        overrides: dict[str, PiiMode] = dict(self._config.entities)
        for rule in self._config.rules:
            if rule.department is not None and rule.department != department:
                continue
            if rule.service is not None and rule.service != service:
                continue
            if rule.model is not None and rule.model != model:
                continue
            if rule.mode is not None:
                mode = rule.mode
            overrides.update(rule.entities)
        return Treatment(mode, overrides, self._known)
