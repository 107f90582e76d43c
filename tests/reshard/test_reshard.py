"""Online resharding under load (issue 10): add a 4th shard to 3, then
remove it again, while two routers serve a mixed load, with the driver of
each move killed (kill -9) a third of the way and a new one resuming,
router a killed and started again during each move (with the 4-shard list
during the add, the 3-shard one during the removal: it adopts the move
under way), and a source shard killed and restarted (append-only file,
fsync always) during the add.  Router b, started with the 3-shard list,
is never restarted.

What users rely on, and how it is checked:
- during a move every search finds what exists, each id once: searchers
  look up stable elements by their own vector through both routers
  (rs_load.py) and count misses in complete answers (lost hits) and ids
  listed twice;
- no acknowledged write is lost and no acknowledged delete comes back;
  every element ends on exactly its owner, once; the mover leaves nothing
  behind: checked in Redis after each move (rs_check.py), against the
  ledger of every acknowledged write and with the router's hash ported
  to Python (rs_hash.py, itself checked first);
- exact copies: the exact top-10 (ids and scores) of a fixed query set on
  Q8, NOQUANT and BIN collections is the same before and after each move.
The checker is proven able to fail first (test_1): corrupt Redis on
purpose, and each kind of damage must be counted.

Bounds: every call has a deadline, every wait a timeout; the rig kills
every process it started on any exit.  Summary line: "reshard summary:".
"""
from __future__ import annotations

import json
import os
import queue
import random
import subprocess
import sys
import threading
import time
import unittest
from typing import Dict, List, Optional, Tuple

import vsetd

import rs_check
import rs_hash
from rs_load import IdLedger, Load, attrs_of, rand_vec
from rs_rig import Rig, kill9

HERE = os.path.dirname(os.path.abspath(__file__))
DRIVER = os.path.join(HERE, "rs_driver.py")

DIM = 16
STABLE = 2400                 # elements of "mix" never touched by the load
EXACT_ROWS = 600              # rows of each of the Q8 / NOQUANT / BIN collections
EXACT_DIM = 32
EXACT_QUERIES = 20
EXACT_K = 10
EXACT = {"exq8": "Q8", "exnoquant": "NOQUANT", "exbin": "BIN"}
# The move is throttled so that it lasts long enough to kill things
# half-way: MOVE_BATCH elements a step, MOVE_RATE elements a second.
MOVE_BATCH = 50
MOVE_RATE = 300
MOVE_MAX_S = 60               # one move, end to end, resumes included
HALF_WAIT_S = 30              # until the first driver is half-way
LOAD_WARMUP_S = 2.0
RESTARTED_SHARD = 1           # a source of the add, killed and restarted
LOAD_AFTER_S = 1.0            # load that goes on once a move is done
CALL_TIMEOUT_S = 5.0
DIAG_LOG_CHARS = int(os.environ.get("RESHARD_DIAG_CHARS", "1500"))  # router log shown on failure


