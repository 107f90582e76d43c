#!/usr/bin/python3
"""test_cli.py - the vset command line against a real deployment.

Starts three Redis 8 servers on free loopback ports and a vsetd in front of
them, then drives the real `vset` binary and checks what a user or a script
relies on: the --json output parses and says what happened, the data lands
in Redis on the shard the routing contract names (checked with redis-cli,
not through vsetd), human output has its documented shape, usage errors
exit 2 before anything is sent, server errors print `CODE: message` and
exit 1, and a dead shard shows up as a partial search or a failed write.

Output is TAP.  Every process is started here and killed in `finally` (also
on SIGTERM, which meson sends on timeout); every wait is bounded.

Environment (from meson's test_env): VSET_BIN, VSETD_BIN, REDIS_SERVER,
REDIS_CLI.
"""
import json
import math
import os
import random
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time

from clitest import (NSHARDS, REDIS_CLI, REDIS_SERVER, T, VSET, VSETD,
    Deployment, Run, cosine, free_port, shard_of, stop, vec_str)


DIM = 8
COLL = "cli"
KEY = "vsetd:" + COLL
CMD_TIMEOUT = 20          # seconds, for any one command we run


# ---------------------------------------------------------------- TAP


# ---------------------------------------------------------------- routing



# ---------------------------------------------------------------- processes


def redis_cmd(port, *args):
    try:
        r = subprocess.run([REDIS_CLI, "-p", str(port)] + list(args),
                           capture_output=True, text=True, timeout=10)
    except subprocess.TimeoutExpired:
        return ""
    return r.stdout


def vset(*args, env_server=None, timeout=CMD_TIMEOUT):
    env = dict(os.environ)
    env.pop("VSET_SERVER", None)
    if env_server is not None:
        env["VSET_SERVER"] = env_server
    t0 = time.monotonic()
    try:
        r = subprocess.run([VSET] + list(args), capture_output=True,
                           env=env, timeout=timeout)
    except subprocess.TimeoutExpired as e:
        return Run(list(args), None, "", "timed out: %s" % e,
                   time.monotonic() - t0)
    return Run(list(args), r.returncode,
               r.stdout.decode("utf-8", "replace"),
               r.stderr.decode("utf-8", "replace"), time.monotonic() - t0)


# ---------------------------------------------------------------- helpers


def vemb(port, ident):
    """The element's stored vector on one shard, or None if absent."""
    out = redis_cmd(port, "VEMB", KEY, ident).split()
    try:
        vals = [float(x) for x in out]
    except ValueError:
        return None
    return vals if len(vals) == DIM else None


def holders(dep, ident):
    """Indexes of the live shards that hold ident."""
    return [i for i, port in enumerate(dep.ports)
            if dep.redis[i] is not None and vemb(port, ident) is not None]


# ---------------------------------------------------------------- checks

def check_help():
    r = vset("--help")
    T.ok(r.code == 0, "vset --help exits 0", r)
    for word in ["--server", "--timeout-ms", "--json", "--help", "--version",
                 "VSET_SERVER", "5000", "tcp://127.0.0.1:5555", "insert",
                 "delete", "search", "Exit status"]:
        T.ok(word in r.out, "vset --help mentions %s" % word)
    for cmd, words in [("insert", ["--attrs", "--help"]),
                       ("delete", ["--help", "'--'"]),
                       ("search", ["-k", "--ef", "--require-all", "--help",
                                   "default 10"])]:
        r = vset(cmd, "--help")
        T.ok(r.code == 0 and all(w in r.out for w in words)
             and "Exit status" in r.out,
             "vset %s --help exits 0 and lists its options" % cmd, r)
    r = vset("--version")
    T.ok(r.code == 0 and re.match(r"vset \d+\.\d+\.\d+", r.out),
         "vset --version prints the version", r)


