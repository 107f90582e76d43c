#!/usr/bin/python3
"""test_surface_cli.py - vset's issue-3 commands against a real deployment.

Starts three Redis 8 servers on free loopback ports and a vsetd in front of
them, then drives the real `vset` binary through the whole vector-set
surface: create/describe/list/drop, get [--raw], exists, getattr, setattr,
count, info, random, links, every search option, and `load` of .npy,
.fvecs and CSV files written here.  Every command runs with --json and its
output is parsed; where it matters the data is checked in Redis itself
(over RESP, not through vsetd): VCARD sums after a load, get --raw against
VEMB RAW, attributes against VGETATTR, metadata keys on every shard.  The
rejection paths are checked too: exit 2 with nothing sent for usage and
file errors, exit 1 with `CODE: message` on stderr for server refusals.

Output is TAP.  Every process is started here and killed in `finally` (also
on SIGTERM, which meson sends on timeout); every wait is bounded.

Environment (from meson's test_env): VSET_BIN, VSETD_BIN, REDIS_SERVER.
"""
import json
import math
import os
import pty
import random
import re
import select
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time

from clitest import (NSHARDS, REDIS_SERVER, T, VSET, VSETD, Deployment,
    RespError, Run, cosine, free_port, resp, shard_of, stop, vec_str)


DIM = 8
CMD_TIMEOUT = 30          # seconds, for any one command we run
CODE_LINE = re.compile(r"^[A-Z_]+: .+", re.M)


# ---------------------------------------------------------------- TAP


# ---------------------------------------------------------------- routing



# ---------------------------------------------------------------- Redis


def key(coll):
    return "vsetd:" + coll


def vcards(dep, coll):
    return [resp(p, "VCARD", key(coll)) for p in dep.ports]


def vemb(port, coll, ident):
    try:
        v = resp(port, "VEMB", key(coll), ident)
    except RespError:
        return None
    return None if v is None else [float(x) for x in v]


# ---------------------------------------------------------------- processes


DEP = None


def vset(*args, server=None, timeout=CMD_TIMEOUT):
    """vset --server URL ARGS (the deployment's vsetd unless told)."""
    env = dict(os.environ)
    env.pop("VSET_SERVER", None)
    argv = [VSET, "--server", server or DEP.url] + list(args)
    t0 = time.monotonic()
    try:
        r = subprocess.run(argv, capture_output=True, env=env,
                           timeout=timeout)
    except subprocess.TimeoutExpired as e:
        return Run(list(args), None, "", "timed out: %s" % e,
                   time.monotonic() - t0)
    return Run(list(args), r.returncode, r.stdout.decode("utf-8", "replace"),
               r.stderr.decode("utf-8", "replace"), time.monotonic() - t0)


def vj(*args, **kw):
    """vset --json ARGS: (Run, parsed JSON or None)."""
    r = vset("--json", *args, **kw)
    return r, r.json()


def failed_with(r, codes=None):
    """Exit 1 with a `CODE: message` line (one of codes, if given)."""
    m = [x for x in CODE_LINE.findall(r.err)]
    if r.code != 1 or not m:
        return False
    return codes is None or any(x.split(":")[0] in codes for x in m)


# ---------------------------------------------------------------- helpers


def score(a, b):
    return (1 + cosine(a, b)) / 2


def rand_vec(rng, dim=DIM):
    return [round(rng.uniform(-1, 1), 4) for _ in range(dim)]


def write_npy(path, rows, dtype="<f4", version=1, shape=None, cut=0):
    """A numpy .npy file by hand (numpy is not installed): header dict
    padded so the data starts on a 64-byte boundary."""
    dim = len(rows[0]) if rows else 0
    shape = shape or (len(rows), dim)
    hdr = "{'descr': '%s', 'fortran_order': False, 'shape': (%s), }" % (
        dtype, ", ".join(str(x) for x in shape) +
        ("," if len(shape) == 1 else ""))
    pre = 12 if version >= 2 else 10
    pad = 64 - (pre + len(hdr) + 1) % 64
    hdr = hdr + " " * pad + "\n"
    fmt = {"<f4": "<f", ">f4": ">f", "<f8": "<d"}[dtype]
    with open(path, "wb") as f:
        f.write(b"\x93NUMPY" + bytes([version, 0]))
        f.write(struct.pack("<H" if version == 1 else "<I", len(hdr)))
        f.write(hdr.encode("latin-1"))
        data = b"".join(struct.pack(fmt[0] + fmt[1] * len(r), *r)
                        for r in rows)
        f.write(data[:len(data) - cut])


def write_fvecs(path, rows):
    with open(path, "wb") as f:
        for r in rows:
            f.write(struct.pack("<i", len(r)) + struct.pack("<%df" % len(r),
                                                            *r))


def csv_quote(s):
    return '"' + s.replace('"', '""') + '"'


# ---------------------------------------------------------------- checks

