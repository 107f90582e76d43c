"""The Python client's SP transport against a real nng peer (nngcat --rep)
and against scripted misbehaving peers.

nngcat is nng's own REP implementation, so a round trip through it checks
the pure-Python framing (handshake, length prefix, request id, IPC type
byte) against nng itself, independently of vsetd.  The fake peers check the
failure paths users see: hang-up, silence, wrong protocol, stale
connection.
"""
from __future__ import annotations

import shutil
import socket
import struct
import tempfile
import threading
import time
import unittest
from typing import Callable, List

import vsetd
from vsetd import vsetd_pb2 as pb

from vsetd_harness import CannedRep, free_port

NNGCAT = shutil.which("nngcat")
CALL_TIMEOUT_S = 1.5             # the deadline the client puts on the wire (1500 ms)


def reply_bytes(payload: bytes = b"", code: int = 0, message: str = "",
                request_id: int = 0) -> bytes:
    env = pb.ReplyEnvelope(request_id=request_id, payload=payload)
    if code:
        env.status.code = code
        env.status.message = message
    return env.SerializeToString()


@unittest.skipUnless(NNGCAT, "nngcat not installed (Debian package nng-utils)")
class AgainstNngcat(unittest.TestCase):
    def round_trip(self, url: str) -> None:
        resp = pb.SearchResponse(partial=True)
        resp.results.add(id="b", score=0.75, shard=2)
        resp.results.add(id="a", score=0.5, shard=0)
        resp.shards.total, resp.shards.ok, resp.shards.failed = 3, 2, 1
        rep = CannedRep(url, reply_bytes(resp.SerializeToString()))
        try:
            with vsetd.Client(url, timeout=CALL_TIMEOUT_S) as c:
                got = c.search("coll", [1.0, 0.5, -2.0], k=7, ef=50, require_all=False)
            sent = pb.RequestEnvelope()
            sent.ParseFromString(rep.request())
        finally:
            rep.close()
        # What the client decoded is what the peer sent...
        self.assertEqual([(h.id, h.score, h.shard) for h in got.results], [("b", 0.75, 2), ("a", 0.5, 0)])
        self.assertTrue(got.partial)
        self.assertEqual(got.shards, vsetd.ShardSummary(total=3, ok=2, failed=1, timed_out=0))
        # ...and what nng delivered is the envelope the protocol describes.
        self.assertEqual(sent.method, "/vsetd.v1.VectorService/Search")
        self.assertEqual(sent.deadline_ms, 1500)
        self.assertNotEqual(sent.request_id, 0)
        req = pb.SearchRequest()
        req.ParseFromString(sent.payload)
        self.assertEqual((req.collection, list(req.vector), req.k, req.ef), ("coll", [1.0, 0.5, -2.0], 7, 50))

    def test_tcp_round_trip(self) -> None:
        self.round_trip(f"tcp://127.0.0.1:{free_port()}")

    def test_ipc_round_trip(self) -> None:
        with tempfile.TemporaryDirectory() as d:
            self.round_trip(f"ipc://{d}/vsetd.ipc")

    def test_error_status_becomes_exception(self) -> None:
        url = f"tcp://127.0.0.1:{free_port()}"
        rep = CannedRep(url, reply_bytes(code=3, message="vector has dimension 2, collection has 3"))
        try:
            with vsetd.Client(url, timeout=CALL_TIMEOUT_S) as c:
                with self.assertRaises(vsetd.InvalidArgument) as cm:
                    c.search("coll", [1.0, 2.0])
        finally:
            rep.close()
        self.assertEqual(cm.exception.code, "INVALID_ARGUMENT")
        self.assertIn("dimension", cm.exception.message)
        self.assertIsInstance(cm.exception, vsetd.VsetdError)

    def test_reply_for_another_request_is_rejected(self) -> None:
        url = f"tcp://127.0.0.1:{free_port()}"
        rep = CannedRep(url, reply_bytes(request_id=0x7777777777))
        try:
            with vsetd.Client(url, timeout=CALL_TIMEOUT_S) as c:
                with self.assertRaises(vsetd.Internal):
                    c.search("coll", [1.0])
        finally:
            rep.close()


