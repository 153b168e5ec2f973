"""The pods run unprivileged, read-only, with no Kubernetes API token, on the image's user."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest

from gateway.routes import ROUTES
from tests.helm.rendering import ROOT, Rendered
from tests.helm.scenarios import SCENARIOS

Scenario = Callable[[str], Rendered]


def _dockerfile_user() -> int:
    users = re.findall(r"^USER (\d+)", (ROOT / "Dockerfile").read_text(encoding="utf-8"), re.MULTILINE)
    return int(users[-1])


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_restrictive_security_context(scenario: Scenario, name: str) -> None:
    rendered = scenario(name)
    pod = rendered.pod_spec["securityContext"]
    assert pod["runAsNonRoot"] is True
    assert pod["runAsUser"] == _dockerfile_user() == 10001
    assert pod["seccompProfile"] == {"type": "RuntimeDefault"}
    container = rendered.container["securityContext"]
    assert container["runAsNonRoot"] is True
    assert container["runAsUser"] != 0
    assert container["readOnlyRootFilesystem"] is True
    assert container["allowPrivilegeEscalation"] is False
    assert container["capabilities"] == {"drop": ["ALL"]}
    assert container["seccompProfile"] == {"type": "RuntimeDefault"}
    assert rendered.pod_spec["automountServiceAccountToken"] is False
    for risky in ("hostNetwork", "hostPID", "hostIPC"):
        assert risky not in rendered.pod_spec


def test_writable_places_are_empty_dirs(scenario: Scenario) -> None:
    rendered = scenario("defaults")
    volumes = {volume["name"]: volume for volume in rendered.pod_spec["volumes"]}
    writable = [mount for mount in rendered.container["volumeMounts"] if not mount.get("readOnly")]
    # Without a claim, batch files go to an emptyDir of their own (one replica trying batches out).
    assert {mount["mountPath"] for mount in writable} == {
        "/tmp",
        "/var/run/gateway/metrics",
        "/var/lib/gateway/files",
    }
    for mount in writable:
        assert "emptyDir" in volumes[mount["name"]]
        assert volumes[mount["name"]]["emptyDir"]["sizeLimit"]


def test_policies_are_mounted_as_a_directory_so_kubelet_updates_them(scenario: Scenario) -> None:
    """A subPath mount is a copy frozen at start: edits would never reach the running gateway."""
    for mount in scenario("defaults").container["volumeMounts"]:
        assert "subPath" not in mount


def test_probes_hit_the_gateways_health_routes(scenario: Scenario) -> None:
    container = scenario("defaults").container
    paths = {path for handler in ROUTES for path in handler.paths}
    assert container["readinessProbe"]["httpGet"]["path"] == "/health/ready"
    assert container["livenessProbe"]["httpGet"]["path"] == "/health/live"
    assert container["startupProbe"]["httpGet"]["path"] == "/health/live"
    assert {"/health/ready", "/health/live"} <= paths
    ports = {port["name"]: port["containerPort"] for port in container["ports"]}
    for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
        assert container[probe]["httpGet"]["port"] in ports