def check_help():
    r = vset("--help")
    for cmd in ["create", "describe", "list", "drop", "get", "exists",
                "getattr", "setattr", "count", "info", "random", "links",
                "search", "load"]:
        T.ok(r.code == 0 and re.search(r"^  %s " % cmd, r.out, re.M),
             "vset --help lists %s" % cmd, r)
    r = vset("load", "--help")
    T.ok(r.code == 0 and all(w in r.out for w in
                             ["--batch", "--id-column", "--id-prefix",
                              "--skip-header", "--attrs-column", "--limit",
                              ".npy", ".fvecs", "CSV", "rows_per_s"]),
         "vset load --help documents its options and JSON", r)


def check_collections(dep):
    c = "coll-a"
    r, j = vj("create", c, "--dim", "8", "--quant", "noquant", "--m", "24",
              "--ef", "150")
    T.ok(r.code == 0 and j == {"created": True}, "create --json: created",
         r)
    T.ok(all(resp(p, "EXISTS", "vsetd:@meta:" + c) == 1 for p in dep.ports),
         "create stores the parameters on every shard")
    r, j = vj("create", c, "--dim", "8", "--quant", "noquant", "--m", "24",
              "--ef", "150")
    T.ok(r.code == 0 and j == {"created": False},
         "create again with the same parameters: created false", r)
    r = vset("create", c, "--dim", "8", "--m", "32")
    T.ok(failed_with(r, ["ALREADY_EXISTS"]),
         "create with other parameters: ALREADY_EXISTS, exit 1", r)
    r, j = vj("describe", c)
    T.ok(r.code == 0 and j is not None and j.get("collection") == c
         and j.get("dim") == 8 and j.get("quant") == "noquant"
         and j.get("m") == 24 and j.get("build_ef") == 150
         and j.get("reduce") == 0 and j.get("count") == 0
         and j.get("shard_counts") == [0] * NSHARDS
         and j.get("has_metadata") is True,
         "describe --json gives the created parameters", r)

    # Inserts follow the collection's parameters: the wrong dimension is
    # refused before any shard is touched.
    r = vset("insert", c, "x", "1,2,3")
    T.ok(failed_with(r, ["INVALID_ARGUMENT", "FAILED_PRECONDITION"])
         and "dimension" in r.err,
         "insert of the wrong dimension into a created collection is "
         "refused", r)
    T.ok(sum(vcards(dep, c)) == 0, "... and nothing was stored")
    v = [0.1 * (i + 1) for i in range(8)]
    r, j = vj("insert", c, "e1", vec_str(v))
    T.ok(r.code == 0 and j and j.get("added") == 1,
         "insert into a created collection", r)
    info = resp(dep.ports[shard_of("e1")], "VINFO", key(c))
    info = dict(zip((k.decode() if isinstance(k, bytes) else k
                     for k in info[::2]), info[1::2])) if info else {}
    T.ok(info.get("quant-type") == "f32" and info.get("hnsw-m") == 24,
         "the element went in with the collection's quantization and M "
         "(VINFO)", info)

    r, j = vj("create", "coll-r", "--dim", "8", "--reduce", "4")
    T.ok(r.code == 0 and j == {"created": True}, "create --reduce", r)
    r, j = vj("describe", "coll-r")
    T.ok(r.code == 0 and j and j.get("reduce") == 4 and j.get("dim") == 8
         and j.get("quant") == "q8" and j.get("m") == 16,
         "describe shows reduce and the defaults (q8, m 16)", r)

    r, j = vj("list")
    T.ok(r.code == 0 and j and c in j.get("collections", [])
         and "coll-r" in j["collections"]
         and j["collections"] == sorted(j["collections"]),
         "list --json: the collections, sorted", r)
    r = vset("list")
    T.ok(r.code == 0 and c in r.out.split("\n"), "list: one name a line", r)

    r, j = vj("drop", c)
    T.ok(r.code == 0 and j and j.get("keys_deleted", 0) >= 1,
         "drop --json reports keys deleted", r)
    T.ok(all(resp(p, "EXISTS", key(c)) == 0
             and resp(p, "EXISTS", "vsetd:@meta:" + c) == 0
             for p in dep.ports),
         "drop removes the data and metadata keys on every shard")
    r, j = vj("list")
    T.ok(r.code == 0 and j and c not in j.get("collections", []),
         "a dropped collection is no longer listed", r)
    r = vset("describe", c)
    T.ok(failed_with(r, ["NOT_FOUND"]),
         "describe of a dropped collection: NOT_FOUND, exit 1", r)
    vset("drop", "coll-r")


def populate(dep, coll, n, rng):
    """n elements with attributes naming their shard, via vset insert."""
    items, attrs = {}, {}
    for i in range(n):
        ident = "el-%02d" % i
        v = rand_vec(rng)
        a = {"i": i, "shard": shard_of(ident), "tag": "t%d" % (i % 4)}
        r = vset("insert", coll, ident, vec_str(v), "--attrs", json.dumps(a))
        if r.code != 0:
            T.diag(str(r))
        items[ident], attrs[ident] = v, a
    T.ok(sum(vcards(dep, coll)) == n, "populated %s with %d elements on "
         "%s shards" % (coll, n, NSHARDS), vcards(dep, coll))
    T.ok(all(x > 0 for x in vcards(dep, coll)), "every shard holds some",
         vcards(dep, coll))
    return items, attrs


