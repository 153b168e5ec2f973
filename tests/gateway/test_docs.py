"""The configuration reference is what the generator writes from the docstrings, and names every key."""

from __future__ import annotations

import difflib

import pytest
from pydantic import BaseModel

from gateway.config import GatewayConfig
from gateway.config_docs import COMMAND, REFERENCE, render_reference


def test_the_reference_is_up_to_date_with_the_docstrings() -> None:
    committed = REFERENCE.read_text(encoding="utf-8")
    generated = render_reference(committed, GatewayConfig)
    if generated != committed:
        diff = difflib.unified_diff(
            committed.splitlines(keepends=True),
            generated.splitlines(keepends=True),
            "docs/configuration.md (committed)",
            "docs/configuration.md (from the docstrings)",
            n=0,
        )
        pytest.fail(
            f"docs/configuration.md is out of date: run `{COMMAND}` (or `make config-docs`) and commit "
            f"the result.\n{''.join(diff)[:6000]}"
        )


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
    text = REFERENCE.read_text(encoding="utf-8")
    missing = sorted(key for key in _keys(GatewayConfig) if f"`{key}`" not in text)
    assert not missing, f"docs/configuration.md does not describe: {missing}"
