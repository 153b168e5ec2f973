"""A private redis-server for tests: own port on 127.0.0.1, own temporary directory, no persistence.

    with running_redis() as url:            # "redis://127.0.0.1:PORT/0"
        ...

    with redis_server() as server:          # to stop and restart it (failure tests)
        server.stop()
        server.start()                      # same port, empty data
        server.pause(); server.resume()     # frozen: open connections, no answers
        server.kill()                       # crashed (SIGKILL)

    with redis_cluster() as cluster:        # 3 masters, `cluster_state:ok` on every node
        cluster.addresses                   # ["127.0.0.1:P1", ...], for store.cluster_nodes

    with redis_sentinel() as servers:       # a master, its replica in sync, one Sentinel (quorum 1)
        servers.addresses, servers.master_name
        servers.master.kill()               # the Sentinel promotes the replica within a few seconds

Servers are started from the `redis-server` on the PATH (the CI installs it, 7.0 or later, with
`redis-cli`) and asked `PING` until they answer, within a bounded time; every wait for a cluster or a
replica is bounded too. They are always stopped at the end, killed if they must be.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.servers import free_port

__all__ = [
    "ClusterServers",
    "RedisServer",
    "SentinelServers",
    "redis_cluster",
    "redis_command",
    "redis_sentinel",
    "redis_server",
    "running_redis",
]

STARTUP_TIMEOUT = 10.0
STOP_TIMEOUT = 5.0


def _ping(port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
            sock.sendall(b"PING\r\n")
            # A server with a password answers, too: that it wants one.
            return sock.recv(64).startswith((b"+PONG", b"-NOAUTH"))
    except OSError:
        return False


class RedisServer:
    """One redis-server process; `start()` and `stop()` may be called again and again.

    `options` are more command-line options (`["--replicaof", "127.0.0.1", "6379"]`); `config_file`, a
    configuration file read first (a Sentinel needs one it can rewrite); `sentinel`, run as a Sentinel.
    """

    def __init__(
        self,
        directory: Path,
        port: int | None = None,
        *,
        options: Sequence[str] = (),
        config_file: Path | None = None,
        sentinel: bool = False,
    ) -> None:
        self.directory = directory
        self.port = port if port is not None else free_port()
        self.options = list(options)
        self.config_file = config_file
        self.sentinel = sentinel
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self, timeout: float = STARTUP_TIMEOUT) -> None:
        if self.running:
            return
        executable = shutil.which("redis-server")
        if executable is None:
            raise RuntimeError("redis-server is not on the PATH (apt-get install redis-server)")
        log = self.directory / "redis.log"
        command = [executable] + ([str(self.config_file)] if self.config_file is not None else [])
        command += ["--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.directory),
                    "--logfile", str(log), "--protected-mode", "yes"]  # fmt: skip
        # A Sentinel keeps no data: it has no use for (and may refuse) the persistence options.
        command += ["--sentinel"] if self.sentinel else ["--save", "", "--appendonly", "no"]
        self._process = subprocess.Popen(
            command + self.options,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + timeout
        while not _ping(self.port):
            if self._process.poll() is not None:
                tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
                self._process = None
                raise RuntimeError(f"redis-server on port {self.port} exited during startup:\n{tail}")
            if time.monotonic() > deadline:
                self.stop()
                raise TimeoutError(f"redis-server on port {self.port} did not answer PING within {timeout} s")
            time.sleep(0.02)

    def pause(self) -> None:
        """Freeze the server (SIGSTOP): connections stay open and nothing answers, like a partition."""
        if self._process is not None:
            self._process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        if self._process is not None:
            self._process.send_signal(signal.SIGCONT)

    def kill(self) -> None:
        """Kill the process at once (SIGKILL), as a crash or a lost machine would end it."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.kill()
            process.wait(STOP_TIMEOUT)

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGCONT)  # a paused server could not act on SIGTERM
        process.terminate()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout)


@contextmanager
def redis_server() -> Iterator[RedisServer]:
    """A started RedisServer in a temporary directory, stopped and removed at the end."""
    with tempfile.TemporaryDirectory(prefix="gateway-redis-") as directory:
        attempts = 3  # the free port may be taken between choosing it and binding it
        for attempt in range(attempts):
            server = RedisServer(Path(directory))
            try:
                server.start()
                break
            except RuntimeError:
                if attempt == attempts - 1:
                    raise
        try:
            yield server
        finally:
            server.stop()