def check_reads(dep, coll, items, attrs):
    ident = next(i for i in sorted(items) if shard_of(i) == 2)
    owner = dep.ports[2]
    r, j = vj("get", coll, ident)
    T.ok(r.code == 0 and j and j.get("id") == ident and j.get("shard") == 2
         and len(j.get("vector", [])) == DIM
         and cosine(j["vector"], items[ident]) > 0.99
         and j.get("attrs") == attrs[ident] and "raw" not in j,
         "get --json: vector, attrs and the owning shard", r)
    emb = vemb(owner, coll, ident)
    T.ok(j and emb and all(abs(a - b) < 1e-5
                           for a, b in zip(j["vector"], emb)),
         "get's vector is VEMB's", (j, emb))
    r, j = vj("get", coll, ident, "--raw")
    raw = resp(owner, "VEMB", key(coll), ident, "RAW")
    rj = (j or {}).get("raw", {})
    T.ok(r.code == 0 and raw and rj.get("quant") == raw[0]
         and rj.get("hex") == raw[1].hex()
         and abs(rj.get("norm", -1) - float(raw[2])) < 1e-4
         and (len(raw) < 4 or abs(rj.get("range", -1) - float(raw[3]))
              < 1e-4),
         "get --raw matches VEMB RAW (quant, bytes, norm, range)",
         "%s\nVEMB RAW: %r" % (r, raw))
    r = vset("get", coll, "no-such")
    T.ok(failed_with(r, ["NOT_FOUND"]), "get of a missing id: NOT_FOUND", r)

    r, j = vj("exists", coll, ident)
    T.ok(r.code == 0 and j == {"exists": True}, "exists: true", r)
    r, j = vj("exists", coll, "no-such")
    T.ok(r.code == 0 and j == {"exists": False}, "exists: false, exit 0", r)

    r, j = vj("getattr", coll, ident)
    T.ok(r.code == 0 and j == {"attrs": attrs[ident]},
         "getattr --json gives the attributes", r)
    new = {"i": -1, "shard": 2, "note": "caf\u00e9 \"q\""}
    r, j = vj("setattr", coll, ident, json.dumps(new))
    T.ok(r.code == 0 and j == {"ok": True}, "setattr --json", r)
    stored = resp(owner, "VGETATTR", key(coll), ident)
    T.ok(stored is not None and json.loads(stored) == new,
         "setattr stored the JSON (VGETATTR)", stored)
    r, j = vj("getattr", coll, ident)
    T.ok(r.code == 0 and j == {"attrs": new}, "getattr reads it back", r)
    r, j = vj("setattr", coll, ident, "")
    r2, j2 = vj("getattr", coll, ident)
    T.ok(r.code == 0 and r2.code == 0 and j2 == {"attrs": None}
         and resp(owner, "VGETATTR", key(coll), ident) is None,
         "setattr '' removes the attributes", "%s\n%s" % (r, r2))
    vset("setattr", coll, ident, json.dumps(attrs[ident]))
    r = vset("setattr", coll, "no-such", "{}")
    T.ok(failed_with(r, ["NOT_FOUND"]), "setattr of a missing id: NOT_FOUND",
         r)

    cards = vcards(dep, coll)
    r, j = vj("count", coll)
    T.ok(r.code == 0 and j and j.get("count") == sum(cards)
         and j.get("shard_counts") == cards and j.get("partial") is False
         and j.get("shards", {}).get("ok") == NSHARDS,
         "count --json: sum of VCARD and per-shard counts", (r, cards))
    r = vset("count", coll)
    T.ok(r.code == 0 and r.out.strip() == str(sum(cards)), "count: N", r)
    r, j = vj("count", "nothing-here")
    T.ok(r.code == 0 and j and j.get("count") == 0,
         "count of a missing collection: 0", r)

    r, j = vj("info", coll)
    si = (j or {}).get("shard_info", [])
    T.ok(r.code == 0 and j and j.get("size") == sum(cards)
         and j.get("attributes_count") == len(items)
         and sorted(s.get("shard") for s in si) == list(range(NSHARDS))
         and all(s.get("exists") for s in si),
         "info --json: size and attributes_count sum the shards", r)
    T.ok(all(int(s["fields"].get("size", -1)) == cards[s["shard"]]
             and s["fields"].get("quant-type") == "int8" for s in si),
         "info's per-shard fields are each shard's VINFO", r)

    r, j = vj("random", coll, "5")
    ids = (j or {}).get("ids", [])
    T.ok(r.code == 0 and len(ids) == 5 and len(set(ids)) == 5
         and set(ids) <= set(items), "random 5: five distinct members", r)
    r, j = vj("random", coll, str(len(items) + 10))
    ids = (j or {}).get("ids", [])
    T.ok(r.code == 0 and sorted(ids) == sorted(items),
         "random COUNT > size: every member once", r)
    r, j = vj("random", coll, "-40")
    ids = (j or {}).get("ids", [])
    T.ok(r.code == 0 and len(ids) == 40 and set(ids) <= set(items)
         and len(set(ids)) < 40,
         "random -40: exactly 40 members, with repeats", r)
    T.ok(len({shard_of(i) for i in ids}) > 1,
         "random -40 samples more than one shard", ids)

    r, j = vj("links", coll, ident)
    levels = (j or {}).get("levels", [])
    linked = [h.get("id") for lv in levels for h in lv]
    T.ok(r.code == 0 and j.get("shard") == 2 and levels and linked
         and all(shard_of(i) == 2 and i in items for i in linked)
         and all(0 <= h.get("score", -1) <= 1 for lv in levels for h in lv),
         "links --json: neighbours on the owning shard, scores in [0,1]", r)
    r = vset("links", coll, "no-such")
    T.ok(failed_with(r, ["NOT_FOUND"]), "links of a missing id: NOT_FOUND",
         r)


