"""Policy files written to a temporary directory, and the repository's own policies."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
POLICIES = ROOT / "policies"
MODEL_TEXT = (POLICIES / "model.conf").read_text(encoding="utf-8")

# The policy most tests decide against: every case of the matrix has its line here.
TEST_POLICY = """\
# platform and department roles
p, admin, *, *, *, allow
p, department-admin, *, *, admin, allow
p, department-admin, *, *, usage:read, allow
p, user, *, *, chat, allow
p, user, *, *, embeddings, allow
g, department-admin, user, *
# a role whose holders may do nothing at all
p, suspended, *, *, *, deny
# dgfip
p, assistant-courrier, dgfip, mistral-*, chat, allow
p, assistant-courrier, dgfip, mistral-large*, *, deny
g, recherche, user, dgfip
p, recherche, dgfip, llama-405b, *, deny
g, console-dgfip, department-admin, dgfip
p, fiscal-bot, dgfip, dgfip-finetune-*, chat, allow
# a platform service that administers every department
g, ops, admin, *
"""


@dataclass(frozen=True)
class PolicyFiles:
    model_file: Path
    policy_file: Path

    def write_policy(self, text: str) -> None:
        """Replace policy.csv atomically, as an operator should (temporary file, then rename)."""
        _replace(self.policy_file, text)

    def write_model(self, text: str) -> None:
        _replace(self.model_file, text)


def _replace(path: Path, text: str) -> None:
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)


def write_files(directory: Path, policy: str, model: str = MODEL_TEXT) -> PolicyFiles:
    directory.mkdir(parents=True, exist_ok=True)
    files = PolicyFiles(directory / "model.conf", directory / "policy.csv")
    files.model_file.write_text(model, encoding="utf-8")
    files.policy_file.write_text(policy, encoding="utf-8")
    return files


@pytest.fixture
def files(tmp_path: Path) -> PolicyFiles:
    return write_files(tmp_path / "policies", TEST_POLICY)


@pytest.fixture(autouse=True)
def _no_gateway_config(monkeypatch: pytest.MonkeyPatch) -> None:
    # `policy check` falls back to $GATEWAY_CONFIG; a developer's own must not leak into tests.
    monkeypatch.delenv("GATEWAY_CONFIG", raising=False)
