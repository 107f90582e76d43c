"""The Python client against a real deployment: Redis 8 shards + vsetd.

What users rely on: insert/search/delete round trips with the outcomes and
shard summaries the protocol promises, data landing where the server says
(checked in Redis directly), the error classes, and partial results when a
shard dies.  Expected answers are computed here (brute-force cosine), never
hard-coded.
"""
from __future__ import annotations

import functools
import json
import math
import random
import shutil
import signal
import re
import tempfile
import threading
import time
import unittest
from typing import Callable, Dict, List, Sequence

import vsetd
from vsetd import vsetd_pb2 as pb

from vsetd_harness import Deployment, free_port, redis_cli
from vsetd_harness import make_certs as harness_make_certs

DIM = 8


def rand_vec(rng: random.Random, dim: int = DIM) -> List[float]:
    return [rng.uniform(-1.0, 1.0) for _ in range(dim)]


def true_score(a: Sequence[float], b: Sequence[float]) -> float:
    """Redis's similarity: 1 - cosine_distance/2 = (1 + cos)/2."""
    dot = sum(x * y for x, y in zip(a, b))
    na = math.sqrt(sum(x * x for x in a))
    nb = math.sqrt(sum(x * x for x in b))
    return (1.0 + dot / (na * nb)) / 2.0


def assert_best_first(tc: unittest.TestCase, hits: Sequence[vsetd.Hit]) -> None:
    for a, b in zip(hits, hits[1:]):
        tc.assertTrue(a.score > b.score or (a.score == b.score and a.id.encode() < b.id.encode()),
                      f"not best first: {a} before {b}")