def search(coll, *args):
    r, j = vj("search", coll, *args)
    return r, j, [(h["id"], h["score"]) for h in (j or {}).get("results",
                                                            [])]


def check_search(dep, coll, items, attrs):
    q = items["el-05"]
    n = len(items)
    exact = sorted(items, key=lambda i: (-score(items[i], q), i))

    r, j, hits = search(coll, vec_str(q), "-k", str(n), "--truth")
    # Q8 moves scores by up to ~0.01, so near ties may swap: check the
    # scores, not the exact order.
    T.ok(r.code == 0 and sorted(h[0] for h in hits) == sorted(items)
         and hits[0][0] == "el-05"
         and all(abs(s - score(items[i], q)) < 0.02 for i, s in hits),
         "search --truth -k N: every element of every shard, exact scores",
         r)
    order = [(-s, i) for i, s in hits]
    T.ok(order == sorted(order), "results by score desc, then id asc", r)

    r2, j2, hits2 = search(coll, vec_str(q), "-k", "5", "--nothread",
                           "--ef", "200")
    T.ok(r2.code == 0 and len(hits2) == 5
         and len({i for i, _ in hits2} & set(exact[:5])) >= 4,
         "search --nothread --ef finds the top 5", r2)

    # EPSILON: a cut between the 6th and 7th exact scores.
    s6, s7 = hits[5][1], hits[6][1]
    eps = 1 - (s6 + s7) / 2
    r, j, he = search(coll, vec_str(q), "-k", str(n), "--truth",
                      "--epsilon", repr(eps))
    T.ok(r.code == 0 and [i for i, _ in he] == [i for i, _ in hits[:6]]
         and all(s >= 1 - eps for _, s in he),
         "search --epsilon keeps exactly the results with score >= 1-E",
         "%s\neps %r" % (r, eps))

    # FILTER that only shard 1's elements match.
    r, j, hf = search(coll, vec_str(q), "-k", str(n), "--filter",
                      ".shard == 1", "--filter-ef", "1000")
    want = sorted(i for i in items if shard_of(i) == 1)
    T.ok(r.code == 0 and sorted(i for i, _ in hf) == want
         and all(h["shard"] == 1 for h in j["results"])
         and j.get("partial") is False,
         "search --filter matching only on one shard returns exactly its "
         "elements", r)
    r, j, hf = search(coll, vec_str(q), "-k", "3", "--filter",
                      '.tag == "t1" and .i >= 9')
    want = [i for i in exact if attrs[i]["tag"] == "t1"
            and attrs[i]["i"] >= 9][:3]
    T.ok(r.code == 0 and len(hf) == len(want)
         and len({i for i, _ in hf} & set(want)) >= len(want) - 1,
         "search --filter with a compound expression", r)
    r = vset("search", coll, vec_str(q), "--filter", ".shard ==")
    T.ok(failed_with(r, ["INVALID_ARGUMENT"]),
         "a FILTER syntax error: INVALID_ARGUMENT, exit 1", r)

    # --by-id of an element on shard 2.
    ident = next(i for i in sorted(items) if shard_of(i) == 2)
    r, j, hb = search(coll, "--by-id", ident, "-k", "5", "--truth")
    qb = items[ident]
    exb = sorted(items, key=lambda i: (-score(items[i], qb), i))[:5]
    T.ok(r.code == 0 and hb and hb[0][0] == ident and hb[0][1] > 0.99
         and [i for i, _ in hb] == exb
         and {h["shard"] for h in j["results"]} != {2},
         "search --by-id (element on shard 2) searches every shard with its "
         "vector", r)
    r = vset("search", coll, "--by-id", "no-such")
    T.ok(failed_with(r, ["NOT_FOUND"]),
         "search --by-id of a missing element: NOT_FOUND", r)

    # --with-attrs: attributes of the merged results.
    r, j, hw = search(coll, vec_str(q), "-k", "8", "--with-attrs")
    res = (j or {}).get("results", [])
    T.ok(r.code == 0 and len(res) == 8
         and all(h.get("attrs") == attrs[h["id"]] for h in res)
         and len({h["shard"] for h in res}) > 1,
         "search --with-attrs: each merged result carries its attributes",
         r)
    plain = [ln for ln in vset("search", coll, vec_str(q), "-k", "3",
                               "--with-attrs").out.splitlines()
             if re.match(r"^\d+ ", ln)]
    T.ok(len(plain) == 3 and all(ln.rstrip().endswith("}") for ln in plain),
         "human search --with-attrs prints the attributes", plain)
    vset("insert", coll, "no-attrs", vec_str(q))
    r, j, hw = search(coll, vec_str(q), "-k", "2", "--with-attrs")
    got = {h["id"]: h.get("attrs", "missing") for h in (j or {})
           .get("results", [])}
    T.ok(r.code == 0 and "no-attrs" in got and got["no-attrs"] is None,
         "--with-attrs: null for an element without attributes", r)
    vset("delete", coll, "no-attrs")

    r = vset("search", coll, vec_str(q[:4]))
    T.ok(failed_with(r, ["INVALID_ARGUMENT", "FAILED_PRECONDITION"]),
         "search with the wrong dimension is refused", r)