@contextmanager
def running_redis() -> Iterator[str]:
    """The URL of a private redis-server, for the duration of the block."""
    with redis_server() as server:
        yield server.url


def _started(directory: Path, **options: Any) -> RedisServer:
    """A RedisServer started in `directory`, on ports chosen again if a chosen one was taken meanwhile."""
    directory.mkdir(parents=True, exist_ok=True)
    attempts = 3
    for attempt in range(attempts):
        chosen = {name: value() if callable(value) else value for name, value in options.items()}
        server = RedisServer(directory, **chosen)
        try:
            server.start()
            return server
        except RuntimeError:
            if attempt == attempts - 1:
                raise
    raise AssertionError("unreachable")


def redis_command(port: int, *arguments: str, password: str | None = None, timeout: float = 5.0) -> str:
    """What `redis-cli -p PORT ARGUMENTS...` prints (the CI installs redis-cli with redis-server)."""
    executable = shutil.which("redis-cli")
    if executable is None:
        raise RuntimeError("redis-cli is not on the PATH (apt-get install redis-tools)")
    # The password through the environment: out of the process list, and without redis-cli's warning.
    environment = {**os.environ, "REDISCLI_AUTH": password} if password is not None else None
    done = subprocess.run(
        [executable, "-h", "127.0.0.1", "-p", str(port), *arguments],
        env=environment,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"redis-cli {' '.join(arguments)} on port {port} failed: {done.stderr.strip()}")
    return done.stdout


def _wait_until(condition: Callable[[], bool], what: str, timeout: float = STARTUP_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} within {timeout} s")
        time.sleep(0.05)


# -- Redis Cluster ------------------------------------------------------------------------------


@dataclass
class ClusterServers:
    """The master nodes of a Redis Cluster on 127.0.0.1, without replicas."""

    nodes: list[RedisServer]

    @property
    def addresses(self) -> list[str]:
        """`127.0.0.1:PORT` of every node, as `store.cluster_nodes` takes them."""
        return [f"127.0.0.1:{node.port}" for node in self.nodes]

    def state_ok(self) -> bool:
        """Every node sees every slot served (`cluster_state:ok`)."""
        return all("cluster_state:ok" in redis_command(node.port, "CLUSTER", "INFO") for node in self.nodes)


def _cluster_node(directory: Path) -> RedisServer:
    def options() -> list[str]:
        # The cluster bus gets its own free port: the default (port + 10000) may be taken or out of range.
        return ["--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
                "--cluster-port", str(free_port()), "--cluster-node-timeout", "2000"]  # fmt: skip

    return _started(directory, options=options)


@contextmanager
def redis_cluster(masters: int = 3) -> Iterator[ClusterServers]:
    """A Redis Cluster of `masters` masters (no replicas), created with `redis-cli --cluster create` and
    ready (`cluster_state:ok` on every node) when the block starts; every node is stopped at the end."""
    with tempfile.TemporaryDirectory(prefix="gateway-redis-cluster-") as directory:
        servers = ClusterServers([])
        try:
            for index in range(masters):
                servers.nodes.append(_cluster_node(Path(directory) / f"node-{index}"))
            executable = shutil.which("redis-cli")
            if executable is None:
                raise RuntimeError("redis-cli is not on the PATH (apt-get install redis-tools)")
            subprocess.run(
                [
                    executable,
                    "--cluster",
                    "create",
                    *servers.addresses,
                    "--cluster-replicas",
                    "0",
                    "--cluster-yes",
                ],
                capture_output=True,
                timeout=30,
                check=True,
            )
            _wait_until(servers.state_ok, "the cluster did not reach cluster_state:ok")
            yield servers
        finally:
            for node in servers.nodes:
                node.stop()


# -- Redis Sentinel -----------------------------------------------------------------------------

FAILOVER_DOWN_AFTER_MS = 500
"""How long the test Sentinel waits before it calls a silent master down."""


