#!/usr/bin/python3
"""The Redis-protocol front door (--resp-listen, docs/resp.md).

vsetd with 3 Redis 8 shards, side by side with one plain Redis 8 holding the
same data, driven by Debian's python3-redis (execute_command), raw sockets
and Redis 8's redis-cli.  What a user relies on: a Redis client pointed at
vsetd gets the answers (and, where Redis's reply is deterministic, the very
bytes) a single Redis gives; pipelines keep their order; bad input is the
same kind of error; a shard down is an error unless --resp-partial allow.
"""
from __future__ import annotations

import json
import os
import random
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.environ.get("VSETD_HARNESS_DIR",
                                  os.path.join(os.path.dirname(__file__), "..", "python")))
from vsetd_harness import Deployment, free_port  # noqa: E402

import redis  # noqa: E402  (Debian's python3-redis)

DIM = 8
N = 300
KEY = "docs"
RNG = random.Random(14)
VECS = {f"e{i}": [round(RNG.uniform(-1, 1), 4) for _ in range(DIM)] for i in range(N)}
ATTRS = {f"e{i}": {"n": i, "even": i % 2 == 0} for i in range(0, N, 3)}


def enc(*args) -> bytes:
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


class Raw:
    """A raw RESP connection: send commands, read exactly one reply each."""

    def __init__(self, port: int, timeout: float = 10.0) -> None:
        self.s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buf = b""

    def close(self) -> None:
        self.s.close()

    def _fill(self) -> None:
        d = self.s.recv(65536)
        if not d:
            raise ConnectionError("closed")
        self.buf += d

    def _line(self, i: int) -> int:
        while True:
            j = self.buf.find(b"\r\n", i)
            if j >= 0:
                return j
            self._fill()

    def _reply_end(self, i: int) -> int:
        j = self._line(i)
        t, head = self.buf[i:i + 1], self.buf[i + 1:j]
        if t in (b"+", b"-", b":", b",", b"#", b"_", b"("):
            return j + 2
        if t in (b"$", b"="):
            n = int(head)
            if n < 0:
                return j + 2
            while len(self.buf) < j + 2 + n + 2:
                self._fill()
            return j + 2 + n + 2
        if t in (b"*", b"%", b"~", b">"):
            n = int(head) * (2 if t == b"%" else 1)
            k = j + 2
            for _ in range(max(n, 0)):
                k = self._reply_end(k)
            return k
        raise AssertionError(f"bad reply type {t!r} in {self.buf[:200]!r}")

    def read(self) -> bytes:
        end = self._reply_end(0)
        r, self.buf = self.buf[:end], self.buf[end:]
        return r

    def cmd(self, *args) -> bytes:
        self.s.sendall(enc(*args))
        return self.read()


def vadd_args(key, i):
    a = ["VADD", key, "VALUES", DIM, *VECS[i], i]
    if i in ATTRS:
        a += ["SETATTR", json.dumps(ATTRS[i])]
    return a


class Base(unittest.TestCase):
    dep: Deployment
    plain: Deployment
    port: int

    @classmethod
    def setUpClass(cls) -> None:
        cls.port = free_port()
        cls.dep = Deployment(shards=3, vsetd_args=["--resp-listen", f"127.0.0.1:{cls.port}"])
        cls.plain = Deployment(shards=1, start_vsetd=False)
        cls.ref_port = cls.plain.shards[0].port
        cls.v = redis.Redis(host="127.0.0.1", port=cls.port, socket_timeout=10)
        cls.r = redis.Redis(host="127.0.0.1", port=cls.ref_port, socket_timeout=10)
        for c in (cls.v, cls.r):
            p = c.pipeline(transaction=False)
            for i in VECS:
                p.execute_command(*vadd_args(KEY, i))
            assert all(x == 1 for x in p.execute()), "VADD did not add"

    @classmethod
    def tearDownClass(cls) -> None:
        cls.v.close()
        cls.r.close()
        cls.dep.close()
        cls.plain.close()

    def both(self, *args):
        return self.v.execute_command(*args), self.r.execute_command(*args)


