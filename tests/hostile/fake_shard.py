#!/usr/bin/python3
"""fake_shard.py - a Redis proxy that misbehaves on cue, for tests.

Why: a real Redis never sends 40,000 hits for COUNT 10, NaN scores or an
array header of two billion elements, but a bug, a proxy or a hostile
server in a shard's place can.  vsetd must treat every byte from a shard
as hostile; this server lets tests prove it against a real vsetd.

Design: a TCP proxy in front of a REAL Redis 8.  Each client connection
gets its own upstream connection and thread; commands are read one at a
time (so pipelines work), forwarded unchanged, and the upstream reply is
relayed unchanged - except that, while a mode is set, VSIM replies (or,
for "close", every connection) are replaced:

  pass       forward everything (the default)
  silent     never answer a VSIM (the connection stays open)
  garbage    answer a VSIM with bytes that are not RESP
  close      close every connection at its next command (a new one
             at its first: what a client sees of a server that closes on
             accept); FAKESHARD commands are still answered
  many       answer a VSIM with 40,000 (id, score) pairs
  many5k     answer a VSIM with 5,000 (id, score) pairs
  hugearray  answer a VSIM with the header "*2000000000" and nothing more
  hugebulk   answer a VSIM with "$2000000000" and then bulk bytes, as fast
             as the client reads them
  nan / inf  the real VSIM reply with every score replaced by nan / inf
  drip       the real VSIM reply, one byte every 5 ms
  negint     answer with the integer -5 (e.g. for WAIT: not a count)
  error      answer with an error reply

The mode is changed at runtime by the command FAKESHARD MODE <name>
[COMMAND], sent to the proxy's own port (it is answered +OK and never
forwarded), or set at start with --mode.  COMMAND (default VSIM) names the
command whose replies misbehave, e.g. VEMB, VLINKS, VCARD.  FAKESHARD MODE
<name> COMMAND N makes only the N-th such reply after the change misbehave
(counted over all connections), e.g. one query of a pipelined batch.  Only the standard library is used.

Usage: fake_shard.py --port P --upstream HOST:PORT [--mode M]
Prints "fake shard listening on PORT" once it accepts connections.
"""
import argparse
import socket
import sys
import threading
import time

MODES = ("pass", "silent", "garbage", "close", "many", "many5k",
         "hugearray", "hugebulk", "nan", "inf", "drip", "negint", "error")
DRIP_S = 0.005
CHUNK = 64 * 1024

state = {"mode": "pass", "cmd": b"VSIM", "nth": 0, "seen": 0}
lock = threading.Lock()


def mode():
    with lock:
        return state["mode"], state["cmd"]


def hit(name):
    """Whether this reply to command name must misbehave (counts it)."""
    with lock:
        if state["mode"] == "pass" or name != state["cmd"]:
            return False
        state["seen"] += 1
        return state["nth"] == 0 or state["seen"] == state["nth"]


