"""The mixed load of the resharding test and the ledger of what it was told.

Why it is built this way:
- Several threads, each with one Client per router, pick a router at
  random for every call, so the same id is written through both routers
  (one of which may route by an older layout for a while).
- Writers own disjoint sets of volatile ids, so the operations on one id
  happen one after the other and the ledger knows their order without
  guessing.  After an acknowledged write a writer sometimes (FREEZE_P)
  retires the id for good and takes a fresh one: retired ids keep the
  last write of every phase of the move for the final check (an id
  written on and on would hide a lost write behind the next one).  For each id the ledger keeps the SET of states the id may be
  in: an acknowledged write (OK, outcome ADDED/UPDATED/DELETED/NOT_FOUND)
  collapses the set to the one state it produced; a write answered with an
  error, or not answered (timeout), may or may not have happened (a write
  in DUAL goes to two shards; one may have taken it), so the set grows by
  that write's result.  The final check (rs_check.py) accepts any state in
  the set, and nothing else.
- A state is (vector version, attribute version): every insert sends a
  fresh random vector and fresh attributes, every attribute update fresh
  attributes, so what Redis holds names exactly which write it came from.
- Searchers look for a stable element (inserted before the load, never
  touched after) by its own vector, with an exact scan (truth: VSIM TRUTH,
  so a miss is the router's, never HNSW's approximation), and count
  answers that miss it (lost hits: only answers that say every shard
  answered count; partial answers are counted apart), answers that list an
  id twice, and errors.  `moving` (set by the test while a move runs)
  says which searches count as "during the move".
Every call has a deadline (CALL_TIMEOUT_S); stop() joins every thread
within bounded time.
"""
from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass, field
from typing import Dict, FrozenSet, List, Optional, Sequence, Tuple

import vsetd

CALL_TIMEOUT_S = 2.0
SEARCH_K = 10
# Pause between a thread's calls: leaves CPU to the routers, the shards and
# the mover on a 2-core machine.
THINK_S = 0.002
# Weights of a writer's operations on an id that may exist.
W_INSERT, W_DELETE, W_SETATTR = 4, 3, 3
JOIN_TIMEOUT_S = 3 * CALL_TIMEOUT_S + 5.0
# After an acknowledged write, the chance that a writer leaves the id alone
# for good (and takes a fresh one): later writes would otherwise heal a
# write lost earlier in the move before the final check could see it.
FREEZE_P = 0.03

# A state of one id: None (absent) or (vector version, attribute version).
State = Optional[Tuple[int, int]]


def rand_vec(rng: random.Random, dim: int) -> List[float]:
    return [rng.uniform(-1.0, 1.0) for _ in range(dim)]


def attrs_of(element_id: str, attr_ver: int) -> dict:
    return {"id": element_id, "a": attr_ver}


@dataclass
class IdLedger:
    """What one volatile id may hold now, and every vector it was sent."""
    states: FrozenSet[State] = frozenset([None])
    vectors: Dict[int, List[float]] = field(default_factory=dict)
    acked_delete: bool = False       # some delete of it was acknowledged
    next_ver: int = 1                # versions are unique per id, across loads


@dataclass
class Counters:
    searches: int = 0
    searches_moving: int = 0
    search_errors: int = 0
    partial: int = 0
    partial_moving: int = 0
    lost_hits: int = 0
    duplicates: int = 0              # answers that listed an id twice
    writes: int = 0
    writes_acked: int = 0
    writes_failed: int = 0           # answered with an error
    writes_unknown: int = 0          # no answer within the deadline
    false_not_found: int = 0         # an update or delete of an id that
                                     # surely existed answered "not found"
    examples: List[str] = field(default_factory=list)

    def note(self, what: str) -> None:
        if len(self.examples) < 20:
            self.examples.append(what)