def check_usage_errors(coll):
    nowhere = "tcp://127.0.0.1:%d" % free_port()
    cases = [
        ["create", coll], ["create", "--dim", "8"],
        ["create", coll, "--dim", "0"], ["create", coll, "--dim", "x"],
        ["create", coll, "--dim", "8", "--quant", "q4"],
        ["describe"], ["describe", coll, "extra"], ["list", "x"],
        ["drop"], ["get", coll], ["get", coll, "a", "b"], ["exists", coll],
        ["getattr", coll], ["setattr", coll, "a"],
        ["setattr", coll, "a", "[1]"], ["setattr", coll, "a", "{\"x\":"],
        ["count"], ["info"], ["random", coll], ["random", coll, "x"],
        ["links", coll],
        ["search", coll, "1,2", "--by-id", "a"],
        ["search", coll, "1,2", "--epsilon", "0"],
        ["search", coll, "1,2", "--epsilon", "3"],
        ["search", coll, "1,2", "--filter-ef", "0"],
        ["search", coll, "1,2", "--filter"],
        ["search", coll, "1,2", "--truth=1"],
        ["load", coll], ["load"], ["load", coll, "f.npy", "--batch", "0"],
        ["load", coll, "f.npy", "--batch", "x"],
        ["load", coll, "f.npy", "--limit", "0"],
        ["load", coll, "f.npy", "--format", "parquet"],
        ["load", coll, "f.dat"],
        ["load", coll, "f.npy", "--id-column", "0"],
        ["load", coll, "f.fvecs", "--skip-header"],
        ["load", coll, "f.csv", "extra"],
    ]
    for args in cases:
        r = vset("--timeout-ms", "2000", *args, server=nowhere)
        T.ok(r.code == 2 and "Try 'vset" in r.err and r.out == "",
             "usage error exits 2 before connecting: vset %s"
             % " ".join(args), r)


# ---------------------------------------------------------------- load

def check_load_npy(dep, tmp, rng):
    coll, n, dim = "ld-npy", 1000, 16
    rows = [rand_vec(rng, dim) for _ in range(n)]
    path = os.path.join(tmp, "vecs.npy")
    write_npy(path, rows)
    r, j = vj("load", coll, path, "--batch", "128", "--id-prefix", "n-")
    T.ok(r.code == 0 and j and j.get("rows") == n and j.get("added") == n
         and j.get("updated") == 0 and j.get("failed") == 0
         and j.get("failed_ids") == [] and j.get("error") is None
         and j.get("seconds", -1) > 0 and j.get("rows_per_s", -1) > 0
         and r.out.count("\n") == 1,
         "load .npy --json: %d rows added" % n, r)
    cards = vcards(dep, coll)
    want = [sum(1 for i in range(n) if shard_of("n-%d" % i) == s)
            for s in range(NSHARDS)]
    T.ok(cards == want, "after load, VCARD per shard is what routing says "
         "(sum %d)" % n, (cards, want))
    T.ok("\r" not in r.err, "no progress bar when stderr is not a terminal",
         r)
    ok = True
    for i in (0, 1, 517, n - 1):
        got = vemb(dep.ports[shard_of("n-%d" % i)], coll, "n-%d" % i)
        ok = ok and got is not None and cosine(got, rows[i]) > 0.99
    T.ok(ok, "loaded rows hold the file's vectors (VEMB of rows 0, 1, 517, "
         "%d)" % (n - 1))
    r, j = vj("describe", coll)
    T.ok(r.code == 0 and j and j.get("dim") == dim and j.get("count") == n,
         "load created the collection with the file's dimension", r)

    r, j = vj("load", coll, path, "--id-prefix", "n-", "--limit", "300",
              "--batch", "1000")
    T.ok(r.code == 0 and j and j.get("rows") == 300
         and j.get("updated") == 300 and j.get("added") == 0,
         "load again with --limit 300: 300 rows updated", r)
    r = vset("load", coll, path, "--id-prefix", "n-", "--limit", "10")
    T.ok(r.code == 0 and re.match(r"^rows 10: added 0, updated 10, failed 0 "
                                  r"in [\d.]+ s \(\d+ rows/s\)$", r.out),
         "human load summary", r)

    # Big-endian float32 and a version 2 header.
    be = os.path.join(tmp, "be.npy")
    write_npy(be, rows[:20], dtype=">f4", version=2)
    r, j = vj("load", "ld-be", be)
    got = vemb(dep.ports[shard_of("7")], "ld-be", "7")
    T.ok(r.code == 0 and j and j.get("added") == 20 and got
         and cosine(got, rows[7]) > 0.99,
         "load .npy '>f4' version 2.0: ids are row numbers, values right",
         r)

    # A dimension that contradicts the collection: nothing is sent.
    other = os.path.join(tmp, "dim8.npy")
    write_npy(other, [rand_vec(rng, 8) for _ in range(5)])
    r, j = vj("load", coll, other)
    T.ok(r.code == 1 and "dimension" in r.err and sum(vcards(dep, coll)) == n,
         "load of the wrong dimension into an existing collection: exit 1, "
         "nothing loaded", r)

    # NaN at row 70: rows before it are loaded, then it stops.
    bad = [list(x) for x in rows[:100]]
    bad[70][3] = float("nan")
    nanp = os.path.join(tmp, "nan.npy")
    write_npy(nanp, bad)
    r, j = vj("load", "ld-nan", nanp, "--batch", "32")
    T.ok(r.code == 1 and j and j.get("rows") == 70 and j.get("added") == 70
         and "row 70" in (j.get("error") or "") and "row 70" in r.err,
         "load stops at a NaN row, naming it, after loading the rows "
         "before", r)
    T.ok(sum(vcards(dep, "ld-nan")) == 70, "... and Redis holds those 70",
         vcards(dep, "ld-nan"))

    # Files that cannot be loaded at all: exit 2, nothing sent.
    cases = []
    p = os.path.join(tmp, "trunc.npy")
    write_npy(p, rows[:50], cut=6)
    cases.append((p, "truncated"))
    p = os.path.join(tmp, "f8.npy")
    write_npy(p, rows[:5], dtype="<f8")
    cases.append((p, "float32"))
    p = os.path.join(tmp, "one-d.npy")
    write_npy(p, [[1.0, 2.0]], shape=(2,))
    cases.append((p, "2-D"))
    p = os.path.join(tmp, "junk.npy")
    with open(p, "wb") as f:
        f.write(b"not numpy at all\n")
    cases.append((p, "magic"))
    cases.append((os.path.join(tmp, "missing.npy"), "No such file"))
    for path, word in cases:
        r = vset("load", "ld-bad", path)
        T.ok(r.code == 2 and word in r.err and r.out == "",
             "unloadable %s: exit 2 naming the problem (%s)"
             % (os.path.basename(path), word), r)
    T.ok(sum(vcards(dep, "ld-bad")) == 0
         and all(resp(p, "EXISTS", "vsetd:@meta:ld-bad") == 0
                 for p in dep.ports),
         "... and nothing reached Redis")
    return coll, n


