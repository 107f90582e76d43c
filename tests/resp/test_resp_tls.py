#!/usr/bin/python3
"""The Redis-protocol front door over TLS (--resp-listen tls://HOST:PORT).

Certificates are made at test time with the openssl command line (a CA, a
server certificate for 127.0.0.1, a client certificate from the same CA and
one from another CA).  What a user relies on: redis-cli --tls and redis-py
with ssl=True work against the door as against a TLS Redis (pipelines in
order, large replies whole, RESP3); a plaintext client, or a client that
never finishes its handshake, is closed, not left hanging; with
--tls-verify-clients only a client certificate from --tls-ca gets in; TLS
connections count against --max-buffered-bytes like everything else.
"""
from __future__ import annotations

import os
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import unittest
from typing import Dict

sys.path.insert(0, os.environ.get("VSETD_HARNESS_DIR",
                                  os.path.join(os.path.dirname(__file__), "..", "python")))
from vsetd_harness import Deployment, free_port  # noqa: E402
from vsetd_harness import make_certs as harness_make_certs  # noqa: E402

import redis  # noqa: E402  (Debian's python3-redis)

DIM = 4
KEY = "docs"
# --frame-timeout-ms of the handshake test, and the margin for a 2-core CI
# machine (the bound is checked every 100 ms)
FRAME_TIMEOUT_MS = 300
CI_MARGIN_S = 5.0
# TLS connections tried against --max-buffered-bytes 1 MiB (the least it
# takes): each holds 48 KiB of TLS buffers and a 16 KiB read buffer, so
# far fewer fit
TLS_TRIES = 40


def make_certs(d: str) -> Dict[str, str]:
    """A CA with a server and a client certificate, and a second CA with a
    "stranger" client certificate."""
    return harness_make_certs(d, cas=[("ca", "vsetd test ca"), ("ca2", "vsetd test ca2")],
                              leaves=[("server", "vsetd test server", "ca"),
                                      ("client", "vsetd test client", "ca"),
                                      ("stranger", "vsetd test stranger", "ca2")],
                              server_san="IP:127.0.0.1,DNS:localhost")


def tls_client(port: int, certs: Dict[str, str], who: str = "", **kw) -> redis.Redis:
    extra = {}
    if who:
        extra = {"ssl_certfile": certs[f"{who}.crt"], "ssl_keyfile": certs[f"{who}.key"]}
    kw.setdefault("socket_timeout", 10)
    return redis.Redis(host="127.0.0.1", port=port, ssl=True, ssl_ca_certs=certs["ca.crt"],
                       **extra, **kw)


def closed_by_peer(s: socket.socket) -> bool:
    """True once the peer closed (EOF or reset); False if it timed out."""
    try:
        while True:
            if s.recv(4096) == b"":
                return True
    except (ConnectionResetError, BrokenPipeError):
        return True
    except socket.timeout:
        return False


@unittest.skipUnless(shutil.which("openssl"), "openssl not installed")
class TlsBase(unittest.TestCase):
    tmp: tempfile.TemporaryDirectory
    certs: Dict[str, str]

    @classmethod
    def setUpClass(cls) -> None:
        cls.tmp = tempfile.TemporaryDirectory(prefix="vsetd-resp-tls-")
        cls.certs = make_certs(cls.tmp.name)

    @classmethod
    def tearDownClass(cls) -> None:
        cls.tmp.cleanup()

    def tls_args(self, port: int, *extra: str) -> list:
        return ["--resp-listen", f"tls://127.0.0.1:{port}",
                "--tls-cert", self.certs["server.crt"], "--tls-key", self.certs["server.key"],
                *extra]