def check_usage_errors():
    # Against a port nobody listens on: if any of these got as far as
    # connecting it would exit 1 with UNAVAILABLE, not 2.
    nowhere = "tcp://127.0.0.1:%d" % free_port()
    v2 = "1,2"
    cases = [
        ([], "missing COMMAND"),
        (["frobnicate"], "unknown command"),
        (["--bogus", "search", COLL, v2], "--bogus"),
        (["--timeout-ms", "0", "search", COLL, v2], "--timeout-ms"),
        (["--timeout-ms", "12x", "search", COLL, v2], "--timeout-ms"),
        (["--server"], "needs a value"),
        (["search", COLL], "missing"),
        (["search"], "missing"),
        (["search", COLL, ""], "empty"),
        (["search", COLL, "1,,2"], "component 2 of 3 is empty"),
        (["search", COLL, "1,2,"], "component 3 of 3 is empty"),
        (["search", COLL, "1,x,2"], "component 2 of 3"),
        (["search", COLL, "1,2x"], "component 2 of 2"),
        (["search", COLL, "1;2"], "component 1 of 1"),
        (["search", COLL, "nan,1"], "component 1 of 2"),
        (["search", COLL, "1,inf"], "component 2 of 2"),
        (["search", COLL, "1,-Infinity"], "component 2 of 2"),
        (["search", COLL, "1,1e39"], "component 2 of 2"),
        (["search", COLL, v2, "-k", "0"], "-k"),
        (["search", COLL, v2, "-k", "-3"], "-k"),
        (["search", COLL, v2, "-k", "ten"], "-k"),
        (["search", COLL, v2, "-k"], "needs a value"),
        (["search", COLL, v2, "--ef", "0"], "--ef"),
        (["search", COLL, v2, "--ef"], "needs a value"),
        (["search", COLL, v2, "--nope"], "--nope"),
        (["search", COLL, v2, "-x"], "-x"),
        (["search", COLL, v2, "--require-all=yes"], "takes no value"),
        (["search", COLL, v2, "extra"], "extra"),
        (["insert", COLL, "id"], "missing"),
        (["insert", COLL, "id", "1,2", "more"], "more"),
        (["insert", COLL, "id", "1,a"], "component 2 of 2"),
        (["insert", COLL, "id", "1,2", "--attrs", '{"a":'], "not valid JSON"),
        (["insert", COLL, "id", "1,2", "--attrs", '{"a":01}'],
         "not valid JSON"),
        (["insert", COLL, "id", "1,2", "--attrs", "[1]"], "object"),
        (["insert", COLL, "id", "1,2", "--attrs", ""], "not valid JSON"),
        (["delete", COLL], "missing"),
        (["delete"], "missing"),
    ]
    for args, want in cases:
        r = vset("--server", nowhere, "--timeout-ms", "2000", *args)
        T.ok(r.code == 2 and want in r.err and "Try 'vset" in r.err
             and r.out == "",
             "usage error exits 2 naming the problem: vset %s"
             % " ".join(args), r)


def check_insert(dep, items):
    for ident, v in items.items():
        # Options after positionals, negative first components as is.
        r = vset("--server", dep.url, "--json", "insert", COLL, ident,
                 vec_str(v))
        j = r.json()
        want = shard_of(ident, NSHARDS)
        good = (r.code == 0 and j is not None and j.get("added") == 1
                and j.get("updated") == 0 and j.get("failed") == 0
                and len(j.get("items", [])) == 1
                and j["items"][0].get("id") == ident
                and j["items"][0].get("outcome") == "added"
                and j["items"][0].get("shard") == want
                and j.get("shards", {}).get("failed") == 0
                and j["shards"].get("ok") == j["shards"].get("total") >= 1
                and r.out.count("\n") == 1)
        T.ok(good, "insert --json %s: added on shard %d" % (ident, want), r)
        where = holders(dep, ident)
        T.ok(where == [want],
             "%s is stored on exactly shard %d (VEMB)" % (ident, want),
             "found on shards %s" % where)
        stored = vemb(dep.ports[want], ident)
        T.ok(stored is not None and cosine(stored, v) > 0.99,
             "%s: the stored vector is the one given" % ident,
             "given %s stored %s" % (v, stored))


def check_insert_human(dep, v):
    r = vset("--server", dep.url, "insert", COLL, "human-1", vec_str(v))
    T.ok(r.code == 0 and r.out == "added 1, updated 0\n",
         "insert prints 'added 1, updated 0'", r)
    r = vset("--server", dep.url, "insert", COLL, "human-1", vec_str(v))
    T.ok(r.code == 0 and r.out == "added 0, updated 1\n",
         "insert again prints 'added 0, updated 1'", r)
    r = vset("--server", dep.url, "--json", "insert", COLL, "human-1",
             vec_str(v))
    j = r.json()
    T.ok(r.code == 0 and j is not None and j.get("updated") == 1
         and j.get("added") == 0 and j["items"][0]["outcome"] == "updated",
         "insert --json of an existing id says updated", r)


