"""A real deployment for Python-driven tests: N Redis 8 shards + one vsetd,
all on loopback ephemeral ports, all killed on exit.

Used by tests/python, tests/conformance, tests/resp and tests/install.
Binaries come from the environment meson's test_env sets: REDIS_SERVER,
VSETD_BIN (or a vsetd path given explicitly, e.g. an installed one).

Also here, because several test files need the same thing: make_certs (a
throwaway CA and certificates made by openssl(1), for the TLS tests) and
CannedRep (nngcat --rep answering one canned reply, a stock nng peer for
the client libraries).

Every wait is bounded.  Every process started is registered at once for
cleanup: Deployment.close() (also via `with` and an atexit hook) sends
SIGCONT then SIGKILL to whatever is still running and removes the temp dirs,
so a failing test never leaves servers behind.
"""
from __future__ import annotations

import atexit
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from typing import Dict, List, Optional, Sequence, Tuple

__all__ = ["Deployment", "Shard", "free_port", "redis_cli", "HarnessError",
           "make_certs", "CannedRep"]

_LISTENING = re.compile(r"listening on ((?:tcp|ipc|tcp4|tcp6|tls\+tcp|ws|wss)://[^\s,]+)")
_LIVE: "set[Deployment]" = set()
NNGCAT = shutil.which("nngcat") or "nngcat"  # nng's own command line peer
OPENSSL_TIMEOUT_S = 60          # one openssl(1) command (an RSA key or a signature)
CERT_DAYS = "2"                 # the certificates outlive any test run
LISTEN_WAIT_S = 10.0            # nngcat --rep starting to listen
LISTEN_POLL_S = 0.02            # how often that is checked
PROBE_TIMEOUT_S = 0.5           # one connect to see whether it listens yet
REP_EXIT_WAIT_S = 10            # a killed nngcat --rep going away


class HarnessError(Exception):
    pass


