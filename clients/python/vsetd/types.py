"""Plain result and input types of the Python API.

The client converts protobuf replies into these frozen dataclasses so that
callers never touch generated classes (whose API differs between protobuf
versions).  Code names are strings ("UNAVAILABLE"), write outcomes an enum.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any, Iterator, List, Mapping, Sequence, Union

__all__ = ["Item", "Outcome", "ItemResult", "ShardSummary", "ShardError",
           "WriteResult", "Hit", "SearchResult", "Attributes"]

# A JSON object as a dict (serialized for you) or as an already-encoded string.
Attributes = Union[Mapping[str, Any], str, None]


@dataclass(frozen=True)
class Item:
    """One element to insert.  attributes: stored with the element (Redis
    VADD ... SETATTR); None leaves existing attributes unchanged."""

    id: str
    vector: Sequence[float]
    attributes: Attributes = None


class Outcome(enum.Enum):
    """What happened to one item of an Insert or Delete (vsetd.v1.WriteOutcome)."""

    UNSPECIFIED = 0
    ADDED = 1       # Insert: new element
    UPDATED = 2     # Insert: existing element overwritten
    DELETED = 3     # Delete: removed
    NOT_FOUND = 4   # Delete: there was no such element
    FAILED = 5      # not written: see ItemResult.code / .message

    @classmethod
    def from_wire(cls, number: int) -> "Outcome":
        try:
            return cls(number)
        except ValueError:  # a value a newer server added
            return cls.UNSPECIFIED


@dataclass(frozen=True)
class ItemResult:
    id: str
    outcome: Outcome
    shard: int
    code: str = "OK"        # set when outcome is FAILED
    message: str = ""


@dataclass(frozen=True)
class ShardSummary:
    """How many shards a fanned-out call reached, and how."""

    total: int = 0
    ok: int = 0
    failed: int = 0        # errored, refused, or skipped (circuit breaker)
    timed_out: int = 0     # no answer before the deadline


@dataclass(frozen=True)
class ShardError:
    shard: int             # index in the server's --shard order
    code: str              # UNAVAILABLE, DEADLINE_EXCEEDED or INTERNAL
    message: str


@dataclass(frozen=True)
class WriteResult:
    """The answer to insert() or delete(): one ItemResult per requested item,
    in request order, plus counts.  Counts that do not apply to the call
    (deleted for an insert, added for a delete) are 0."""

    items: List[ItemResult] = field(default_factory=list)
    added: int = 0
    updated: int = 0
    deleted: int = 0
    not_found: int = 0
    failed: int = 0
    shards: ShardSummary = field(default_factory=ShardSummary)
    shard_errors: List[ShardError] = field(default_factory=list)


@dataclass(frozen=True)
class Hit:
    id: str
    score: float           # 1 - cosine_distance/2, in [0, 1]; higher is closer
    shard: int


@dataclass(frozen=True)
class SearchResult:
    """results: best first (score descending, ties by id ascending).
    partial: some shard did not answer; shards/shard_errors say which."""

    results: List[Hit] = field(default_factory=list)
    partial: bool = False
    shards: ShardSummary = field(default_factory=ShardSummary)
    shard_errors: List[ShardError] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.results)

    def __iter__(self) -> Iterator[Hit]:
        return iter(self.results)

    def ids(self) -> List[str]:
        return [h.id for h in self.results]
