"""`vset reshard` and the Python client's reshard_* calls against a fake
router that plays a move (the Reshard* RPCs of proto/vsetd/v1/vsetd.proto).

Why a fake: the driver's promises are about pacing and reporting, and the
faults they handle cannot be produced on demand by a real router: a step
answering UNAVAILABLE twice then OK, a server asking to wait
(retry_after_ms), a step slow enough to press Ctrl-C during it.  The fake
speaks the real wire protocol (SP REQ/REP over TCP, the envelopes of the
proto) and plays the move the way the contract describes it: Start opens or
answers the open move, each Step does at most `batch` elements, DUAL ->
SWITCHED -> STABLE with the epoch bumped each time, Abort only in DUAL.
tests/cli/test_reshard_cli.py drives the real mover end to end.

What a user of `vset reshard` relies on, checked here:
  - exit status 0 and a "done:" line; without a terminal one progress line
    per phase; on a terminal a bar redrawn in place;
  - --json: stdout is exactly one object whose counts are the server's;
  - --batch reaches every step; --rate and retry_after_ms slow it down;
  - UNAVAILABLE / DEADLINE_EXCEEDED steps are retried at most 5 times,
    then exit 1 with the command to resume;
  - an open move with progress prints "resuming a move begun earlier";
  - Ctrl-C lets the step in flight finish, sends nothing more, exits 3
    and prints how to resume; the same command then finishes the move;
  - abort in DUAL cleans up; abort elsewhere names the rule; status shows
    routers behind the record's epoch;
  - replicas after the new primary are checked but only the primary is
    sent, with a note; remove --expect is sent as expect_last.
"""
from __future__ import annotations

import json
import os
import pty
import select
import signal
import socket
import struct
import subprocess
import threading
import time
import unittest
from typing import Any, Dict, List, Optional, Tuple

import vsetd
from vsetd import vsetd_pb2 as pb

VSET = os.environ.get("VSET_BIN", "")
RUN_TIMEOUT = 25.0        # seconds, for one vset run
PREFIX = "/vsetd.v1.VectorService/"
SP_REP = 0x31