class TlsDoor(TlsBase):
    @classmethod
    def setUpClass(cls) -> None:
        super().setUpClass()
        cls.port = free_port()
        cls.dep = Deployment(shards=2, vsetd_args=[
            "--resp-listen", f"tls://127.0.0.1:{cls.port}",
            "--tls-cert", cls.certs["server.crt"], "--tls-key", cls.certs["server.key"],
            "--frame-timeout-ms", str(FRAME_TIMEOUT_MS)])

    @classmethod
    def tearDownClass(cls) -> None:
        cls.dep.close()
        super().tearDownClass()

    def test_redis_py_pipeline_and_large_replies(self):
        c = tls_client(self.port, self.certs)
        self.assertTrue(c.ping())
        p = c.pipeline(transaction=False)
        for i in range(500):
            p.execute_command("VADD", KEY, "VALUES", DIM, 1, i % 7, i % 3, i, f"e{i}",
                              "SETATTR", '{"pad":"%s"}' % ("p" * 200))
        self.assertEqual(p.execute(), [1] * 500)
        # 1,000 pipelined commands, replies in order across TLS records
        p = c.pipeline(transaction=False)
        want = []
        for i in range(1000):
            if i % 2:
                p.execute_command("ECHO", f"{i}:" + "z" * 3000)
                want.append(f"{i}:".encode() + b"z" * 3000)
            else:
                p.execute_command("VISMEMBER", KEY, f"e{i % 500}")
                want.append(1)
        self.assertEqual(p.execute(), want)
        # one reply of ~300 KB (many TLS records)
        r = c.execute_command("VSIM", KEY, "VALUES", DIM, 1, 1, 1, 1, "COUNT", 500,
                              "WITHSCORES", "WITHATTRIBS")
        self.assertEqual(len(r), 1500)
        self.assertEqual(c.execute_command("VCARD", KEY), 500)
        c.close()

    def test_redis_cli_tls_and_resp3(self):
        cli = os.environ.get("REDIS_CLI", "redis-cli")
        base = [cli, "--tls", "--cacert", self.certs["ca.crt"], "-h", "127.0.0.1",
                "-p", str(self.port)]
        subprocess.run(base + ["VADD", "clidocs", "VALUES", "3", "1", "0", "0", "a"],
                       capture_output=True, text=True, timeout=10, check=True)
        subprocess.run(base + ["VADD", "clidocs", "VALUES", "3", "0", "1", "0", "b"],
                       capture_output=True, text=True, timeout=10, check=True)
        r = subprocess.run(base + ["-3", "VSIM", "clidocs", "VALUES", "3", "1", "0.1", "0",
                                   "WITHSCORES"],
                           capture_output=True, text=True, timeout=10, check=True)
        # (redis-cli prints raw replies when not on a terminal)
        self.assertEqual(r.stdout.split(), ["a", "0.9975185990333557", "b", "0.5509271025657654"])
        # the wrong CA: redis-cli refuses the server, nothing hangs
        r = subprocess.run([cli, "--tls", "--cacert", self.certs["ca2.crt"], "-h", "127.0.0.1",
                            "-p", str(self.port), "PING"],
                           capture_output=True, text=True, timeout=10)
        self.assertNotIn("PONG", r.stdout)

    def test_plaintext_client_is_closed(self):
        for payload in (b"*1\r\n$4\r\nPING\r\n", b"PING\r\n"):
            s = socket.create_connection(("127.0.0.1", self.port), timeout=CI_MARGIN_S)
            s.sendall(payload)
            self.assertTrue(closed_by_peer(s), f"plaintext {payload!r} left hanging")
            s.close()
        with self.assertRaises(redis.exceptions.ConnectionError):
            redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=CI_MARGIN_S).ping()
        self.assertIn("TLS handshake failed", self.dep.log())
        self.assertIsNone(self.dep.vsetd.poll(), "vsetd died")

    def test_handshake_bounded_by_frame_timeout(self):
        # nothing sent, and half a ClientHello: both closed after
        # --frame-timeout-ms, while a good client is served meanwhile
        idle = socket.create_connection(("127.0.0.1", self.port), timeout=CI_MARGIN_S)
        half = socket.create_connection(("127.0.0.1", self.port), timeout=CI_MARGIN_S)
        half.sendall(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03")
        t0 = time.monotonic()
        self.assertTrue(tls_client(self.port, self.certs).ping())
        self.assertTrue(closed_by_peer(idle), "a silent TLS client is never closed")
        self.assertTrue(closed_by_peer(half), "half a handshake is never closed")
        self.assertLess(time.monotonic() - t0, FRAME_TIMEOUT_MS / 1000 + CI_MARGIN_S)
        idle.close()
        half.close()
        self.assertIn("TLS handshake incomplete for more than --frame-timeout-ms",
                      self.dep.log())


class TlsSlowReader(TlsBase):
    def test_unread_replies_bound_then_all_in_order(self):
        """A TLS client that pipelines without reading: vsetd stops reading
        it at --max-conn-pending-bytes (leaving commands decrypted in
        OpenSSL's buffer or in the socket), then answers everything, in
        order, once the client reads."""
        port = free_port()
        n, pad = 15000, "x" * 1000     # 15 MB: more than the kernel buffers
        with Deployment(shards=1, vsetd_args=self.tls_args(
                port, "--max-conn-pending-bytes", "8192")) as d:
            ctx = ssl.create_default_context(cafile=self.certs["ca.crt"])
            s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port),
                                                         timeout=CI_MARGIN_S),
                                server_hostname="127.0.0.1")
            s.setblocking(False)
            out = b"".join(b"*2\r\n$4\r\nECHO\r\n$%d\r\n%s\r\n" %
                           (len(f"{i}:{pad}"), f"{i}:{pad}".encode()) for i in range(n))
            want = b"".join(b"$%d\r\n%s\r\n" % (len(f"{i}:{pad}"), f"{i}:{pad}".encode())
                            for i in range(n))
            got, sent, stalled = bytearray(), 0, False
            deadline = time.monotonic() + 60
            # one thread (an SSL socket is not shared): send until the
            # server stops reading, wait, then read and send in turn
            while sent < len(out) and not stalled:
                try:
                    sent += s.send(out[sent:sent + 65536])
                except (ssl.SSLWantWriteError, ssl.SSLWantReadError, BlockingIOError):
                    stalled = True
            time.sleep(0.5)
            while len(got) < len(want) and time.monotonic() < deadline:
                progress = False
                try:
                    chunk = s.recv(262144)
                    if not chunk:
                        break
                    got += chunk
                    progress = True
                except (ssl.SSLWantReadError, ssl.SSLWantWriteError, BlockingIOError):
                    pass
                if sent < len(out):
                    try:
                        sent += s.send(out[sent:sent + 65536])
                        progress = True
                    except (ssl.SSLWantWriteError, ssl.SSLWantReadError, BlockingIOError):
                        pass
                if not progress:
                    time.sleep(0.005)
            s.close()
            self.assertTrue(stalled, "vsetd never pushed back (the bound was not reached)")
            self.assertEqual(len(got), len(want))
            self.assertEqual(bytes(got), want)
            self.assertIsNone(d.vsetd.poll())


