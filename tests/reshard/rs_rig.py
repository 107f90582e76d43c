"""The resharding rig: Redis 8 shards that survive kill -9, and several
routers over them that can be killed and started again.

Why not tests/python's Deployment as it is: a move is tested with one
shard restarted half-way, so the shards must keep their data across
kill -9 (appendonly yes + appendfsync always: every acknowledged write is
on disk before Redis answers it), and with two routers, one of them
killed and started again on the same URL.  Rig extends Deployment for
that (same start, wait and cleanup code; a Router is registered for
cleanup the moment it is spawned), so everything it started dies on any
exit: close(), `with`, the atexit hook, or meson's SIGTERM (run.py turns
it into sys.exit).

Layout: shards[0..nlayout) are the deployment's --shard list; the shards
after them are spares that a move adds.  Routers are started with the
first n shards of that list (an old list is allowed: the router adopts
the topology record it finds on the shards).
"""
from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from typing import Dict, List, Optional, Sequence

import redis

from vsetd_harness import Deployment, HarnessError, Shard, _kill, _redis_ping, _tail, free_port

_LISTENING = re.compile(r"listening on (tcp://[^\s,]+)")
START_TIMEOUT_S = 15.0
REDIS_SOCKET_TIMEOUT_S = 10.0
# Redis arguments that make kill -9 lose nothing acknowledged.
DURABLE_ARGS = ("--appendonly", "yes", "--appendfsync", "always")


class Router:
    """One vsetd process of the rig; the URL stays the same across restarts."""

    def __init__(self, name: str, workdir: str) -> None:
        self.name = name
        self.port = free_port()
        self.url = f"tcp://127.0.0.1:{self.port}"
        self.log = os.path.join(workdir, f"vsetd-{name}.log")
        self.proc: Optional[subprocess.Popen] = None
        self.starts = 0

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


class Rig(Deployment):
    """with Rig(layout=3, spares=1) as rig: rig.start_router("a", 3)..."""

    def __init__(self, layout: int = 3, spares: int = 1,
                 router_args: Sequence[str] = (), durable: bool = True) -> None:
        self.routers: Dict[str, Router] = {}
        self.layout = layout
        self.router_args = list(router_args)
        # The benchmark runs without AOF, as scripts/bench does.
        self.redis_args = DURABLE_ARGS if durable else ("--appendonly", "no")
        super().__init__(shards=layout + spares, start_vsetd=False)

    # ------------------------------------------------------------ shards

    def _start_shard(self, index: int, port: Optional[int], timeout: float) -> Shard:
        """As Deployment's, with DURABLE_ARGS (unless durable=False); the
        same workdir on a restart, so Redis loads its append-only file."""
        server = os.environ.get("REDIS_SERVER", "redis-server")
        workdir = os.path.join(self.tmp, f"shard{index}")
        os.makedirs(workdir, exist_ok=True)
        tries = 1 if port is not None else 5
        last = ""
        for _ in range(tries):
            p = port if port is not None else free_port()
            log = open(os.path.join(workdir, "redis.log"), "ab")
            proc = subprocess.Popen(
                [server, "--port", str(p), "--bind", "127.0.0.1", "--save", "",
                 *self.redis_args, "--daemonize", "no", "--dir", workdir],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
            log.close()
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                if proc.poll() is not None:
                    break
                if _redis_ping(p) and self._loaded(p):
                    return Shard(index, p, workdir, proc)
                time.sleep(0.05)
            _kill(proc)
            last = _tail(os.path.join(workdir, "redis.log"))
        raise HarnessError(f"redis shard {index} did not start:\n{last}")

    @staticmethod
    def _loaded(port: int) -> bool:
        """PING answers -LOADING while the AOF is replayed: wait for it."""
        try:
            r = redis.Redis(port=port, socket_timeout=1.0)
            try:
                return int(r.info("persistence").get("loading", 1)) == 0
            finally:
                r.close()
        except redis.RedisError:
            return False

    def redis(self, i: int) -> redis.Redis:
        """A fresh redis-py connection to shard i (caller closes it)."""
        return redis.Redis(port=self.shards[i].port, socket_timeout=REDIS_SOCKET_TIMEOUT_S)

    def addresses(self, n: Optional[int] = None) -> List[str]:
        return [s.address for s in self.shards[: (self.layout if n is None else n)]]

    # ------------------------------------------------------------ routers

    def start_router(self, name: str, nshards: int,
                     timeout: float = START_TIMEOUT_S) -> Router:
        """Start (or start again) router `name` with the first nshards
        shards as its --shard list; returns once it is listening."""
        binary = os.environ.get("VSETD_BIN")
        if not binary or not os.access(binary, os.X_OK):
            raise HarnessError(f"no vsetd binary (VSETD_BIN={binary!r})")
        r = self.routers.get(name)
        if r is None:
            r = self.routers[name] = Router(name, self.tmp)
        if r.alive():
            raise HarnessError(f"router {name} is already running")
        cmd = [binary, "--listen", r.url]
        for s in self.shards[:nshards]:
            cmd += ["--shard", s.address]
        cmd += self.router_args
        with open(r.log, "ab") as log:
            log.write(f"---- start {r.starts + 1}: {' '.join(cmd)}\n".encode())
            log.flush()
            start_at = log.tell()
            r.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=log,
                                      stdin=subprocess.DEVNULL)
        r.starts += 1
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with open(r.log, "r", errors="replace") as f:
                f.seek(start_at)
                if _LISTENING.search(f.read()):
                    return r
            if r.proc.poll() is not None:
                break
            time.sleep(0.05)
        rc = r.proc.poll()
        raise HarnessError(f"router {name} did not report 'listening on' (exit status {rc}):\n"
                           f"{_tail(r.log)}")

    def kill_router(self, name: str) -> None:
        """kill -9: no drain, connections reset."""
        _kill(self.routers[name].proc)

    def router_log(self, name: str) -> str:
        return _tail(self.routers[name].log, 20000)

    # ------------------------------------------------------------ cleanup

    def close(self) -> None:
        for r in self.routers.values():
            if r.proc is not None:
                _kill(r.proc)
        super().close()


def kill9(proc: subprocess.Popen) -> None:
    """kill -9 a helper process of the test (a move driver) and reap it."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