def free_port() -> int:
    """A loopback TCP port that was free a moment ago (bind :0, read, close).
    Callers retry on the rare race with another process taking it."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _redis_ping(port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def redis_cli(port: int, *args: str, timeout: float = 10.0) -> str:
    """Run $REDIS_CLI against a shard and return its stdout (raw mode)."""
    cli = os.environ.get("REDIS_CLI", "redis-cli")
    out = subprocess.run([cli, "-h", "127.0.0.1", "-p", str(port), "--no-raw", *args],
                         capture_output=True, text=True, timeout=timeout, check=True)
    return out.stdout


class Shard:
    def __init__(self, index: int, port: int, workdir: str, proc: subprocess.Popen) -> None:
        self.index = index
        self.port = port
        self.workdir = workdir
        self.proc = proc

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"


class Deployment:
    """with Deployment(shards=3) as d: d.url is the vsetd to talk to.
    start_vsetd=False starts the shards only; call start_vsetd() later."""

    def __init__(self, shards: int = 1, vsetd_args: Sequence[str] = (),
                 vsetd_bin: Optional[str] = None, listen: str = "tcp://127.0.0.1:0",
                 start_timeout: float = 15.0, start_vsetd: bool = True) -> None:
        self.tmp = tempfile.mkdtemp(prefix="vsetd-test-")
        self.shards: List[Shard] = []
        self.vsetd: Optional[subprocess.Popen] = None
        self.vsetd_log = os.path.join(self.tmp, "vsetd.log")
        self.url = ""
        self._stopped: "set[int]" = set()
        _LIVE.add(self)
        try:
            for i in range(shards):
                self.shards.append(self._start_shard(i, None, start_timeout))
            if start_vsetd:
                self.start_vsetd(vsetd_args, vsetd_bin, listen, start_timeout)
        except BaseException:
            self.close()
            raise

    # ------------------------------------------------------------ redis

    def _start_shard(self, index: int, port: Optional[int], timeout: float) -> Shard:
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
                 "--appendonly", "no", "--daemonize", "no", "--dir", workdir],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
            log.close()
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                if proc.poll() is not None:
                    break
                if _redis_ping(p):
                    return Shard(index, p, workdir, proc)
                time.sleep(0.05)
            _kill(proc)
            last = _tail(os.path.join(workdir, "redis.log"))
        raise HarnessError(f"redis shard {index} did not start:\n{last}")

    def kill_shard(self, i: int) -> None:
        """kill -9: the shard vanishes, connections are reset."""
        _kill(self.shards[i].proc)

    def stop_shard(self, i: int) -> None:
        """SIGSTOP: the shard accepts connections but never answers."""
        self.shards[i].proc.send_signal(signal.SIGSTOP)
        self._stopped.add(self.shards[i].proc.pid)

    def cont_shard(self, i: int) -> None:
        self.shards[i].proc.send_signal(signal.SIGCONT)
        self._stopped.discard(self.shards[i].proc.pid)

    def restart_shard(self, i: int, timeout: float = 10.0) -> None:
        """Start shard i again on the same port (after kill_shard)."""
        old = self.shards[i]
        _kill(old.proc)
        self.shards[i] = self._start_shard(i, old.port, timeout)

    # ------------------------------------------------------------ vsetd

    def start_vsetd(self, args: Sequence[str] = (), vsetd_bin: Optional[str] = None,
                    listen: str = "tcp://127.0.0.1:0", timeout: float = 15.0) -> str:
        binary = vsetd_bin or os.environ.get("VSETD_BIN")
        if not binary or not os.access(binary, os.X_OK):
            raise HarnessError(f"no vsetd binary (VSETD_BIN={binary!r})")
        cmd = [binary, "--listen", listen]
        for s in self.shards:
            cmd += ["--shard", s.address]
        cmd += list(args)
        log = open(self.vsetd_log, "wb")
        self.vsetd = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=log,
                                      stdin=subprocess.DEVNULL)
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with open(self.vsetd_log, "r", errors="replace") as f:
                m = _LISTENING.search(f.read())
            if m:
                self.url = m.group(1)
                return self.url
            if self.vsetd.poll() is not None:
                break
            time.sleep(0.05)
        rc = self.vsetd.poll()
        raise HarnessError(f"vsetd did not report 'listening on' (exit status {rc}):\n"
                           f"{' '.join(cmd)}\n{_tail(self.vsetd_log)}")

    def stop_vsetd(self, timeout: float = 10.0) -> int:
        """SIGTERM vsetd and return its exit status (killed if it hangs)."""
        if self.vsetd is None or self.vsetd.poll() is not None:
            return self.vsetd.returncode if self.vsetd else 0
        self.vsetd.send_signal(signal.SIGCONT)
        self.vsetd.terminate()
        try:
            return self.vsetd.wait(timeout)
        except subprocess.TimeoutExpired:
            _kill(self.vsetd)
            raise HarnessError(f"vsetd ignored SIGTERM for {timeout} s")

    def log(self) -> str:
        return _tail(self.vsetd_log, 4000)

    # ------------------------------------------------------------ cleanup

    def close(self) -> None:
        procs = [s.proc for s in self.shards] + ([self.vsetd] if self.vsetd else [])
        for p in procs:
            _kill(p)
        shutil.rmtree(self.tmp, ignore_errors=True)
        _LIVE.discard(self)

    def __enter__(self) -> "Deployment":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def make_certs(d: str, cas: Sequence[Tuple[str, str]], leaves: Sequence[Tuple[str, str, str]],
               server_san: str) -> Dict[str, str]:
    """Throwaway certificates in directory d, made with the openssl command
    line: for each (name, CN) in cas a self-signed CA, name.key and
    name.crt; for each (who, CN, CA name) in leaves a key, request and
    certificate who.key, who.csr, who.crt signed by that CA.  The leaf
    "server" is for serverAuth with subjectAltName server_san (e.g.
    "DNS:localhost,IP:127.0.0.1"); every other leaf is for clientAuth.
    Returns {file name: path} of every file made (the caller removes d)."""
    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], check=True, capture_output=True,
                       timeout=OPENSSL_TIMEOUT_S, cwd=d)

    p: Dict[str, str] = {}

    def path(name: str) -> str:
        p[name] = os.path.join(d, name)
        return p[name]

    with open(path("server.ext"), "w") as f:
        f.write(f"subjectAltName={server_san}\nextendedKeyUsage=serverAuth\n")
    with open(path("client.ext"), "w") as f:
        f.write("extendedKeyUsage=clientAuth\n")
    for ca, cn in cas:
        openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", CERT_DAYS,
                "-subj", f"/CN={cn}", "-keyout", path(f"{ca}.key"), "-out", path(f"{ca}.crt"))
    for who, cn, ca in leaves:
        ext = p["server.ext"] if who == "server" else p["client.ext"]
        openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={cn}",
                "-keyout", path(f"{who}.key"), "-out", path(f"{who}.csr"))
        openssl("x509", "-req", "-in", p[f"{who}.csr"], "-CA", p[f"{ca}.crt"],
                "-CAkey", p[f"{ca}.key"], "-CAcreateserial", "-days", CERT_DAYS,
                "-extfile", ext, "-out", path(f"{who}.crt"))
    return p


def _wait_listening(url: str, proc: subprocess.Popen) -> None:
    """Until something accepts on url's address (a TCP port, or the ipc
    socket file), so a client's synchronous dial cannot race the peer."""
    deadline = time.monotonic() + LISTEN_WAIT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"nngcat --rep {url} exited at once: {proc.stderr.read().decode()}")
        if url.startswith("ipc://"):
            if os.path.exists(url[len("ipc://"):]):
                return
        else:
            hostport = url.split("://", 1)[1].split("/", 1)[0]
            host, port = hostport.rsplit(":", 1)
            try:
                socket.create_connection((host, int(port)), timeout=PROBE_TIMEOUT_S).close()
                return
            except OSError:
                pass
        time.sleep(LISTEN_POLL_S)
    raise AssertionError(f"nngcat --rep never listened on {url}")


