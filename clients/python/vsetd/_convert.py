"""Conversions between Python values and the generated protobuf messages.

Kept apart from client.py so that the client reads as a list of RPCs.
Messages come in typed as `Any`: the generated classes carry no static
types (protoc 3.21 writes no .pyi for them here).
"""
from __future__ import annotations

import json
from typing import Any, Iterable, List, Mapping, Optional, Sequence, Tuple

from .errors import code_name
from .types import (Attributes, CollectionParams, Hit, Item, ItemResult, Outcome,
                    Quantization, RawVector, ReshardMove, ReshardPhase, ReshardProgress,
                    ReshardRouter, ReshardState, SearchResult, ShardError, ShardSummary,
                    WriteResult)

__all__ = ["floats", "unpack_item", "attrs_json", "parse_attrs", "shards",
           "shard_errors", "item_results", "write_result", "search_result",
           "params_to_pb", "params_from_pb", "raw_vector", "reshard_state"]


def floats(v: Sequence[float]) -> List[float]:
    # float() accepts numpy scalars and ints; the server validates the values
    # (finite, dimension), so that the rules live in one place.
    return [float(x) for x in v]


def unpack_item(it: Any) -> Tuple[str, Sequence[float], Attributes]:
    if isinstance(it, Item):
        return it.id, it.vector, it.attributes
    if isinstance(it, tuple) and len(it) in (2, 3):
        return it[0], it[1], (it[2] if len(it) == 3 else None)
    raise TypeError(f"an item is an Item or (id, vector[, attributes]), not {it!r}")


def attrs_json(attrs: Attributes) -> str:
    if attrs is None:
        return ""
    if isinstance(attrs, str):
        return attrs
    if isinstance(attrs, Mapping):
        return json.dumps(dict(attrs), separators=(",", ":"), allow_nan=False)
    raise TypeError(f"attributes must be a dict, a JSON string or None, not {type(attrs).__name__}")


def parse_attrs(text: str, present: bool = True) -> Any:
    """The element's attributes as Python values; None when it has none."""
    if not present or not text:
        return None
    return json.loads(text)


def shards(s: Any) -> ShardSummary:
    return ShardSummary(total=s.total, ok=s.ok, failed=s.failed, timed_out=s.timed_out,
                        from_replica=tuple(s.from_replica))


def shard_errors(errs: Iterable[Any]) -> List[ShardError]:
    return [ShardError(shard=e.shard, code=code_name(e.code), message=e.message) for e in errs]


def item_results(results: Iterable[Any]) -> List[ItemResult]:
    return [ItemResult(id=r.id, outcome=Outcome.from_wire(r.outcome), shard=r.shard,
                       code=code_name(r.code), message=r.message)
            for r in results]


def write_result(resp: Any) -> WriteResult:
    """InsertResponse or DeleteResponse (they share their field names; the
    counts one of them lacks are 0)."""
    def count(name: str) -> int:
        return int(getattr(resp, name, 0))

    return WriteResult(items=item_results(resp.results), added=count("added"),
                       updated=count("updated"), deleted=count("deleted"),
                       not_found=count("not_found"), failed=resp.failed,
                       shards=shards(resp.shards), shard_errors=shard_errors(resp.shard_errors))


def search_result(resp: Any) -> SearchResult:
    return SearchResult(
        results=[Hit(id=h.id, score=h.score, shard=h.shard,
                     attributes=parse_attrs(h.attributes_json, h.has_attributes))
                 for h in resp.results],
        partial=resp.partial, shards=shards(resp.shards),
        shard_errors=shard_errors(resp.shard_errors))


def params_to_pb(p: CollectionParams, msg: Any) -> None:
    msg.dim, msg.quant, msg.m, msg.reduce, msg.build_ef = (
        p.dim, p.quant.value, p.m, p.reduce, p.build_ef)


def params_from_pb(msg: Any) -> CollectionParams:
    return CollectionParams(dim=msg.dim, quant=Quantization.from_wire(msg.quant), m=msg.m,
                            reduce=msg.reduce, build_ef=msg.build_ef)


def raw_vector(msg: Any, present: bool) -> Optional[RawVector]:
    if not present:
        return None
    return RawVector(quantization=msg.quantization, data=bytes(msg.data), norm=msg.norm,
                     range=msg.range)


def reshard_state(resp: Any) -> ReshardState:
    """A ReshardResponse (every Reshard* RPC answers one)."""
    p = resp.progress
    return ReshardState(
        epoch=resp.epoch, phase=ReshardPhase.from_wire(resp.phase),
        move=ReshardMove.from_wire(resp.move), shards=list(resp.shards),
        from_shards=list(getattr(resp, "from")),  # "from" is a Python keyword
        progress=ReshardProgress(to_move=p.to_move, copied=p.copied, skipped=p.skipped,
                                 cleaned=p.cleaned, sources_total=p.sources_total,
                                 sources_copied=p.sources_copied,
                                 sources_cleaned=p.sources_cleaned),
        done=resp.done, step=resp.step,
        routers=[ReshardRouter(id=r.id, epoch=r.epoch, seen_ms_ago=r.seen_ms_ago)
                 for r in resp.routers],
        retry_after_ms=resp.retry_after_ms)