class LiveServer(unittest.TestCase):
    """Three healthy shards; every test uses its own collection."""

    dep: Deployment
    client: vsetd.Client

    @classmethod
    def setUpClass(cls) -> None:
        cls.dep = Deployment(shards=3)
        cls.client = vsetd.Client(cls.dep.url, timeout=5.0)

    @classmethod
    def tearDownClass(cls) -> None:
        cls.client.close()
        cls.dep.close()

    def shard_port(self, index: int) -> int:
        return self.dep.shards[index].port

    def test_insert_search_round_trip(self) -> None:
        rng = random.Random(1)
        data: Dict[str, List[float]] = {f"doc-{i}": rand_vec(rng) for i in range(120)}
        res = self.client.insert("rt", list(data.items()))
        self.assertEqual((res.added, res.updated, res.failed), (120, 0, 0))
        self.assertEqual([r.id for r in res.items], list(data))
        self.assertTrue(all(r.outcome is vsetd.Outcome.ADDED for r in res.items))
        self.assertEqual(res.shards.failed + res.shards.timed_out, 0)
        self.assertEqual(res.shards.ok, res.shards.total)
        owner = {r.id: r.shard for r in res.items}

        # Each element is on the shard the server named, and only there.
        counts = [int(redis_cli(self.shard_port(i), "VCARD", "vsetd:rt").split()[-1]) for i in range(3)]
        self.assertEqual(sum(counts), len(data))
        for i in range(3):
            self.assertEqual(counts[i], sum(1 for s in owner.values() if s == i))
        some = "doc-7"
        self.assertNotIn("nil", redis_cli(self.shard_port(owner[some]), "VEMB", "vsetd:rt", some))

        # Queries: exact stored vectors come back first; scores agree with
        # brute force within Q8 quantisation; order is best first.
        for qid in ("doc-0", "doc-33", "doc-119"):
            q = data[qid]
            got = self.client.search("rt", q, k=10)
            self.assertFalse(got.partial)
            self.assertEqual(got.shards, vsetd.ShardSummary(total=3, ok=3, failed=0, timed_out=0))
            self.assertEqual(got.shard_errors, [])
            self.assertEqual(len(got.results), 10)
            self.assertEqual(got.results[0].id, qid)
            assert_best_first(self, got.results)
            exact = sorted(data, key=lambda i: -true_score(q, data[i]))[:10]
            self.assertGreaterEqual(len(set(got.ids()) & set(exact)), 8)
            for h in got.results:
                self.assertAlmostEqual(h.score, true_score(q, data[h.id]), delta=0.02)
                self.assertEqual(h.shard, owner[h.id])

        # Re-inserting the same ids overwrites: safe to repeat.
        again = self.client.insert("rt", [vsetd.Item(i, v) for i, v in list(data.items())[:10]])
        self.assertEqual((again.added, again.updated), (0, 10))
        self.assertTrue(all(r.outcome is vsetd.Outcome.UPDATED for r in again.items))

    def test_k_and_empty_collection(self) -> None:
        rng = random.Random(2)
        self.client.insert("kk", [(f"e{i}", rand_vec(rng)) for i in range(30)])
        self.assertEqual(len(self.client.search("kk", rand_vec(rng), k=3)), 3)
        self.assertEqual(len(self.client.search("kk", rand_vec(rng), k=0)), 10)  # 0 = default 10
        self.assertEqual(len(self.client.search("kk", rand_vec(rng), k=100)), 30)
        nothing = self.client.search("no-such-collection", rand_vec(rng), k=5)
        self.assertEqual(nothing.results, [])
        self.assertFalse(nothing.partial)

    def test_attributes_are_stored(self) -> None:
        res = self.client.insert("attrs", [("a", [1.0, 0.0, 0.5], {"lang": "en", "n": 3}),
                                           vsetd.Item("b", [0.0, 1.0, 0.5], '{"lang":"de"}')])
        shard_of = {r.id: r.shard for r in res.items}
        got_a = redis_cli(self.shard_port(shard_of["a"]), "VGETATTR", "vsetd:attrs", "a")
        self.assertEqual(json.loads(json.loads(got_a)), {"lang": "en", "n": 3})
        got_b = redis_cli(self.shard_port(shard_of["b"]), "VGETATTR", "vsetd:attrs", "b")
        self.assertEqual(json.loads(json.loads(got_b)), {"lang": "de"})

    def test_delete(self) -> None:
        rng = random.Random(3)
        data = {f"d{i}": rand_vec(rng) for i in range(20)}
        ins = self.client.insert("del", list(data.items()))
        owner = {r.id: r.shard for r in ins.items}
        res = self.client.delete("del", ["d3", "d4", "never-there"])
        self.assertEqual([(r.id, r.outcome) for r in res.items],
                         [("d3", vsetd.Outcome.DELETED), ("d4", vsetd.Outcome.DELETED),
                          ("never-there", vsetd.Outcome.NOT_FOUND)])
        self.assertEqual((res.deleted, res.not_found, res.failed), (2, 1, 0))
        self.assertIn("nil", redis_cli(self.shard_port(owner["d3"]), "VEMB", "vsetd:del", "d3"))
        # Gone from search, even for its own vector.
        self.assertNotIn("d3", self.client.search("del", data["d3"], k=20).ids())
        # Deleting again is harmless: NOT_FOUND, not an error.
        again = self.client.delete("del", "d3")
        self.assertEqual([r.outcome for r in again.items], [vsetd.Outcome.NOT_FOUND])

    def test_invalid_arguments(self) -> None:
        # A collection's dimension is known per shard only where it has
        # elements: populate every shard first, so that a wrong dimension is
        # wrong wherever its id lands.
        res = self.client.insert("dims", [(f"x{i}", [1.0, 2.0, 3.0 + i]) for i in range(30)])
        self.assertEqual({r.shard for r in res.items}, {0, 1, 2})
        cases = [
            ("wrong dimension", lambda: self.client.insert("dims", [("y", [1.0, 2.0])]), "dimension"),
            ("search wrong dimension", lambda: self.client.search("dims", [1.0, 2.0, 3.0, 4.0]), "dimension"),
            ("mixed dimensions", lambda: self.client.insert("dims2", [("a", [1.0]), ("b", [1.0, 2.0])]), "dimension"),
            ("NaN", lambda: self.client.search("dims", [1.0, float("nan"), 3.0]), "NaN"),
            ("Inf", lambda: self.client.insert("dims", [("z", [1.0, float("inf"), 3.0])]), "Inf"),
            ("empty id", lambda: self.client.insert("dims", [("", [1.0, 2.0, 3.0])]), "empty"),
            ("long id", lambda: self.client.insert("dims", [("i" * 1025, [1.0, 2.0, 3.0])]), "1025"),
            ("k too big", lambda: self.client.search("dims", [1.0, 2.0, 3.0], k=1001), "k"),
            ("no collection", lambda: self.client.search("", [1.0, 2.0, 3.0]), "collection"),
        ]
        for name, call, word in cases:
            with self.subTest(name):
                with self.assertRaises(vsetd.InvalidArgument) as cm:
                    call()
                self.assertEqual(cm.exception.code, "INVALID_ARGUMENT")
                self.assertIn(word, cm.exception.message)
        # None of that broke anything.
        self.assertEqual(self.client.search("dims", [1.0, 2.0, 3.0], k=1).ids(), ["x0"])

    def test_dimension_belongs_to_the_collection(self) -> None:
        # One element fixes the dimension for every shard, also for shards
        # that hold no element of the collection yet.
        self.client.insert("onedim", [("first", [1.0, 2.0, 3.0])])
        for i in range(12):
            with self.subTest(id=f"other{i}"):
                with self.assertRaises(vsetd.InvalidArgument) as cm:
                    self.client.insert("onedim", [(f"other{i}", [1.0, 2.0])])
                self.assertIn("dimension", cm.exception.message)
        with self.assertRaises(vsetd.InvalidArgument):
            self.client.search("onedim", [1.0, 2.0])
        self.assertEqual(self.client.search("onedim", [1.0, 2.0, 3.0]).ids(), ["first"])

    def test_unknown_method_is_unimplemented(self) -> None:
        with self.assertRaises(vsetd.Unimplemented) as cm:
            self.client.call_raw("/vsetd.v1.VectorService/Frobnicate", b"")
        self.assertIn("Frobnicate", cm.exception.message)

    def test_generic_call_with_messages(self) -> None:
        self.client.insert("gen", [("g", [0.5, 0.5])])
        resp = self.client.call("Search", pb.SearchRequest(collection="gen", vector=[0.5, 0.5], k=1))
        self.assertIsInstance(resp, pb.SearchResponse)
        self.assertEqual([h.id for h in resp.results], ["g"])  # type: ignore[attr-defined]
        raw = self.client.call_raw("/vsetd.v1.VectorService/Search",
                                   pb.SearchRequest(collection="gen", vector=[0.5, 0.5]).SerializeToString())
        parsed = pb.SearchResponse()
        parsed.ParseFromString(raw)
        self.assertEqual(parsed.results[0].id, "g")

    def test_many_calls_on_one_connection(self) -> None:
        rng = random.Random(4)
        self.client.insert("many", [(f"m{i}", rand_vec(rng)) for i in range(10)])
        for _ in range(200):
            self.assertEqual(len(self.client.search("many", rand_vec(rng), k=2)), 2)