class Conn:
    """A buffered reader of RESP values from a socket (raw bytes kept)."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = b""

    def _fill(self):
        data = self.sock.recv(CHUNK)
        if not data:
            raise EOFError
        self.buf += data

    def _line(self, pos):
        while True:
            i = self.buf.find(b"\r\n", pos)
            if i >= 0:
                return i
            self._fill()

    def read_value(self):
        """Return (raw bytes, parsed value) of one RESP2 value."""
        end, val = self._parse(0)
        raw, self.buf = self.buf[:end], self.buf[end:]
        return raw, val

    def _parse(self, pos):
        while len(self.buf) <= pos:
            self._fill()
        eol = self._line(pos)
        kind, line = self.buf[pos:pos + 1], self.buf[pos + 1:eol]
        nxt = eol + 2
        if kind in (b"+", b"-"):
            return nxt, line
        if kind == b":":
            return nxt, int(line)
        if kind == b"$":
            n = int(line)
            if n < 0:
                return nxt, None
            while len(self.buf) < nxt + n + 2:
                self._fill()
            return nxt + n + 2, self.buf[nxt:nxt + n]
        if kind == b"*":
            n = int(line)
            if n < 0:
                return nxt, None
            items = []
            for _ in range(n):
                nxt, v = self._parse(nxt)
                items.append(v)
            return nxt, items
        # inline command (redis-cli style)
        return nxt, line.split()


def bulk(b):
    return b"$%d\r\n%s\r\n" % (len(b), b)


def encode(v):
    if v is None:
        return b"$-1\r\n"
    if isinstance(v, int):
        return b":%d\r\n" % v
    if isinstance(v, bytes):
        return bulk(v)
    return b"*%d\r\n" % len(v) + b"".join(encode(x) for x in v)


def many_pairs(n):
    out = [b"*%d\r\n" % (2 * n)]
    for i in range(n):
        out.append(bulk(b"fake-%d" % i) + bulk(b"0.5"))
    return b"".join(out)


def misbehave(m, client, raw, val):
    """Send the VSIM reply for mode m; False when the connection must end."""
    s = client.sock
    if m == "silent":
        # Hold the connection, answering nothing, until the client leaves.
        while True:
            if not s.recv(CHUNK):
                return False
    if m == "garbage":
        s.sendall(b"\x00\xff not RESP at all \x01\x02\r\n")
        return True
    if m == "many":
        s.sendall(many_pairs(40000))
        return True
    if m == "many5k":
        s.sendall(many_pairs(5000))
        return True
    if m == "hugearray":
        s.sendall(b"*2000000000\r\n")
        while True:
            if not s.recv(CHUNK):
                return False
    if m == "hugebulk":
        s.sendall(b"*2\r\n$2000000000\r\n")
        junk = b"a" * CHUNK
        while True:
            s.sendall(junk)         # ends when the client closes
    if m in ("nan", "inf"):
        if isinstance(val, list):
            val = [m.encode() if i % 2 == 1 else x
                   for i, x in enumerate(val)]
            s.sendall(encode(val))
        else:
            s.sendall(raw)
        return True
    if m == "negint":
        s.sendall(b":-5\r\n")
        return True
    if m == "error":
        s.sendall(b"-ERR fake shard error\r\n")
        return True
    if m == "drip":
        for i in range(len(raw)):
            s.sendall(raw[i:i + 1])
            time.sleep(DRIP_S)
        return True
    s.sendall(raw)
    return True


def serve(csock, upstream):
    client = Conn(csock)
    up = None
    try:
        while True:
            raw, cmd = client.read_value()
            name = cmd[0].upper() if isinstance(cmd, list) and cmd else b""
            if name == b"FAKESHARD":
                if (len(cmd) in (3, 4, 5) and cmd[1].upper() == b"MODE" and
                        cmd[2].decode() in MODES):
                    with lock:
                        state["mode"] = cmd[2].decode()
                        state["cmd"] = (cmd[3].upper() if len(cmd) >= 4
                                        else b"VSIM")
                        state["nth"] = int(cmd[4]) if len(cmd) == 5 else 0
                        state["seen"] = 0
                    csock.sendall(b"+OK\r\n")
                else:
                    csock.sendall(b"-ERR FAKESHARD MODE <%s>\r\n" %
                                  "|".join(MODES).encode())
                continue
            m, target = mode()
            if m == "close":
                return
            if up is None:
                up = Conn(socket.create_connection(upstream))
            up.sock.sendall(raw)
            rraw, rval = up.read_value()
            if hit(name):
                if not misbehave(m, client, rraw, rval):
                    return
            else:
                csock.sendall(rraw)
    except (EOFError, OSError, ValueError):
        pass
    finally:
        csock.close()
        if up is not None:
            up.sock.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--upstream", required=True)
    ap.add_argument("--mode", default="pass", choices=MODES)
    a = ap.parse_args()
    host, port = a.upstream.rsplit(":", 1)
    state["mode"] = a.mode
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", a.port))
    ls.listen(128)
    print("fake shard listening on %d" % a.port, flush=True)
    while True:
        c, _ = ls.accept()
        c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        threading.Thread(target=serve, args=(c, (host, int(port))),
                         daemon=True).start()


if __name__ == "__main__":
    sys.exit(main())