@dataclass
class SentinelServers:
    """A master, its replica and one Sentinel watching them (quorum 1), on 127.0.0.1."""

    master: RedisServer
    replica: RedisServer
    sentinel: RedisServer
    master_name: str
    password: str | None = None
    """The master's and the replica's (`requirepass`), if any."""
    sentinel_password: str | None = None
    """The Sentinel's own (`requirepass` in its configuration), if any."""

    @property
    def addresses(self) -> list[str]:
        """`127.0.0.1:PORT` of the Sentinel, as `store.sentinels` takes them."""
        return [f"127.0.0.1:{self.sentinel.port}"]

    def master_port(self) -> int:
        """The master's port, as the Sentinel names it now (it changes with a failover)."""
        reply = self._ask_sentinel("GET-MASTER-ADDR-BY-NAME", self.master_name)
        return int(reply.split()[1])

    def replica_synced(self) -> bool:
        reply = redis_command(self.replica.port, "INFO", "replication", password=self.password)
        return "master_link_status:up" in reply

    def replica_known(self) -> bool:
        """The Sentinel has found the replica (through the master's INFO): it can promote it."""
        return str(self.replica.port) in self._ask_sentinel("REPLICAS", self.master_name).split()

    def wait_for_replica(self, timeout_ms: int = 2000) -> None:
        """Until the replica has acknowledged every write made so far (replication is asynchronous)."""
        acknowledged = redis_command(self.master.port, "WAIT", "1", str(timeout_ms), password=self.password)
        if acknowledged.strip() != "1":
            raise TimeoutError(f"the replica did not acknowledge the master's writes within {timeout_ms} ms")

    def _ask_sentinel(self, *arguments: str) -> str:
        return redis_command(self.sentinel.port, "SENTINEL", *arguments, password=self.sentinel_password)


def _sentinel_config(directory: Path, servers: SentinelServers) -> Path:
    # A Sentinel rewrites its configuration file (it records what it learns): one of its own.
    directory.mkdir(parents=True, exist_ok=True)
    name = servers.master_name
    lines = [
        f"sentinel monitor {name} 127.0.0.1 {servers.master.port} 1",
        f"sentinel down-after-milliseconds {name} {FAILOVER_DOWN_AFTER_MS}",
        f"sentinel failover-timeout {name} 2000",
    ]
    if servers.password is not None:
        lines.append(f"sentinel auth-pass {name} {servers.password}")
    if servers.sentinel_password is not None:
        lines.append(f"requirepass {servers.sentinel_password}")
    path = directory / "sentinel.conf"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@contextmanager
def redis_sentinel(
    master_name: str = "sgw-master", *, password: str | None = None, sentinel_password: str | None = None
) -> Iterator[SentinelServers]:
    """A master, a replica in sync with it and a Sentinel that knows both, so that a failover can
    promote the replica (within a few seconds: small down-after and failover timeouts); all three are
    stopped at the end. `password`: the master's and the replica's; `sentinel_password`: the Sentinel's."""
    auth = [] if password is None else ["--requirepass", password, "--masterauth", password]
    with tempfile.TemporaryDirectory(prefix="gateway-redis-sentinel-") as directory:
        root = Path(directory)
        started: list[RedisServer] = []
        try:
            # No wait before the first full sync (Redis waits 5 s by default, for more replicas to join).
            master = _started(root / "master", options=["--repl-diskless-sync-delay", "0", *auth])
            started.append(master)
            replica = _started(
                root / "replica", options=["--replicaof", "127.0.0.1", str(master.port), *auth]
            )
            started.append(replica)
            # The Sentinel is started once the replica is in sync: it then finds it in the master's
            # first INFO, instead of ten seconds later. (Until then `sentinel` is a placeholder.)
            servers = SentinelServers(master, replica, master, master_name, password, sentinel_password)
            _wait_until(servers.replica_synced, "the replica did not sync with the master")
            config = _sentinel_config(root / "sentinel", servers)
            servers.sentinel = _started(root / "sentinel", config_file=config, sentinel=True)
            started.append(servers.sentinel)
            _wait_until(servers.replica_known, "the Sentinel did not find the replica")
            yield servers
        finally:
            for server in reversed(started):
                server.stop()