def needs_server_support(test: Callable[..., None]) -> Callable[..., None]:
    """The proto has RPCs the server may not implement yet: such a test is
    skipped (not passed) while the server answers UNIMPLEMENTED."""
    @functools.wraps(test)
    def wrapper(self: unittest.TestCase) -> None:
        try:
            test(self)
        except vsetd.Unimplemented as e:
            self.skipTest(f"server does not implement it yet: {e.message}")
    return wrapper


class VectorSetSurface(unittest.TestCase):
    """The RPCs beyond Insert/Delete/Search, each through its typed method."""

    dep: Deployment
    client: vsetd.Client

    @classmethod
    def setUpClass(cls) -> None:
        cls.dep = Deployment(shards=3)
        cls.client = vsetd.Client(cls.dep.url, timeout=5.0)

    @classmethod
    def tearDownClass(cls) -> None:
        cls.client.close()
        cls.dep.close()

    def populate(self, name: str, n: int = 40) -> Dict[str, List[float]]:
        rng = random.Random(name)
        data = {f"{name}-{i}": rand_vec(rng, 4) for i in range(n)}
        items = [(i, v, {"lang": "en" if j % 2 else "de", "j": j}) for j, (i, v) in enumerate(data.items())]
        self.assertEqual(self.client.insert(name, items).failed, 0)
        return data

    @needs_server_support
    def test_collection_lifecycle(self) -> None:
        c = self.client
        made = c.create_collection("life", dim=4, quant="noquant", m=8)
        self.assertTrue(made.created)
        self.assertEqual((made.params.dim, made.params.quant, made.params.m),
                         (4, vsetd.Quantization.NOQUANT, 8))
        again = c.create_collection("life", dim=4, quant=vsetd.Quantization.NOQUANT, m=8)
        self.assertFalse(again.created)
        with self.assertRaises(vsetd.AlreadyExists):
            c.create_collection("life", dim=5, quant="noquant", m=8)
        self.populate("life", 12)
        info = c.describe_collection("life")
        self.assertEqual((info.collection, info.count, sum(info.shard_counts)), ("life", 12, 12))
        self.assertEqual(len(info.shard_counts), 3)
        self.assertEqual(info.params.quant, vsetd.Quantization.NOQUANT)
        self.assertIn("life", c.list_collections().collections)
        self.assertGreaterEqual(c.drop_collection("life").keys_deleted, 1)
        self.assertNotIn("life", c.list_collections().collections)
        with self.assertRaises(vsetd.NotFound):
            c.describe_collection("life")
        with self.assertRaises(vsetd.NotFound):
            c.insert("never-made", [("x", [1.0, 2.0])], no_create=True)

    @needs_server_support
    def test_element_reads(self) -> None:
        c = self.client
        c.create_collection("reads", dim=4, quant="noquant")
        data = self.populate("reads", 20)
        some = "reads-3"
        el = c.get("reads", some, raw=True)
        self.assertEqual(el.id, some)
        self.assertAlmostEqual(true_score(el.vector, data[some]), 1.0, places=4)
        self.assertEqual(el.attributes, {"lang": "en", "j": 3})
        assert el.raw is not None
        self.assertEqual(el.raw.quantization, "f32")
        self.assertTrue(c.exists("reads", some))
        self.assertFalse(c.exists("reads", "nope"))
        with self.assertRaises(vsetd.NotFound):
            c.get("reads", "nope")
        self.assertEqual(c.get_attributes("reads", some), {"lang": "en", "j": 3})
        c.set_attributes("reads", some, {"lang": "fr"})
        self.assertEqual(c.get_attributes("reads", some), {"lang": "fr"})
        c.set_attributes("reads", some, None)
        self.assertIsNone(c.get_attributes("reads", some))
        cnt = c.count("reads")
        self.assertEqual((cnt.count, sum(cnt.shard_counts), cnt.partial), (20, 20, False))
        inf = c.info("reads")
        self.assertEqual(len(inf.shard_info), 3)
        self.assertEqual(inf.size, 20)
        distinct = c.random_members("reads", 5).ids
        self.assertEqual(len(set(distinct)), 5)
        self.assertLessEqual(set(distinct), set(data))
        repeated = c.random_members("reads", -30).ids
        self.assertEqual(len(repeated), 30)
        self.assertLessEqual(set(repeated), set(data))
        links = c.links("reads", some)
        self.assertEqual(links.shard, el.shard)
        # Exactly the owner's graph as Redis itself lists it (level 0 may
        # be empty: Redis's HNSW leaves a node of a 7-node graph without
        # level-0 neighbours now and then).
        raw = redis_cli(self.dep.shards[el.shard].port, "VLINKS", "vsetd:reads", some)
        self.assertEqual(len(links.levels), len(re.findall(r"^\d+\) ", raw, re.M)))
        self.assertEqual(sorted(nid for level in links.levels for nid, _ in level),
                         sorted(re.findall(r'"([^"]*)"', raw)))
        for level in links.levels:
            for nid, score in level:
                self.assertIn(nid, data)
                self.assertTrue(0.0 <= score <= 1.0)

    @needs_server_support
    def test_search_options(self) -> None:
        c = self.client
        c.create_collection("opts", dim=4, quant="noquant")  # exact scores for truth=True
        data = self.populate("opts", 40)
        q = "opts-5"
        by_id = c.search("opts", by_id=q, k=5, with_attributes=True)
        self.assertEqual(by_id.results[0].id, q)
        self.assertEqual(by_id.results[0].attributes, {"lang": "en", "j": 5})
        self.assertEqual(by_id.ids(), c.search("opts", data[q], k=5).ids())
        with self.assertRaises(vsetd.NotFound):
            c.search("opts", by_id="nope")
        en = c.search("opts", data[q], k=40, filter='.lang == "en"', with_attributes=True)
        self.assertEqual(len(en), 20)
        self.assertTrue(all(h.attributes["lang"] == "en" for h in en))
        close = c.search("opts", data[q], k=40, epsilon=0.2)
        self.assertTrue(close.results)
        self.assertTrue(all(h.score >= 0.8 - 1e-6 for h in close))
        exact = c.search("opts", data[q], k=10, truth=True)
        brute = sorted(data, key=lambda i: -true_score(data[q], data[i]))[:10]
        self.assertEqual(set(exact.ids()), set(brute))
        queries = [data["opts-1"], data["opts-2"], data["opts-3"]]
        batch = c.batch_search("opts", queries, k=4)
        self.assertEqual([r.ids() for r in batch], [c.search("opts", v, k=4).ids() for v in queries])