class SideBySide(Base):
    def test_vsim_truth_same_ids_and_scores(self):
        for q in ["e0", "e17", "e250"]:
            for count in (1, 10, 50):
                a, b = self.both("VSIM", KEY, "VALUES", DIM, *VECS[q], "TRUTH",
                                 "WITHSCORES", "COUNT", count)
                self.assertEqual(a, b, f"VSIM TRUTH {q} COUNT {count}")
                self.assertEqual(len(a), 2 * count)
        a, b = self.both("VSIM", KEY, "ELE", "e5", "TRUTH", "WITHSCORES", "COUNT", 20)
        self.assertEqual(a, b)
        blob = struct.pack(f"<{DIM}f", *VECS["e9"])
        a, b = self.both("VSIM", KEY, "FP32", blob, "TRUTH", "COUNT", 15)
        self.assertEqual(a, b)

    def test_vsim_filter_epsilon_ef(self):
        a, b = self.both("VSIM", KEY, "ELE", "e3", "TRUTH", "WITHSCORES", "COUNT", 30,
                         "FILTER", ".even", "FILTER-EF", 5000)
        self.assertEqual(a, b)
        self.assertTrue(a)
        a, b = self.both("VSIM", KEY, "ELE", "e3", "TRUTH", "WITHSCORES", "COUNT", 100,
                         "EPSILON", "0.2")
        self.assertEqual(a, b)
        # HNSW (not TRUTH) on a small set: the exact neighbour is found
        a, b = self.both("VSIM", KEY, "ELE", "e7", "COUNT", 1, "EF", 200, "NOTHREAD")
        self.assertEqual(a, b)
        self.assertEqual(a, [b"e7"])

    def test_resp3_bytes_identical(self):
        """The same bytes as Redis for deterministic replies, RESP2 and 3."""
        cmds = [
            ("VSIM", KEY, "VALUES", DIM, *VECS["e1"], "TRUTH", "WITHSCORES", "COUNT", 7),
            ("VSIM", KEY, "ELE", "e2", "TRUTH", "COUNT", 5),
            ("VCARD", KEY), ("VCARD", "nokey"), ("VDIM", KEY), ("VDIM", "nokey"),
            ("VEMB", KEY, "e4"), ("VEMB", KEY, "e4", "RAW"), ("VEMB", KEY, "nope"),
            ("VGETATTR", KEY, "e3"), ("VGETATTR", KEY, "e4"), ("VGETATTR", KEY, "nope"),
            ("VISMEMBER", KEY, "e4"), ("VISMEMBER", KEY, "nope"), ("VISMEMBER", "nokey", "x"),
            ("VRANDMEMBER", "nokey"), ("VRANDMEMBER", "nokey", 3), ("VRANDMEMBER", KEY, 0),
            ("VSIM", "nokey", "VALUES", 2, 1, 0), ("VSIM", KEY, "ELE", "nope"),
            ("VREM", KEY, "nope"), ("VREM", "nokey", "x"),
            ("EXISTS", KEY, "nokey", KEY), ("TYPE", KEY), ("TYPE", "nokey"),
            ("PING",), ("PING", "hi"), ("ECHO", "x y"), ("SELECT", 0),
            ("FOO", "bar", "baz"), ("VADD", KEY), ("vsim", KEY), ("DEL",),
        ]
        for proto in (2, 3):
            a, b = Raw(self.port), Raw(self.ref_port)
            try:
                if proto == 3:
                    self.assertTrue(a.cmd("HELLO", 3).startswith(b"%7\r\n$6\r\nserver"))
                    b.cmd("HELLO", 3)
                for c in cmds:
                    self.assertEqual(a.cmd(*c), b.cmd(*c), f"RESP{proto} {c[:3]}")
            finally:
                a.close()
                b.close()

    def test_element_commands(self):
        for i in ["e0", "e1", "e3", "e299"]:
            a, b = self.both("VEMB", KEY, i)
            self.assertEqual(a, b)
            a, b = self.both("VGETATTR", KEY, i)
            self.assertEqual(a, b)
        self.assertEqual(*self.both("VCARD", KEY))
        self.assertEqual(*self.both("VDIM", KEY))
        self.assertEqual(*self.both("VSETATTR", KEY, "e1", '{"k":"v"}'))
        self.assertEqual(*self.both("VGETATTR", KEY, "e1"))
        self.assertEqual(*self.both("VSETATTR", KEY, "nope", '{"k":"v"}'))
        self.assertEqual(*self.both("VADD", KEY, "VALUES", DIM, *VECS["e1"], "e1"))
        info_v = dict(zip(*[iter(self.v.execute_command("VINFO", KEY))] * 2))
        info_r = dict(zip(*[iter(self.r.execute_command("VINFO", KEY))] * 2))
        for f in (b"quant-type", b"hnsw-m", b"vector-dim", b"size", b"attributes-count"):
            self.assertEqual(info_v[f], info_r[f], f)
        self.assertIsNone(self.v.execute_command("VINFO", "nokey"))
        # VLINKS: neighbours of one shard's graph, all members of the set
        links = self.v.execute_command("VLINKS", KEY, "e0")
        self.assertTrue(links and links[0])
        for lvl in links:
            for n in lvl:
                self.assertEqual(self.v.execute_command("VISMEMBER", KEY, n), 1)
        self.assertIsNone(self.v.execute_command("VLINKS", KEY, "nope"))

    def test_vrandmember_count_semantics(self):
        pos = self.v.execute_command("VRANDMEMBER", KEY, 20)
        self.assertEqual(len(pos), 20)
        self.assertEqual(len(set(pos)), 20, "positive count: distinct")
        allm = self.v.execute_command("VRANDMEMBER", KEY, N + 50)
        self.assertEqual(sorted(allm), sorted(k.encode() for k in VECS))
        neg = self.v.execute_command("VRANDMEMBER", KEY, -(N + 50))
        self.assertEqual(len(neg), N + 50, "negative count: exactly -count")
        self.assertTrue(set(neg) <= set(k.encode() for k in VECS))
        one = self.v.execute_command("VRANDMEMBER", KEY)
        self.assertIn(one.decode(), VECS)

    def test_keys_and_collections(self):
        self.v.execute_command("VADD", "tmp1", "VALUES", 2, 1, 0, "a")
        self.r.execute_command("VADD", "tmp1", "VALUES", 2, 1, 0, "a")
        self.assertEqual(sorted(self.v.execute_command("KEYS", "*")),
                         sorted(self.r.execute_command("KEYS", "*")))
        self.assertEqual(self.v.execute_command("KEYS", "tmp*"), [b"tmp1"])
        self.assertEqual(*self.both("DBSIZE"))
        cur, keys = self.v.execute_command("SCAN", 0, "MATCH", "tmp*")
        self.assertEqual((cur, keys), (0, [b"tmp1"]))
        self.assertEqual(*self.both("DEL", "tmp1", "nokey"))
        self.assertEqual(*self.both("EXISTS", "tmp1"))
        self.assertEqual(self.v.execute_command("VCARD", "tmp1"), 0)
        # VADD with the set's fixed parameters
        for c in (self.v, self.r):
            self.assertEqual(c.execute_command("VADD", "tmp2", "REDUCE", 4, "VALUES", DIM,
                                               *VECS["e0"], "a", "NOQUANT", "M", 8), 1)
        self.assertEqual(*self.both("VDIM", "tmp2"))
        self.assertEqual(*self.both("VEMB", "tmp2", "a"))
        self.both("DEL", "tmp2")

    def test_bad_input_same_kind_of_error(self):
        bad = [
            ("VADD", KEY, "VALUES", 3, 1, 0, 0, "x"),         # dimension mismatch
            ("VADD", KEY, "VALUES", "x", 1),                    # bad count
            ("VADD", KEY, "VALUES", DIM, *VECS["e0"][:-1], "q", "x"),
            ("VSIM", KEY, "VALUES", DIM, *VECS["e0"], "FILTER", ".n >"),
            ("VSIM", KEY, "ELE", "nope"),
            ("VSIM", KEY, "ELE", "e0", "COUNT", "zz", "BOGUS"),
            ("VDIM", "nokey"),
            ("NOSUCHCMD", "a"), ("VCARD",), ("SELECT", "x"),
        ]
        for c in bad:
            errs = []
            for cli in (self.v, self.r):
                with self.assertRaises(redis.exceptions.ResponseError, msg=str(c)) as cm:
                    cli.execute_command(*c)
                errs.append(cm.exception)
            self.assertEqual(type(errs[0]), type(errs[1]), str(c))
        # stricter than Redis: attributes must be a JSON object
        with self.assertRaises(redis.exceptions.ResponseError):
            self.v.execute_command("VSETATTR", KEY, "e0", "{not json")
        # the errors Redis formats itself are the same text
        for c in [("NOSUCHCMD", "a", "b"), ("VCARD",), ("del",), ("VDIM", "nokey")]:
            texts = []
            for cli in (self.v, self.r):
                try:
                    cli.execute_command(*c)
                except redis.exceptions.ResponseError as e:
                    texts.append(str(e))
            self.assertEqual(texts[0], texts[1], str(c))

    def test_wrongtype(self):
        self.r.execute_command("SET", "plainstring", "x")
        # a key vsetd did not create as a vector set, on its shard
        shard = self.dep.shards[0].port
        redis.Redis(port=shard).execute_command("SET", "vsetd:strkey", "x")
        with self.assertRaises(redis.exceptions.ResponseError) as cm:
            self.v.execute_command("VCARD", "strkey")
        self.assertTrue(str(cm.exception).startswith("WRONGTYPE"), str(cm.exception))
        with self.assertRaises(redis.exceptions.ResponseError) as cm:
            self.r.execute_command("VCARD", "plainstring")
        self.assertTrue(str(cm.exception).startswith("WRONGTYPE"), str(cm.exception))
        redis.Redis(port=shard).execute_command("DEL", "vsetd:strkey")