class FakePeer:
    """A loopback listener running script(conn) for each accepted connection
    (at most max_conns), in a thread."""

    def __init__(self, script: Callable[[socket.socket, int], None], max_conns: int = 4) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.sock.settimeout(10)
        self.url = f"tcp://127.0.0.1:{self.sock.getsockname()[1]}"
        self.conns: List[socket.socket] = []
        self.script = script
        self.max_conns = max_conns
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        for n in range(self.max_conns):
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(conn)
            conn.settimeout(10)
            try:
                self.script(conn, n)
            except OSError:
                pass

    def close(self) -> None:
        try:
            # Wakes the thread blocked in accept() (close() alone does not).
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
        for c in self.conns:
            c.close()
        self.thread.join(10)

    def __enter__(self) -> "FakePeer":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def rep_handshake(conn: socket.socket, proto: int = 0x31) -> None:
    conn.sendall(b"\x00SP\x00" + struct.pack(">HH", proto, 0))
    assert recv_exact(conn, 8)[:4] == b"\x00SP\x00"


def recv_exact(conn: socket.socket, n: int) -> bytes:
    buf = b""
    while len(buf) < n:
        chunk = conn.recv(n - len(buf))
        if not chunk:
            raise OSError("peer closed")
        buf += chunk
    return buf


def recv_request(conn: socket.socket) -> bytes:
    (n,) = struct.unpack(">Q", recv_exact(conn, 8))
    return recv_exact(conn, n)


def answer(conn: socket.socket, request: bytes, body: bytes) -> None:
    msg = request[:4] + body  # the request id goes back first
    conn.sendall(struct.pack(">Q", len(msg)) + msg)


class AgainstFakePeers(unittest.TestCase):
    def test_nothing_listening_is_unavailable(self) -> None:
        url = f"tcp://127.0.0.1:{free_port()}"
        with self.assertRaises(vsetd.Unavailable) as cm:
            vsetd.Client(url, timeout=1.0)
        self.assertIn(url, cm.exception.message)

    def test_silent_listener_is_unavailable(self) -> None:
        hold = threading.Event()
        with FakePeer(lambda conn, n: hold.wait(10)) as peer:
            start = time.monotonic()
            with self.assertRaises(vsetd.Unavailable):
                vsetd.Client(peer.url, timeout=0.3)
            # Bounded by the timeout, not by the peer (which would wait 10 s).
            self.assertLess(time.monotonic() - start, 5.0)
            hold.set()

    def test_wrong_protocol_is_unavailable(self) -> None:
        with FakePeer(lambda conn, n: rep_handshake(conn, proto=0x30)) as peer:
            with self.assertRaises(vsetd.Unavailable) as cm:
                vsetd.Client(peer.url, timeout=2.0)
        self.assertIn("0x30", cm.exception.message)

    def test_no_reply_is_deadline_exceeded(self) -> None:
        hold = threading.Event()

        def script(conn: socket.socket, n: int) -> None:
            rep_handshake(conn)
            recv_request(conn)
            hold.wait(10)

        with FakePeer(script) as peer:
            c = vsetd.Client(peer.url, timeout=0.2, grace=0.1)
            start = time.monotonic()
            with self.assertRaises(vsetd.DeadlineExceeded):
                c.search("coll", [1.0])
            self.assertLess(time.monotonic() - start, 5.0)
            c.close()
            hold.set()

    def test_hang_up_is_unavailable(self) -> None:
        def script(conn: socket.socket, n: int) -> None:
            rep_handshake(conn)
            recv_request(conn)
            conn.close()  # what nng does with an oversized message

        with FakePeer(script) as peer:
            with vsetd.Client(peer.url, timeout=2.0) as c:
                with self.assertRaises(vsetd.Unavailable):
                    c.search("coll", [1.0])

    def test_stale_connection_is_replaced_without_resending(self) -> None:
        requests: List[bytes] = []
        ok = reply_bytes(pb.SearchResponse().SerializeToString())

        def script(conn: socket.socket, n: int) -> None:
            rep_handshake(conn)
            req = recv_request(conn)
            requests.append(req)
            answer(conn, req, ok)
            conn.close()  # a server restart between two calls

        with FakePeer(script) as peer:
            with vsetd.Client(peer.url, timeout=2.0) as c:
                c.search("coll", [1.0])
                deadline = time.monotonic() + 5
                while len(peer.conns) < 1 and time.monotonic() < deadline:
                    time.sleep(0.01)
                time.sleep(0.1)  # let the FIN arrive
                c.search("coll", [2.0])
        self.assertEqual(len(requests), 2)
        ids = [struct.unpack(">I", r[:4])[0] for r in requests]
        # Every request id has the top bit set, and each call used its own.
        self.assertTrue(all(i & 0x80000000 for i in ids))
        self.assertNotEqual(ids[0], ids[1])

    def test_bad_urls_are_value_errors(self) -> None:
        for url in ("127.0.0.1:5555", "tcp://127.0.0.1", "tcp://h:0", "udp://h:1", "tcp://[::1:5"):
            with self.assertRaises(ValueError, msg=url):
                vsetd.Client(url, connect=False)


if __name__ == "__main__":
    unittest.main()
