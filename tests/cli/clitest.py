"""
clitest.py - what the vset command-line tests share: TAP output, the
routing contract recomputed in Python, a tiny RESP client, and a
Deployment (Redis 8 shards + one vsetd on loopback ephemeral ports, all
owned and stopped by it).  Imported by test_cli.py and test_surface_cli.py;
run with Debian's /usr/bin/python3.
"""

import json
import math
import re
import os
import socket
import subprocess
import sys
import time

VSET = os.environ.get("VSET_BIN")
VSETD = os.environ.get("VSETD_BIN")
REDIS_SERVER = os.environ.get("REDIS_SERVER")
REDIS_CLI = os.environ.get("REDIS_CLI")

NSHARDS = 3
START_TIMEOUT = 15        # seconds, for a server to come up


class Tap:
    def __init__(self):
        self.n = 0
        self.failed = 0

    def ok(self, cond, name, diag=None):
        self.n += 1
        cond = bool(cond)
        print("%s %d - %s" % ("ok" if cond else "not ok", self.n, name))
        if not cond:
            self.failed += 1
            if diag is not None:
                for line in str(diag).splitlines() or [""]:
                    print("#   " + line)
        sys.stdout.flush()
        return cond

    def diag(self, msg):
        for line in str(msg).splitlines():
            print("# " + line)
        sys.stdout.flush()


T = Tap()


M64 = (1 << 64) - 1


def shard_of(ident, nshards=NSHARDS):
    """The routing contract of src/common/vs_hash.h, written again from its
    description: FNV-1a 64, fmix64, jump consistent hash."""
    h = 0xcbf29ce484222325
    for b in ident.encode("utf-8"):
        h ^= b
        h = (h * 0x100000001b3) & M64
    h ^= h >> 33
    h = (h * 0xff51afd7ed558ccd) & M64
    h ^= h >> 33
    h = (h * 0xc4ceb9fe1a85ec53) & M64
    h ^= h >> 33
    b, j, key = -1, 0, h
    while j < nshards:
        b = j
        key = (key * 2862933555777941757 + 1) & M64
        j = int(float(b + 1) * (float(1 << 31) / float((key >> 33) + 1)))
    return b


class RespError(Exception):
    pass


def resp(port, *args, timeout=10):
    """One command to Redis over RESP2; bulk strings come back as bytes,
    errors as RespError, a dead server as ConnectionError/OSError."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        out = b"*%d\r\n" % len(args)
        for a in args:
            a = a if isinstance(a, bytes) else str(a).encode()
            out += b"$%d\r\n%s\r\n" % (len(a), a)
        s.sendall(out)
        f = s.makefile("rb")
        return _resp_read(f)


def _resp_read(f):
    line = f.readline()
    if not line.endswith(b"\r\n"):
        raise ConnectionError("short reply")
    t, rest = line[:1], line[1:-2]
    if t == b"+":
        return rest.decode()
    if t == b"-":
        raise RespError(rest.decode())
    if t == b":":
        return int(rest)
    if t == b"$":
        n = int(rest)
        if n < 0:
            return None
        data = f.read(n + 2)
        return data[:-2]
    if t == b"*":
        n = int(rest)
        return None if n < 0 else [_resp_read(f) for _ in range(n)]
    raise ConnectionError("bad reply type %r" % t)


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stop(p):
    if p is None or p.poll() is not None:
        return
    p.terminate()
    try:
        p.wait(timeout=5)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait(timeout=5)


class Deployment:
    """Redis shards and one vsetd, all owned by this object."""

    def __init__(self, tmp):
        self.tmp = tmp
        self.procs = []
        self.ports = []
        self.redis = []
        self.url = None
        self.vsetd_log = os.path.join(tmp, "vsetd.log")

    def start_redis(self):
        for _ in range(5):
            port = free_port()
            d = os.path.join(self.tmp, "redis-%d" % port)
            os.makedirs(d, exist_ok=True)
            with open(os.path.join(d, "log"), "w") as log:
                p = subprocess.Popen(
                    [REDIS_SERVER, "--port", str(port), "--bind",
                     "127.0.0.1", "--save", "", "--appendonly", "no",
                     "--dir", d], stdout=log, stderr=subprocess.STDOUT)
            self.procs.append(p)
            deadline = time.monotonic() + START_TIMEOUT
            while time.monotonic() < deadline and p.poll() is None:
                try:
                    if resp(port, "PING", timeout=1) == "PONG":
                        return port, p
                except (OSError, ConnectionError):
                    pass
                time.sleep(0.05)
            stop(p)
        raise RuntimeError("redis-server did not start")

    def start(self, nshards=NSHARDS):
        for _ in range(nshards):
            port, p = self.start_redis()
            self.ports.append(port)
            self.redis.append(p)
        self.url = self.start_router(self.ports, self.vsetd_log)

    def start_router(self, ports, log_path):
        """One more vsetd in front of the shards on ports (in that order),
        logging to log_path; its URL.  Stopped by close()."""
        args = [VSETD, "--listen", "tcp://127.0.0.1:0"]
        for port in ports:
            args += ["--shard", "127.0.0.1:%d" % port]
        with open(log_path, "w") as log:
            p = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
        self.procs.append(p)
        deadline = time.monotonic() + START_TIMEOUT
        pat = re.compile(r"listening on (tcp://127\.0\.0\.1:\d+)")
        while time.monotonic() < deadline and p.poll() is None:
            with open(log_path) as f:
                m = pat.search(f.read())
            if m:
                return m.group(1)
            time.sleep(0.05)
        with open(log_path) as f:
            raise RuntimeError("vsetd did not start:\n" + f.read())

    def kill_shard(self, i):
        stop(self.redis[i])
        self.redis[i] = None

    def close(self):
        for p in reversed(self.procs):
            stop(p)


class Run:
    def __init__(self, args, code, out, err, secs):
        self.args, self.code, self.out, self.err = args, code, out, err
        self.secs = secs

    def json(self):
        try:
            return json.loads(self.out)
        except ValueError:
            return None

    def __str__(self):
        return "vset %s\nexit %s after %.2fs\nstdout: %s\nstderr: %s" % (
            " ".join(self.args), self.code, self.secs, self.out[:3000],
            self.err[:3000])


def vec_str(v):
    return ",".join(repr(float(x)) for x in v)


def cosine(a, b):
    dot = sum(x * y for x, y in zip(a, b))
    return dot / (math.sqrt(sum(x * x for x in a)) *
                  math.sqrt(sum(y * y for y in b)))