class Connection(Base):
    def test_pipeline_1000_in_order(self):
        p = self.v.pipeline(transaction=False)
        want = []
        for i in range(1000):
            k = i % 4
            if k == 0:
                p.execute_command("ECHO", f"m{i}")
                want.append(f"m{i}".encode())
            elif k == 1:
                p.execute_command("VISMEMBER", KEY, f"e{i % N}")
                want.append(1)
            elif k == 2:
                p.execute_command("VSIM", KEY, "ELE", f"e{i % N}", "COUNT", 1, "TRUTH")
                want.append([f"e{i % N}".encode()])
            else:
                p.execute_command("VISMEMBER", KEY, f"x{i}")
                want.append(0)
        self.assertEqual(p.execute(), want)

    def test_resp3_redis_cli(self):
        cli = os.environ.get("REDIS_CLI", "redis-cli")
        args = ["VSIM", KEY, "ELE", "e11", "TRUTH", "WITHSCORES", "COUNT", "4"]
        out = []
        for port in (self.port, self.ref_port):
            r = subprocess.run([cli, "-3", "-p", str(port), *args], capture_output=True,
                               text=True, timeout=10, check=True)
            out.append(r.stdout)
        self.assertEqual(out[0], out[1])
        self.assertIn("e11", out[0])
        # redis-cli's inline mode (from a terminal it sends arrays; stdin
        # lines are split by it): an inline command on a raw socket
        s = Raw(self.port)
        s.s.sendall(b'ECHO "a b"\r\nPING\r\n')
        self.assertEqual(s.read(), b"$3\r\na b\r\n")
        self.assertEqual(s.read(), b"+PONG\r\n")
        s.close()

    def test_disconnect_mid_pipeline(self):
        for _ in range(3):
            s = socket.create_connection(("127.0.0.1", self.port))
            s.sendall(b"".join(enc("VSIM", KEY, "ELE", f"e{i % N}", "COUNT", 20)
                               for i in range(500)))
            s.close()
        other = Raw(self.port)
        self.assertEqual(other.cmd("VISMEMBER", KEY, "e1"), b":1\r\n")
        other.close()
        self.assertIsNone(self.dep.vsetd.poll(), "vsetd died")
        self.assertEqual(self.v.execute_command("VCARD", KEY), N)

    def test_protocol_errors_and_bounds(self):
        s = Raw(self.port)
        s.s.sendall(b"*1\r\n+PING\r\n")
        self.assertEqual(s.read(), b"-ERR Protocol error: expected '$', got '+'\r\n")
        self.assertEqual(s.s.recv(10), b"", "closed after a protocol error")
        s.close()
        # a bulk string larger than --max-message-bytes (16 MiB default)
        s = Raw(self.port)
        s.s.sendall(b"*2\r\n$4\r\nECHO\r\n$100000000\r\n")
        self.assertTrue(s.read().startswith(b"-ERR Protocol error"))
        self.assertEqual(s.s.recv(10), b"")
        s.close()

    def test_client_commands(self):
        s = Raw(self.port)
        self.assertTrue(s.cmd("CLIENT", "ID").startswith(b":"))
        self.assertEqual(s.cmd("CLIENT", "SETNAME", "me"), b"+OK\r\n")
        self.assertEqual(s.cmd("CLIENT", "SETINFO", "LIB-NAME", "x"), b"+OK\r\n")
        self.assertTrue(s.cmd("COMMAND", "COUNT").startswith(b":"))
        self.assertTrue(s.cmd("COMMAND", "INFO", "vsim", "nosuch").endswith(b"$-1\r\n"))
        self.assertIn(b"redis_version:", s.cmd("INFO"))
        self.assertEqual(s.cmd("SELECT", 1), b"-ERR DB index is out of range\r\n")
        self.assertEqual(s.cmd("HELLO", 4), b"-NOPROTO unsupported protocol version\r\n")
        self.assertEqual(s.cmd("RESET"), b"+RESET\r\n")
        self.assertEqual(s.cmd("QUIT"), b"+OK\r\n")
        self.assertEqual(s.s.recv(10), b"")
        s.close()


