#!/usr/bin/python3
"""test_reshard_cli.py - `vset reshard` against real routers and real
Redis 8 shards (issue 10).

Two Redis shards with data, a third Redis as the spare, router A (the one
vset talks to) and router B, both started with the two-shard list; B is
never restarted.  What a user of `vset reshard` relies on:
  - --help says what the commands do, that only the END of the shard list
    can change, how many retries, and the exit statuses; usage errors exit
    2 and send nothing;
  - status names the epoch, phase, layout and both routers with their
    epochs (B adopts each new epoch by itself);
  - add --json prints one object whose counts are the ids that change
    owner (the routing contract recomputed here), and afterwards Redis
    holds every element exactly once, on its owner among three;
  - remove without a terminal prints progress lines and a "done:" line,
    and everything is back on two shards;
  - Ctrl-C during the copy exits 3 with the resume hint; abort then
    returns to the old layout and leaves the spare without vsetd keys;
    abort with no move open fails with FAILED_PRECONDITION;
  - kill -9 of `vset reshard add` part-way, then the same command again,
    says "resuming a move begun earlier" and completes the move; the same
    add once it is complete has nothing to do and exits 0.

Output is TAP.  Every process is started here and killed in `finally`.
Environment (meson's test_env): VSET_BIN, VSETD_BIN, REDIS_SERVER.
"""
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

from clitest import (REDIS_SERVER, T, VSET, VSETD, Deployment, Run, resp,
                     shard_of, stop)

DIM = 8
NELEMS = 1500
COLL = "rs"
KEY = "vsetd:" + COLL
CMD_TIMEOUT = 60          # seconds, for any one vset run
ROUTER_WAIT = 8           # seconds: heartbeats are once a second
POLL = 0.05