class Load:
    """Mixed load over collection `coll` through the routers at `urls`."""

    def __init__(self, urls: Sequence[str], coll: str, dim: int,
                 stable: Dict[str, List[float]], writers: int = 4, searchers: int = 2,
                 ids_per_writer: int = 100, seed: int = 7,
                 ledgers: Optional[Dict[str, IdLedger]] = None) -> None:
        self.urls = list(urls)
        self.coll = coll
        self.dim = dim
        self.stable = stable
        self.stable_ids = sorted(stable)
        self.seed = seed
        # A second load (another seed: other ids) adds to the first one's
        # ledger, whose ids are then left alone and checked again.
        self.ledgers: Dict[str, IdLedger] = ledgers if ledgers is not None else {}
        self.owned: List[List[str]] = []
        self.frozen = 0
        for w in range(writers):
            ids = [self._new_id(w, i) for i in range(ids_per_writer)]
            self.owned.append(ids)
        self._next_id = [ids_per_writer] * writers
        self.searchers = searchers
        self.moving = threading.Event()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self.c = Counters()
        self._threads: List[threading.Thread] = []

    # ------------------------------------------------------------ control

    def start(self) -> None:
        for w, ids in enumerate(self.owned):
            t = threading.Thread(target=self._writer, args=(w, ids), name=f"writer{w}",
                                 daemon=True)
            self._threads.append(t)
        for s in range(self.searchers):
            t = threading.Thread(target=self._searcher, args=(s,), name=f"searcher{s}",
                                 daemon=True)
            self._threads.append(t)
        for t in self._threads:
            t.start()

    def stop(self) -> None:
        """Stop and join every thread; raises if one does not end in time
        (its last call would otherwise still change the data under the
        final check)."""
        self._stop.set()
        deadline = time.monotonic() + JOIN_TIMEOUT_S
        for t in self._threads:
            t.join(max(0.0, deadline - time.monotonic()))
        alive = [t.name for t in self._threads if t.is_alive()]
        self._threads = []
        if alive:
            raise RuntimeError(f"load threads did not stop: {alive}")

    def snapshot(self) -> Counters:
        with self._lock:
            return Counters(**{k: (list(v) if isinstance(v, list) else v)
                               for k, v in vars(self.c).items()})

    def _new_id(self, w: int, n: int) -> str:
        """A fresh volatile id of writer w (ids of another Load, with
        another seed, never collide)."""
        element_id = f"v{self.seed}.{w}-{n}"
        self.ledgers[element_id] = IdLedger()
        return element_id

    def _clients(self) -> List[vsetd.Client]:
        return [vsetd.Client(u, timeout=CALL_TIMEOUT_S, connect=False) for u in self.urls]

    # ------------------------------------------------------------ writers

    def _writer(self, w: int, ids: List[str]) -> None:
        rng = random.Random(self.seed * 1000 + w)
        clients = self._clients()
        try:
            while not self._stop.is_set():
                element_id = rng.choice(ids)
                led = self.ledgers[element_id]
                c = rng.choice(clients)
                surely_present = None not in led.states
                op = "insert"
                if surely_present or led.states != frozenset([None]):
                    op = rng.choices(["insert", "delete", "setattr"],
                                     [W_INSERT, W_DELETE, W_SETATTR if surely_present else 0])[0]
                ver = led.next_ver
                led.next_ver += 1
                if op == "insert":
                    vec = rand_vec(rng, self.dim)
                    led.vectors[ver] = vec
                    new: FrozenSet[State] = frozenset([(ver, ver)])
                    acked = self._call(lambda: c.insert(
                        self.coll, [(element_id, vec, attrs_of(element_id, ver))],
                        timeout=CALL_TIMEOUT_S), ("ADDED", "UPDATED"))
                elif op == "delete":
                    new = frozenset([None])
                    acked = self._call(lambda: c.delete(self.coll, [element_id],
                                                        timeout=CALL_TIMEOUT_S),
                                       ("DELETED", "NOT_FOUND"), surely_present, element_id)
                    if acked == "ack":
                        led.acked_delete = True
                else:
                    new = frozenset((s[0], ver) for s in led.states if s is not None)
                    acked = self._call(lambda: c.set_attributes(
                        self.coll, element_id, attrs_of(element_id, ver),
                        timeout=CALL_TIMEOUT_S), None, True, element_id)
                if acked == "ack":
                    led.states = new
                    if rng.random() < FREEZE_P:
                        # Never touched again: its last write, made in
                        # whatever phase the move was in, must survive
                        # the rest of the move(s) as it is.
                        ids[ids.index(element_id)] = self._new_id(w, self._next_id[w])
                        self._next_id[w] += 1
                        with self._lock:
                            self.frozen += 1
                else:           # failed or unknown: either outcome
                    led.states = led.states | new
                time.sleep(THINK_S)
        finally:
            for c in clients:
                c.close()

    def _call(self, fn, ok_outcomes: Optional[Tuple[str, ...]], surely_present: bool = False,
              element_id: str = "") -> str:
        """Run one write; count it; "ack", "failed" or "unknown"."""
        try:
            res = fn()
            verdict = "ack"
            if ok_outcomes is not None:
                outcome = res.items[0].outcome.name if res.items else "FAILED"
                if outcome not in ok_outcomes:
                    verdict = "failed"
                elif outcome == "NOT_FOUND" and surely_present:
                    self._false_not_found(element_id, "delete")
        except vsetd.DeadlineExceeded:
            verdict = "unknown"
        except vsetd.NotFound:
            verdict = "failed"
            if surely_present:
                self._false_not_found(element_id, "set_attributes")
        except vsetd.VsetdError:
            verdict = "failed"
        with self._lock:
            self.c.writes += 1
            if verdict == "ack":
                self.c.writes_acked += 1
            elif verdict == "failed":
                self.c.writes_failed += 1
            else:
                self.c.writes_unknown += 1
        return verdict

    def _false_not_found(self, element_id: str, what: str) -> None:
        with self._lock:
            self.c.false_not_found += 1
            self.c.note(f"{what} of {element_id} (acknowledged present) answered not found")

    # ------------------------------------------------------------ searchers

    def _searcher(self, s: int) -> None:
        rng = random.Random(self.seed * 1000 + 500 + s)
        clients = self._clients()
        try:
            while not self._stop.is_set():
                element_id = rng.choice(self.stable_ids)
                c = rng.choice(clients)
                moving = self.moving.is_set()
                try:
                    res = c.search(self.coll, self.stable[element_id], k=SEARCH_K, truth=True,
                                   timeout=CALL_TIMEOUT_S)
                except vsetd.VsetdError as e:
                    with self._lock:
                        self.c.searches += 1
                        self.c.searches_moving += moving
                        self.c.search_errors += 1
                        if e.code not in ("UNAVAILABLE", "DEADLINE_EXCEEDED"):
                            self.c.note(f"search {element_id} via {c.url}: {e.code}: {e.message}")
                    time.sleep(THINK_S)
                    continue
                ids = [h.id for h in res.results]
                with self._lock:
                    self.c.searches += 1
                    self.c.searches_moving += moving
                    if len(set(ids)) != len(ids):
                        self.c.duplicates += 1
                        self.c.note(f"search {element_id} via {c.url} listed an id twice: {ids}")
                    if res.partial:
                        self.c.partial += 1
                        self.c.partial_moving += moving
                    elif element_id not in ids:
                        self.c.lost_hits += 1
                        self.c.note(f"search {element_id} via {c.url} (complete answer, "
                                    f"moving={moving}) missed it: {ids}")
                time.sleep(THINK_S)
        finally:
            for c in clients:
                c.close()