def check_attrs(dep, v):
    attrs = {"color": "red", "n": [1, 2.5], "s": "\u00e9"}
    ident = "attr-1"
    r = vset("--server", dep.url, "insert", COLL, ident, vec_str(v),
             "--attrs", json.dumps(attrs))
    T.ok(r.code == 0, "insert --attrs exits 0", r)
    port = dep.ports[shard_of(ident, NSHARDS)]
    got = redis_cmd(port, "VGETATTR", KEY, ident).strip()
    try:
        got = json.loads(got)
    except ValueError:
        pass
    T.ok(got == attrs, "--attrs is stored with the element (VGETATTR)",
         "got %r" % got)


def expected_top(items, q, k):
    scored = sorted(((-(1 + cosine(v, q)) / 2, i) for i, v in items.items()))
    return [(i, -s) for s, i in scored[:k]]


def check_search(dep, items):
    qid = sorted(items)[3]
    q = items[qid]
    k = 5
    exact = expected_top(items, q, k)
    r = vset("--server", dep.url, "--json", "search", COLL, vec_str(q),
             "-k", str(k))
    j = r.json()
    T.ok(r.code == 0 and j is not None and r.out.count("\n") == 1,
         "search --json exits 0 with one line of JSON", r)
    if j is None:
        return
    res = j.get("results", [])
    T.ok(len(res) == k, "search returns k=%d results" % k, r)
    T.ok(res and res[0].get("id") == qid and res[0].get("score") > 0.99,
         "the query's own element comes first, score ~1", r)
    order = [(-h["score"], h["id"]) for h in res]
    T.ok(order == sorted(order),
         "results are by score desc, then id asc", r)
    T.ok(all(h.get("shard") == shard_of(h.get("id", ""), NSHARDS)
             for h in res), "each hit names its owning shard", r)
    # Q8 quantization moves scores a little; the set should be the exact
    # top k give or take a near tie at the end.
    truth = dict(exact)
    T.ok(all(h["id"] in items and
             abs(h["score"] - (1 + cosine(items[h["id"]], q)) / 2) < 0.02
             for h in res),
         "scores are (1 + cosine) / 2 of the stored vectors", r)
    T.ok(len(set(truth) & {h["id"] for h in res}) >= k - 1,
         "results match the exact top %d" % k,
         "exact %s\ngot %s" % (exact, res))
    T.ok(j.get("partial") is False
         and j.get("shards") == {"total": NSHARDS, "ok": NSHARDS,
                                 "failed": 0, "timed_out": 0}
         and j.get("shard_errors") == [],
         "a healthy search is not partial and every shard answered", r)

    # Options before the positionals give the same answer.
    r2 = vset("--server", dep.url, "--json", "search", "-k", str(k), COLL,
              vec_str(q))
    j2 = r2.json()
    T.ok(r2.code == 0 and j2 is not None
         and [h["id"] for h in j2["results"]] == [h["id"] for h in res],
         "search options may precede positionals", r2)

    # Human output: RANK ID SCORE lines, then the shard summary.
    r = vset("--server", dep.url, "search", COLL, vec_str(q), "-k", str(k))
    lines = r.out.splitlines()
    pat = re.compile(r"^(\d+) (\S+) (\d\.\d+)$")
    hits = [pat.match(ln) for ln in lines[:-1]]
    T.ok(r.code == 0 and len(lines) == k + 1 and all(hits)
         and [int(m.group(1)) for m in hits] == list(range(1, k + 1))
         and [m.group(2) for m in hits] == [h["id"] for h in res]
         and lines[-1] == "shards: total=%d ok=%d failed=0 timed_out=0"
         % (NSHARDS, NSHARDS) and r.err == "",
         "human search output: RANK ID SCORE lines and a shards line", r)

    # Server-side validation: k above the server's max (1000 by default).
    r = vset("--server", dep.url, "search", COLL, vec_str(q), "-k", "100000")
    T.ok(r.code == 1 and re.match(r"^INVALID_ARGUMENT: .+", r.err),
         "k above the server's limit: INVALID_ARGUMENT, exit 1", r)
    # A collection nobody wrote to answers empty, not an error.
    r = vset("--server", dep.url, "--json", "search", "nothing-here",
             vec_str(q))
    j = r.json()
    T.ok(r.code == 0 and j is not None and j.get("results") == [],
         "search of an empty collection returns no results", r)


