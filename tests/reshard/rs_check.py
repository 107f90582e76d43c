"""After a move: what the shards hold, read straight from Redis.

Why from Redis and not through vsetd: a router that routes wrongly would
agree with itself.  The checker lists every shard's key of each
collection (VCARD, then VRANDMEMBER key N with N = VCARD: every element
once), computes each id's owner with rs_hash (the router's function,
ported), and reads each element's vector (VEMB) and attributes
(VGETATTR) on the shard that holds it.  It counts:

  misplaced      elements on a shard that does not own them (a shard
                 outside the layout owns nothing)
  duplicated     ids held by more than one shard
  lost_writes    ids whose state is not one the ledger allows although
                 it exists or its last acknowledged write created it
                 (missing after an acknowledged insert, an older vector or
                 older attributes than the last acknowledged write)
  resurrected    ids present though every state the ledger allows is
                 "absent" (an acknowledged delete came last)
  stable_lost    stable elements (never touched by the load) missing or
                 changed
  strays         elements nobody inserted
  mover_keys     keys matching vsetd:@mv* left on any shard
  topology       shards of the layout whose vsetd:@topology record is not
                 stable at the expected shard list, or differs between
                 shards
Everything is bounded: one connection per shard with a socket timeout,
pipelines of PIPE elements.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

import redis

import rs_hash
from rs_load import IdLedger, State

KEY_PREFIX = "vsetd:"
TOPOLOGY_KEY = "vsetd:@topology"
MOVER_PATTERN = "vsetd:@mv*"
PIPE = 500
# Cosine between a stored (quantized) vector and the one sent, above which
# they are the same write; two different random vectors of the test's
# dimension are far below it.
SAME_VECTOR_COS = 0.99
SCAN_COUNT = 1000


@dataclass
class Report:
    elements: int = 0
    misplaced: int = 0
    duplicated: int = 0
    lost_writes: int = 0
    resurrected: int = 0
    stable_lost: int = 0
    strays: int = 0
    mover_keys: int = 0
    topology: int = 0
    examples: List[str] = field(default_factory=list)

    def note(self, what: str) -> None:
        if len(self.examples) < 30:
            self.examples.append(what)

    def bad(self) -> int:
        return (self.misplaced + self.duplicated + self.lost_writes + self.resurrected
                + self.stable_lost + self.strays + self.mover_keys + self.topology)

    def line(self) -> str:
        return (f"elements={self.elements} misplaced={self.misplaced} "
                f"duplicated={self.duplicated} lost_writes={self.lost_writes} "
                f"resurrected={self.resurrected} stable_lost={self.stable_lost} "
                f"strays={self.strays} mover_keys={self.mover_keys} topology={self.topology}")


def cosine(a: Sequence[float], b: Sequence[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b))
    na = math.sqrt(sum(x * x for x in a))
    nb = math.sqrt(sum(y * y for y in b))
    return dot / (na * nb) if na > 0 and nb > 0 else 0.0


def list_key(r: redis.Redis, key: str) -> List[str]:
    """Every element of one vector set (empty when the key is missing)."""
    n = int(r.execute_command("VCARD", key) or 0)
    if n == 0:
        return []
    ids = r.execute_command("VRANDMEMBER", key, n)
    out = [i.decode() for i in ids]
    if len(set(out)) != n:
        raise AssertionError(f"VRANDMEMBER {key} {n} returned {len(set(out))} distinct ids")
    return out


def read_elements(r: redis.Redis, key: str, ids: List[str]
                  ) -> Dict[str, Tuple[List[float], Optional[str]]]:
    """id -> (VEMB vector, VGETATTR string or None), pipelined."""
    out: Dict[str, Tuple[List[float], Optional[str]]] = {}
    for i in range(0, len(ids), PIPE):
        chunk = ids[i:i + PIPE]
        p = r.pipeline(transaction=False)
        for e in chunk:
            p.execute_command("VEMB", key, e)
            p.execute_command("VGETATTR", key, e)
        replies = p.execute()
        for j, e in enumerate(chunk):
            vec, attr = replies[2 * j], replies[2 * j + 1]
            out[e] = ([float(x) for x in vec] if vec else [],
                      attr.decode() if attr is not None else None)
    return out


def mover_keys(r: redis.Redis) -> List[str]:
    return [k.decode() for k in r.scan_iter(match=MOVER_PATTERN, count=SCAN_COUNT)]


def actual_state(led: IdLedger, vec: List[float], attr: Optional[str]) -> Optional[State]:
    """The (vector version, attribute version) Redis holds; None when it
    matches no write the ledger knows."""
    best, best_cos = None, SAME_VECTOR_COS
    for ver, sent in led.vectors.items():
        c = cosine(vec, sent)
        if c > best_cos:
            best, best_cos = ver, c
    if best is None or attr is None:
        return None
    try:
        a = json.loads(attr)["a"]
    except (ValueError, KeyError, TypeError):
        return None
    return (best, int(a))


def check(conns: Sequence[redis.Redis], nlayout: int, layout: Sequence[str],
          coll: str, ledgers: Dict[str, IdLedger], stable: Dict[str, List[float]],
          other_colls: Iterable[str] = (), expect_record: bool = True,
          restarted: Iterable[int] = ()) -> Report:
    """conns: one connection per shard the rig has (layout first, spares
    after); the deployment's layout is conns[0..nlayout), whose
    addresses are `layout`.  coll holds the ledger's and the stable ids;
    other_colls are checked for placement and duplicates only.
    expect_record: the layout's shards must hold a stable topology record
    of `layout` (after a move); else they may also hold none at all.
    restarted: shards that were killed and restarted from their AOF; a
    lost write there that left an OLDER acknowledged vector in place is
    annotated: Redis 8.0.2 logs no VADD that updates an existing element
    (not in the AOF, not sent to replicas), so a restart loses it."""
    restarted = set(restarted)
    rep = Report()
    # Topology record: stable, this layout, the same on every shard.
    # No record anywhere is fine only for a deployment that never moved.
    seen = set()
    for i in range(nlayout):
        rec = {k.decode(): v.decode() for k, v in conns[i].hgetall(TOPOLOGY_KEY).items()}
        seen.add(json.dumps(rec, sort_keys=True))
        if not rec and not expect_record:
            continue
        if rec.get("phase") != "stable" or rec.get("shards") != ",".join(layout):
            rep.topology += 1
            rep.note(f"shard {i}: topology record {rec}")
    if len(seen) > 1:
        rep.topology += 1
        rep.note(f"the layout's shards hold {len(seen)} different topology records")
    for i, r in enumerate(conns):
        for k in mover_keys(r):
            rep.mover_keys += 1
            rep.note(f"shard {i}: mover key {k} left")

    for name in [coll, *other_colls]:
        key = KEY_PREFIX + name
        where: Dict[str, List[int]] = {}
        held: Dict[int, List[str]] = {}
        for i, r in enumerate(conns):
            held[i] = list_key(r, key)
            for e in held[i]:
                where.setdefault(e, []).append(i)
                owner = rs_hash.shard_of(e, nlayout)
                if owner != i:
                    rep.misplaced += 1
                    rep.note(f"{name}/{e} on shard {i}, owner {owner}")
        for e, shards in where.items():
            if len(shards) > 1:
                rep.duplicated += 1
                rep.note(f"{name}/{e} on shards {shards}")
        if name != coll:
            rep.elements += len(where)
            continue
        rep.elements += len(where)
        # Contents: read each element on its owner (or where it is, when
        # misplaced: it is counted above already).
        content: Dict[str, Tuple[List[float], Optional[str]]] = {}
        for i, r in enumerate(conns):
            mine = [e for e in held[i] if where[e][0] == i]
            content.update(read_elements(r, key, mine))
        for e in where:
            if e not in ledgers and e not in stable:
                rep.strays += 1
                rep.note(f"{name}/{e}: nobody inserted it")
        for e, vec in stable.items():
            got = content.get(e)
            if got is None or cosine(got[0], vec) <= SAME_VECTOR_COS:
                rep.stable_lost += 1
                rep.note(f"stable {e}: {'missing' if got is None else 'changed'}")
        for e, led in ledgers.items():
            got = content.get(e)
            owner = rs_hash.shard_of(e, nlayout)
            if got is None:
                if None not in led.states:
                    rep.lost_writes += 1
                    rep.note(f"{e} (owner {owner}): missing, expected one of "
                             f"{sorted(led.states)}")
                continue
            st = actual_state(led, *got)
            if st in led.states:
                continue
            if led.states == frozenset([None]):
                rep.resurrected += 1
                rep.note(f"{e} (owner {owner}): present as {st} after an acknowledged delete")
            else:
                rep.lost_writes += 1
                why = ""
                if (owner in restarted and st is not None
                        and all(x is None or x[0] > st[0] for x in led.states)):
                    why = (" [older vector on a restarted shard: an update (VADD of an "
                           "existing id) Redis 8.0.2 did not write to its AOF]")
                rep.note(f"{e} (owner {owner}): holds {st}, expected one of "
                         f"{sorted(led.states, key=lambda s: (s is not None, s))}{why}")
    return rep


def corrupt_place(src: redis.Redis, dst: redis.Redis, key: str, element_id: str,
                  keep: bool) -> None:
    """Test aid: copy an element (vector, attributes) from src to dst,
    removing it from src unless keep (then it is stored twice).  Uses the
    plain VEMB floats: exactness does not matter to the placement checks."""
    vec = [float(x) for x in src.execute_command("VEMB", key, element_id)]
    attr = src.execute_command("VGETATTR", key, element_id)
    q = quant_of(src, key)
    args: List = ["VADD", key, "VALUES", len(vec), *vec, element_id, q]
    if attr is not None:
        args += ["SETATTR", attr]
    dst.execute_command(*args)
    if not keep:
        src.execute_command("VREM", key, element_id)


def quant_of(r: redis.Redis, key: str) -> str:
    info = r.execute_command("VINFO", key)
    d = {info[i].decode(): info[i + 1] for i in range(0, len(info), 2)}
    q = d["quant-type"].decode()
    return {"int8": "Q8", "f32": "NOQUANT", "bin": "BIN"}[q]