class Auth(unittest.TestCase):
    def test_auth_from_config_file(self):
        port = free_port()
        with tempfile.NamedTemporaryFile("w", suffix=".conf", delete=False) as f:
            f.write(f"resp-listen = 127.0.0.1:{port}\nresp-password = s3cret\n")
            conf = f.name
        try:
            with Deployment(shards=1, vsetd_args=["--config", conf]) as d:
                s = Raw(port)
                self.assertEqual(s.cmd("VCARD", "k"), b"-NOAUTH Authentication required.\r\n")
                self.assertEqual(s.cmd("PING"), b"-NOAUTH Authentication required.\r\n")
                self.assertTrue(s.cmd("AUTH", "wrong").startswith(b"-WRONGPASS"))
                self.assertTrue(s.cmd("AUTH", "other", "s3cret").startswith(b"-WRONGPASS"))
                self.assertEqual(s.cmd("AUTH", "s3cret"), b"+OK\r\n")
                self.assertEqual(s.cmd("VCARD", "k"), b":0\r\n")
                s.close()
                s = Raw(port)
                self.assertTrue(s.cmd("HELLO", 3).startswith(b"-NOAUTH"))
                self.assertTrue(s.cmd("HELLO", 3, "AUTH", "default", "s3cret").startswith(b"%7"))
                self.assertEqual(s.cmd("PING"), b"+PONG\r\n")
                s.close()
                c = redis.Redis(port=port, password="s3cret")
                self.assertTrue(c.ping())
                with self.assertRaisesRegex(redis.exceptions.RedisError, "WRONGPASS|invalid"):
                    redis.Redis(port=port, password="nope").ping()
                with self.assertRaises(redis.exceptions.AuthenticationError):
                    redis.Redis(port=port).execute_command("VCARD", "k")
                self.assertIsNone(d.vsetd.poll())
        finally:
            os.unlink(conf)

    def test_no_password_configured(self):
        port = free_port()
        with Deployment(shards=1, vsetd_args=["--resp-listen", f"127.0.0.1:{port}"]):
            s = Raw(port)
            self.assertTrue(s.cmd("AUTH", "x").startswith(
                b"-ERR AUTH <password> called without any password configured"))
            self.assertEqual(s.cmd("AUTH", "default", "x"), b"+OK\r\n")
            s.close()