class Driver:
    """One rs_driver.py process; its JSON lines are collected by a thread."""

    def __init__(self, urls: List[str], move: List[str], log: str) -> None:
        env = dict(os.environ)
        pkg_root = os.path.dirname(os.path.dirname(os.path.abspath(vsetd.__file__)))
        env["PYTHONPATH"] = os.pathsep.join([pkg_root, env.get("PYTHONPATH", "")])
        cmd = [sys.executable, DRIVER, "--batch", str(MOVE_BATCH), "--rate", str(MOVE_RATE),
               "--max-seconds", str(MOVE_MAX_S)]
        for u in urls:
            cmd += ["--url", u]
        cmd += move
        self.log = open(log, "ab")
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=self.log,
                                     stdin=subprocess.DEVNULL, env=env)
        self.lines: "queue.Queue[dict]" = queue.Queue()
        self.last: Optional[dict] = None
        self.history: List[dict] = []
        self._t = threading.Thread(target=self._read, daemon=True)
        self._t.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            try:
                obj = json.loads(raw)
            except ValueError:
                continue
            self.log.write(raw)
            self.lines.put(obj)

    def next(self, timeout: float) -> Optional[dict]:
        try:
            obj = self.lines.get(timeout=timeout)
        except queue.Empty:
            return None
        self.history.append(obj)
        if "error" not in obj:
            self.last = obj
        return obj

    def wait_until(self, pred, timeout: float) -> Optional[dict]:
        """The first line satisfying pred, or None after timeout or exit."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            obj = self.next(0.2)
            if obj is not None and pred(obj):
                return obj
            if obj is None and self.proc.poll() is not None and self.lines.empty():
                return None
        return None

    def finish(self, timeout: float) -> int:
        """Wait for the driver to exit (killed after timeout); its status."""
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            kill9(self.proc)
            rc = -9
        self._t.join(5)
        while self.next(0) is not None:
            pass
        self.log.close()
        return rc

    def kill(self) -> None:
        kill9(self.proc)
        self.finish(5)


class Reshard(unittest.TestCase):
    rig: Rig
    stable: Dict[str, List[float]]
    queries: List[List[float]]
    stable_shard: Dict[str, int]

    @classmethod
    def setUpClass(cls) -> None:
        cls.rig = Rig(layout=3, spares=1)
        try:
            cls.rig.start_router("a", 3)
            cls.rig.start_router("b", 3)
            rng = random.Random(11)
            cls.stable = {f"s{i}": rand_vec(rng, DIM) for i in range(STABLE)}
            cls.stable_shard = {}
            with vsetd.Client(cls.rig.routers["a"].url, timeout=CALL_TIMEOUT_S) as c:
                c.create_collection("mix", DIM, "Q8")
                items = list(cls.stable.items())
                for i in range(0, len(items), 500):
                    res = c.insert("mix", items[i:i + 500])
                    for it in res.items:
                        cls.stable_shard[it.id] = it.shard
                for name, q in EXACT.items():
                    c.create_collection(name, EXACT_DIM, q)
                    rows = [(f"e{i}", rand_vec(rng, EXACT_DIM), {"i": i})
                            for i in range(EXACT_ROWS)]
                    c.insert(name, rows)
            cls.queries = [rand_vec(rng, EXACT_DIM) for _ in range(EXACT_QUERIES)]
        except BaseException:
            cls.rig.close()
            raise

    @classmethod
    def tearDownClass(cls) -> None:
        cls.rig.close()

    # ------------------------------------------------------------ helpers

    def conns(self):
        return [self.rig.redis(i) for i in range(len(self.rig.shards))]

    def check(self, nlayout: int, ledgers: Dict[str, IdLedger],
              moved: bool = True) -> rs_check.Report:
        conns = self.conns()
        try:
            return rs_check.check(conns, nlayout, self.rig.addresses(nlayout), "mix",
                                  ledgers, self.stable, list(EXACT), expect_record=moved,
                                  restarted=[RESTARTED_SHARD] if moved else [])
        finally:
            for r in conns:
                r.close()

    def exact_top(self) -> Dict[str, List[List[Tuple[str, float]]]]:
        """Exact (VSIM TRUTH) top-K of every query in every EXACT
        collection, through router b, every shard answering."""
        out = {}
        with vsetd.Client(self.rig.routers["b"].url, timeout=CALL_TIMEOUT_S) as c:
            for name in EXACT:
                out[name] = [[(h.id, h.score) for h in
                              c.search(name, q, k=EXACT_K, truth=True, require_all=True)]
                             for q in self.queries]
        return out

    def assert_same_top(self, before, after, when: str) -> None:
        """Identical ids and scores; among hits tied with the K-th score
        (BIN scores are fractions of agreeing bits: ties happen) the
        shards may pick different ids, so there only scores must match."""
        for name in EXACT:
            for qi, (b, a) in enumerate(zip(before[name], after[name])):
                self.assertEqual([s for _, s in b], [s for _, s in a],
                                 f"{name} query {qi} {when}: scores changed")
                last = b[-1][1] if b else None
                self.assertEqual([i for i, s in b if s != last], [i for i, s in a if s != last],
                                 f"{name} query {qi} {when}: ids changed\n{b}\n{a}")

    def diag(self) -> str:
        """The routers' state and log tails, for a failure message."""
        out = []
        for name, r in self.rig.routers.items():
            rc = r.proc.poll() if r.proc else None
            out.append(f"---- router {name} ({'running' if rc is None else f'exit {rc}'}):\n"
                       f"{self.rig.router_log(name)[-DIAG_LOG_CHARS:]}")
        return "\n".join(out)

    def moving_ids(self, n_from: int, n_to: int) -> int:
        """How many of the elements that never change (stable ids and the
        exact-top collections) change owner from n_from to n_to shards:
        a floor for the move's size, to know when it is a third done."""
        ids = list(self.stable) + [f"e{i}" for i in range(EXACT_ROWS)] * len(EXACT)
        return sum(rs_hash.shard_of(e, n_from) != rs_hash.shard_of(e, n_to) for e in ids)

    def driver(self, urls: List[str], move: List[str]) -> Driver:
        d = Driver(urls, move, os.path.join(self.rig.tmp, "driver.log"))
        self.addCleanup(d.kill)          # also when an assertion fails first
        return d

    @staticmethod
    def move_line(what: str, c, rep: rs_check.Report) -> str:
        """The counts of one move (printed before anything is asserted)."""
        return (f"reshard {what}: searches during the move {c.searches_moving}, "
                f"lost hits {c.lost_hits}, duplicates {c.duplicates + rep.duplicated}, "
                f"lost writes {rep.lost_writes}, resurrected deletes {rep.resurrected}; "
                f"partial answers {c.partial_moving} of them, false not-found "
                f"{c.false_not_found}; {rep.line()}")

    # ------------------------------------------------------------ tests

    def test_0_hash_port(self) -> None:
        """The checker's owner function is the router's: the pinned
        outputs of tests/unit/test_hash.c, and the shard vsetd reported
        for each of the stable ids it inserted."""
        rs_hash.self_check()
        wrong = [(e, s, rs_hash.shard_of(e, 3)) for e, s in self.stable_shard.items()
                 if rs_hash.shard_of(e, 3) != s]
        self.assertEqual(len(self.stable_shard), STABLE)
        self.assertEqual(wrong, [], "vsetd and the Python port disagree")
        self.assertEqual(set(self.stable_shard.values()), {0, 1, 2})

    def test_1_checker_can_fail(self) -> None:
        """The checks pass on an untouched 3-shard deployment, and each
        kind of damage done straight in Redis is counted."""
        url = self.rig.routers["a"].url
        ledgers: Dict[str, IdLedger] = {}
        with vsetd.Client(url, timeout=CALL_TIMEOUT_S) as c:
            rng = random.Random(3)
            for i in range(4):     # p0, p1 present; p2, p3 deleted
                e = f"p{i}"
                led = ledgers[e] = IdLedger()
                v = rand_vec(rng, DIM)
                led.vectors[1] = v
                c.insert("mix", [(e, v, attrs_of(e, 1))])
                led.states = frozenset([(1, 1)])
                if i >= 2:
                    c.delete("mix", [e])
                    led.states = frozenset([None])
            c.set_attributes("mix", "p1", attrs_of("p1", 2))
            ledgers["p1"].states = frozenset([(1, 2)])
        rep = self.check(3, ledgers, moved=False)
        self.assertEqual(rep.bad(), 0, f"clean deployment: {rep.line()}\n{rep.examples}")

        key = "vsetd:mix"
        conns = self.conns()
        try:
            own = {e: rs_hash.shard_of(e, 3) for e in ("s0", "s1", "p0", "p1", "p2")}

            def damaged(field: str, undo) -> None:
                rep = self.check(3, ledgers, moved=False)
                try:
                    self.assertGreater(getattr(rep, field), 0,
                                       f"damage not seen as {field}: {rep.line()}")
                finally:
                    undo()

            # An element moved to a shard that does not own it.
            src, dst = own["s0"], (own["s0"] + 1) % 3
            rs_check.corrupt_place(conns[src], conns[dst], key, "s0", keep=False)
            damaged("misplaced", lambda: rs_check.corrupt_place(conns[dst], conns[src], key,
                                                                 "s0", keep=False))
            # An element stored twice (also on the spare, outside the layout).
            rs_check.corrupt_place(conns[own["s1"]], conns[3], key, "s1", keep=True)
            damaged("duplicated", lambda: conns[3].execute_command("VREM", key, "s1"))
            # An acknowledged insert lost.
            vec = [float(x) for x in conns[own["p0"]].execute_command("VEMB", key, "p0")]
            conns[own["p0"]].execute_command("VREM", key, "p0")
            damaged("lost_writes", lambda: conns[own["p0"]].execute_command(
                "VADD", key, "VALUES", DIM, *vec, "p0", "Q8", "SETATTR",
                json.dumps(attrs_of("p0", 1))))
            # An acknowledged attribute update lost.
            conns[own["p1"]].execute_command("VSETATTR", key, "p1", json.dumps(attrs_of("p1", 1)))
            damaged("lost_writes", lambda: conns[own["p1"]].execute_command(
                "VSETATTR", key, "p1", json.dumps(attrs_of("p1", 2))))
            # An acknowledged delete undone.
            v2 = ledgers["p2"].vectors[1]
            conns[own["p2"]].execute_command("VADD", key, "VALUES", DIM, *v2, "p2", "Q8",
                                             "SETATTR", json.dumps(attrs_of("p2", 1)))
            damaged("resurrected", lambda: conns[own["p2"]].execute_command("VREM", key, "p2"))
            # A stable element gone, a stray, a mover key, a topology record.
            vec = [float(x) for x in conns[own["s0"]].execute_command("VEMB", key, "s0")]
            conns[own["s0"]].execute_command("VREM", key, "s0")
            damaged("stable_lost", lambda: conns[own["s0"]].execute_command(
                "VADD", key, "VALUES", DIM, *vec, "s0", "Q8"))
            conns[0].execute_command("VADD", key, "VALUES", DIM, *([0.5] * DIM), "zz-stray", "Q8")
            damaged("strays", lambda: conns[0].execute_command("VREM", key, "zz-stray"))
            conns[2].set("vsetd:@mv:test", "1")
            damaged("mover_keys", lambda: conns[2].delete("vsetd:@mv:test"))
            conns[1].hset(rs_check.TOPOLOGY_KEY, mapping={"version": "1", "epoch": "1",
                                                           "shards": "127.0.0.1:1",
                                                           "phase": "stable"})
            damaged("topology", lambda: conns[1].delete(rs_check.TOPOLOGY_KEY))
        finally:
            for r in conns:
                r.close()
        rep = self.check(3, ledgers, moved=False)
        self.assertEqual(rep.bad(), 0, f"after undoing: {rep.line()}\n{rep.examples}")
        with vsetd.Client(url, timeout=CALL_TIMEOUT_S) as c:
            c.delete("mix", list(ledgers))

    def test_2_add_then_remove_under_load(self) -> None:
        rig = self.rig
        a, b = rig.routers["a"], rig.routers["b"]
        spare = rig.shards[3].address
        top_before = self.exact_top()
        counts: Dict[str, int] = {}

        # ---------------- add the 4th shard
        load = Load([a.url, b.url], "mix", DIM, self.stable)
        load.start()
        try:
            time.sleep(LOAD_WARMUP_S)
            load.moving.set()
            d1 = self.driver([a.url, b.url], ["--add", spare])
            third = self.moving_ids(3, 4) // 3
            half = d1.wait_until(lambda o: o.get("phase") == "RESHARD_DUAL"
                                 and o["copied"] >= third
                                 or o.get("done"), HALF_WAIT_S)
            self.assertIsNotNone(half, f"the move never got half-way: {d1.history[-5:]}\n"
                                 f"{self.diag()}")
            self.assertFalse(half.get("done"), "the move ended before it could be "
                             "interrupted: lower MOVE_RATE")
            # kill -9 the driver, then router a; restart shard 1 (a source).
            d1.kill()
            rig.kill_router("a")
            rig.kill_shard(RESTARTED_SHARD)
            rig.restart_shard(RESTARTED_SHARD)
            rig.start_router("a", 4)     # the new list: it adopts the move
            d2 = self.driver([b.url, a.url], ["--add", spare])
            rc = d2.finish(MOVE_MAX_S + 10)
            self.assertEqual(rc, 0, f"resumed move did not finish: {d2.history[-5:]}\n"
                             f"{self.diag()}")
            self.assertTrue(d2.last and d2.last["done"])
            counts["add_moved"] = d2.last["copied"]      # progress lives in Redis
            load.moving.clear()
            time.sleep(LOAD_AFTER_S)
        finally:
            load.stop()
        add = load.snapshot()
        rep = self.check(4, load.ledgers)
        print(self.move_line("add", add, rep), flush=True)
        self.assertEqual(rep.bad(), 0, f"after add: {rep.line()}\n" + "\n".join(rep.examples))
        self.assert_counters(add, "add")
        self.assert_same_top(top_before, self.exact_top(), "after the add")

        # ---------------- remove it again
        load2 = Load([a.url, b.url], "mix", DIM, self.stable, seed=8, ledgers=load.ledgers)
        load2.start()
        try:
            time.sleep(LOAD_WARMUP_S)
            load2.moving.set()
            d3 = self.driver([b.url, a.url], ["--remove", "--expect-last", spare])
            third = self.moving_ids(4, 3) // 3
            half = d3.wait_until(lambda o: o.get("phase") == "RESHARD_DUAL"
                                 and o["copied"] >= third
                                 or o.get("done"), HALF_WAIT_S)
            self.assertIsNotNone(half, f"the removal never got half-way: {d3.history[-5:]}\n"
                                 f"{self.diag()}")
            self.assertFalse(half.get("done"), "the removal ended before it could be "
                             "interrupted: lower MOVE_RATE")
            d3.kill()
            # Router a again, this time with the 3-shard list (the layout
            # the removal goes to): it adopts the move under way too.
            rig.kill_router("a")
            rig.start_router("a", 3)
            d4 = self.driver([a.url, b.url], ["--remove", "--expect-last", spare])
            rc = d4.finish(MOVE_MAX_S + 10)
            self.assertEqual(rc, 0, f"resumed removal did not finish: {d4.history[-5:]}\n"
                             f"{self.diag()}")
            self.assertTrue(d4.last and d4.last["done"])
            counts["remove_moved"] = d4.last["copied"]
            load2.moving.clear()
            time.sleep(LOAD_AFTER_S)
        finally:
            load2.stop()
        rem = load2.snapshot()
        rep2 = self.check(3, load2.ledgers)
        print(self.move_line("remove", rem, rep2), flush=True)
        self.assertEqual(rep2.bad(), 0,
                         f"after remove: {rep2.line()}\n" + "\n".join(rep2.examples))
        self.assert_counters(rem, "remove")
        self.assert_same_top(top_before, self.exact_top(), "after the removal")

        print("reshard summary: "
              f"searches during the move {add.searches_moving + rem.searches_moving} "
              f"(add {add.searches_moving}, remove {rem.searches_moving}), "
              f"lost hits {add.lost_hits + rem.lost_hits}, "
              f"duplicates {add.duplicates + rem.duplicates + rep.duplicated + rep2.duplicated}, "
              f"lost writes {rep.lost_writes + rep2.lost_writes}, "
              f"resurrected deletes {rep.resurrected + rep2.resurrected}; "
              f"partial answers {add.partial + rem.partial}, "
              f"search errors {add.search_errors + rem.search_errors}, "
              f"writes {add.writes + rem.writes} (acknowledged "
              f"{add.writes_acked + rem.writes_acked}, failed "
              f"{add.writes_failed + rem.writes_failed}, unknown "
              f"{add.writes_unknown + rem.writes_unknown}), "
              f"moved {counts.get('add_moved')} then {counts.get('remove_moved')}; "
              f"volatile ids checked {len(load2.ledgers)} "
              f"(retired {load.frozen + load2.frozen})",
              flush=True)

    def assert_counters(self, c, when: str) -> None:
        why = "\n".join(c.examples)
        self.assertGreater(c.searches_moving, 0, f"{when}: no search ran during the move")
        self.assertGreater(c.writes_acked, 0, f"{when}: no write was acknowledged")
        self.assertEqual(c.lost_hits, 0, f"{when}: searches missed a stable element\n{why}")
        self.assertEqual(c.duplicates, 0, f"{when}: answers listed an id twice\n{why}")
        self.assertEqual(c.false_not_found, 0, f"{when}: writes saw an existing id missing\n{why}")


if __name__ == "__main__":
    unittest.main()
