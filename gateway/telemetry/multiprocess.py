"""Metrics with several worker processes: prometheus_client's multiprocess mode.

Each uvicorn worker has its own event loop and its own counts, and a scrape reaches one worker
only. In multiprocess mode every worker writes its values to memory-mapped files in a directory the
workers share (`PROMETHEUS_MULTIPROC_DIR`); the worker that answers a scrape reads and merges all of
them. prometheus_client picks the mode once, when it is first imported, from that environment
variable: so the parent process (`gateway serve`) must set it before the workers start.

With one worker nothing is shared: the values live in the process, and no directory is needed.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from prometheus_client import CollectorRegistry, values
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead

from gateway.telemetry.settings import MetricsConfig

__all__ = [
    "MULTIPROCESS_ENVIRONMENT",
    "collect_directory",
    "forget_dead_workers",
    "forget_worker",
    "multiprocess_metrics",
    "shared_directory",
]

MULTIPROCESS_ENVIRONMENT = "PROMETHEUS_MULTIPROC_DIR"
"""The variable prometheus_client reads when it is first imported."""

# The files of gauges whose value is dropped when their worker exits: `gauge_livesum_<pid>.db`.
_LIVE_GAUGE_FILES = "gauge_live*_*.db"


def shared_directory() -> Path | None:
    """The directory this process writes its metrics to, or None in single-process mode.

    The mode is the one prometheus_client chose when it was imported; the variable only says where.
    Setting the variable after that import does not change the mode, and is ignored here too."""
    if values.ValueClass is values.MutexValue:
        return None
    directory = os.environ.get(MULTIPROCESS_ENVIRONMENT)
    if not directory:
        raise RuntimeError(
            f"prometheus_client is in multiprocess mode but {MULTIPROCESS_ENVIRONMENT} is no longer set"
        )
    return Path(directory)


@contextlib.contextmanager
def multiprocess_metrics(config: MetricsConfig, workers: int) -> Iterator[Path | None]:
    """Around `uvicorn.run` in `gateway serve`: the directory the workers share, or None.

    With several workers (or a `PROMETHEUS_MULTIPROC_DIR` already set, which prometheus_client
    obeys even with one), it is `config.multiprocess_directory`, else the inherited variable's, else a
    new temporary directory; its metric files are deleted (values of an earlier run would otherwise
    be added to this run's), and the variable is set for the workers to inherit. At exit the
    variable is restored and a temporary directory removed.
    """
    inherited = os.environ.get(MULTIPROCESS_ENVIRONMENT)
    if not config.enabled or (workers <= 1 and inherited is None):
        yield None
        return
    created = False
    if config.multiprocess_directory is not None:
        directory = config.multiprocess_directory
    elif inherited:
        directory = Path(inherited)
    else:
        directory = Path(tempfile.mkdtemp(prefix="gateway-metrics-"))
        created = True
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    # Only the files prometheus_client writes: a directory given by mistake keeps everything else.
    for stale in directory.glob("*.db"):
        stale.unlink(missing_ok=True)
    os.environ[MULTIPROCESS_ENVIRONMENT] = str(directory)
    try:
        yield directory
    finally:
        if inherited is None:
            os.environ.pop(MULTIPROCESS_ENVIRONMENT, None)
        else:
            os.environ[MULTIPROCESS_ENVIRONMENT] = inherited
        if created:
            shutil.rmtree(directory, ignore_errors=True)


def forget_dead_workers(directory: Path) -> list[int]:
    """Drop the live gauges (in-flight counts, backend views) of workers that no longer run.

    uvicorn's supervisor has no hook for a worker's death, and a worker killed by the kernel cannot
    clean up after itself: the worker answering a scrape checks instead. Counters and histograms of
    dead workers are kept, so that totals never go down. Returns the pids forgotten."""
    pids: set[int] = set()
    for file in directory.glob(_LIVE_GAUGE_FILES):
        suffix = file.stem.rpartition("_")[2]
        if suffix.isdigit():
            pids.add(int(suffix))
    dead = sorted(pid for pid in pids if not _running(pid))
    for pid in dead:
        forget_worker(pid, directory)
    return dead


def forget_worker(pid: int, directory: Path) -> None:
    """Remove the live gauges of worker `pid` (it has exited, or is about to)."""
    mark_process_dead(pid, str(directory))  # type: ignore[no-untyped-call]


def collect_directory(registry: CollectorRegistry, directory: Path) -> None:
    """Make `registry` read and merge every worker's files in `directory` at each collection."""
    MultiProcessCollector(registry, path=str(directory))  # type: ignore[no-untyped-call]


def _running(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)  # signal 0: nothing is sent, only whether the process exists is checked
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, under another user
    return True
