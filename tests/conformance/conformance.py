#!/usr/bin/python3
"""Conformance: talk to a live vsetd with generic tools only.

Every message is built by `protoc --encode` from text format, sent by
`nngcat --req`, and read back with `protoc --decode`; nothing of vsetd's
code (neither its C library nor its Python client) is involved, so this
checks the server against docs/protocol.md and the .proto alone.  Python
only orchestrates: starts the servers (tests/python/vsetd_harness.py),
runs the tools, and compares their text output.

Checked:
- Insert then Search: outcomes, best-first order, scores, shard summary,
  request_id echo;
- errors: unknown method -> UNIMPLEMENTED, garbage envelope -> INVALID_ARGUMENT;
- compatibility: an "older client" (a copy of the proto without
  SearchHit.shard and ShardSummary.timed_out) decodes a Search reply with
  the same ids and scores; a "newer client" (a copy with extra fields 99 and
  100 in SearchRequest) gets OK and the same answer.

usage: conformance.py   (env: REDIS_SERVER, VSETD_BIN, VSETD_SOURCE_ROOT)
"""
from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import unittest
from typing import Any, Dict, List, Tuple

SRC = os.environ.get("VSETD_SOURCE_ROOT", os.path.join(os.path.dirname(__file__), "..", ".."))
sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.join(SRC, "tests", "python"))
from vsetd_harness import Deployment  # noqa: E402  (process management only)

PROTO_DIR = os.path.join(SRC, "proto", "vsetd", "v1")
PROTOC = shutil.which("protoc") or "protoc"
NNGCAT = shutil.which("nngcat") or "nngcat"
SERVICE = "/vsetd.v1.VectorService/"


# ------------------------------------------------------------ tools

def encode(msg_type: str, text: str, proto_dir: str = PROTO_DIR) -> bytes:
    """protoc --encode: text format in, wire bytes out."""
    out = subprocess.run([PROTOC, f"--proto_path={proto_dir}", f"--encode={msg_type}", "vsetd.proto"],
                         input=text.encode(), capture_output=True, timeout=30)
    if out.returncode != 0:
        raise AssertionError(f"protoc --encode={msg_type} failed: {out.stderr.decode()}\n{text}")
    return out.stdout


def decode(msg_type: str, data: bytes, proto_dir: str = PROTO_DIR) -> str:
    """protoc --decode: wire bytes in, text format out."""
    out = subprocess.run([PROTOC, f"--proto_path={proto_dir}", f"--decode={msg_type}", "vsetd.proto"],
                         input=data, capture_output=True, timeout=30)
    if out.returncode != 0:
        raise AssertionError(f"protoc --decode={msg_type} failed: {out.stderr.decode()}")
    return out.stdout.decode()


def escape_bytes(data: bytes) -> str:
    """Bytes as a text-format string literal: every byte as a 3-digit
    octal escape, which protoc's tokenizer reads unambiguously."""
    return '"' + "".join(f"\\{b:03o}" for b in data) + '"'


def nngcat_request(url: str, body: bytes, timeout: float = 10.0) -> bytes:
    """One REQ round trip with nngcat; returns the raw reply body."""
    with tempfile.NamedTemporaryFile(prefix="vsetd-conf-", suffix=".bin") as f:
        f.write(body)
        f.flush()
        out = subprocess.run([NNGCAT, "--req", "--dial", url, "--file", f.name, "--raw",
                              "--recv-timeout", str(int(timeout))],
                             capture_output=True, timeout=timeout + 10)
    if out.returncode != 0 or not out.stdout:
        raise AssertionError(f"nngcat failed (exit {out.returncode}): {out.stderr.decode()}")
    return out.stdout


# ------------------------------------------------------------ text format

_TOKEN = re.compile(r'\s*(?:(?P<open>[A-Za-z_0-9]+)\s*\{|(?P<close>\})|'
                    r'(?P<name>[A-Za-z_0-9]+):\s*(?P<value>"(?:[^"\\]|\\.)*"|[^\s]+))')


def unescape(lit: str) -> bytes:
    """A protoc text-format string literal (C escapes) to bytes."""
    body = lit[1:-1].encode("utf-8")
    out = bytearray()
    i = 0
    simple = {ord("n"): 10, ord("r"): 13, ord("t"): 9, ord('"'): 34, ord("'"): 39, ord("\\"): 92,
              ord("a"): 7, ord("b"): 8, ord("f"): 12, ord("v"): 11, ord("?"): 63}
    while i < len(body):
        c = body[i]
        if c != 0x5C:
            out.append(c)
            i += 1
            continue
        n = body[i + 1]
        if n in simple:
            out.append(simple[n])
            i += 2
        elif 0x30 <= n <= 0x37:
            j = i + 1
            while j < len(body) and j < i + 4 and 0x30 <= body[j] <= 0x37:
                j += 1
            out.append(int(body[i + 1:j], 8) & 0xFF)
            i = j
        elif n in (ord("x"), ord("X")):
            j = i + 2
            while j < len(body) and j < i + 4 and chr(body[j]) in "0123456789abcdefABCDEF":
                j += 1
            out.append(int(body[i + 2:j], 16))
            i = j
        else:
            raise ValueError(f"unknown escape \\{chr(n)} in {lit!r}")
    return bytes(out)