def check_delete(dep, items):
    victim = sorted(items)[3]
    r = vset("--server", dep.url, "--json", "delete", COLL, victim,
             "no-such-id")
    j = r.json()
    T.ok(r.code == 0 and j is not None and j.get("deleted") == 1
         and j.get("not_found") == 1 and j.get("failed") == 0
         and [(i["id"], i["outcome"]) for i in j.get("items", [])]
         == [(victim, "deleted"), ("no-such-id", "not_found")]
         and j["items"][0]["shard"] == shard_of(victim, NSHARDS),
         "delete --json reports deleted and not_found per id", r)
    T.ok(holders(dep, victim) == [], "the deleted id is gone from Redis",
         holders(dep, victim))
    r = vset("--server", dep.url, "--json", "search", COLL,
             vec_str(items[victim]), "-k", "10")
    j = r.json()
    T.ok(r.code == 0 and j is not None
         and victim not in [h["id"] for h in j["results"]],
         "search no longer finds the deleted id", r)
    r = vset("--server", dep.url, "delete", COLL, victim)
    T.ok(r.code == 0 and r.out == "deleted 0, not found 1\n",
         "delete prints 'deleted 0, not found 1'", r)
    del items[victim]

    # An id that starts with '-' goes after "--".
    v = [0.5] * DIM
    r = vset("--server", dep.url, "insert", COLL, "--", "-dash", vec_str(v))
    T.ok(r.code == 0 and holders(dep, "-dash")
         == [shard_of("-dash", NSHARDS)],
         "insert after '--' takes an id that starts with '-'", r)
    r = vset("--server", dep.url, "delete", COLL, "--", "-dash")
    T.ok(r.code == 0 and r.out == "deleted 1, not found 0\n"
         and holders(dep, "-dash") == [],
         "delete after '--' removes an id that starts with '-'", r)


def check_server_errors(dep):
    r = vset("--server", dep.url, "insert", COLL, "short", "1,2,3,4")
    # The status line may follow the per-item failure lines.
    T.ok(r.code == 1 and re.search(r"^INVALID_ARGUMENT: .+", r.err, re.M),
         "insert of the wrong dimension: INVALID_ARGUMENT: ..., exit 1", r)
    T.ok(holders(dep, "short") == [],
         "the wrong-dimension element was not stored")

    nowhere = "tcp://127.0.0.1:%d" % free_port()
    r = vset("--server", nowhere, "--timeout-ms", "1000", "search", COLL,
             "1,2")
    T.ok(r.code == 1 and re.match(r"^UNAVAILABLE: .+", r.err),
         "unreachable server: UNAVAILABLE: ..., exit 1", r)
    # Generous slack: this only guards against waiting for a default
    # timeout or forever, not against a slow machine.
    T.ok(r.secs < 1.0 + 4.0, "unreachable server fails within the timeout",
         r)

    r = vset("--json", "search", COLL, "1,2,3,4,5,6,7,8",
             env_server=dep.url)
    T.ok(r.code == 0 and r.json() is not None,
         "VSET_SERVER picks the server when --server is absent", r)
    r = vset("--server", dep.url, "--json", "search", COLL,
             "1,2,3,4,5,6,7,8", env_server=nowhere)
    T.ok(r.code == 0 and r.json() is not None,
         "--server overrides VSET_SERVER", r)