def vset(url, *args, timeout=CMD_TIMEOUT):
    env = dict(os.environ)
    env.pop("VSET_SERVER", None)
    t0 = time.monotonic()
    try:
        r = subprocess.run([VSET, "--server", url] + list(args),
                           capture_output=True, env=env, timeout=timeout,
                           stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired as e:
        return Run(list(args), None, "", "timed out: %s" % e,
                   time.monotonic() - t0)
    return Run(list(args), r.returncode, r.stdout.decode("utf-8", "replace"),
               r.stderr.decode("utf-8", "replace"), time.monotonic() - t0)


def spawn(url, *args):
    env = dict(os.environ)
    env.pop("VSET_SERVER", None)
    return subprocess.Popen([VSET, "--server", url] + list(args),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            stdin=subprocess.DEVNULL, env=env)


def ids():
    return ["e-%d" % i for i in range(NELEMS)]


def moving(a, b):
    return sum(1 for i in ids() if shard_of(i, a) != shard_of(i, b))


def members(port):
    """Every id of the collection on one Redis (VRANDMEMBER with a count
    at least VCARD answers each element once)."""
    n = resp(port, "VCARD", KEY) if resp(port, "EXISTS", KEY) else 0
    if not n:
        return []
    return [m.decode() for m in resp(port, "VRANDMEMBER", KEY, n)]


def check_placement(ports, n, what):
    """Every element once, on its owner among the first n of ports."""
    where = {}
    dup = []
    for s, port in enumerate(ports):
        for m in members(port):
            if m in where:
                dup.append(m)
            where[m] = s
    misplaced = [i for i in ids() if where.get(i) != shard_of(i, n)]
    extra = set(where) - set(ids())
    T.ok(not dup and not misplaced and not extra,
         "%s: every element once, on its owner among %d shards" % (what, n),
         "duplicates %s; misplaced %s (e.g. %s); unknown %s" % (
             dup[:5], len(misplaced),
             [(i, where.get(i), shard_of(i, n)) for i in misplaced[:5]],
             list(extra)[:5]))


def status(url):
    r = vset(url, "reshard", "status", "--json")
    return r.json() if r.code == 0 else None


def wait_status(url, pred, secs):
    deadline = time.monotonic() + secs
    st = None
    while time.monotonic() < deadline:
        st = status(url)
        if st is not None and pred(st):
            return st, True
        time.sleep(POLL)
    return st, False


# ---------------------------------------------------------------- no server


def check_help():
    r = vset("tcp://127.0.0.1:1", "--help")
    T.ok(r.code == 0 and "  reshard add HOST:PORT" in r.out,
         "vset --help lists reshard", r)
    T.ok("3  reshard only: stopped by Ctrl-C" in r.out,
         "vset --help documents exit status 3", r)
    r = vset("tcp://127.0.0.1:1", "reshard", "--help")
    T.ok(r.code == 0, "vset reshard --help exits 0", r)
    for words in ["add HOST:PORT[,REPLICA:PORT...]", "remove [--expect HOST:PORT]",
                  "status", "abort", "--batch N", "--rate N", "--json",
                  "--timeout-ms N", "END of the shard list",
                  "stores primaries only", "retried up to 5 times",
                  "resuming a move begun earlier", "Exit status: 0 done",
                  "3 stopped by Ctrl-C", "Only in phase DUAL"]:
        T.ok(words in r.out, "reshard --help says %r" % words, r)


def check_usage_errors():
    # Nothing listens on port 1: a usage error must not even try.
    for args, msg in [
            ([], "missing what to do"),
            (["grow"], "unknown reshard command 'grow'"),
            (["add"], "add needs the new shard"),
            (["add", "localhost"], "'localhost' is not HOST:PORT"),
            (["add", "h:0"], "port '0' is not a number 1..65535"),
            (["add", "::1:6379"], "IPv6 host in brackets"),
            (["add", "h:1,h:1"], "'h:1' is listed twice"),
            (["add", "h:1", "h:2"], "unexpected argument 'h:2'"),
            (["add", "h:1", "--expect", "h:1"], "--expect applies to remove only"),
            (["remove", "h:1"], "remove takes no address"),
            (["remove", "--expect", "nope"], "--expect: address 'nope'"),
            (["add", "h:1", "--batch", "0"], "--batch needs a whole number 1..1000000"),
            (["add", "h:1", "--rate", "fast"], "--rate needs a whole number"),
            (["status", "--rate", "5"], "status takes no --batch or --rate"),
            (["abort", "--rate", "5"], "abort takes no --rate"),
            (["add", "h:1", "--bogus"], "unknown or ambiguous option '--bogus'"),
    ]:
        r = vset("tcp://127.0.0.1:1", "reshard", *args)
        T.ok(r.code == 2 and msg in r.err and "Try 'vset reshard --help'" in r.err
             and r.out == "", "usage error exits 2: reshard %s" % " ".join(args), r)
    r = vset("tcp://127.0.0.1:1", "--timeout-ms", "300", "reshard", "status")
    T.ok(r.code == 1 and r.err.startswith("UNAVAILABLE: "),
         "no router: UNAVAILABLE, exit 1", r)


# ---------------------------------------------------------------- live


def load_data(dep, tmp):
    path = os.path.join(tmp, "data.csv")
    with open(path, "w") as f:
        for i in range(NELEMS):
            f.write(",".join("%.4f" % (((i * 7 + j * 13) % 97) / 48.0 - 1.0 + 0.001 * j)
                             for j in range(DIM)) + "\n")
    r = vset(dep.url, "--json", "load", COLL, path, "--id-prefix", "e-")
    o = r.json() or {}
    T.ok(r.code == 0 and o.get("added") == NELEMS, "loaded %d elements" % NELEMS, r)


def check_status_before(dep, url_b):
    st, ok = wait_status(dep.url, lambda s: len(s["routers"]) >= 2, ROUTER_WAIT)
    T.ok(ok, "status lists both routers within %d s" % ROUTER_WAIT, st)
    if st is None:
        return 0
    T.ok(st["phase"] == "stable" and st["move"] == "none" and not st["from"],
         "status: stable, no move", st)
    urls = sorted(u for u in (dep.url, url_b)
                  if any(u in r["id"] for r in st["routers"]))
    T.ok(len(urls) == 2, "status: each router's id names its listen address", st)
    T.ok(all(r["epoch"] == st["epoch"] and not r["behind"] for r in st["routers"]),
         "status: every router at the record's epoch", st)
    return st["epoch"]


def check_add_json(dep, e0):
    want = moving(2, 3)
    r = vset(dep.url, "--json", "reshard", "add", dep.spare_addr, "--batch", "200")
    o = r.json()
    T.ok(r.code == 0 and o is not None and len(r.out.splitlines()) == 1,
         "add --json: exit 0, one line of JSON", r)
    if o is None:
        return
    T.ok(o["done"] and o["phase"] == "stable" and o["command"] == "add"
         and not o["resumed"], "add --json: done, stable, not resumed", o)
    T.ok(o["shards"] == dep.addrs + [dep.spare_addr],
         "add --json: the layout is the old one plus the new shard", o)
    T.ok(o["epoch"] >= e0 + 3, "add --json: epoch went up by 3 (DUAL, "
         "SWITCHED, STABLE)", o)
    T.ok(o["to_move"] == want and o["moved"] == want and
         o["copied"] + o["skipped"] == want,
         "add --json: %d ids changed owner, all moved" % want, o)
    T.ok(o["cleaned"] == want, "add --json: %d old copies deleted" % want, o)
    T.ok(o["elapsed_s"] > 0 and o["rate"] > 0, "add --json: elapsed_s and rate", o)
    check_placement(dep.ports + [dep.spare_port], 3, "after add")


def check_add_again(dep):
    """The same add after it completed (its driver died at the very end):
    nothing to do, exit 0, and nothing moves."""
    r = vset(dep.url, "reshard", "add", dep.spare_addr)
    T.ok(r.code == 0 and "already the last shard" in r.out and
         r.out.splitlines()[-1].startswith("done: shard %s added; 3 shards" % dep.spare_addr),
         "add again once done: nothing to do, exit 0", r)
    check_placement(dep.ports + [dep.spare_port], 3, "after the repeated add")


def check_status_after_add(dep):
    st, ok = wait_status(dep.url, lambda s: s["routers"] and all(
        not r["behind"] for r in s["routers"]) and len(s["routers"]) >= 2, ROUTER_WAIT)
    T.ok(ok, "status after add: both routers (B never restarted) at the new epoch", st)
    r = vset(dep.url, "reshard", "status")
    T.ok(r.code == 0 and "phase stable  move none" in r.out and
         ("layout (3): %s" % " ".join(dep.addrs + [dep.spare_addr])) in r.out,
         "status text: phase and the 3-shard layout", r)
    T.ok(r.out.count("  epoch %d  seen " % st["epoch"]) >= 2 if st else False,
         "status text: each router with its epoch", r)


def check_remove_lines(dep):
    r = vset(dep.url, "reshard", "remove", "--expect", dep.spare_addr, "--batch", "200")
    lines = r.out.splitlines()
    T.ok(r.code == 0, "remove: exit 0", r)
    T.ok(any(l.startswith("dual: epoch ") for l in lines) and "\r" not in r.out,
         "remove without a terminal: progress lines, no bar", r)
    # The total comes from the last shard's counts before the server has
    # listed it all: every element there moves.
    want = moving(2, 3)
    T.ok(any(l.startswith("dual: ") and " of ~%d " % want in l for l in lines), "remove: progress counts against the %d elements "
         "of the last shard" % want, r)
    T.ok(lines and lines[-1].startswith("done: shard %s removed; 2 shards at epoch "
                                        % dep.spare_addr),
         "remove: the 'done:' line names the removed shard", r)
    check_placement(dep.ports + [dep.spare_port], 2, "after remove")


def check_abort(dep):
    r = vset(dep.url, "reshard", "abort")
    T.ok(r.code == 1 and "FAILED_PRECONDITION: " in r.err and
         "only while the move is in phase DUAL" in r.err,
         "abort with no move open: FAILED_PRECONDITION, exit 1", r)
    p = spawn(dep.url, "reshard", "add", dep.spare_addr, "--batch", "20",
              "--rate", "100")
    try:
        st, ok = wait_status(dep.url, lambda s: s["phase"] == "dual" and
                             s["progress"]["moved"] > 0, 20)
        T.ok(ok, "add under way in DUAL", st)
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=CMD_TIMEOUT)
    finally:
        stop(p)
    err = err.decode()
    T.ok(p.returncode == 3 and "stopped by Ctrl-C after the current step" in err
         and "vset reshard add %s --batch 20 --rate 100" % dep.spare_addr in err
         and "vset reshard abort" in err,
         "Ctrl-C: exit 3, how to resume or abort", "exit %s\n%s" % (p.returncode, err))
    st = status(dep.url)
    T.ok(st and st["move"] == "add" and st["phase"] == "dual",
         "after Ctrl-C the move is still open in DUAL", st)
    r = vset(dep.url, "reshard", "abort")
    T.ok(r.code == 0 and "aborted: back to 2 shards at epoch" in r.out,
         "abort in DUAL: exit 0, back to 2 shards", r)
    st = status(dep.url)
    T.ok(st and st["move"] == "none" and st["shards"] == dep.addrs,
         "after abort: no move, the old layout", st)
    check_placement(dep.ports + [dep.spare_port], 2, "after abort")
    left = resp(dep.spare_port, "KEYS", "vsetd:*")
    T.ok(left == [], "after abort the spare holds no vsetd keys", left)