class Resharding(unittest.TestCase):
    """reshard_* against a real router and the mover (issue 10): a router in
    front of two shards, a third Redis as the spare.  What a program driving
    a move relies on: the states it gets are those of the move (phase, epoch,
    layouts), stepping reaches done, the counts are the elements that
    changed owner, and nothing is lost or stored twice."""

    N = 300

    def setUp(self) -> None:
        self.dep = Deployment(shards=3, start_vsetd=False)
        self.spare = self.dep.shards.pop()
        try:
            self.dep.start_vsetd()
        finally:
            self.dep.shards.append(self.spare)  # so that close() stops it
        self.client = vsetd.Client(self.dep.url, timeout=5.0)
        self.addrs = [s.address for s in self.dep.shards[:2]]

    def tearDown(self) -> None:
        self.client.close()
        self.dep.close()

    def drive(self, st: vsetd.ReshardState, batch: int = 64) -> vsetd.ReshardState:
        for _ in range(500):
            if st.done:
                return st
            time.sleep(st.retry_after_ms / 1000)
            prev = st
            st = self.client.reshard_step(batch=batch)
            self.assertGreaterEqual(st.epoch, prev.epoch)
            self.assertGreaterEqual(st.progress.moved, prev.progress.moved)
        self.fail(f"not done after 500 steps: {st}")

    def test_add_then_remove(self) -> None:
        rng = random.Random(7)
        self.client.insert("rs", [(f"r{i}", rand_vec(rng)) for i in range(self.N)])
        before = self.client.reshard_status()
        self.assertEqual((before.move, before.phase), (vsetd.ReshardMove.NONE,
                                                       vsetd.ReshardPhase.STABLE))
        st = self.client.reshard_add(self.spare.address)
        self.assertEqual((st.move, st.phase), (vsetd.ReshardMove.ADD, vsetd.ReshardPhase.DUAL))
        self.assertEqual(st.shards, self.addrs + [self.spare.address])
        self.assertEqual(st.from_shards, self.addrs)
        self.assertGreater(st.epoch, before.epoch)
        # Start again = resume: the same move, not a new one.
        again = self.client.reshard_add(self.spare.address)
        self.assertEqual((again.move, again.epoch), (st.move, st.epoch))
        with self.assertRaises(vsetd.FailedPrecondition):
            self.client.reshard_remove()
        end = self.drive(st)
        self.assertEqual(end.phase, vsetd.ReshardPhase.STABLE)
        self.assertEqual(end.shards, self.addrs + [self.spare.address])
        counts = self.client.count("rs")
        self.assertEqual((counts.count, len(counts.shard_counts)), (self.N, 3))
        # Jump hash moves ids only onto the new shard: those are the moved.
        self.assertEqual(end.progress.moved, counts.shard_counts[2])
        self.assertEqual(end.progress.to_move, counts.shard_counts[2])
        self.assertGreater(counts.shard_counts[2], 0)
        for i in range(0, self.N, 37):
            self.assertTrue(self.client.exists("rs", f"r{i}"))

        st = self.client.reshard_remove(expect_last=self.spare.address)
        self.assertEqual(st.move, vsetd.ReshardMove.REMOVE)
        end = self.drive(st)
        self.assertEqual(end.shards, self.addrs)
        counts = self.client.count("rs")
        self.assertEqual((counts.count, len(counts.shard_counts)), (self.N, 2))
        self.assertEqual(redis_cli(self.spare.port, "EXISTS", "vsetd:rs").strip(), "(integer) 0")

    def test_abort_and_status(self) -> None:
        rng = random.Random(8)
        self.client.insert("ra", [(f"a{i}", rand_vec(rng)) for i in range(self.N)])
        with self.assertRaises(vsetd.FailedPrecondition) as cm:
            self.client.reshard_abort()
        self.assertTrue(cm.exception.message)
        self.client.reshard_add(self.spare.address)
        st = self.client.reshard_step(batch=5)
        self.assertEqual(st.phase, vsetd.ReshardPhase.DUAL)
        status = self.client.reshard_status()
        self.assertEqual((status.move, status.epoch), (vsetd.ReshardMove.ADD, st.epoch))
        deadline = time.monotonic() + 5
        while not any(self.dep.url in r.id for r in status.routers) and time.monotonic() < deadline:
            time.sleep(0.2)
            status = self.client.reshard_status()
        self.assertTrue(any(self.dep.url in r.id for r in status.routers), status.routers)
        st = self.client.reshard_abort()
        self.assertEqual((st.phase, st.shards), (vsetd.ReshardPhase.STABLE, self.addrs))
        end = self.drive(st)
        self.assertTrue(end.done)
        self.assertEqual(self.client.reshard_status().move, vsetd.ReshardMove.NONE)
        counts = self.client.count("ra")
        self.assertEqual((counts.count, len(counts.shard_counts)), (self.N, 2))
        self.assertEqual(redis_cli(self.spare.port, "KEYS", "vsetd:*").strip(), "(empty array)")


