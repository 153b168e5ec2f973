"""The install examples in docs/kubernetes.md and the chart's README render into a valid gateway."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from gateway.config import GatewayConfig
from tests.helm.rendering import CHART, ROOT, render

EXAMPLES = {
    "docs/kubernetes.md": (ROOT / "docs" / "kubernetes.md", r"```yaml\n# my-values.yaml\n(.*?)```"),
    "chart README": (CHART / "README.md", r"cat > my-values.yaml <<'EOF'\n(.*?)EOF\n"),
}


@pytest.mark.parametrize("where", sorted(EXAMPLES))
def test_documented_values_install(helm: Path, where: str) -> None:
    path, pattern = EXAMPLES[where]
    found = re.search(pattern, path.read_text(encoding="utf-8"), re.DOTALL)
    assert found is not None, f"{where}: no example values found"
    rendered = render(yaml.safe_load(found.group(1)), helm)
    GatewayConfig.model_validate(rendered.gateway_config)


def test_documented_redis_topologies_install(helm: Path) -> None:
    """The Sentinel and Cluster examples of docs/kubernetes.md, each with the chart's other defaults."""
    text = (ROOT / "docs" / "kubernetes.md").read_text(encoding="utf-8")
    examples = re.findall(r"```yaml\n(redis: .*?)```", text, re.DOTALL)
    assert len(examples) == 2, "docs/kubernetes.md should show a Sentinel and a Cluster example"
    modes = set()
    for example in examples:
        store = GatewayConfig.model_validate(render(yaml.safe_load(example), helm).gateway_config).store
        modes.add(store.redis_mode)
    assert modes == {"sentinel", "cluster"}
