#!/usr/bin/python3
"""Drive one online move to its end: ReshardStart, then ReshardStep until
the move is done, through any of the given routers.

Why a separate process: the test kills the driver with kill -9 half-way
and starts another one, which must resume the move (every step is
idempotent and all progress lives in Redis; ReshardStart with the same
move again resumes it).  scripts/bench-reshard uses it too, so the
benchmark measures the same loop as the test.

usage: rs_driver.py --url URL [--url URL...] (--add HOST:PORT | --remove)
                    [--expect-last HOST:PORT] [--batch N] [--rate N]
                    [--max-seconds S] [--call-timeout S]

--batch N   elements per step (0: the server's default)
--rate N    at most N elements per second, counting copied, skipped and
            cleaned elements (0: no throttle); paced as `vset reshard
            --rate` does: a step that did n elements is followed by a
            pause so that it took at least n/N seconds in all
Output: one JSON object per answered call on stdout (flushed), fields
t (s since start), call, epoch, phase, move, to_move, copied, skipped,
cleaned, sources_total, sources_copied, done, step, retry_after_ms; errors as {"t", "call", "error",
"code"}.  Exit 0 when the move is done, 1 on a non-retryable error,
3 when --max-seconds ran out.  PYTHONPATH must reach the vsetd package
with its generated vsetd_pb2 (test_reshard passes its own).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any, List

import vsetd
from vsetd import vsetd_pb2 as pb

START = "/vsetd.v1.VectorService/ReshardStart"
STEP = "/vsetd.v1.VectorService/ReshardStep"
# Codes worth calling again (maybe through another router): a router or a
# shard is down or restarting, or the server asked to wait.
RETRYABLE = {"UNAVAILABLE", "DEADLINE_EXCEEDED", "ABORTED", "RESOURCE_EXHAUSTED"}
RETRY_PAUSE_S = 0.2
EXIT_DONE, EXIT_ERROR, EXIT_TIMEOUT = 0, 1, 3


def emit(obj: dict) -> None:
    sys.stdout.write(json.dumps(obj, sort_keys=True) + "\n")
    sys.stdout.flush()


def summary(t: float, call: str, r: Any) -> dict:
    p = r.progress
    return {"t": round(t, 3), "call": call, "epoch": r.epoch,
            "phase": pb.ReshardPhase.Name(r.phase), "move": pb.ReshardMove.Name(r.move),
            "to_move": p.to_move, "copied": p.copied, "skipped": p.skipped,
            "cleaned": p.cleaned, "sources_total": p.sources_total,
            "sources_copied": p.sources_copied, "done": r.done, "step": r.step,
            "retry_after_ms": r.retry_after_ms}


def worked(r: Any) -> int:
    p = r.progress
    return p.copied + p.skipped + p.cleaned


def main(argv: List[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--url", action="append", required=True)
    g = ap.add_mutually_exclusive_group(required=True)
    g.add_argument("--add", metavar="HOST:PORT")
    g.add_argument("--remove", action="store_true")
    ap.add_argument("--expect-last", default="")
    ap.add_argument("--batch", type=int, default=0)
    ap.add_argument("--rate", type=float, default=0.0)
    ap.add_argument("--max-seconds", type=float, default=120.0)
    ap.add_argument("--call-timeout", type=float, default=5.0)
    a = ap.parse_args(argv)

    if a.add:
        start_req = pb.ReshardStartRequest(move=pb.RESHARD_ADD, shard=a.add)
    else:
        start_req = pb.ReshardStartRequest(move=pb.RESHARD_REMOVE, expect_last=a.expect_last)
    step_req = pb.ReshardStepRequest(batch=a.batch)
    clients = [vsetd.Client(u, timeout=a.call_timeout, connect=False) for u in a.url]
    t0 = time.monotonic()
    deadline = t0 + a.max_seconds
    which = 0
    started = False
    done_before = 0                 # worked() before the step in flight
    while time.monotonic() < deadline:
        c = clients[which]
        call = "step" if started else "start"
        t_call = time.monotonic()
        try:
            r = c.call(STEP if started else START, step_req if started else start_req)
        except vsetd.VsetdError as e:
            emit({"t": round(time.monotonic() - t0, 3), "call": call, "url": c.url,
                  "code": e.code, "error": e.message})
            if e.code not in RETRYABLE:
                return EXIT_ERROR
            which = (which + 1) % len(clients)
            time.sleep(RETRY_PAUSE_S)
            continue
        now = time.monotonic()
        emit(summary(now - t0, call, r))
        if r.done:
            return EXIT_DONE
        pause = r.retry_after_ms / 1000.0
        if a.rate > 0 and started and worked(r) > done_before:
            # As `vset reshard --rate`: a step's elements take at least
            # elements/rate seconds, the step itself included.
            pause = max(pause, (worked(r) - done_before) / a.rate - (now - t_call))
        started = True
        done_before = worked(r)
        if pause > 0:
            time.sleep(min(pause, max(0.0, deadline - time.monotonic())))
    emit({"t": round(time.monotonic() - t0, 3), "call": "timeout",
          "error": f"move not done within {a.max_seconds} s"})
    return EXIT_TIMEOUT


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