class Bounds(unittest.TestCase):
    def test_frame_timeout_and_conn_inflight(self):
        port = free_port()
        with Deployment(shards=1, vsetd_args=[
                "--resp-listen", f"127.0.0.1:{port}", "--frame-timeout-ms", "300",
                "--max-conn-inflight", "2"]) as d:
            slow = socket.create_connection(("127.0.0.1", port), timeout=10)
            slow.sendall(b"*2\r\n$4\r\nECHO\r\n$10\r\nab")
            t0 = time.monotonic()
            # a whole pipeline on another connection, 2 commands at a time
            c = redis.Redis(port=port, socket_timeout=10)
            p = c.pipeline(transaction=False)
            for i in range(200):
                p.execute_command("VCARD", f"k{i}") if i % 2 else p.execute_command("ECHO", i)
            self.assertEqual(p.execute(), [0 if i % 2 else str(i).encode() for i in range(200)])
            self.assertEqual(slow.recv(10), b"", "an incomplete command is closed")
            # the 300 ms bound, checked every 100 ms; 5 s is the CI margin
            self.assertLess(time.monotonic() - t0, 5.0)
            slow.close()
            self.assertIn("incomplete for more than --frame-timeout-ms", d.log())


class SlowReader(unittest.TestCase):
    def test_unread_replies_bound_then_all_in_order(self):
        """A client that pipelines without reading: vsetd stops reading it
        at --max-conn-pending-bytes, then answers everything, in order,
        once the client reads."""
        port = free_port()
        with Deployment(shards=1, vsetd_args=[
                "--resp-listen", f"127.0.0.1:{port}",
                "--max-conn-pending-bytes", "8192"]):
            # replies past the kernel's socket buffers (~1 MiB) are held
            # by vsetd; the client's sends block meanwhile (a thread)
            for n in (3000, 5000):
                s = socket.create_connection(("127.0.0.1", port), timeout=10)
                pad = "x" * 1000
                data = b"".join(enc("ECHO", f"{i}:{pad}") for i in range(n))
                t = threading.Thread(target=s.sendall, args=(data,), daemon=True)
                t.start()
                time.sleep(0.5)
                r = Raw.__new__(Raw)
                r.s, r.buf = s, b""
                for i in range(n):
                    want = f"{i}:{pad}".encode()
                    self.assertEqual(r.read(), b"$%d\r\n%s\r\n" % (len(want), want))
                t.join(10)
                s.close()


