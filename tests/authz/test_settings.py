"""The `policy` section of the configuration."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from gateway.authz import Authorizer, PolicyConfig
from tests.authz.conftest import TEST_POLICY, write_files


def test_defaults() -> None:
    config = PolicyConfig()
    assert config.model_file == Path("policies/model.conf")
    assert config.policy_file == Path("policies/policy.csv")
    assert config.reload_interval == 1.0
    assert config.decision_cache_size > 0


@pytest.mark.parametrize(
    "data",
    [{"reload_intervall": 1}, {"reload_interval": -1}, {"decision_cache_size": -5}],
)
def test_invalid_values_are_refused(data: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        PolicyConfig.model_validate(data)


def test_relative_paths_are_taken_from_the_config_directory(tmp_path: Path) -> None:
    config = PolicyConfig(model_file=Path("rules/model.conf"), policy_file=tmp_path / "abs.csv")
    assert config.resolve(Path("/etc/gateway")) == (
        Path("/etc/gateway/rules/model.conf"),
        tmp_path / "abs.csv",
    )


def test_authorizer_from_config(tmp_path: Path) -> None:
    write_files(tmp_path / "policies", TEST_POLICY)
    authorizer = Authorizer.from_config(PolicyConfig(decision_cache_size=0), tmp_path)
    assert authorizer.decide("dgfip", "assistant-courrier", (), "mistral-small", "chat").allowed
    assert authorizer.snapshot.cache_size == 0