def check_load_fvecs(dep, tmp, rng):
    coll, n = "ld-fvecs", 300
    rows = [rand_vec(rng) for _ in range(n)]
    path = os.path.join(tmp, "v.fvecs")
    write_fvecs(path, rows)
    r, j = vj("load", coll, path, "--batch", "64")
    T.ok(r.code == 0 and j and j.get("rows") == n and j.get("added") == n
         and j.get("failed") == 0, "load .fvecs --json: %d added" % n, r)
    T.ok(sum(vcards(dep, coll)) == n, "after .fvecs load VCARD sums to %d"
         % n, vcards(dep, coll))
    r, j = vj("get", coll, str(n - 1))
    T.ok(r.code == 0 and j and cosine(j["vector"], rows[n - 1]) > 0.99,
         "the last row's id is %d and it holds its vector" % (n - 1), r)
    # --format overrides the name.
    alias = os.path.join(tmp, "v.bin")
    write_fvecs(alias, rows[:10])
    r, j = vj("load", "ld-fmt", alias, "--format", "fvecs")
    T.ok(r.code == 0 and j and j.get("added") == 10,
         "--format fvecs loads a file of another name", r)

    p = os.path.join(tmp, "trunc.fvecs")
    with open(path, "rb") as f:
        data = f.read()
    with open(p, "wb") as f:
        f.write(data[:-5])
    r = vset("load", "ld-bad", p)
    T.ok(r.code == 2 and "truncated" in r.err,
         "truncated .fvecs: exit 2 before sending", r)
    # Mixed dimensions that still add up to whole records (one record of
    # dimension 17 takes the room of two of 8): caught at that row.
    p = os.path.join(tmp, "mixed.fvecs")
    write_fvecs(p, rows[:40] + [rows[40] + rows[41] + [0.5]] + rows[42:50])
    r, j = vj("load", "ld-mixed", p)
    T.ok(r.code == 1 and j and j.get("rows") == 40 and "row 40" in r.err
         and "dimension 17" in r.err,
         "an .fvecs row of another dimension stops the load at it", r)


