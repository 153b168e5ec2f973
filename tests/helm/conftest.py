from __future__ import annotations

from collections.abc import Callable
from functools import cache
from pathlib import Path

import pytest

from tests.helm.install_helm import HELM_RELEASES
from tests.helm.rendering import HelmMissing, Rendered, helm_binary, render
from tests.helm.scenarios import SCENARIOS


@pytest.fixture(scope="session")
def helm() -> Path:
    """The newest pinned Helm. Missing, every chart test fails and says how to install it."""
    try:
        return helm_binary()
    except HelmMissing as exc:
        pytest.fail(str(exc))


@pytest.fixture(scope="session", params=[release.version for release in HELM_RELEASES])
def every_helm(request: pytest.FixtureRequest) -> Path:
    """Each pinned Helm in turn (3 and 4)."""
    (release,) = [release for release in HELM_RELEASES if release.version == request.param]
    try:
        return helm_binary(release)
    except HelmMissing as exc:
        pytest.fail(str(exc))


@pytest.fixture(scope="session")
def scenario(helm: Path) -> Callable[[str], Rendered]:
    """The chart rendered with one of the named representative values, once per session."""

    @cache
    def rendered(name: str) -> Rendered:
        return render(SCENARIOS[name], helm)

    return rendered
