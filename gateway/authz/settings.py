"""The `policy` section of the gateway's configuration file."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from gateway.authz.snapshot import DEFAULT_CACHE_SIZE

__all__ = ["PolicyConfig"]


class PolicyConfig(BaseModel):
    """Where the authorization policy lives and how it is reloaded.

    Relative paths are resolved against the directory of the configuration file that names them, not
    against the working directory: the gateway is started from anywhere (systemd, a container's
    entrypoint, `make demo`), while a configuration file and its policies are deployed together (one
    directory, one Kubernetes ConfigMap), so the file means the same thing wherever it is started from.
    """

    model_config = ConfigDict(
        extra="forbid", frozen=True, protected_namespaces=(), use_attribute_docstrings=True
    )

    model_file: Path = Path("policies/model.conf")
    """Casbin model (RBAC with departments), relative to the configuration file's directory. Rarely
    changed; see policies/README.md for what may change."""
    policy_file: Path = Path("policies/policy.csv")
    """The rules: `p` permissions and `g` role grants, one a line (relative to the configuration
    file's directory)."""
    reload_interval: Annotated[float, Field(ge=0)] = 1.0
    """Seconds between two checks of both files for changes; a changed policy is checked and swapped
    in without a restart or a failed request, a broken one is refused and logged (the old one stays).
    0 turns hot reload off."""
    decision_cache_size: Annotated[int, Field(ge=0)] = DEFAULT_CACHE_SIZE
    """Decisions remembered per loaded policy (one per distinct key, model and operation); the oldest
    is dropped when full, and all are dropped on reload. 0 turns the cache off (every request then
    costs a Casbin evaluation, tens of microseconds)."""

    def resolve(self, base_dir: Path) -> tuple[Path, Path]:
        """The model and policy files, relative paths taken from `base_dir` (the configuration file's
        directory)."""
        return base_dir / self.model_file, base_dir / self.policy_file