class FakeRouter:
    """A REP server on a loopback port playing one move at a time.

    Every request is recorded in `calls` as (method, request message, time).
    Knobs: `step_delay` (seconds each step takes), `fail` (a list of code
    names answered by the next steps, one per step, instead of working),
    `retry_after` (ms asked after each of the next `retry_after_steps`
    steps).
    """

    def __init__(self, to_move: int = 1000, layout: int = 2) -> None:
        self.to_move = to_move
        self.layout = [f"127.0.0.1:{7000 + i}" for i in range(layout)]
        self.epoch = 1
        self.move = pb.RESHARD_MOVE_NONE
        self.phase = pb.RESHARD_STABLE
        self.shards = list(self.layout)
        self.from_: List[str] = []
        self.copied = self.skipped = self.cleaned = 0
        self.aborting = False
        self.routers: List[Tuple[str, int, int]] = []
        self.step_delay = 0.0
        self.fail: List[str] = []
        self.retry_after = 0
        self.retry_after_steps = 0
        self.calls: List[Tuple[str, Any, float]] = []
        self.lock = threading.Lock()
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.url = f"tcp://127.0.0.1:{self.sock.getsockname()[1]}"
        self.conns: List[socket.socket] = []
        self.closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    # ---------------------------------------------------------------- wire

    def _accept(self) -> None:
        while not self.closed:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    @staticmethod
    def _recv(conn: socket.socket, n: int) -> bytes:
        buf = b""
        while len(buf) < n:
            chunk = conn.recv(n - len(buf))
            if not chunk:
                raise OSError("closed")
            buf += chunk
        return buf

    def _serve(self, conn: socket.socket) -> None:
        try:
            conn.sendall(b"\x00SP\x00" + struct.pack(">HH", SP_REP, 0))
            self._recv(conn, 8)
            while True:
                (n,) = struct.unpack(">Q", self._recv(conn, 8))
                msg = self._recv(conn, n)
                env = pb.RequestEnvelope()
                env.ParseFromString(msg[4:])
                reply = self._handle(env)
                body = msg[:4] + reply.SerializeToString()
                conn.sendall(struct.pack(">Q", len(body)) + body)
        except OSError:
            pass
        finally:
            conn.close()

    def close(self) -> None:
        self.closed = True
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
        for c in self.conns:
            try:
                c.close()
            except OSError:
                pass

    # ---------------------------------------------------------------- the move

    def _handle(self, env: Any) -> Any:
        method = env.method[len(PREFIX):] if env.method.startswith(PREFIX) else env.method
        req_cls = {"ReshardStart": pb.ReshardStartRequest, "ReshardStep": pb.ReshardStepRequest,
                   "ReshardStatus": pb.ReshardStatusRequest,
                   "ReshardAbort": pb.ReshardAbortRequest}.get(method)
        reply = pb.ReplyEnvelope(request_id=env.request_id)
        if req_cls is None:
            reply.status.code = pb.UNIMPLEMENTED
            reply.status.message = f"unknown method {env.method!r}"
            return reply
        req = req_cls()
        req.ParseFromString(env.payload)
        with self.lock:
            self.calls.append((method, req, time.monotonic()))
        if method == "ReshardStep" and self.step_delay > 0:
            time.sleep(self.step_delay)
        with self.lock:
            if method == "ReshardStep" and self.fail:
                code = self.fail.pop(0)
                reply.status.code = pb.Code.Value(code)
                reply.status.message = f"fake: step refused with {code}"
                return reply
            try:
                resp = getattr(self, "_" + method)(req)
            except FakeError as e:
                reply.status.code = pb.Code.Value(e.code)
                reply.status.message = e.message
                return reply
        reply.payload = resp.SerializeToString()
        return reply

    def _answer(self) -> Any:
        r = pb.ReshardResponse(epoch=self.epoch, phase=self.phase, move=self.move,
                               shards=self.shards, done=(self.phase == pb.RESHARD_STABLE and
                                                         self.move == pb.RESHARD_MOVE_NONE))
        getattr(r, "from").extend(self.from_)
        p = r.progress
        p.to_move = self.to_move if self.move != pb.RESHARD_MOVE_NONE else 0
        p.copied, p.skipped, p.cleaned = self.copied, self.skipped, self.cleaned
        return r

    def open_move(self, move: int, target: str = "") -> None:
        self.move, self.phase = move, pb.RESHARD_DUAL
        self.from_ = list(self.layout)
        self.shards = self.layout + [target] if move == pb.RESHARD_ADD else self.layout[:-1]
        self.epoch += 1
        self.copied = self.skipped = self.cleaned = 0
        self.aborting = False

    def _ReshardStart(self, req: Any) -> Any:
        if self.move != pb.RESHARD_MOVE_NONE:
            same = req.move == self.move and (
                req.move != pb.RESHARD_ADD or self.shards[-1] == req.shard)
            if not same or self.aborting:
                raise FakeError("FAILED_PRECONDITION", "another move is open")
            return self._answer()
        if req.move == pb.RESHARD_ADD and req.shard in self.layout:
            raise FakeError("INVALID_ARGUMENT", f"{req.shard} is already shard "
                            f"{self.layout.index(req.shard)}")
        if req.move == pb.RESHARD_REMOVE and req.expect_last and req.expect_last != self.layout[-1]:
            raise FakeError("FAILED_PRECONDITION", f"the last shard is {self.layout[-1]}, "
                            f"not {req.expect_last}")
        self.open_move(req.move, req.shard)
        return self._answer()

    def _ReshardStep(self, req: Any) -> Any:
        batch = req.batch or 32
        if self.move == pb.RESHARD_MOVE_NONE:
            r = self._answer()
            r.done = True
            return r
        if self.aborting:
            self.cleaned = min(self.cleaned + batch, self.copied)
            if self.cleaned >= self.copied:
                self.move = pb.RESHARD_MOVE_NONE
                self.from_ = []
                return self._answer()
            return self._answer()
        if self.phase == pb.RESHARD_DUAL:
            n = min(batch, self.to_move - self.copied - self.skipped)
            skip = n // 10
            self.copied += n - skip
            self.skipped += skip
            if self.copied + self.skipped >= self.to_move:
                self.phase = pb.RESHARD_SWITCHED
                self.epoch += 1
        elif self.phase == pb.RESHARD_SWITCHED:
            self.cleaned = min(self.cleaned + batch, self.to_move)
            if self.cleaned >= self.to_move:
                self.phase = pb.RESHARD_STABLE
                self.epoch += 1
                self.layout = list(self.shards)
                r = self._answer()
                r.done = True
                r.step = "move complete"
                self.move = pb.RESHARD_MOVE_NONE
                self.from_ = []
                return r
        r = self._answer()
        r.step = f"did {batch}"
        if self.retry_after_steps > 0:
            self.retry_after_steps -= 1
            r.retry_after_ms = self.retry_after
        return r

    def _ReshardStatus(self, req: Any) -> Any:
        r = self._answer()
        for rid, epoch, ago in self.routers:
            r.routers.add(id=rid, epoch=epoch, seen_ms_ago=ago)
        return r

    def _ReshardAbort(self, req: Any) -> Any:
        if self.aborting and self.move != pb.RESHARD_MOVE_NONE:
            return self._answer()          # as the mover: already aborted
        if self.phase != pb.RESHARD_DUAL:
            raise FakeError("FAILED_PRECONDITION", "not in DUAL: reads already use "
                            "the new layout; let the move finish")
        self.phase = pb.RESHARD_STABLE
        self.epoch += 1
        # As the mover reports it: the old layout, and the move's `from`.
        self.shards = list(self.layout)
        self.aborting = True
        self.cleaned = 0
        return self._answer()

    def methods(self) -> List[str]:
        with self.lock:
            return [m for m, _, _ in self.calls]

    def steps(self) -> List[Tuple[Any, float]]:
        with self.lock:
            return [(r, t) for m, r, t in self.calls if m == "ReshardStep"]


