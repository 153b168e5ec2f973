"""The chart renders the same on Helm 3 (what most clusters run) and Helm 4, and lints clean on both."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.helm.install_helm import HELM_RELEASES
from tests.helm.rendering import CHART, HelmMissing, helm_binary, render
from tests.helm.scenarios import SCENARIOS


def _all_helms() -> list[Path]:
    try:
        return [helm_binary(release) for release in HELM_RELEASES]
    except HelmMissing as exc:
        pytest.fail(str(exc))


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_every_helm_renders_the_same_manifests(name: str) -> None:
    first, *others = [render(SCENARIOS[name], helm).manifests for helm in _all_helms()]
    for manifests in others:
        assert manifests == first


def test_chart_lints_clean(every_helm: Path) -> None:
    done = subprocess.run(
        [str(every_helm), "lint", "--strict", str(CHART)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr
