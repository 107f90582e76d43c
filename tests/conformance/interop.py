#!/usr/bin/python3
"""Interop: every transport, both ways, with stock nng peers (issue 13).

vsetd serves, and its client libraries dial, four transports: tcp://
(vsetd's own SP code on both ends: src/net/net.c, clients/c/src/vs_sp.c,
clients/python/vsetd/_transport.py), and tls+tcp://, ipc:// and ws://
(libnng on both ends, except the Python client, which speaks SP itself
over tcp, tls+tcp and ipc).  A user relies on each of them talking to any
other nng application, so each is checked against nng's own code:

Server side (a): stock nng REQ clients against vsetd.
  - nngcat --req (one request per process): Insert, Search, an unknown
    method; the messages are built by `protoc --encode` from text and the
    replies read with `protoc --decode` (conformance.py's helpers), so
    nothing of vsetd's code is on the client side;
  - nng_req_peer (libnng REQ, tests/conformance/nng_req_peer.c): four
    Searches with different k and request_id, all sent on their own
    contexts before any reply is read, on ONE connection; each context
    must get the answer to its own request.  Then, with one shard stopped,
    a Search that waits for its deadline and an unknown method sent after
    it on the same connection: the quick answer must overtake the slow
    one (no head-of-line blocking), and each still gets its own.  Last, a
    peer that resends every 100 ms (NNG_OPT_REQ_RESENDTIME, as any nng REQ
    may) piles copies of one slow Search onto vsetd: it gets one answer to
    its Search, and vsetd goes on serving.
Client side (b): vsetd's libraries against nngcat --rep.
  - vset (the C library; on tcp:// both the thin transport and
    VS_TRANSPORT=nng) and, where it speaks the transport, the Python
    client, against nngcat --rep answering a canned ReplyEnvelope made by
    `protoc --encode`: the library decodes the canned answer (or the
    canned error status), and the bytes nngcat received decode, with
    protoc, as the RequestEnvelope and SearchRequest the caller asked for.
    The C library also dials wss:// (WebSocket over TLS, verified with the
    same CA option as tls+tcp://).
vsetd serves wss:// too (the --tls-* files apply to it as to tls+tcp://),
and ws:// and wss:// listeners carry a path with port 0: the bound URL
vsetd logs names the real port before the path.

TLS: a throwaway CA and a server certificate made by openssl(1).  nng
1.5.2's TLS (mbedTLS) cannot match an IP address in the URL against a
certificate, so the TLS URLs name "localhost", which the certificate
carries as a DNS name (docs/operations.md says the same for vsetd's
clients).

usage: interop.py --req-peer PATH --pb2 PATH/vsetd_pb2.py
       (env: REDIS_SERVER, VSETD_BIN, VSET_BIN, VSETD_SOURCE_ROOT)
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest
from typing import Any, Dict, List, Optional, Sequence, Tuple

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, HERE)
import conformance as conf  # noqa: E402  (protoc helpers; it adds tests/python to sys.path)
from conformance import decode, encode, escape_bytes, one, parse_text  # noqa: E402
from vsetd_harness import CannedRep, Deployment, free_port  # noqa: E402
from vsetd_harness import make_certs as harness_make_certs  # noqa: E402

NNGCAT = conf.NNGCAT
SERVICE = conf.SERVICE
TLS_HOST = "localhost"          # a DNS name in the server certificate
CALL_TIMEOUT_MS = 1500          # the deadline the clients put on the wire
PEER_TIMEOUT_MS = 10000         # nng_req_peer's wait for each reply
PEER_CONTEXTS = 4               # requests in flight at once on one connection
SLOW_DEADLINE_MS = 1000         # a Search that waits for a stopped shard
RESEND_MS = 100                 # NNG_OPT_REQ_RESENDTIME of the resending peer
RECOVER_WAIT_S = 10.0           # a resumed shard back in searches
EXPECT_ERROR = "vector has dimension 2, collection has 3"
INVALID_ARGUMENT = 3            # gRPC status code numbers (docs/protocol.md)

REQ_PEER = ""                   # set by main() from --req-peer
PY_CLIENT: Any = None           # the vsetd package, set by main()


# ------------------------------------------------------------ certificates

def make_certs(d: str) -> Dict[str, str]:
    """A CA, a server certificate for localhost and 127.0.0.1, and a client
    certificate."""
    return harness_make_certs(d, cas=[("ca", "vsetd interop CA")],
                              leaves=[("server", "localhost", "ca"),
                                      ("client", "vsetd interop client", "ca")],
                              server_san="DNS:localhost,IP:127.0.0.1")


# ------------------------------------------------------------ stock nng peers

def nngcat_req(url: str, body: bytes, tls: Sequence[str] = (), timeout: float = 10.0) -> bytes:
    """One REQ round trip with nngcat; the raw reply body."""
    with tempfile.NamedTemporaryFile(prefix="vsetd-interop-", suffix=".bin") as f:
        f.write(body)
        f.flush()
        out = subprocess.run([NNGCAT, "--req", "--dial", url, *tls, "--file", f.name, "--raw",
                              "--recv-timeout", str(int(timeout))],
                             capture_output=True, timeout=timeout + 10)
    if out.returncode != 0 or not out.stdout:
        raise AssertionError(f"nngcat --req {url} failed (exit {out.returncode}): {out.stderr.decode()}")
    return out.stdout


def envelope(method: str, req_type: str, req_text: str, request_id: int,
             deadline_ms: int = 5000) -> bytes:
    payload = encode(req_type, req_text)
    return encode("vsetd.v1.RequestEnvelope",
                  f'method: "{SERVICE}{method}"\npayload: {escape_bytes(payload)}\n'
                  f"deadline_ms: {deadline_ms}\nrequest_id: {request_id}\n")


def reply_envelope(payload_type: str = "", payload_text: str = "", code: int = 0,
                   message: str = "") -> bytes:
    text = ""
    if payload_type:
        text += f"payload: {escape_bytes(encode(payload_type, payload_text))}\n"
    if code:
        text += f'status {{ code: {code} message: "{message}" }}\n'
    return encode("vsetd.v1.ReplyEnvelope", text)


# ------------------------------------------------------------ the transports

class Transport:
    """How to listen on and dial one transport, for each kind of peer."""

    def __init__(self, name: str, certs: Dict[str, str], ipc_dir: str) -> None:
        self.name = name
        self.certs = certs
        self.ipc_dir = ipc_dir
        self.tls = name in ("tls+tcp", "wss")

    def vsetd_listen(self) -> str:
        if self.name == "ipc":
            return f"ipc://{self.ipc_dir}/vsetd.sock"
        host = TLS_HOST if self.tls else "127.0.0.1"
        path = "/vsetd" if self.name in ("ws", "wss") else ""
        return f"{self.name}://{host}:0{path}"

    def vsetd_args(self) -> List[str]:
        return ["--tls-cert", self.certs["server.crt"], "--tls-key", self.certs["server.key"]] \
            if self.tls else []

    def peer_url(self, tag: str) -> str:
        """A fresh URL for nngcat --rep to listen on (ws:// with a path,
        as ws URLs usually have one)."""
        if self.name == "ipc":
            return f"ipc://{self.ipc_dir}/rep-{tag}.sock"
        host = TLS_HOST if self.tls else "127.0.0.1"
        path = "/vsetd" if self.name in ("ws", "wss") else ""
        return f"{self.name}://{host}:{free_port()}{path}"

    def nngcat_client_tls(self) -> List[str]:
        return ["--cacert", self.certs["ca.crt"]] if self.tls else []

    def nngcat_server_tls(self) -> List[str]:
        return ["--cert", self.certs["server.crt"], "--key", self.certs["server.key"]] \
            if self.tls else []

    def vset_tls(self) -> List[str]:
        return ["--tls-ca", self.certs["ca.crt"]] if self.tls else []


class InteropBase(unittest.TestCase):
    tmp: str
    certs: Dict[str, str]

    @classmethod
    def setUpClass(cls) -> None:
        cls.tmp = tempfile.mkdtemp(prefix="vsetd-interop-")
        cls.certs = make_certs(cls.tmp)

    @classmethod
    def tearDownClass(cls) -> None:
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def transport(self, name: str) -> Transport:
        d = tempfile.mkdtemp(prefix="ipc-", dir=self.tmp)
        return Transport(name, self.certs, d)


# ------------------------------------------------------------ (a) server side

class StockReqToVsetd(InteropBase):
    """nngcat --req and a libnng REQ program against vsetd's listener."""

    def call(self, t: Transport, url: str, method: str, req_type: str, req_text: str,
             request_id: int) -> Tuple[Dict[str, List[Any]], bytes]:
        reply = nngcat_req(url, envelope(method, req_type, req_text, request_id),
                           t.nngcat_client_tls())
        env = parse_text(decode("vsetd.v1.ReplyEnvelope", reply))
        return env, one(env, "payload", b"")

    def req_peer(self, t: Transport, url: str, requests: List[bytes],
                 resend_ms: int = 0) -> Tuple[List[bytes], List[int]]:
        """Every request on its own context of one libnng REQ socket, all
        sent before any reply is read; the replies (in request order) and
        the order they arrived in.  libnng must have used one connection.
        resend_ms: libnng resends each request (same id, same connection)
        every resend_ms until its reply comes."""
        d = tempfile.mkdtemp(prefix="peer-", dir=self.tmp)
        args: List[str] = []
        for i, body in enumerate(requests):
            req = os.path.join(d, f"req{i}.bin")
            with open(req, "wb") as f:
                f.write(body)
            args += [req, os.path.join(d, f"reply{i}.bin")]
        tls = ["--cacert", t.certs["ca.crt"], "--server-name", TLS_HOST] if t.tls else []
        if resend_ms:
            tls += ["--resend-ms", str(resend_ms)]
        out = subprocess.run([REQ_PEER, *tls, url, str(PEER_TIMEOUT_MS), *args],
                             capture_output=True, text=True, timeout=PEER_TIMEOUT_MS / 1000 + 10)
        self.assertEqual(out.returncode, 0, f"nng_req_peer failed: {out.stderr}")
        lines = out.stdout.splitlines()
        self.assertEqual(lines[0], "pipes 1", "libnng put the requests on one connection")
        order = [int(x) for x in lines[1].split()[1:]]
        self.assertEqual(sorted(order), list(range(len(requests))), out.stdout)
        replies = []
        for i in range(len(requests)):
            with open(os.path.join(d, f"reply{i}.bin"), "rb") as f:
                replies.append(f.read())
        return replies, order

    def contexts_on_one_connection(self, t: Transport, url: str) -> None:
        replies, _ = self.req_peer(t, url, [
            envelope("Search", "vsetd.v1.SearchRequest",
                     f'collection: "io" vector: [1, 0, 0] k: {i + 1}', 100 + i)
            for i in range(PEER_CONTEXTS)])
        for i in range(PEER_CONTEXTS):
            env = parse_text(decode("vsetd.v1.ReplyEnvelope", replies[i]))
            self.assertNotIn("status", env, f"context {i}: {env}")
            # Each context got the answer to its own request: its id, and
            # its k (the collection has 4 elements).
            self.assertEqual(one(env, "request_id"), str(100 + i))
            r = parse_text(decode("vsetd.v1.SearchResponse", one(env, "payload", b"")))
            self.assertEqual([one(h, "id") for h in r["results"]], [b"a", b"c", b"b", b"d"][:i + 1])

    def resent_request(self, t: Transport, dep: Deployment, owner: Dict[bytes, str]) -> None:
        """nng's REQ resends a request that has no reply yet (after
        NNG_OPT_REQ_RESENDTIME; default 60 s), with the same id on the same
        connection.  With a shard stopped, copies of one Search pile up on
        vsetd: the client still gets one answer to its Search, and vsetd
        goes on serving."""
        dep.stop_shard(1)
        try:
            replies, _ = self.req_peer(t, dep.url, [
                envelope("Search", "vsetd.v1.SearchRequest", 'collection: "io" vector: [1, 0, 0] k: 4',
                         300, deadline_ms=SLOW_DEADLINE_MS)], resend_ms=RESEND_MS)
        finally:
            dep.cont_shard(1)
        env = parse_text(decode("vsetd.v1.ReplyEnvelope", replies[0]))
        self.assertEqual(one(env, "request_id"), "300")
        self.assertNotIn("status", env, f"partial search: {env}")
        r = parse_text(decode("vsetd.v1.SearchResponse", one(env, "payload", b"")))
        self.assertEqual(one(r, "partial"), "true")
        self.assertEqual(sorted(one(h, "id") for h in r["results"]),
                         sorted(i for i, sh in owner.items() if sh == "0"))
        # Still serving, all shards, on a new connection.
        self.assertIsNone(dep.vsetd.poll(), "vsetd exited")
        end = time.monotonic() + RECOVER_WAIT_S
        while True:
            env = parse_text(decode("vsetd.v1.ReplyEnvelope", nngcat_req(dep.url, envelope(
                "Search", "vsetd.v1.SearchRequest", 'collection: "io" vector: [1, 0, 0] k: 4', 301),
                t.nngcat_client_tls())))
            self.assertEqual(one(env, "request_id"), "301")
            r = parse_text(decode("vsetd.v1.SearchResponse", one(env, "payload", b"")))
            if one(r, "partial", "false") == "false" or time.monotonic() > end:
                break
            time.sleep(0.1)     # the shard's breaker lets a probe through soon
        self.assertEqual([one(h, "id") for h in r["results"]], [b"a", b"c", b"b", b"d"])

    def reply_overtakes(self, t: Transport, dep: Deployment, owner: Dict[bytes, str]) -> None:
        """A slow request does not hold up a quick one behind it on the
        same connection: with one shard stopped, a Search waits for its
        deadline, and an unknown method sent after it on another context
        is answered first.  Each still gets its own answer."""
        dep.stop_shard(1)
        try:
            replies, order = self.req_peer(t, dep.url, [
                envelope("Search", "vsetd.v1.SearchRequest", 'collection: "io" vector: [1, 0, 0] k: 4',
                         200, deadline_ms=SLOW_DEADLINE_MS),
                envelope("Frobnicate", "vsetd.v1.SearchRequest", 'collection: "io"', 201)])
        finally:
            dep.cont_shard(1)
        self.assertEqual(order, [1, 0], "the quick reply came first")
        slow = parse_text(decode("vsetd.v1.ReplyEnvelope", replies[0]))
        self.assertEqual(one(slow, "request_id"), "200")
        self.assertNotIn("status", slow, f"partial search: {slow}")
        r = parse_text(decode("vsetd.v1.SearchResponse", one(slow, "payload", b"")))
        self.assertEqual(one(r, "partial"), "true")
        self.assertEqual(one(one(r, "shards"), "ok"), "1")
        # exactly the elements of the shard that answered
        self.assertEqual(sorted(one(h, "id") for h in r["results"]),
                         sorted(i for i, sh in owner.items() if sh == "0"))
        quick = parse_text(decode("vsetd.v1.ReplyEnvelope", replies[1]))
        self.assertEqual(one(quick, "request_id"), "201")
        self.assertEqual(one(one(quick, "status"), "code"), "UNIMPLEMENTED")

    def run_transport(self, name: str) -> None:
        t = self.transport(name)
        with Deployment(shards=2, listen=t.vsetd_listen(), vsetd_args=t.vsetd_args()) as dep:
            url = dep.url
            self.assertTrue(url.startswith(f"{name}://"), url)
            env, payload = self.call(t, url, "Insert", "vsetd.v1.InsertRequest", """
                collection: "io"
                items { id: "a" vector: [1, 0, 0] }
                items { id: "b" vector: [0, 1, 0] }
                items { id: "c" vector: [0.9, 0.1, 0] }
                items { id: "d" vector: [-1, 0, 0] attributes_json: "{\\"k\\":1}" }
            """, request_id=7)
            self.assertNotIn("status", env, f"Insert over {name}: {env}")
            self.assertEqual(one(env, "request_id"), "7")
            ins = parse_text(decode("vsetd.v1.InsertResponse", payload))
            self.assertEqual(one(ins, "added"), "4")
            self.assertEqual({one(i, "outcome") for i in ins["results"]}, {"WRITE_ADDED"})

            env, payload = self.call(t, url, "Search", "vsetd.v1.SearchRequest",
                                     'collection: "io" vector: [1, 0, 0] k: 3', request_id=9)
            self.assertNotIn("status", env, f"Search over {name}: {env}")
            self.assertEqual(one(env, "request_id"), "9")
            r = parse_text(decode("vsetd.v1.SearchResponse", payload))
            self.assertEqual([one(h, "id") for h in r["results"]], [b"a", b"c", b"b"])
            self.assertGreater(float(one(r["results"][0], "score")), 0.99)
            self.assertEqual((one(one(r, "shards"), "total"), one(one(r, "shards"), "ok")), ("2", "2"))

            env, _ = self.call(t, url, "Frobnicate", "vsetd.v1.SearchRequest",
                               'collection: "io"', request_id=11)
            status = one(env, "status")
            self.assertEqual(one(status, "code"), "UNIMPLEMENTED")
            self.assertIn(b"Frobnicate", one(status, "message"))
            self.assertEqual(one(env, "request_id"), "11")

            self.contexts_on_one_connection(t, url)
            owner = {one(i, "id"): one(i, "shard", "0") for i in ins["results"]}
            self.assertEqual(set(owner.values()), {"0", "1"}, "both shards hold some")
            self.reply_overtakes(t, dep, owner)
            self.resent_request(t, dep, owner)

    def test_tcp(self) -> None:
        self.run_transport("tcp")

    def test_tls_tcp(self) -> None:
        self.run_transport("tls+tcp")

    def test_ipc(self) -> None:
        self.run_transport("ipc")

    def test_ws(self) -> None:
        self.run_transport("ws")

    def test_wss(self) -> None:
        self.run_transport("wss")

    def test_tls_tcp_client_certificate(self) -> None:
        # --tls-verify-clients: nngcat with a certificate from the CA is
        # served; nngcat without one is refused in the handshake.
        t = self.transport("tls+tcp")
        args = t.vsetd_args() + ["--tls-ca", t.certs["ca.crt"], "--tls-verify-clients"]
        search = envelope("Search", "vsetd.v1.SearchRequest", 'collection: "none" vector: [1, 0]', 5)
        with Deployment(shards=1, listen=t.vsetd_listen(), vsetd_args=args) as dep:
            mine = ["--cert", t.certs["client.crt"], "--key", t.certs["client.key"]]
            env = parse_text(decode("vsetd.v1.ReplyEnvelope",
                                    nngcat_req(dep.url, search, t.nngcat_client_tls() + mine)))
            self.assertNotIn("status", env)
            self.assertEqual(one(env, "request_id"), "5")
            with self.assertRaises(AssertionError) as cm:
                nngcat_req(dep.url, search, t.nngcat_client_tls(), timeout=3.0)
            # refused while dialing (the TLS handshake), not by a timeout
            self.assertIn("Unable to dial", str(cm.exception))