class FakeError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


class Run:
    def __init__(self, code: Optional[int], out: str, err: str) -> None:
        self.code, self.out, self.err = code, out, err

    def __str__(self) -> str:
        return f"exit {self.code}\nstdout: {self.out[-3000:]}\nstderr: {self.err[-3000:]}"


def vset(url: str, *args: str, timeout: float = RUN_TIMEOUT) -> Run:
    env = dict(os.environ)
    env.pop("VSET_SERVER", None)
    try:
        r = subprocess.run([VSET, "--server", url, "--timeout-ms", "2000"] + list(args),
                           capture_output=True, env=env, timeout=timeout,
                           stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired as e:
        return Run(None, str(e.stdout), "timed out")
    return Run(r.returncode, r.stdout.decode("utf-8", "replace"),
               r.stderr.decode("utf-8", "replace"))


@unittest.skipUnless(VSET and os.access(VSET, os.X_OK), "VSET_BIN not set")
class ReshardDriver(unittest.TestCase):
    def setUp(self) -> None:
        self.fake = FakeRouter()

    def tearDown(self) -> None:
        self.fake.close()

    def test_add_runs_to_done_with_a_line_per_phase(self) -> None:
        r = vset(self.fake.url, "reshard", "add", "127.0.0.1:7009", "--batch", "100")
        self.assertEqual(r.code, 0, r)
        lines = r.out.splitlines()
        self.assertTrue(any(l.startswith("dual: epoch 2,") for l in lines), r)
        self.assertTrue(any(l.startswith("switched: epoch 3, moved 1000 of 1000") for l in lines), r)
        self.assertRegex(lines[-1], r"^done: shard 127\.0\.0\.1:7009 added; 3 shards at "
                         r"epoch 4; moved 1000 \(copied 900, skipped 100\), cleaned 1000 in ")
        # Not a terminal: lines only, no bar.
        self.assertNotIn("\r", r.out)
        # One line per phase, not per step (the run takes well under 5 s).
        self.assertLessEqual(len(lines), 4, r)
        steps = self.fake.steps()
        self.assertEqual(len(steps), 20)  # 10 copying + 10 cleaning
        self.assertTrue(all(req.batch == 100 for req, _ in steps))
        start = [req for m, req, _ in self.fake.calls if m == "ReshardStart"]
        self.assertEqual([(s.move, s.shard, s.expect_last) for s in start],
                         [(pb.RESHARD_ADD, "127.0.0.1:7009", "")])
        self.assertEqual(r.err, "")

    def test_json_is_one_object_with_the_servers_counts(self) -> None:
        r = vset(self.fake.url, "--json", "reshard", "add", "127.0.0.1:7009")
        self.assertEqual(r.code, 0, r)
        self.assertEqual(len(r.out.splitlines()), 1, r)
        o = json.loads(r.out)
        self.assertEqual((o["command"], o["done"], o["resumed"], o["phase"], o["epoch"]),
                         ("add", True, False, "stable", 4))
        self.assertEqual(o["shards"], ["127.0.0.1:7000", "127.0.0.1:7001", "127.0.0.1:7009"])
        self.assertEqual((o["to_move"], o["moved"], o["copied"], o["skipped"], o["cleaned"]),
                         (1000, 1000, self.fake.copied, self.fake.skipped, 1000))
        self.assertEqual(o["copied"] + o["skipped"], o["moved"])
        self.assertGreater(o["elapsed_s"], 0)
        self.assertGreater(o["rate"], 0)
        self.assertNotIn("error", o)
        # The option after the command works the same.
        self.fake.close()
        self.fake = FakeRouter()
        r2 = vset(self.fake.url, "reshard", "remove", "--json")
        self.assertEqual(r2.code, 0, r2)
        self.assertEqual(json.loads(r2.out)["command"], "remove")

    def test_unavailable_steps_are_retried(self) -> None:
        self.fake.fail = ["UNAVAILABLE", "DEADLINE_EXCEEDED"]
        r = vset(self.fake.url, "--json", "reshard", "add", "127.0.0.1:7009", "--batch", "500")
        self.assertEqual(r.code, 0, r)
        self.assertIn("retry 1 of 5", r.err)
        self.assertIn("retry 2 of 5", r.err)
        self.assertIn("UNAVAILABLE: fake: step refused", r.err)
        self.assertTrue(json.loads(r.out)["done"])
        # 2 refused + 2 copying + 2 cleaning.
        self.assertEqual(len(self.fake.steps()), 6)

    def test_gives_up_after_five_retries_with_the_resume_command(self) -> None:
        self.fake.fail = ["UNAVAILABLE"] * 50
        t0 = time.monotonic()
        r = vset(self.fake.url, "reshard", "add", "127.0.0.1:7009,127.0.0.1:7010")
        took = time.monotonic() - t0
        self.assertEqual(r.code, 1, r)
        self.assertEqual(len(self.fake.steps()), 6)      # 1 + 5 retries
        self.assertIn("gave up after 5 retries", r.err)
        self.assertIn("run the same command again:\n  vset reshard add "
                      "127.0.0.1:7009,127.0.0.1:7010", r.err)
        self.assertIn("vset reshard abort", r.err)
        # Backoff 0.25 + 0.5 + 1 + 2 + 4 s between the tries.
        self.assertGreaterEqual(took, 7.0)
        # Only the primary was sent; the note says why.
        start = [req for m, req, _ in self.fake.calls if m == "ReshardStart"]
        self.assertEqual(start[0].shard, "127.0.0.1:7009")
        self.assertIn("stores primaries only", r.out)
        self.assertIn("--shard 127.0.0.1:7009,127.0.0.1:7010", r.out)

    def test_non_retryable_error_stops_at_once(self) -> None:
        self.fake.fail = ["INTERNAL"]
        r = vset(self.fake.url, "reshard", "add", "127.0.0.1:7009")
        self.assertEqual(r.code, 1, r)
        self.assertEqual(len(self.fake.steps()), 1)
        self.assertIn("INTERNAL: fake: step refused with INTERNAL", r.err)

    def test_server_errors_at_start_exit_1(self) -> None:
        r = vset(self.fake.url, "reshard", "add", "127.0.0.1:7001")
        self.assertEqual(r.code, 1, r)
        self.assertIn("INVALID_ARGUMENT: 127.0.0.1:7001 is already shard 1", r.err)
        self.assertEqual(self.fake.steps(), [])
        r = vset(self.fake.url, "reshard", "remove", "--expect", "127.0.0.1:7000")
        self.assertEqual(r.code, 1, r)
        self.assertIn("FAILED_PRECONDITION: the last shard is 127.0.0.1:7001", r.err)
        start = [req for m, req, _ in self.fake.calls if m == "ReshardStart"]
        self.assertEqual((start[-1].move, start[-1].shard, start[-1].expect_last),
                         (pb.RESHARD_REMOVE, "", "127.0.0.1:7000"))

    def test_retry_after_and_rate_slow_the_steps(self) -> None:
        self.fake.retry_after, self.fake.retry_after_steps = 300, 2
        r = vset(self.fake.url, "reshard", "add", "127.0.0.1:7009", "--batch", "500")
        self.assertEqual(r.code, 0, r)
        t = [ts for _, ts in self.fake.steps()]
        self.assertEqual(len(t), 4)
        # The server asked for 300 ms after steps 1 and 2.
        self.assertGreaterEqual(t[1] - t[0], 0.29)
        self.assertGreaterEqual(t[2] - t[1], 0.29)
        # --rate 2000/s with 250-element steps: at least 0.125 s per step.
        self.fake.close()
        self.fake = FakeRouter()
        t0 = time.monotonic()
        r = vset(self.fake.url, "--json", "reshard", "add", "127.0.0.1:7009", "--batch", "250",
                 "--rate", "2000")
        took = time.monotonic() - t0
        self.assertEqual(r.code, 0, r)
        t = [ts for _, ts in self.fake.steps()]
        self.assertEqual(len(t), 8)
        for a, b in zip(t, t[1:]):
            self.assertGreaterEqual(b - a, 0.10)
        # 2000 elements of work (1000 copied, 1000 cleaned) at 2000/s.
        self.assertGreaterEqual(took, 0.85)
        self.assertLessEqual(json.loads(r.out)["rate"], 2000 * 1.05)

    def test_resume_says_so(self) -> None:
        self.fake.open_move(pb.RESHARD_ADD, "127.0.0.1:7009")
        self.fake.copied = 300
        r = vset(self.fake.url, "reshard", "add", "127.0.0.1:7009")
        self.assertEqual(r.code, 0, r)
        self.assertIn("resuming a move begun earlier (phase dual, epoch 2, moved 300 of 1000", r.out)
        self.assertIn("done:", r.out)
        # The same with --json: the note goes to stderr, stdout stays one object.
        self.fake.close()
        self.fake = FakeRouter()
        self.fake.open_move(pb.RESHARD_ADD, "127.0.0.1:7009")
        self.fake.copied = 300
        r = vset(self.fake.url, "--json", "reshard", "add", "127.0.0.1:7009")
        self.assertEqual(r.code, 0, r)
        self.assertIn("resuming a move begun earlier", r.err)
        o = json.loads(r.out)
        self.assertTrue(o["resumed"] and o["done"])
        # Another move open: the server's refusal, exit 1.
        self.fake.open_move(pb.RESHARD_ADD, "127.0.0.1:7009")
        r = vset(self.fake.url, "reshard", "remove")
        self.assertEqual(r.code, 1, r)
        self.assertIn("FAILED_PRECONDITION: another move is open", r.err)

    def test_ctrl_c_stops_after_the_step_and_the_same_command_resumes(self) -> None:
        self.fake.step_delay = 0.4
        env = dict(os.environ)
        env.pop("VSET_SERVER", None)
        p = subprocess.Popen([VSET, "--server", self.fake.url, "reshard", "add",
                              "127.0.0.1:7009", "--batch", "50"], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, env=env)
        try:
            deadline = time.monotonic() + 10
            while len(self.fake.steps()) < 2 and time.monotonic() < deadline:
                time.sleep(0.02)
            time.sleep(0.1)                   # inside the second step
            sent_before = len(self.fake.steps())
            p.send_signal(signal.SIGINT)
            out, err = p.communicate(timeout=10)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
        out_s, err_s = out.decode(), err.decode()
        self.assertEqual(p.returncode, 3, f"{out_s}\n{err_s}")
        self.assertIn("stopped by Ctrl-C after the current step", err_s)
        self.assertIn("run the same command again:\n  vset reshard add 127.0.0.1:7009 --batch 50",
                      err_s)
        self.assertIn("vset reshard abort", err_s)
        # The step in flight finished, and nothing was sent after it.
        self.assertEqual(len(self.fake.steps()), sent_before)
        self.assertEqual(self.fake.copied + self.fake.skipped, 50 * sent_before)
        self.fake.step_delay = 0
        r = vset(self.fake.url, "--json", "reshard", "add", "127.0.0.1:7009", "--batch", "500")
        self.assertEqual(r.code, 0, r)
        o = json.loads(r.out)
        self.assertTrue(o["resumed"] and o["done"])
        self.assertEqual((o["moved"], o["cleaned"]), (1000, 1000))

    def test_abort_in_dual_and_outside_it(self) -> None:
        self.fake.open_move(pb.RESHARD_ADD, "127.0.0.1:7009")
        self.fake.copied = 400
        r = vset(self.fake.url, "reshard", "abort", "--batch", "100")
        self.assertEqual(r.code, 0, r)
        self.assertRegex(r.out, r"aborted: back to 2 shards at epoch 3, copies deleted, in ")
        self.assertEqual([m for m in self.fake.methods() if m != "ReshardStatus"][:1],
                         ["ReshardAbort"])
        self.assertEqual(len(self.fake.steps()), 4)
        # Not in DUAL: the server's message and the rule.
        self.fake.open_move(pb.RESHARD_ADD, "127.0.0.1:7009")
        self.fake.phase = pb.RESHARD_SWITCHED
        r = vset(self.fake.url, "reshard", "abort")
        self.assertEqual(r.code, 1, r)
        self.assertIn("FAILED_PRECONDITION: not in DUAL", r.err)
        self.assertIn("abort is possible only while the move is in phase DUAL", r.err)

    def test_an_abort_stopped_half_way_resumes(self) -> None:
        self.fake.open_move(pb.RESHARD_ADD, "127.0.0.1:7009")
        self.fake.copied = 400
        self.fake._ReshardAbort(pb.ReshardAbortRequest())    # the earlier abort
        r = vset(self.fake.url, "--json", "reshard", "abort")
        self.assertEqual(r.code, 0, r)
        self.assertIn("resuming an abort begun earlier", r.err)
        self.assertEqual(self.fake.methods().count("ReshardAbort"), 1)
        self.assertTrue(json.loads(r.out)["done"])

    def test_status_flags_routers_behind(self) -> None:
        self.fake.open_move(pb.RESHARD_ADD, "127.0.0.1:7009")
        self.fake.copied = 10
        self.fake.routers = [("h/10/tcp://127.0.0.1:5555", 2, 400),
                             ("h/11/tcp://127.0.0.1:5556", 1, 9100)]
        r = vset(self.fake.url, "reshard", "status")
        self.assertEqual(r.code, 0, r)
        self.assertIn("epoch 2  phase dual  move add", r.out)
        self.assertIn("layout (3): 127.0.0.1:7000 127.0.0.1:7001 127.0.0.1:7009", r.out)
        self.assertIn("from   (2): 127.0.0.1:7000 127.0.0.1:7001", r.out)
        self.assertIn("progress: moved 10 of 1000", r.out)
        self.assertRegex(r.out, r"h/10/tcp://127\.0\.0\.1:5555  epoch 2  seen 0\.4 s ago\n")
        self.assertRegex(r.out, r"h/11/tcp://127\.0\.0\.1:5556  epoch 1  seen 9\.1 s ago  BEHIND")
        r = vset(self.fake.url, "reshard", "status", "--json")
        self.assertEqual(r.code, 0, r)
        o = json.loads(r.out)
        self.assertEqual((o["epoch"], o["phase"], o["move"], o["done"]), (2, "dual", "add", False))
        self.assertEqual(o["from"], ["127.0.0.1:7000", "127.0.0.1:7001"])
        self.assertEqual(o["progress"]["moved"], 10)
        self.assertEqual([(x["epoch"], x["behind"]) for x in o["routers"]], [(2, False), (1, True)])
        # Status never moves anything.
        self.assertEqual(self.fake.steps(), [])

    def test_terminal_gets_a_bar_redrawn_in_place(self) -> None:
        self.fake.step_delay = 0.05
        master, slave = pty.openpty()
        env = dict(os.environ)
        env.pop("VSET_SERVER", None)
        p = subprocess.Popen([VSET, "--server", self.fake.url, "reshard", "add",
                              "127.0.0.1:7009", "--batch", "100"], stdout=slave,
                             stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, env=env)
        os.close(slave)
        out = b""
        deadline = time.monotonic() + RUN_TIMEOUT
        try:
            while time.monotonic() < deadline:
                ready, _, _ = select.select([master], [], [], 0.5)
                if ready:
                    try:
                        chunk = os.read(master, 65536)
                    except OSError:          # EIO: the child closed the pty
                        break
                    if not chunk:
                        break
                    out += chunk
                elif p.poll() is not None:
                    break
            p.wait(timeout=10)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
            os.close(master)
        text = out.decode("utf-8", "replace")
        self.assertEqual(p.returncode, 0, text)
        self.assertIn("\r[", text)
        self.assertRegex(text, r"\r\[#+-*\] +\d+% moved \d+/1000 .*dual")
        self.assertRegex(text, r"\r\[-{24}\]   0% cleaned 0/1000 .*switched")
        self.assertRegex(text, r"done: shard 127\.0\.0\.1:7009 added")


class PythonClientCalls(unittest.TestCase):
    """The reshard_* methods send the contract's requests and convert every
    field of the answer."""

    def setUp(self) -> None:
        self.fake = FakeRouter()
        self.client = vsetd.Client(self.fake.url, timeout=2.0)

    def tearDown(self) -> None:
        self.client.close()
        self.fake.close()

    def test_a_whole_move(self) -> None:
        st = self.client.reshard_add("127.0.0.1:7009")
        self.assertEqual((st.move, st.phase, st.epoch), (vsetd.ReshardMove.ADD,
                                                         vsetd.ReshardPhase.DUAL, 2))
        self.assertEqual(st.shards[-1], "127.0.0.1:7009")
        self.assertEqual(st.from_shards, ["127.0.0.1:7000", "127.0.0.1:7001"])
        self.assertFalse(st.done)
        n = 0
        while not st.done:
            st = self.client.reshard_step(batch=300)
            n += 1
        self.assertEqual(n, 8)  # 4 copying, 4 cleaning
        self.assertEqual(st.phase, vsetd.ReshardPhase.STABLE)
        self.assertEqual((st.progress.to_move, st.progress.moved, st.progress.cleaned),
                         (1000, 1000, 1000))
        self.assertEqual(st.progress.copied + st.progress.skipped, st.progress.moved)
        self.assertEqual(st.step, "move complete")
        sent = [(m, r) for m, r, _ in self.fake.calls]
        self.assertEqual(sent[0][1].move, pb.RESHARD_ADD)
        self.assertTrue(all(r.batch == 300 for m, r in sent if m == "ReshardStep"))

    def test_status_routers_and_errors(self) -> None:
        self.fake.routers = [("a/1/x", 1, 10), ("b/2/y", 0, 20000)]
        st = self.client.reshard_status()
        self.assertEqual(st.move, vsetd.ReshardMove.NONE)
        self.assertEqual([r.id for r in st.routers], ["a/1/x", "b/2/y"])
        self.assertEqual([r.id for r in st.routers_behind()], ["b/2/y"])
        self.assertEqual(st.routers[1].seen_ms_ago, 20000)
        with self.assertRaises(vsetd.FailedPrecondition) as cm:
            self.client.reshard_abort()
        self.assertIn("not in DUAL", cm.exception.message)
        st = self.client.reshard_remove(expect_last="127.0.0.1:7001")
        self.assertEqual((st.move, st.shards), (vsetd.ReshardMove.REMOVE, ["127.0.0.1:7000"]))
        req = [r for m, r, _ in self.fake.calls if m == "ReshardStart"][-1]
        self.assertEqual((req.shard, req.expect_last), ("", "127.0.0.1:7001"))
        st = self.client.reshard_abort()
        self.assertEqual(st.phase, vsetd.ReshardPhase.STABLE)
        self.assertTrue(self.client.reshard_step().done)    # nothing was copied
        with self.assertRaises(ValueError):
            self.client.reshard_add("")
        with self.assertRaises(ValueError):
            self.client.reshard_step(batch=-1)


if __name__ == "__main__":
    unittest.main()
