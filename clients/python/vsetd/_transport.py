"""A pure-Python nng REQ socket: the SP (scalability protocols) wire format
over TCP, TLS over TCP, and IPC, as docs/protocol.md specifies it.

Why not ctypes over libnng: this keeps the client free of native
dependencies (stdlib + protobuf only), and it exercises the wire spec in
docs/protocol.md independently of nng's own code.

What it does, and deliberately does not do, compared with nng's REQ socket:
- One request in flight per connection (a lock serialises callers).
- No automatic resend.  nng's REQ resends after a timeout and on reconnect;
  this transport sends every request exactly once, so the caller decides
  whether to repeat (Insert and Delete are safe to repeat).
- After a timeout or any I/O error the connection is dropped, so a late
  reply can never be mistaken for the answer to a later request.  The next
  request dials again.

Errors are raised as TransportError with a kind of "unavailable" (could not
reach the server, or it hung up) or "deadline" (no reply in time); the
client maps them onto status codes.
"""
from __future__ import annotations

import random
import select
import socket
import ssl
import struct
import threading
import time
from typing import Optional, Tuple

__all__ = ["SPReqConnection", "TransportError", "parse_url"]

# The 8-byte SP header each side sends first: 00 'S' 'P' 00, the sender's
# protocol id (16 bits, big-endian), 16 reserved zero bits.
_SP_MAGIC = b"\x00SP\x00"
_PROTO_REQ = 0x30
_PROTO_REP = 0x31
_IPC_MSG_TYPE = 0x01  # nng's IPC transport puts this byte before each length


