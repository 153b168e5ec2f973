"""Where real vLLM's virtual environment lives: one per version of ``requirements.lock``.

It is 3.5 GB and takes minutes to install, so it sits outside the work tree (``$VLLM_HOME``, by default
``~/.cache/sovereign-gateway``), named after the lock's hash: every clone on a machine reuses it while
the lock is unchanged, and a changed lock gets a new one. The Makefile and the tests both ask this
module, so they agree on the path.
"""

from __future__ import annotations

import hashlib
import os
import sys
from pathlib import Path

LOCK = Path(__file__).with_name("requirements.lock")


def home() -> Path:
    return Path(os.environ.get("VLLM_HOME") or Path.home() / ".cache" / "sovereign-gateway")


def env_path() -> Path:
    digest = hashlib.sha256(LOCK.read_bytes()).hexdigest()[:16]
    return home() / f"vllm-{digest}"


def python() -> Path:
    return env_path() / "bin" / "python"


def is_installed() -> bool:
    return (env_path() / ".installed").is_file()


if __name__ == "__main__":
    print(env_path() if sys.argv[1:] != ["home"] else home())