def check_load_csv(dep, tmp, rng):
    n = 120
    rows = [rand_vec(rng) for _ in range(n)]
    ids = ["doc-%03d" % i for i in range(n)]
    attrs = [{"i": i, "name": "x, \"y\"", "even": i % 2 == 0}
             for i in range(n)]
    # Header, id and attrs by name, in the middle of the vector columns,
    # quoted JSON with commas and doubled quotes, CRLF, a blank line.
    path = os.path.join(tmp, "named.csv")
    with open(path, "w", newline="") as f:
        f.write("x0,x1,id,x2,x3,attrs,x4,x5,x6,x7\r\n")
        for i in range(n):
            v = [repr(x) for x in rows[i]]
            a = csv_quote(json.dumps(attrs[i])) if i % 10 else ""
            f.write(",".join(v[:2] + [ids[i]] + v[2:4] + [a] + v[4:])
                    + "\r\n")
            if i == 50:
                f.write("\r\n")
    r, j = vj("load", "ld-csv", path, "--id-column", "id", "--attrs-column",
              "attrs", "--batch", "50")
    T.ok(r.code == 0 and j and j.get("rows") == n and j.get("added") == n
         and j.get("failed") == 0,
         "load CSV with a header, --id-column NAME and --attrs-column NAME",
         r)
    T.ok(sum(vcards(dep, "ld-csv")) == n, "VCARD sums to the CSV's rows",
         vcards(dep, "ld-csv"))
    i = 37
    r, j = vj("get", "ld-csv", ids[i])
    T.ok(r.code == 0 and j and cosine(j["vector"], rows[i]) > 0.99
         and j.get("attrs") == attrs[i],
         "a CSV row keeps its id, vector and JSON attributes", r)
    r, j = vj("getattr", "ld-csv", ids[40])
    T.ok(r.code == 0 and j == {"attrs": None},
         "an empty attributes field means none", r)

    # No header, ids by index, a prefix; auto-detection sees numbers.
    path = os.path.join(tmp, "plain.csv")
    with open(path, "w") as f:
        for i in range(30):
            f.write("%d,%s\n" % (1000 + i, vec_str(rows[i])))
    r, j = vj("load", "ld-csv2", path, "--id-column", "0", "--id-prefix",
              "p")
    T.ok(r.code == 0 and j and j.get("rows") == 30 and j.get("added") == 30,
         "load CSV without a header, --id-column 0 --id-prefix", r)
    r, j = vj("exists", "ld-csv2", "p1029")
    T.ok(r.code == 0 and j == {"exists": True},
         "ids are the prefix and the column's text", r)

    # Row-number ids, header auto-detected and skipped.
    path = os.path.join(tmp, "rownum.csv")
    with open(path, "w") as f:
        f.write("a,b,c,d,e,f,g,h\n")
        for i in range(25):
            f.write(vec_str(rows[i]) + "\n")
    r, j = vj("load", "ld-csv3", path)
    r2, j2 = vj("exists", "ld-csv3", "24")
    T.ok(r.code == 0 and j and j.get("rows") == 25 and j2 == {"exists": True}
         and sum(vcards(dep, "ld-csv3")) == 25,
         "load CSV with an auto-detected header: ids 0..24", (r, r2))
    r, j = vj("load", "ld-csv4", path, "--limit", "7", "--skip-header")
    T.ok(r.code == 0 and j and j.get("rows") == 7
         and sum(vcards(dep, "ld-csv4")) == 7, "--skip-header --limit 7", r)

    # Malformed mid-way: line 41 lacks a field.
    path = os.path.join(tmp, "broken.csv")
    with open(path, "w") as f:
        for i in range(60):
            v = rows[i][:-1] if i == 40 else rows[i]
            f.write(vec_str(v) + "\n")
    r, j = vj("load", "ld-broken", path, "--batch", "16")
    T.ok(r.code == 1 and j and j.get("rows") == 40 and j.get("added") == 40
         and "line 41" in r.err and "line 41" in (j.get("error") or ""),
         "a short CSV row stops the load naming its line, after the 40 "
         "rows before it", r)
    T.ok(sum(vcards(dep, "ld-broken")) == 40, "... and Redis holds those 40",
         vcards(dep, "ld-broken"))
    path = os.path.join(tmp, "notnum.csv")
    with open(path, "w") as f:
        for i in range(10):
            f.write(vec_str(rows[i]).replace(",", ",abc,", 1) + "\n"
                    if i == 6 else ",".join(["0.5"] * DIM) + "\n")
    r, j = vj("load", "ld-notnum", path)
    T.ok(r.code == 1 and j and j.get("rows") == 6 and "line 7" in r.err,
         "a CSV field that is not a number stops the load at its line", r)
    path = os.path.join(tmp, "badattrs.csv")
    with open(path, "w") as f:
        f.write("id,attrs,x0,x1\n")
        f.write('a,"{""k"": 1}",1,2\n')
        f.write('b,"[1,2]",1,2\n')
    r, j = vj("load", "ld-badattrs", path, "--id-column", "id",
              "--attrs-column", "attrs")
    T.ok(r.code == 1 and j and j.get("rows") == 1 and "line 3" in r.err
         and "JSON object" in r.err,
         "CSV attributes that are not a JSON object stop the load", r)

    # Unloadable from the start: exit 2.
    path = os.path.join(tmp, "ids.csv")
    with open(path, "w") as f:
        f.write("name,x0,x1\nq,1,2\n")
    for args, word in [(["--id-column", "nope"], "nope"),
                       (["--id-column", "7"], "columns"),
                       (["--id-column", "name", "--attrs-column", "0"],
                        "same column"),
                       (["--id-column", "name", "--attrs-column", "x0"],
                        "not a JSON object"),
                       (["--id-column", "0", "--attrs-column", "1",
                         "--skip-header"], "none is left")]:
        if "none is left" in word:
            with open(path, "w") as f:
                f.write("name,x0\nq,1\n")
        r = vset("load", "ld-bad", path, *args)
        T.ok(r.code == 2 and word in r.err and r.out == "",
             "CSV load %s: exit 2 (%s)" % (" ".join(args), word), r)
    path = os.path.join(tmp, "empty.csv")
    open(path, "w").close()
    r, j = vj("load", "ld-empty", path)
    T.ok(r.code == 0 and j and j.get("rows") == 0,
         "an empty CSV loads nothing, exit 0", r)


