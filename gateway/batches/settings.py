"""The `batches` configuration section: where uploaded files live, their limits, and how batch jobs run."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["BatchesConfig"]


class BatchesConfig(BaseModel):
    """The Files and Batches APIs (`/v1/files`, `/v1/batches`): batch jobs the gateway runs itself,
    line by line through its own pipeline, at the lowest priority."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    enabled: bool = True
    """Serve `/v1/files` and `/v1/batches` and run the batches. Off: those routes answer 404 and no
    batch runs (batches already created wait, and expire, in the store)."""
    directory: Path | None = None
    """Where uploaded files and batch results are written, created if missing. Default: `files` beside
    the store's SQLite file (`data/files` for `data/gateway.db`). Their metadata is in the `store`:
    with several replicas this directory must be one they all share (a ReadWriteMany volume in the
    Helm chart)."""
    max_file_bytes: Annotated[int, Field(ge=1024, le=2 * 1024**3)] = 200 * 1024 * 1024
    """Largest file `POST /v1/files` accepts (OpenAI's limit for a batch input file: 200 MB)."""
    max_lines: Annotated[int, Field(ge=1, le=1_000_000)] = 50_000
    """Most requests one batch input file may hold (OpenAI's limit: 50,000)."""
    completion_window_seconds: Annotated[int, Field(ge=1, le=30 * 86_400)] = 86_400
    """How long a batch has to finish, from its creation (`completion_window: 24h`): lines not done
    by then are written to its error file as `batch_expired` and the batch ends `expired`."""
    concurrency: Annotated[int, Field(ge=1, le=1024)] = 16
    """Lines each gateway process sends at once, all batches together. With fair sharing, interactive
    requests still go first: these wait in the `batch` priority class."""
    claim_after_seconds: Annotated[float, Field(gt=0, le=86_400)] = 60.0
    """A line taken by a process that has not finished it nor said it is still working on it for this
    long (the process crashed) is taken over by another. Processes renew their lines every third of
    this, so it need not exceed the longest request."""
    poll_seconds: Annotated[float, Field(gt=0, le=60)] = 1.0
    """How often each process looks for batches to work on and lines to take."""

    pause_seconds: Annotated[float, Field(gt=0, le=86_400)] = 30.0
    """How long a batch pauses when a line is refused for want of capacity (no backend available, a
    rate limit without a `retry-after`); a spent budget pauses it until the budget resets."""

    def files_directory(self, store_path: Path) -> Path:
        """`directory`, or `files` beside the store's SQLite file (`store.path`)."""
        return self.directory if self.directory is not None else store_path.parent / "files"
