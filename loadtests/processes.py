"""The processes a benchmark runs: start, pin to a CPU, wait until up, measure CPU time, stop.

Every process is started by the benchmark itself, on 127.0.0.1 only, and `Processes.stop_all`
stops them even after an error or Ctrl-C (SIGINT first so uvicorn shuts down cleanly, then SIGKILL).
"""

from __future__ import annotations

import contextlib
import http.client
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

__all__ = [
    "CpuLayout",
    "CpuMeter",
    "CpuUsage",
    "Processes",
    "cpu_busy_seconds",
    "cpu_layout",
    "free_port",
    "process_cpu_seconds",
    "wait_for_quiet",
    "wait_until_up",
]

_LOOPBACK = "127.0.0.1"
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
_STOP_GRACE_SECONDS = 10.0
_REPOSITORY = Path(__file__).resolve().parent.parent


@dataclass(frozen=True, slots=True)
class CpuLayout:
    """Which CPUs the proxy under test gets, and which the simulator and load generator share."""

    proxy: frozenset[int] | None
    load: frozenset[int] | None

    @property
    def pinned(self) -> bool:
        return self.proxy is not None

    def describe(self) -> str:
        if self.proxy is None or self.load is None:
            return "not pinned (fewer than 2 CPUs)"
        return f"gateway on CPU {_cpus(self.proxy)}; simulator and load generator on CPU {_cpus(self.load)}"


def _cpus(cpus: frozenset[int]) -> str:
    return ",".join(str(cpu) for cpu in sorted(cpus))


def cpu_layout() -> CpuLayout:
    """The gateway alone on the first allowed CPU, everything else on the second; none on one CPU."""
    allowed = sorted(os.sched_getaffinity(0))
    if len(allowed) < 2:
        return CpuLayout(None, None)
    return CpuLayout(frozenset({allowed[0]}), frozenset({allowed[1]}))


def pin(pid: int, cpus: frozenset[int] | None) -> None:
    # Threads the process starts later inherit the mask, so pinning right after start is enough.
    if cpus is not None:
        os.sched_setaffinity(pid, cpus)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((_LOOPBACK, 0))
        port: int = sock.getsockname()[1]
        return port


def _children(pid: int) -> list[int]:
    found: list[int] = []
    with contextlib.suppress(OSError):
        for task in os.listdir(f"/proc/{pid}/task"):
            with contextlib.suppress(OSError):
                found += [
                    int(child) for child in Path(f"/proc/{pid}/task/{task}/children").read_text().split()
                ]
    return found