class TlsVerifyClients(TlsBase):
    def test_client_certificate_required(self):
        port = free_port()
        with Deployment(shards=1, vsetd_args=self.tls_args(
                port, "--tls-ca", self.certs["ca.crt"], "--tls-verify-clients")) as d:
            c = tls_client(port, self.certs, "client")
            self.assertEqual(c.execute_command("VADD", KEY, "VALUES", 2, 1, 0, "a"), 1)
            self.assertEqual(c.execute_command("VCARD", KEY), 1)
            c.close()
            # TLS 1.3: the server checks the client's certificate after
            # the client considers the handshake done, so the refusal
            # shows on the first command
            for who in ("", "stranger"):
                with self.assertRaises((redis.exceptions.ConnectionError, ssl.SSLError),
                                       msg=f"client cert {who or 'none'}"):
                    tls_client(port, self.certs, who).execute_command("VCARD", KEY)
            self.assertIn("TLS handshake failed", d.log())
            self.assertIsNone(d.vsetd.poll())

    def test_tls_settings_checked_at_start(self):
        port = free_port()
        # tls:// without a certificate: vsetd refuses to start
        with Deployment(shards=1, start_vsetd=False) as d:
            binary = os.environ["VSETD_BIN"]
            r = subprocess.run([binary, "--shard", d.shards[0].address,
                                "--resp-listen", f"tls://127.0.0.1:{port}"],
                               capture_output=True, text=True, timeout=10)
            self.assertEqual(r.returncode, 2)
            self.assertIn("needs --tls-cert and --tls-key", r.stderr)
            # the plain door with TLS files given for it alone: refused too
            r = subprocess.run([binary, "--shard", d.shards[0].address,
                                "--resp-listen", f"127.0.0.1:{port}",
                                "--tls-cert", self.certs["server.crt"],
                                "--tls-key", self.certs["server.key"]],
                               capture_output=True, text=True, timeout=10)
            self.assertEqual(r.returncode, 2)
            self.assertIn("TLS settings given", r.stderr)


class TlsBounds(TlsBase):
    def test_tls_connections_count_against_max_buffered(self):
        """Each TLS connection holds record buffers: they count against
        --max-buffered-bytes, so past it a new TLS connection is refused
        (and nobody already connected is cut)."""
        port = free_port()
        with Deployment(shards=1, vsetd_args=self.tls_args(
                port, "--max-message-bytes", "65536",
                "--max-buffered-bytes", "1048576")) as d:
            held, refused = [], 0
            for _ in range(TLS_TRIES):
                c = tls_client(port, self.certs, socket_timeout=CI_MARGIN_S)
                try:
                    c.ping()
                    held.append(c)
                except (redis.exceptions.ConnectionError, ssl.SSLError):
                    refused += 1
            self.assertGreaterEqual(len(held), 1)
            self.assertGreater(refused, 0, f"{TLS_TRIES} TLS connections fit in 1 MiB")
            for c in held:
                self.assertTrue(c.ping(), "a connected client was cut")
                c.connection_pool.disconnect()  # (close() keeps it open)
            self.assertIn("refusing a TLS connection", d.log())
            # the room comes back when they close (once vsetd has read
            # their EOFs: retried within the CI margin)
            deadline = time.monotonic() + CI_MARGIN_S
            while True:
                try:
                    self.assertTrue(tls_client(port, self.certs).ping())
                    break
                except (redis.exceptions.ConnectionError, ssl.SSLError):
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.1)


if __name__ == "__main__":
    unittest.main(verbosity=2)