def check_progress(tmp, rng):
    path = os.path.join(tmp, "prog.npy")
    write_npy(path, [rand_vec(rng) for _ in range(400)])
    master, slave = pty.openpty()
    out = b""
    try:
        p = subprocess.Popen([VSET, "--server", DEP.url, "load", "ld-prog",
                              path, "--batch", "20"],
                             stdout=subprocess.PIPE, stderr=slave)
        os.close(slave)
        slave = None
        deadline = time.monotonic() + CMD_TIMEOUT
        while time.monotonic() < deadline:
            rl, _, _ = select.select([master], [], [], 0.2)
            if rl:
                try:
                    chunk = os.read(master, 4096)
                except OSError:
                    chunk = b""
                if not chunk:
                    break
                out += chunk
            elif p.poll() is not None:
                break
        stop(p)
        stdout = p.stdout.read().decode()
        p.stdout.close()
    finally:
        if slave is not None:
            os.close(slave)
        os.close(master)
    err = out.decode("utf-8", "replace")
    T.ok(p.returncode == 0 and "\r" in err and "100%" in err
         and "/400 rows" in err and stdout.startswith("rows 400: added 400"),
         "on a terminal, load draws a progress bar on stderr",
         "exit %s\nstderr %r\nstdout %r" % (p.returncode, err[-400:], stdout))


def check_load_shard_down(dep, tmp, coll, n, rng):
    """Last: kills a shard.  Failed batches are reported, loading goes on,
    exit 1."""
    dead = 2
    dep.kill_shard(dead)
    path = os.path.join(tmp, "again.npy")
    rows = [rand_vec(rng, 16) for _ in range(n)]
    write_npy(path, rows)
    r, j = vj("load", coll, path, "--id-prefix", "n-", "--batch", "100",
              timeout=120)
    lost = [i for i in range(n) if shard_of("n-%d" % i) == dead]
    T.ok(r.code == 1 and j and j.get("rows") == n
         and j.get("failed") == len(lost)
         and j.get("updated") == n - len(lost)
         and j.get("error") is None,
         "load with a shard down: every row tried, the dead shard's rows "
         "failed, exit 1", r)
    fids = (j or {}).get("failed_ids", [])
    T.ok(fids and len(fids) <= 10
         and all(shard_of(i) == dead for i in fids)
         and fids == ["n-%d" % i for i in lost[:len(fids)]],
         "failed_ids lists the first failed ids, all on the dead shard", r)
    T.ok("failed ids: n-%d" % lost[0] in r.err
         and re.search(r"(UNAVAILABLE|DEADLINE_EXCEEDED): ", r.err),
         "stderr names each failing batch's ids and the error", r)
    live = [dep.ports[s] for s in range(NSHARDS) if s != dead]
    ok = all(cosine(vemb(dep.ports[shard_of("n-%d" % i)], coll,
                         "n-%d" % i) or [0] * 16, rows[i]) > 0.99
             for i in range(0, n, 97) if shard_of("n-%d" % i) != dead)
    T.ok(ok and live, "the live shards' rows were updated with the new "
         "vectors")


def main():
    global DEP
    missing = [k for k, v in [("VSET_BIN", VSET), ("VSETD_BIN", VSETD),
                              ("REDIS_SERVER", REDIS_SERVER)] if not v]
    if missing:
        print("Bail out! environment lacks %s" % ", ".join(missing))
        return 1

    def on_term(sig, frame):
        raise SystemExit("terminated by signal %d" % sig)

    signal.signal(signal.SIGTERM, on_term)
    rng = random.Random(20263)
    with tempfile.TemporaryDirectory(prefix="vset-surface-") as tmp:
        dep = Deployment(tmp)
        DEP = dep
        try:
            try:
                dep.start()
            except RuntimeError as e:
                print("Bail out! %s" % e)
                return 1
            T.diag("vsetd at %s, shards on ports %s" % (dep.url, dep.ports))
            check_help()
            check_usage_errors("surf")
            check_collections(dep)
            items, attrs = populate(dep, "surf", 24, rng)
            check_reads(dep, "surf", items, attrs)
            check_search(dep, "surf", items, attrs)
            coll, n = check_load_npy(dep, tmp, rng)
            check_load_fvecs(dep, tmp, rng)
            check_load_csv(dep, tmp, rng)
            check_progress(tmp, rng)
            check_load_shard_down(dep, tmp, coll, n, rng)
        finally:
            dep.close()
            if T.failed:
                with open(dep.vsetd_log, errors="replace") as f:
                    T.diag("vsetd log:\n" + f.read()[-4000:])
    print("1..%d" % T.n)
    return 1 if T.failed else 0


if __name__ == "__main__":
    sys.exit(main())