class Unreachable(unittest.TestCase):
    def test_nothing_listening(self) -> None:
        url = f"tcp://127.0.0.1:{free_port()}"
        start = time.monotonic()
        with self.assertRaises(vsetd.Unavailable):
            vsetd.Client(url, timeout=1.0)
        self.assertLess(time.monotonic() - start, 10.0)

    def test_stopped_server_is_deadline_exceeded(self) -> None:
        with Deployment(shards=1) as dep:
            c = vsetd.Client(dep.url, timeout=0.3, grace=0.2)
            c.insert("s", [("a", [1.0, 0.0])])
            assert dep.vsetd is not None
            dep.vsetd.send_signal(signal.SIGSTOP)
            try:
                with self.assertRaises(vsetd.DeadlineExceeded):
                    c.search("s", [1.0, 0.0])
            finally:
                dep.vsetd.send_signal(signal.SIGCONT)
            # The timed-out connection was dropped; the next call dials anew.
            self.assertEqual(c.search("s", [1.0, 0.0], k=1).ids(), ["a"])
            c.close()
            self.assertEqual(dep.stop_vsetd(), 0)


class Limits(unittest.TestCase):
    def test_oversized_request_closes_the_connection(self) -> None:
        with Deployment(shards=1, vsetd_args=["--max-message-bytes", "65536"]) as dep:
            with vsetd.Client(dep.url, timeout=3.0) as c:
                big = [(f"id{i}", [0.5] * 64) for i in range(400)]  # > 100 KB
                with self.assertRaises(vsetd.Unavailable) as cm:
                    c.insert("big", big)
                self.assertIn("closed", cm.exception.message)
                # Nothing was written, and the next call dials again.
                self.assertEqual(c.search("big", [0.5] * 64).results, [])
                self.assertEqual(c.insert("big", big[:50]).added, 50)

    def test_threads_share_a_client(self) -> None:
        def unit(i: int) -> List[float]:
            return [1.0 if j == i else 0.0 for j in range(8)]

        with Deployment(shards=2) as dep:
            with vsetd.Client(dep.url, timeout=5.0) as c:
                c.insert("thr", [(f"t{i}", unit(i)) for i in range(8)])
                errors: List[BaseException] = []

                def worker(n: int) -> None:
                    # Each thread's answers are recognisably its own (its
                    # element first, its own k), so a reply handed to the
                    # wrong caller would show.
                    try:
                        for _ in range(25):
                            got = c.search("thr", unit(n), k=n + 1)
                            if got.ids()[0] != f"t{n}" or len(got) != n + 1:
                                raise AssertionError(f"thread {n} got {got.ids()}")
                    except BaseException as e:  # reported below
                        errors.append(e)

                threads = [threading.Thread(target=worker, args=(n,)) for n in (1, 3, 5, 7)]
                for t in threads:
                    t.start()
                for t in threads:
                    t.join(60)
                self.assertFalse(any(t.is_alive() for t in threads))
                self.assertEqual(errors, [])