# ------------------------------------------------------------ (b) client side

class LibraryToStockRep(InteropBase):
    """vset (the C library) and the Python client against nngcat --rep."""

    SEARCH_REPLY = ('results { id: "b" score: 0.75 shard: 2 } '
                    'results { id: "a" score: 0.5 } '
                    'partial: true shards { total: 3 ok: 2 failed: 1 }')

    def check_sent_search(self, raw: bytes) -> None:
        """What nng delivered to nngcat is the request the caller made."""
        env = parse_text(decode("vsetd.v1.RequestEnvelope", raw))
        self.assertEqual(one(env, "method"), f"{SERVICE}Search".encode())
        self.assertEqual(one(env, "deadline_ms"), str(CALL_TIMEOUT_MS))
        req = parse_text(decode("vsetd.v1.SearchRequest", one(env, "payload", b"")))
        self.assertEqual(one(req, "collection"), b"coll")
        self.assertEqual([float(v) for v in req["vector"]], [1.0, 0.5, -2.0])
        self.assertEqual((one(req, "k"), one(req, "ef")), ("7", "50"))

    def vset(self, t: Transport, url: str, *args: str,
             env: Optional[Dict[str, str]] = None) -> subprocess.CompletedProcess:
        vset = os.environ.get("VSET_BIN", "")
        self.assertTrue(os.access(vset, os.X_OK), f"no vset binary (VSET_BIN={vset!r})")
        return subprocess.run([vset, "--server", url, "--timeout-ms", str(CALL_TIMEOUT_MS),
                               *t.vset_tls(), *args],
                              capture_output=True, text=True, timeout=30,
                              env={**{k: v for k, v in os.environ.items() if k != "VS_TRANSPORT"},
                                   **(env or {})})

    def c_library(self, name: str, env: Optional[Dict[str, str]] = None) -> None:
        t = self.transport(name)
        url = t.peer_url("ok")
        rep = CannedRep(url, reply_envelope("vsetd.v1.SearchResponse", self.SEARCH_REPLY),
                        t.nngcat_server_tls())
        try:
            out = self.vset(t, url, "--json", "search", "coll", "1,0.5,-2", "-k", "7", "--ef", "50",
                            env=env)
            self.assertEqual(out.returncode, 0, out.stderr)
            sent = rep.request()
        finally:
            rep.close()
        got = json.loads(out.stdout)
        self.assertEqual([(h["id"], h["score"], h["shard"]) for h in got["results"]],
                         [("b", 0.75, 2), ("a", 0.5, 0)])
        self.assertTrue(got["partial"])
        self.assertEqual((got["shards"]["total"], got["shards"]["ok"], got["shards"]["failed"]),
                         (3, 2, 1))
        self.check_sent_search(sent)

        # A status from the peer reaches the caller as its code and message.
        url = t.peer_url("err")
        rep = CannedRep(url, reply_envelope(code=INVALID_ARGUMENT, message=EXPECT_ERROR),
                        t.nngcat_server_tls())
        try:
            out = self.vset(t, url, "search", "coll", "1,0.5,-2", "-k", "7", "--ef", "50", env=env)
            self.assertIn(f"INVALID_ARGUMENT: {EXPECT_ERROR}", out.stderr)
            self.assertEqual(out.returncode, 1, out.stdout + out.stderr)
            sent = rep.request()
        finally:
            rep.close()
        self.check_sent_search(sent)

    def python_client(self, name: str) -> None:
        vsetd = PY_CLIENT
        t = self.transport(name)
        url = t.peer_url("py")
        rep = CannedRep(url, reply_envelope("vsetd.v1.SearchResponse", self.SEARCH_REPLY),
                        t.nngcat_server_tls())
        try:
            with vsetd.Client(url, timeout=CALL_TIMEOUT_MS / 1000,
                              tls_ca_file=t.certs["ca.crt"] if t.tls else None) as c:
                got = c.search("coll", [1.0, 0.5, -2.0], k=7, ef=50)
            sent = rep.request()
        finally:
            rep.close()
        self.assertEqual([(h.id, h.score, h.shard) for h in got.results], [("b", 0.75, 2), ("a", 0.5, 0)])
        self.assertTrue(got.partial)
        self.assertEqual((got.shards.total, got.shards.ok, got.shards.failed), (3, 2, 1))
        self.check_sent_search(sent)

    def test_c_tcp_thin(self) -> None:
        self.c_library("tcp")            # VS_TRANSPORT unset: vs_sp.c

    def test_c_tcp_nng(self) -> None:
        self.c_library("tcp", env={"VS_TRANSPORT": "nng"})

    def test_c_tls_tcp(self) -> None:
        self.c_library("tls+tcp")

    def test_c_ipc(self) -> None:
        self.c_library("ipc")

    def test_c_ws(self) -> None:
        self.c_library("ws")

    def test_c_wss(self) -> None:
        # WebSocket over TLS: the CA given for tls+tcp:// verifies it too.
        self.c_library("wss")

    def test_python_tcp(self) -> None:
        self.python_client("tcp")

    def test_python_tls_tcp(self) -> None:
        self.python_client("tls+tcp")

    def test_python_ipc(self) -> None:
        self.python_client("ipc")

    def test_python_has_no_ws(self) -> None:
        # The Python client speaks SP itself and has no WebSocket framing:
        # it must say so rather than dial something else.
        with self.assertRaises(ValueError) as cm:
            PY_CLIENT.Client("ws://127.0.0.1:1/vsetd", timeout=1.0)
        self.assertIn("unsupported transport 'ws'", str(cm.exception))