def parse_text(text: str) -> Dict[str, List[Any]]:
    """protoc's text output as {field: [values]} (nested messages as dicts;
    strings as bytes, other scalars as their text).  Repeated and singular
    fields look alike, hence lists everywhere."""
    stack: List[Dict[str, List[Any]]] = [{}]
    pos = 0
    text = text.strip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m:
            raise ValueError(f"cannot parse protoc output at {text[pos:pos + 40]!r}")
        pos = m.end()
        if m.group("open"):
            child: Dict[str, List[Any]] = {}
            stack[-1].setdefault(m.group("open"), []).append(child)
            stack.append(child)
        elif m.group("close"):
            stack.pop()
        else:
            v = m.group("value")
            stack[-1].setdefault(m.group("name"), []).append(unescape(v) if v.startswith('"') else v)
        while pos < len(text) and text[pos].isspace():
            pos += 1
    return stack[0]


def one(msg: Dict[str, List[Any]], field: str, default: Any = None) -> Any:
    vals = msg.get(field, [])
    return vals[0] if vals else default


# ------------------------------------------------------------ calls

def call(url: str, method: str, req_type: str, req_text: str, request_id: int,
         proto_dir: str = PROTO_DIR) -> Tuple[Dict[str, List[Any]], bytes]:
    """Encode req_text as req_type, wrap it, send it; return the decoded
    ReplyEnvelope and its raw payload."""
    payload = encode(req_type, req_text, proto_dir)
    env_text = (f'method: "{method}"\npayload: {escape_bytes(payload)}\n'
                f"deadline_ms: 5000\nrequest_id: {request_id}\n")
    reply = nngcat_request(url, encode("vsetd.v1.RequestEnvelope", env_text))
    env = parse_text(decode("vsetd.v1.ReplyEnvelope", reply))
    return env, one(env, "payload", b"")