class CannedRep:
    """nngcat --rep on url answering ONE request with a canned reply body
    (tls: nngcat's --cert/--key options, for tls+tcp:// and wss://); the
    constructor returns once it listens.  request() is the raw request it
    received (--raw on stdout); close() kills it if still running and
    removes its temp dir: call it in a finally."""

    def __init__(self, url: str, reply: bytes, tls: Sequence[str] = ()) -> None:
        self.tmp = tempfile.mkdtemp(prefix="vsetd-nngcat-rep-")
        body = os.path.join(self.tmp, "reply.bin")
        with open(body, "wb") as f:
            f.write(reply)
        self.url = url
        self.proc = subprocess.Popen(
            [NNGCAT, "--rep", "--listen", url, *tls, "--file", body, "--raw", "--count", "1"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
        try:
            _wait_listening(url, self.proc)
        except BaseException:
            self.close()
            raise

    def request(self, timeout: float = 10.0) -> bytes:
        out, err = self.proc.communicate(timeout=timeout)
        if not out:
            raise AssertionError(f"nngcat --rep {self.url} received nothing: {err.decode()}")
        return out

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.communicate(timeout=REP_EXIT_WAIT_S)
        shutil.rmtree(self.tmp, ignore_errors=True)


def _kill(proc: subprocess.Popen) -> None:
    if proc.poll() is not None:
        return
    try:
        proc.send_signal(signal.SIGCONT)  # a stopped process cannot die otherwise
        proc.kill()
        proc.wait(10)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        pass


def _tail(path: str, n: int = 2000) -> str:
    try:
        with open(path, "r", errors="replace") as f:
            return f.read()[-n:]
    except OSError:
        return "(no log)"


@atexit.register
def _cleanup_all() -> None:
    for d in list(_LIVE):
        d.close()