# ------------------------------------------------------------ main

def load_python_client(pb2: str, into: str) -> Any:
    """The package as pip would install it (tests/python/run.py does the
    same): clients/python/vsetd plus the generated vsetd_pb2.py."""
    pkg = os.path.join(into, "vsetd")
    shutil.copytree(os.path.join(conf.SRC, "clients", "python", "vsetd"), pkg,
                    ignore=shutil.ignore_patterns("__pycache__", "vsetd_pb2.py"))
    shutil.copy(pb2, pkg)
    sys.path.insert(0, into)
    import vsetd
    return vsetd


def main() -> int:
    global REQ_PEER, PY_CLIENT
    ap = argparse.ArgumentParser()
    ap.add_argument("--req-peer", required=True, help="nng_req_peer binary")
    ap.add_argument("--pb2", required=True, help="generated vsetd_pb2.py")
    args = ap.parse_args()
    REQ_PEER = os.path.abspath(args.req_peer)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(124))  # exit via atexit cleanup
    for tool in (conf.PROTOC, NNGCAT, "openssl"):
        if not shutil.which(tool):
            print(f"missing tool: {tool}", file=sys.stderr)
            return 1
    with tempfile.TemporaryDirectory(prefix="vsetd-interop-py-") as tmp:
        PY_CLIENT = load_python_client(os.path.abspath(args.pb2), tmp)
        loader = unittest.defaultTestLoader
        suite = unittest.TestSuite([loader.loadTestsFromTestCase(StockReqToVsetd),
                                    loader.loadTestsFromTestCase(LibraryToStockRep)])
        ok = unittest.TextTestRunner(verbosity=2, stream=sys.stdout).run(suite).wasSuccessful()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