def check_kill9_resume(dep):
    want = moving(2, 3)
    p = spawn(dep.url, "--json", "reshard", "add", dep.spare_addr, "--batch", "20",
              "--rate", "200")
    try:
        st, ok = wait_status(dep.url, lambda s: s["progress"]["moved"] >= 60, 20)
        T.ok(ok, "add under way", st)
        p.kill()
        p.wait(timeout=10)
    finally:
        stop(p)
    st = status(dep.url)
    T.ok(st and st["move"] == "add" and st["progress"]["moved"] < want,
         "after kill -9 the move is open, part-way", st)
    r = vset(dep.url, "--json", "reshard", "add", dep.spare_addr)
    o = r.json() or {}
    T.ok(r.code == 0 and o.get("done") and o.get("resumed") and
         "resuming a move begun earlier" in r.err,
         "the same command again: resumes and completes", r)
    T.ok(o.get("moved") == want and o.get("shards") == dep.addrs + [dep.spare_addr],
         "resumed move: %d ids moved in all, 3 shards" % want, o)
    check_placement(dep.ports + [dep.spare_port], 3, "after the resumed add")


def main():
    missing = [n for n, v in (("VSET_BIN", VSET), ("VSETD_BIN", VSETD),
                              ("REDIS_SERVER", REDIS_SERVER)) if not v]
    if missing:
        print("Bail out! environment lacks %s" % ", ".join(missing))
        return 1

    def on_term(sig, frame):
        raise SystemExit("terminated by signal %d" % sig)

    signal.signal(signal.SIGTERM, on_term)
    check_help()
    check_usage_errors()
    with tempfile.TemporaryDirectory(prefix="vset-reshard-") as tmp:
        dep = Deployment(tmp)
        try:
            try:
                dep.start(nshards=2)
                dep.spare_port, _ = dep.start_redis()
                url_b = dep.start_router(dep.ports, os.path.join(tmp, "vsetd-b.log"))
            except RuntimeError as e:
                print("Bail out! %s" % e)
                return 1
            dep.addrs = ["127.0.0.1:%d" % p for p in dep.ports]
            dep.spare_addr = "127.0.0.1:%d" % dep.spare_port
            T.diag("router A %s, B %s, shards %s, spare %d" % (
                dep.url, url_b, dep.ports, dep.spare_port))
            load_data(dep, tmp)
            check_placement(dep.ports + [dep.spare_port], 2, "before")
            e0 = check_status_before(dep, url_b)
            check_add_json(dep, e0)
            check_add_again(dep)
            check_status_after_add(dep)
            check_remove_lines(dep)
            check_abort(dep)
            check_kill9_resume(dep)
        finally:
            dep.close()
            if T.failed:
                for name in ("vsetd.log", "vsetd-b.log"):
                    with open(os.path.join(tmp, name), errors="replace") as f:
                        T.diag("%s:\n%s" % (name, f.read()[-3000:]))
    print("1..%d" % T.n)
    return 1 if T.failed else 0


if __name__ == "__main__":
    sys.exit(main())