class Conformance(unittest.TestCase):
    dep: Deployment
    tmp: str

    @classmethod
    def setUpClass(cls) -> None:
        cls.dep = Deployment(shards=2)
        cls.tmp = tempfile.mkdtemp(prefix="vsetd-conf-proto-")
        env, payload = call(cls.dep.url, SERVICE + "Insert", "vsetd.v1.InsertRequest", """
            collection: "conf"
            items { id: "a" vector: [1, 0, 0] }
            items { id: "b" vector: [0, 1, 0] }
            items { id: "c" vector: [0.9, 0.1, 0] }
            items { id: "d" vector: [-1, 0, 0] attributes_json: "{\\"k\\":1}" }
        """ + "".join(f'items {{ id: "e{i}" vector: [-1, 0, {i / 10}] }}\n' for i in range(16)),
            request_id=7)
        cls.insert_env = env
        cls.insert_reply = parse_text(decode("vsetd.v1.InsertResponse", payload))

    @classmethod
    def tearDownClass(cls) -> None:
        cls.dep.close()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def search(self, proto_dir: str = PROTO_DIR, extra: str = "", k: int = 3) -> Tuple[Dict[str, List[Any]], bytes]:
        env, payload = call(self.dep.url, SERVICE + "Search", "vsetd.v1.SearchRequest",
                            f'collection: "conf" vector: [1, 0, 0] k: {k} {extra}', request_id=9,
                            proto_dir=proto_dir)
        self.assertNotIn("status", env, f"Search failed: {env}")
        self.assertEqual(one(env, "request_id"), "9")
        return env, payload

    def test_insert(self) -> None:
        self.assertNotIn("status", self.insert_env)
        self.assertEqual(one(self.insert_env, "request_id"), "7")
        r = self.insert_reply
        ids = [b"a", b"b", b"c", b"d"] + [f"e{i}".encode() for i in range(16)]
        self.assertEqual(one(r, "added"), str(len(ids)))
        self.assertEqual([one(i, "id") for i in r["results"]], ids)
        # Both shards got some (the compatibility tests rely on it).
        self.assertEqual({one(i, "shard", "0") for i in r["results"]}, {"0", "1"})
        self.assertEqual({one(i, "outcome") for i in r["results"]}, {"WRITE_ADDED"})
        shards = one(r, "shards")
        self.assertEqual(one(shards, "failed", "0"), "0")
        self.assertEqual(one(shards, "ok"), one(shards, "total"))

    def test_search(self) -> None:
        _, payload = self.search()
        r = parse_text(decode("vsetd.v1.SearchResponse", payload))
        hits = r["results"]
        self.assertEqual([one(h, "id") for h in hits], [b"a", b"c", b"b"])
        scores = [float(one(h, "score")) for h in hits]
        self.assertGreater(scores[0], 0.99)     # itself: cosine 1 -> score 1
        self.assertEqual(scores, sorted(scores, reverse=True))
        # Each hit's shard is the one the Insert reported for that id.
        owner = {one(i, "id"): one(i, "shard", "0") for i in self.insert_reply["results"]}
        for h in hits:
            self.assertEqual(one(h, "shard", "0"), owner[one(h, "id")])
        self.assertEqual(one(r, "partial", "false"), "false")
        shards = one(r, "shards")
        self.assertEqual((one(shards, "total"), one(shards, "ok")), ("2", "2"))

    def test_unknown_method(self) -> None:
        env, _ = call(self.dep.url, SERVICE + "Frobnicate", "vsetd.v1.SearchRequest",
                      'collection: "conf"', request_id=11)
        status = one(env, "status")
        self.assertEqual(one(status, "code"), "UNIMPLEMENTED")
        self.assertIn(b"Frobnicate", one(status, "message"))
        self.assertEqual(one(env, "request_id"), "11")

    def test_garbage_envelope(self) -> None:
        reply = nngcat_request(self.dep.url, b"\xff\xff\xff\xff not protobuf")
        status = one(parse_text(decode("vsetd.v1.ReplyEnvelope", reply)), "status")
        self.assertEqual(one(status, "code"), "INVALID_ARGUMENT")
        # The server is still there.
        self.search()

    def proto_copy(self, name: str, edit: Any) -> str:
        d = os.path.join(self.tmp, name)
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(PROTO_DIR, "vsetd.proto")) as f:
            text = f.read()
        new = edit(text)
        self.assertNotEqual(new, text, f"{name}: the edit changed nothing")
        with open(os.path.join(d, "vsetd.proto"), "w") as f:
            f.write(new)
        return d

    def test_older_client_decodes_newer_reply(self) -> None:
        def drop_fields(text: str) -> str:
            text = re.sub(r"(message SearchHit \{[^}]*?)\n\s*uint32 shard = 3;", r"\1", text)
            return re.sub(r"(message ShardSummary \{[^}]*?)\n\s*uint32 timed_out = 4;", r"\1", text)

        old = self.proto_copy("older", drop_fields)
        with open(os.path.join(old, "vsetd.proto")) as f:
            self.assertNotIn("timed_out", f.read())
        _, payload = self.search(k=50)
        new_view = parse_text(decode("vsetd.v1.SearchResponse", payload))
        old_view = parse_text(decode("vsetd.v1.SearchResponse", payload, proto_dir=old))
        self.assertEqual(len(new_view["results"]), 20)
        self.assertEqual([(one(h, "id"), one(h, "score")) for h in old_view["results"]],
                         [(one(h, "id"), one(h, "score")) for h in new_view["results"]])
        # The reply really carries the field the old client lacks: it shows
        # up there as unknown field 3, with the same value.
        self.assertIn({"1"}, [set(h.get("shard", [])) for h in new_view["results"]])
        for o, n in zip(old_view["results"], new_view["results"]):
            self.assertNotIn("shard", o)
            self.assertEqual(o.get("3"), n.get("shard"))
        self.assertEqual(one(one(old_view, "shards"), "ok"), one(one(new_view, "shards"), "ok"))

    def test_newer_client_extra_fields_are_ignored(self) -> None:
        def add_fields(text: str) -> str:
            return re.sub(r"(message SearchRequest \{)",
                          r"\1\n  uint32 future_knob = 99;\n  string future_hint = 100;", text)

        new = self.proto_copy("newer", add_fields)
        plain = encode("vsetd.v1.SearchRequest", 'collection: "conf" vector: [1, 0, 0] k: 3')
        extended = encode("vsetd.v1.SearchRequest",
                          'collection: "conf" vector: [1, 0, 0] k: 3 future_knob: 5 future_hint: "x"', new)
        self.assertGreater(len(extended), len(plain))  # the unknown fields are really on the wire
        _, base = self.search()
        _, payload = self.search(proto_dir=new, extra='future_knob: 5 future_hint: "x"')
        ids = lambda p: [one(h, "id") for h in parse_text(decode("vsetd.v1.SearchResponse", p))["results"]]
        self.assertEqual(ids(payload), ids(base))


def main() -> int:
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(124))  # exit via atexit cleanup
    for tool in (PROTOC, NNGCAT):
        if not shutil.which(tool):
            print(f"missing tool: {tool}", file=sys.stderr)
            return 1
    suite = unittest.defaultTestLoader.loadTestsFromTestCase(Conformance)
    return 0 if unittest.TextTestRunner(verbosity=2, stream=sys.stdout).run(suite).wasSuccessful() else 1


if __name__ == "__main__":
    sys.exit(main())