def check_shard_down(dep, items):
    dead = NSHARDS - 1
    dep.kill_shard(dead)
    q = next(iter(items.values()))

    r = vset("--server", dep.url, "--json", "search", COLL, vec_str(q),
             "-k", "10")
    j = r.json()
    T.ok(r.code == 0 and j is not None and j.get("partial") is True,
         "search with a shard down: exit 0, partial true", r)
    if j is not None:
        s = j.get("shards", {})
        T.ok(s.get("total") == NSHARDS and s.get("ok") == NSHARDS - 1
             and s.get("failed", 0) + s.get("timed_out", 0) == 1,
             "the shard summary counts the missing shard", r)
        T.ok([e.get("shard") for e in j.get("shard_errors", [])] == [dead]
             and all(re.match(r"^[A-Z_]+$", e.get("code", ""))
                     for e in j["shard_errors"]),
             "shard_errors names the dead shard", r)
        T.ok(all(h["shard"] != dead for h in j.get("results", []))
             and len(j.get("results", [])) > 0,
             "the live shards' results are still returned", r)
    T.ok("partial" in r.err, "a partial search warns on stderr", r)

    r = vset("--server", dep.url, "search", COLL, vec_str(q))
    want = ["shards: total=%d ok=%d failed=%d timed_out=%d"
            % (NSHARDS, NSHARDS - 1, f, 1 - f) for f in (1, 0)]
    lines = r.out.splitlines()
    T.ok(r.code == 0 and len(lines) > 0 and lines[-1] in want,
         "human output's shards line shows the missing shard", r)

    r = vset("--server", dep.url, "search", COLL, vec_str(q),
             "--require-all")
    T.ok(r.code == 1
         and re.match(r"^(UNAVAILABLE|DEADLINE_EXCEEDED): .+", r.err),
         "--require-all with a shard down: UNAVAILABLE, exit 1", r)

    lost = next(i for i in ("down-%d" % n for n in range(1000))
                if shard_of(i, NSHARDS) == dead)
    kept = next(i for i in ("up-%d" % n for n in range(1000))
                if shard_of(i, NSHARDS) != dead)
    r = vset("--server", dep.url, "--json", "insert", COLL, lost, vec_str(q))
    j = r.json()
    T.ok(r.code == 1 and j is not None and j.get("failed") == 1
         and j["items"][0].get("outcome") == "failed"
         and j["items"][0].get("shard") == dead
         and j["items"][0].get("code") in ("UNAVAILABLE",
                                           "DEADLINE_EXCEEDED")
         and re.search(r"^(UNAVAILABLE|DEADLINE_EXCEEDED): ", r.err, re.M)
         and ("failed: %s" % lost) in r.err,
         "insert to a dead shard: per-item failure in JSON and on stderr, "
         "exit 1", r)
    r = vset("--server", dep.url, "insert", COLL, lost, vec_str(q))
    T.ok(r.code == 1 and r.out.startswith("added 0, updated 0, failed 1"),
         "human insert to a dead shard says 'failed 1', exit 1", r)
    r = vset("--server", dep.url, "insert", COLL, kept, vec_str(q))
    T.ok(r.code == 0 and r.out == "added 1, updated 0\n",
         "insert to a live shard still works", r)


def main():
    missing = [n for n, v in [("VSET_BIN", VSET), ("VSETD_BIN", VSETD),
                              ("REDIS_SERVER", REDIS_SERVER),
                              ("REDIS_CLI", REDIS_CLI)] if not v]
    if missing:
        print("Bail out! environment lacks %s" % ", ".join(missing))
        return 1

    # meson stops a test that runs too long with SIGTERM: turn it into an
    # exception so `finally` still kills the servers.
    def on_term(sig, frame):
        raise SystemExit("terminated by signal %d" % sig)

    signal.signal(signal.SIGTERM, on_term)

    rng = random.Random(20261)
    items = {}
    for n in range(24):
        v = [round(rng.uniform(-1, 1), 4) for _ in range(DIM)]
        if n % 3 == 0:
            v[0] = -abs(v[0]) - 0.1     # a negative first component
        items["item-%02d" % n] = v

    with tempfile.TemporaryDirectory(prefix="vset-cli-") as tmp:
        dep = Deployment(tmp)
        try:
            try:
                dep.start()
            except RuntimeError as e:
                print("Bail out! %s" % e)
                return 1
            T.diag("vsetd at %s, shards on ports %s" % (dep.url, dep.ports))
            check_help()
            check_usage_errors()
            check_insert(dep, items)
            check_insert_human(dep, items["item-01"])
            check_attrs(dep, items["item-02"])
            check_search(dep, items)
            check_delete(dep, items)
            check_server_errors(dep)
            check_shard_down(dep, items)
        finally:
            dep.close()
            if T.failed:
                with open(dep.vsetd_log, errors="replace") as f:
                    T.diag("vsetd log:\n" + f.read()[-4000:])
    print("1..%d" % T.n)
    return 1 if T.failed else 0


if __name__ == "__main__":
    sys.exit(main())