class IpcListener(unittest.TestCase):
    def test_ipc_url(self) -> None:
        with tempfile.TemporaryDirectory(prefix="vsetd-ipc-") as d:
            with Deployment(shards=2, listen=f"ipc://{d}/vsetd.sock") as dep:
                self.assertTrue(dep.url.startswith("ipc://"))
                with vsetd.Client(dep.url, timeout=5.0) as c:
                    c.insert("ipc", [("a", [1.0, 0.0]), ("b", [0.0, 1.0])])
                    self.assertEqual(c.search("ipc", [1.0, 0.1], k=2).ids(), ["a", "b"])


def make_certs(d: str) -> Dict[str, str]:
    """A throwaway CA, a server certificate for 127.0.0.1 and a client
    certificate, made with the openssl command line."""
    return harness_make_certs(d, cas=[("ca", "vsetd test CA")],
                              leaves=[("server", "vsetd test server", "ca"),
                                      ("client", "vsetd test client", "ca")],
                              server_san="IP:127.0.0.1,DNS:localhost")


@unittest.skipUnless(shutil.which("openssl"), "openssl not installed")
class TlsListener(unittest.TestCase):
    """tls+tcp://: the Python client against vsetd's TLS listener."""

    tmp: tempfile.TemporaryDirectory
    certs: Dict[str, str]

    @classmethod
    def setUpClass(cls) -> None:
        cls.tmp = tempfile.TemporaryDirectory(prefix="vsetd-tls-")
        cls.certs = make_certs(cls.tmp.name)

    @classmethod
    def tearDownClass(cls) -> None:
        cls.tmp.cleanup()

    def deployment(self, *extra: str) -> Deployment:
        return Deployment(shards=1, listen="tls+tcp://127.0.0.1:0",
                          vsetd_args=["--tls-cert", self.certs["server.crt"],
                                      "--tls-key", self.certs["server.key"], *extra])

    def test_verified_server(self) -> None:
        with self.deployment() as dep:
            self.assertTrue(dep.url.startswith("tls+tcp://"))
            with vsetd.Client(dep.url, timeout=5.0, tls_ca_file=self.certs["ca.crt"]) as c:
                c.insert("tls", [("a", [1.0, 0.0]), ("b", [0.0, 1.0])])
                self.assertEqual(c.search("tls", [1.0, 0.2], k=2).ids(), ["a", "b"])
            # A server the client cannot verify is refused...
            with self.assertRaises(vsetd.Unavailable) as cm:
                vsetd.Client(dep.url, timeout=2.0)
            self.assertIn("certificate", cm.exception.message.lower())
            # ...and so is a name that is not in its certificate.
            with self.assertRaises(vsetd.Unavailable):
                vsetd.Client(dep.url, timeout=2.0, tls_ca_file=self.certs["ca.crt"],
                             tls_server_name="not-vsetd.example")
            # Plain SP to a TLS port never gets an SP handshake back.
            with self.assertRaises(vsetd.Unavailable):
                vsetd.Client(dep.url.replace("tls+tcp://", "tcp://"), timeout=1.0)

    def test_client_certificates(self) -> None:
        with self.deployment("--tls-ca", self.certs["ca.crt"], "--tls-verify-clients") as dep:
            with vsetd.Client(dep.url, timeout=5.0, tls_ca_file=self.certs["ca.crt"],
                              tls_cert_file=self.certs["client.crt"],
                              tls_key_file=self.certs["client.key"]) as c:
                c.insert("mtls", [("a", [1.0, 0.0])])
                self.assertEqual(c.search("mtls", [1.0, 0.0], k=1).ids(), ["a"])
            # Without a certificate the handshake (or the first call) fails.
            with self.assertRaises(vsetd.Unavailable):
                with vsetd.Client(dep.url, timeout=2.0, tls_ca_file=self.certs["ca.crt"]) as c:
                    c.search("mtls", [1.0, 0.0])