class ShardKill(unittest.TestCase):
    def test_partial_error_then_allow(self):
        port = free_port()
        with Deployment(shards=3, vsetd_args=["--resp-listen", f"127.0.0.1:{port}"]) as d:
            c = redis.Redis(port=port, socket_timeout=10)
            p = c.pipeline(transaction=False)
            for i in list(VECS)[:90]:
                p.execute_command(*vadd_args(KEY, i))
            p.execute()
            full = c.execute_command("VSIM", KEY, "ELE", "e0", "TRUTH", "COUNT", 90)
            self.assertEqual(len(full), 90)
            d.kill_shard(1)
            for _ in range(2):      # the first fails on the connection, the
                with self.assertRaises(redis.exceptions.ResponseError) as cm:  # next on the breaker
                    c.execute_command("VSIM", KEY, "VALUES", DIM, *VECS["e0"], "COUNT", 90)
                self.assertEqual(str(cm.exception), "PARTIAL 2 of 3 shards answered")
            with self.assertRaises(redis.exceptions.ResponseError) as cm:
                c.execute_command("VCARD", KEY)
            self.assertTrue(str(cm.exception).startswith("PARTIAL"))
            d.stop_vsetd()
            d.start_vsetd(["--resp-listen", f"127.0.0.1:{port}", "--resp-partial", "allow"])
            c = redis.Redis(port=port, socket_timeout=10)
            got = c.execute_command("VSIM", KEY, "VALUES", DIM, *VECS["e0"], "COUNT", 90,
                                    "TRUTH")
            self.assertTrue(0 < len(got) < 90, len(got))
            self.assertTrue(set(got) < set(full))
            self.assertLess(c.execute_command("VCARD", KEY), 90)


if __name__ == "__main__":
    unittest.main(verbosity=2)