class TransportError(Exception):
    """kind is "unavailable" or "deadline"."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


def parse_url(url: str) -> Tuple[str, object]:
    """Split an nng URL into (family, address) for socket.connect.

    tcp://host:port, tcp4://, tcp6://, tcp://[::1]:port, tls+tcp://host:port,
    ipc:///path.
    """
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise ValueError(f"not an nng URL (want tcp://HOST:PORT or ipc:///PATH): {url!r}")
    if scheme == "ipc":
        if not rest:
            raise ValueError(f"ipc URL without a path: {url!r}")
        return "ipc", rest
    if scheme not in ("tcp", "tcp4", "tcp6", "tls+tcp"):
        raise ValueError(f"unsupported transport {scheme!r} (tcp, tcp4, tcp6, tls+tcp, ipc): {url!r}")
    if rest.startswith("["):
        host, bracket, port_s = rest[1:].partition("]")
        if not bracket or not port_s.startswith(":"):
            raise ValueError(f"bad IPv6 address in {url!r}")
        port_s = port_s[1:]
    else:
        host, colon, port_s = rest.rpartition(":")
        if not colon:
            raise ValueError(f"missing port in {url!r}")
    if not port_s.isdigit() or not 0 < int(port_s) < 65536:
        raise ValueError(f"bad port in {url!r}")
    return scheme, (host or "127.0.0.1", int(port_s))


class SPReqConnection:
    """A REQ-side SP connection to one REP peer (a vsetd).

    max_reply_bytes bounds what a reply may claim as its length, so a broken
    peer cannot make us allocate without limit.  ssl_context (required for
    tls+tcp://) verifies the server; server_hostname defaults to the URL's
    host.
    """

    def __init__(self, url: str, max_reply_bytes: int = 64 << 20,
                 ssl_context: Optional[ssl.SSLContext] = None,
                 server_hostname: Optional[str] = None) -> None:
        self.url = url
        self._family, self._addr = parse_url(url)
        if self._family == "tls+tcp" and ssl_context is None:
            raise ValueError(f"{url}: tls+tcp needs an ssl_context")
        self._ssl = ssl_context
        self._server_hostname = server_hostname
        self._max_reply = max_reply_bytes
        self._sock: Optional[socket.socket] = None
        self._lock = threading.Lock()
        # Request ids start at a random point, like nng's, so a server log
        # does not show every client counting from the same number.
        self._next_id = random.getrandbits(31)

    # ------------------------------------------------------------ lifecycle

    def connect(self, timeout: float) -> None:
        with self._lock:
            self._ensure_connected(time.monotonic() + timeout)

    def close(self) -> None:
        with self._lock:
            self._drop()

    def _drop(self) -> None:
        if self._sock is not None:
            try:
                self._sock.close()
            finally:
                self._sock = None

    def _ensure_connected(self, deadline: float) -> None:
        if self._sock is not None and not self._peer_hung_up():
            return
        self._drop()
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TransportError("unavailable", f"{self.url}: no time left to connect")
        try:
            if self._family == "ipc":
                sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                sock.settimeout(remaining)
                try:
                    sock.connect(self._addr)
                except BaseException:
                    sock.close()
                    raise
            else:
                host, port = self._addr  # type: ignore[misc]
                sock = self._dial_tcp(host, port, remaining)
                if self._ssl is not None and self._family == "tls+tcp":
                    sock = self._tls_handshake(sock, host, deadline)
        except ssl.SSLError as e:
            raise TransportError("unavailable", f"TLS handshake with {self.url} failed: "
                                 f"{e.reason or e}") from None
        except (OSError, socket.timeout) as e:
            raise TransportError("unavailable", f"cannot connect to {self.url}: {_oserror_text(e)}") from None
        try:
            sock.sendall(_SP_MAGIC + struct.pack(">HH", _PROTO_REQ, 0))
            peer = _recv_exact(sock, 8, deadline)
        except TransportError as e:
            sock.close()
            # A listener that accepts but never speaks SP is not a server we
            # can use: that is unavailability, not a slow reply.
            raise TransportError("unavailable", f"{self.url}: no SP handshake: {e.message}") from None
        except OSError as e:
            sock.close()
            raise TransportError("unavailable", f"{self.url}: handshake failed: {_oserror_text(e)}") from None
        if peer[:4] != _SP_MAGIC or peer[6:8] != b"\x00\x00":
            sock.close()
            raise TransportError("unavailable", f"{self.url}: peer is not an SP endpoint (header {peer.hex()})")
        (proto,) = struct.unpack(">H", peer[4:6])
        if proto != _PROTO_REP:
            sock.close()
            raise TransportError("unavailable", f"{self.url}: peer speaks SP protocol 0x{proto:02x}, want REP (0x31)")
        self._sock = sock

    def _dial_tcp(self, host: str, port: int, timeout: float) -> socket.socket:
        family = {"tcp4": socket.AF_INET, "tcp6": socket.AF_INET6}.get(self._family, socket.AF_UNSPEC)
        last: Optional[BaseException] = None
        for af, st, pr, _, sa in socket.getaddrinfo(host, port, family, socket.SOCK_STREAM):
            sock = socket.socket(af, st, pr)
            sock.settimeout(timeout)
            try:
                sock.connect(sa)
            except OSError as e:
                sock.close()
                last = e
                continue
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            return sock
        raise last if last is not None else OSError(f"no address for {host}")

    def _tls_handshake(self, sock: socket.socket, host: str, deadline: float) -> socket.socket:
        """TLS first, then the SP handshake inside it (nng's tls+tcp)."""
        assert self._ssl is not None
        sock.settimeout(max(deadline - time.monotonic(), 0.001))
        try:
            return self._ssl.wrap_socket(sock, server_hostname=self._server_hostname or host)
        except BaseException:
            sock.close()
            raise

    def _peer_hung_up(self) -> bool:
        """True if the idle connection was closed by the server (restart,
        shutdown).  Checked before sending so that a stale connection is
        replaced without ever sending a request twice."""
        assert self._sock is not None
        try:
            readable, _, _ = select.select([self._sock], [], [], 0)
            if not readable:
                return False
            # Readable while idle: either EOF or unsolicited bytes; both mean
            # the connection is of no further use.
            return True
        except (OSError, ValueError):
            return True

    # ------------------------------------------------------------ requests

    def request(self, body: bytes, timeout: float) -> bytes:
        """Send body, wait up to timeout seconds for the matching reply."""
        deadline = time.monotonic() + timeout
        with self._lock:
            self._ensure_connected(deadline)
            assert self._sock is not None
            req_id = 0x80000000 | self._next_id
            self._next_id = (self._next_id + 1) & 0x7FFFFFFF
            msg = struct.pack(">I", req_id) + body
            try:
                self._send(msg, deadline)
                while True:
                    reply = self._recv_msg(deadline)
                    if len(reply) < 4:
                        raise TransportError("unavailable", f"{self.url}: reply shorter than its request id")
                    (got_id,) = struct.unpack(">I", reply[:4])
                    if got_id == req_id:
                        return reply[4:]
                    # A reply to some earlier request: REQ discards those.
            except TransportError:
                self._drop()
                raise
            except OSError as e:
                self._drop()
                raise TransportError("unavailable", f"{self.url}: {_oserror_text(e)}") from None

    def _send(self, msg: bytes, deadline: float) -> None:
        assert self._sock is not None
        if self._family == "ipc":
            head = struct.pack(">BQ", _IPC_MSG_TYPE, len(msg))
        else:
            head = struct.pack(">Q", len(msg))
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TransportError("deadline", f"{self.url}: deadline passed before sending")
        self._sock.settimeout(remaining)
        try:
            self._sock.sendall(head + msg)
        except socket.timeout:
            raise TransportError("deadline", f"{self.url}: timed out sending the request") from None

    def _recv_msg(self, deadline: float) -> bytes:
        assert self._sock is not None
        if self._family == "ipc":
            head = _recv_exact(self._sock, 9, deadline)
            if head[0] != _IPC_MSG_TYPE:
                raise TransportError("unavailable", f"{self.url}: unexpected IPC message type {head[0]}")
            (n,) = struct.unpack(">Q", head[1:])
        else:
            (n,) = struct.unpack(">Q", _recv_exact(self._sock, 8, deadline))
        if n > self._max_reply:
            raise TransportError("unavailable", f"{self.url}: reply of {n} bytes exceeds the {self._max_reply}-byte limit")
        return _recv_exact(self._sock, n, deadline)


def _recv_exact(sock: socket.socket, n: int, deadline: float) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TransportError("deadline", "no reply before the deadline")
        sock.settimeout(remaining)
        try:
            chunk = sock.recv(min(n - len(buf), 1 << 20))
        except socket.timeout:
            raise TransportError("deadline", "no reply before the deadline") from None
        if not chunk:
            # nng closes the pipe on an oversized or malformed message without
            # answering: the client only ever sees the hang-up.
            raise TransportError("unavailable", "connection closed by the server (message too large, or server stopped)")
        buf += chunk
    return bytes(buf)


def _oserror_text(e: BaseException) -> str:
    if isinstance(e, socket.timeout):
        return "timed out"
    if isinstance(e, OSError) and e.strerror:
        return e.strerror
    return str(e) or type(e).__name__