class PartialResults(unittest.TestCase):
    def test_killed_shard(self) -> None:
        rng = random.Random(5)
        with Deployment(shards=3) as dep:
            c = vsetd.Client(dep.url, timeout=2.0)
            data = {f"p{i}": rand_vec(rng) for i in range(90)}
            owner = {r.id: r.shard for r in c.insert("part", list(data.items())).items}
            self.assertEqual(set(owner.values()), {0, 1, 2})
            dead = 1
            dep.kill_shard(dead)
            q = rand_vec(rng)
            # Several times: the first discovers the dead shard, later ones
            # may skip it through the circuit breaker; all must say the same.
            for _ in range(5):
                got = c.search("part", q, k=90)
                self.assertTrue(got.partial)
                self.assertEqual(got.shards, vsetd.ShardSummary(total=3, ok=2, failed=1, timed_out=0))
                self.assertEqual([e.shard for e in got.shard_errors], [dead])
                self.assertEqual(got.shard_errors[0].code, "UNAVAILABLE")
                live = {i for i, s in owner.items() if s != dead}
                self.assertEqual(set(got.ids()), live)
                assert_best_first(self, got.results)
            with self.assertRaises(vsetd.Unavailable):
                c.search("part", q, require_all=True)
            # A write to the dead shard fails for its items only, and says so.
            ids = [f"new{i}" for i in range(30)]
            with self.assertRaises(vsetd.Unavailable) as cm:
                c.insert("part", [(i, rand_vec(rng)) for i in ids])
            result = cm.exception.result
            self.assertIsInstance(result, vsetd.WriteResult)
            assert result is not None
            self.assertEqual([r.id for r in result.items], ids)
            for r in result.items:
                if r.shard == dead:
                    self.assertIs(r.outcome, vsetd.Outcome.FAILED)
                    self.assertEqual(r.code, "UNAVAILABLE")
                else:
                    self.assertIs(r.outcome, vsetd.Outcome.ADDED)
            self.assertGreater(result.failed, 0)
            self.assertEqual(result.failed, sum(1 for r in result.items if r.shard == dead))
            self.assertEqual(result.added, len(ids) - result.failed)
            c.close()


if __name__ == "__main__":
    unittest.main()