def process_cpu_seconds(pid: int) -> float:
    """User plus system CPU time of a process and its descendants, from /proc/PID/stat."""
    total = 0.0
    pending = [pid]
    while pending:
        current = pending.pop()
        with contextlib.suppress(OSError):
            stat = Path(f"/proc/{current}/stat").read_text()
            # The command name (field 2) may hold spaces; the fields after its closing ')' do not.
            fields = stat[stat.rfind(")") + 2 :].split()
            total += (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS  # utime, stime
        pending += _children(current)
    return total


def cpu_busy_seconds() -> dict[int, float]:
    """Non-idle time of every CPU since boot, from /proc/stat (to notice other load on a CPU)."""
    busy: dict[int, float] = {}
    for line in Path("/proc/stat").read_text().splitlines():
        name, *values = line.split()
        if not name.startswith("cpu") or name == "cpu":
            continue
        ticks = [int(value) for value in values]
        idle = ticks[3] + ticks[4]  # idle + iowait
        guest = sum(ticks[8:10])  # already counted in user and nice
        busy[int(name[3:])] = (sum(ticks) - idle - guest) / _CLOCK_TICKS
    return busy


@dataclass(slots=True)
class CpuUsage:
    """CPU time spent during a measured window."""

    own_s: float = 0.0
    """By the measuring process itself."""
    watched_s: dict[int, float] = field(default_factory=dict)
    """By each watched process (with its children), keyed by PID."""
    busy_s: dict[int, float] = field(default_factory=dict)
    """Non-idle time of each CPU, whoever used it."""


class CpuMeter:
    """Takes CPU readings at the start and the end of a window (the load generator's clocked run)."""

    def __init__(self, watched_pids: Sequence[int] = ()) -> None:
        self._watched_pids = tuple(watched_pids)
        self._start = CpuUsage()
        self.usage = CpuUsage()
        """The last window's usage, set by `stop`."""

    def _reading(self) -> CpuUsage:
        watched = {pid: process_cpu_seconds(pid) for pid in self._watched_pids}
        return CpuUsage(time.process_time(), watched, cpu_busy_seconds())

    def start(self) -> None:
        self._start = self._reading()

    def stop(self) -> CpuUsage:
        end, start = self._reading(), self._start
        self.usage = CpuUsage(
            own_s=end.own_s - start.own_s,
            watched_s={
                pid: seconds - start.watched_s.get(pid, 0.0) for pid, seconds in end.watched_s.items()
            },
            busy_s={cpu: seconds - start.busy_s.get(cpu, 0.0) for cpu, seconds in end.busy_s.items()},
        )
        return self.usage


def wait_for_quiet(seconds: float, busy_fraction: float = 0.1) -> bool:
    """Wait (at most `seconds`) for a one-second window in which no CPU is busier than `busy_fraction`.

    The machine may be shared: a run that starts while another program computes measures both.
    """
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        before = cpu_busy_seconds()
        time.sleep(1.0)
        after = cpu_busy_seconds()
        if all(after[cpu] - before.get(cpu, 0.0) <= busy_fraction for cpu in after):
            return True
    return False


def _http_status(port: int, path: str) -> int | None:
    connection = http.client.HTTPConnection(_LOOPBACK, port, timeout=2.0)
    try:
        connection.request("GET", path)
        return connection.getresponse().status
    except OSError:
        return None
    finally:
        connection.close()


def wait_until_up(process: subprocess.Popen[bytes], port: int, path: str, seconds: float) -> bool:
    """Poll `GET path` until it answers 200, the process exits, or `seconds` pass."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        if _http_status(port, path) == 200:
            return True
        time.sleep(0.1)
    return False


class Processes:
    """The benchmark's child processes, each with a log file in the scratch directory (which is also
    their working directory), all stopped by `stop_all`."""

    def __init__(self, log_dir: Path) -> None:
        self._log_dir = log_dir
        self._running: list[tuple[str, subprocess.Popen[bytes], IO[bytes]]] = []

    def start(
        self, name: str, arguments: Sequence[str], cpus: frozenset[int] | None, *, program: str | None = None
    ) -> subprocess.Popen[bytes]:
        """Start `program` (default: this Python) with `arguments`, pinned to `cpus`."""
        log = (self._log_dir / f"{name}.log").open("wb")
        # Run in the scratch directory, so that whatever a server writes next to itself goes there;
        # the repository stays importable, for the programs of `loadtests` itself (its OTLP receiver).
        environment = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join(filter(None, [str(_REPOSITORY), os.environ.get("PYTHONPATH")])),
        }
        process = subprocess.Popen(
            [program or sys.executable, *arguments],
            cwd=self._log_dir,
            env=environment,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        self._running.append((name, process, log))
        pin(process.pid, cpus)
        return process

    def log_tail(self, name: str, lines: int = 20) -> str:
        path = self._log_dir / f"{name}.log"
        if not path.exists():
            return ""
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])

    def stop(self, process: subprocess.Popen[bytes]) -> None:
        for entry in list(self._running):
            if entry[1] is process:
                self._running.remove(entry)
                _stop(process)
                entry[2].close()

    def stop_all(self) -> None:
        while self._running:
            self.stop(self._running[-1][1])


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=_STOP_GRACE_SECONDS)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=_STOP_GRACE_SECONDS)
