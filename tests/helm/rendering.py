"""Render the chart with a real `helm template`, offline, and read what it produced.

The binaries come from `make helm-tools` (tests/helm/install_helm.py). Rendering needs no cluster:
`helm template` runs the templates and the values schema locally, exactly as `helm install` would
before it talks to the API server.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from tests.helm.install_helm import HELM_RELEASES, HelmRelease, binary_path

__all__ = [
    "CHART",
    "NAMESPACE",
    "RELEASE",
    "ROOT",
    "HelmMissing",
    "RenderFailed",
    "Rendered",
    "helm_binary",
    "render",
    "render_error",
]

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "helm" / "sovereign-gateway"
HELM_DIRECTORY = ROOT / ".venv" / "helm"
RELEASE = "sgw"
NAMESPACE = "ai-gateway"

Manifest = dict[str, Any]


class HelmMissing(Exception):
    """The pinned helm binary is not installed."""


class RenderFailed(Exception):
    """`helm template` refused the values; the message is helm's."""


def helm_binary(release: HelmRelease = HELM_RELEASES[-1]) -> Path:
    path = binary_path(HELM_DIRECTORY, release)
    if not path.is_file():
        raise HelmMissing(
            f"helm {release.version} is not installed at {path}: run `make helm-tools` "
            "(or `python -m tests.helm.install_helm .venv/helm`)"
        )
    return path


@dataclass(frozen=True)
class Rendered:
    manifests: list[Manifest]

    def all(self, kind: str) -> list[Manifest]:
        return [manifest for manifest in self.manifests if manifest["kind"] == kind]

    def one(self, kind: str, name_suffix: str = "") -> Manifest:
        found = [m for m in self.all(kind) if m["metadata"]["name"].endswith(name_suffix)]
        assert len(found) == 1, f"expected one {kind} named *{name_suffix}, got {len(found)}"
        return found[0]

    def kinds(self) -> set[str]:
        return {manifest["kind"] for manifest in self.manifests}

    @property
    def pod_spec(self) -> Manifest:
        spec: Manifest = self.one("Deployment")["spec"]["template"]["spec"]
        return spec

    @property
    def container(self) -> Manifest:
        containers: list[Manifest] = self.pod_spec["containers"]
        (container,) = containers
        return container

    @property
    def config_text(self) -> str:
        text: str = self.one("ConfigMap", "-config")["data"]["gateway.yaml"]
        return text

    @property
    def gateway_config(self) -> Manifest:
        """The rendered configuration file, parsed as the gateway parses it (yaml.safe_load)."""
        parsed: Manifest = yaml.safe_load(self.config_text)
        return parsed

    @property
    def policy_files(self) -> dict[str, str]:
        data: dict[str, str] = self.one("ConfigMap", "-policies")["data"]
        return data

    def env(self) -> dict[str, Manifest]:
        return {variable["name"]: variable for variable in self.container["env"]}


def _helm_template(values: Mapping[str, Any], helm: Path) -> subprocess.CompletedProcess[str]:
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", encoding="utf-8") as file:
        # JSON is YAML: the values reach helm exactly as written, types included.
        json.dump(values, file)
        file.flush()
        return subprocess.run(
            [str(helm), "template", RELEASE, str(CHART), "--namespace", NAMESPACE, "--values", file.name],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )


def render(values: Mapping[str, Any], helm: Path) -> Rendered:
    done = _helm_template(values, helm)
    if done.returncode != 0:
        raise RenderFailed(done.stderr.strip())
    manifests = [document for document in yaml.safe_load_all(done.stdout) if document]
    return Rendered(manifests)


def render_error(values: Mapping[str, Any], helm: Path) -> str:
    """Helm's message when it refuses `values`; fails the test if it renders them."""
    done = _helm_template(values, helm)
    assert done.returncode != 0, "helm rendered values that should have been refused"
    return done.stderr
