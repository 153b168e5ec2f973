"""The configuration reference documents every key the configuration accepts."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel

from gateway.config import GatewayConfig

_REFERENCE = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"


def _keys(model: type[BaseModel]) -> set[str]:
    keys = set()
    for name, field in model.model_fields.items():
        keys.add(name)
        annotation = field.annotation
        for candidate in (annotation, *getattr(annotation, "__args__", ())):
            if isinstance(candidate, type) and issubclass(candidate, BaseModel):
                keys |= _keys(candidate)
    return keys


def test_every_configuration_key_is_documented() -> None:
    text = _REFERENCE.read_text(encoding="utf-8")
    missing = sorted(key for key in _keys(GatewayConfig) if f"`{key}`" not in text)
    assert not missing, f"docs/configuration.md does not describe: {missing}"
