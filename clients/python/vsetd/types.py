"""Plain result and input types of the Python API.

The client converts protobuf replies into these frozen dataclasses so that
callers never touch generated classes (whose API differs between protobuf
versions).  Code names are strings ("UNAVAILABLE"); write outcomes and
quantizations are enums; JSON attributes are parsed (None = no attributes).
"""
from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any, Dict, Iterator, List, Mapping, Optional, Sequence, Tuple, Union

__all__ = ["Item", "Outcome", "ItemResult", "ShardSummary", "ShardError",
           "WriteResult", "Hit", "SearchResult", "Attributes", "Quantization",
           "CollectionParams", "CreateResult", "CollectionInfo", "CollectionList",
           "DropResult", "RawVector", "Element", "CountResult", "ShardInfo",
           "InfoResult", "RandomMembers", "Links", "ReshardMove", "ReshardPhase",
           "ReshardProgress", "ReshardRouter", "ReshardState"]

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


class Quantization(enum.Enum):
    """How a collection stores vectors (vsetd.v1.Quantization).  Fixed when
    the collection is created.  BIN scores are the fraction of agreeing sign
    bits, not a cosine."""

    UNSPECIFIED = 0  # in a request: the server's default (Q8)
    Q8 = 1
    NOQUANT = 2
    BIN = 3

    @classmethod
    def from_wire(cls, number: int) -> "Quantization":
        try:
            return cls(number)
        except ValueError:
            return cls.UNSPECIFIED

    @classmethod
    def parse(cls, q: Union["Quantization", str, None]) -> "Quantization":
        """Accepts the enum, a name ("q8", "NOQUANT", "bin") or None."""
        if q is None:
            return cls.UNSPECIFIED
        if isinstance(q, cls):
            return q
        try:
            return cls[str(q).upper()]
        except KeyError:
            raise ValueError(f"unknown quantization {q!r} (Q8, NOQUANT, BIN)") from None


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
    from_replica: Tuple[int, ...] = ()  # shards answered by a replica (in ok)


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
    # With search(..., with_attributes=True): the parsed JSON attributes
    # (None when the element has none).
    attributes: Any = None


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


# ------------------------------------------------------------ collections

@dataclass(frozen=True)
class CollectionParams:
    """A collection's fixed parameters.  0 means the default (M 16, no
    REDUCE, Redis's build EF 200)."""

    dim: int = 0
    quant: Quantization = Quantization.UNSPECIFIED
    m: int = 0
    reduce: int = 0
    build_ef: int = 0


@dataclass(frozen=True)
class CreateResult:
    params: CollectionParams
    created: bool          # False: it existed already with these parameters
    shards: ShardSummary = field(default_factory=ShardSummary)


@dataclass(frozen=True)
class CollectionInfo:
    collection: str
    params: CollectionParams
    count: int                         # elements over all shards
    shard_counts: List[int]            # per shard, in --shard order
    shards: ShardSummary = field(default_factory=ShardSummary)
    has_metadata: bool = True          # False: params were read from VINFO


@dataclass(frozen=True)
class CollectionList:
    collections: List[str]             # sorted bytewise
    partial: bool = False
    shards: ShardSummary = field(default_factory=ShardSummary)


@dataclass(frozen=True)
class DropResult:
    keys_deleted: int
    shards: ShardSummary = field(default_factory=ShardSummary)


# ------------------------------------------------------------ reads

@dataclass(frozen=True)
class RawVector:
    """VEMB RAW: the stored representation."""

    quantization: str      # "int8", "f32", "bin"
    data: bytes
    norm: float
    range: float           # Q8 only


@dataclass(frozen=True)
class Element:
    """One stored element (get()).  vector is as Redis returns it
    (dequantized, denormalized), so it approximates what was inserted."""

    id: str
    vector: List[float]
    attributes: Any        # parsed JSON, None when it has none
    shard: int
    raw: Optional[RawVector] = None


@dataclass(frozen=True)
class CountResult:
    count: int
    shard_counts: List[int]
    partial: bool = False
    shards: ShardSummary = field(default_factory=ShardSummary)


@dataclass(frozen=True)
class ShardInfo:
    shard: int
    exists: bool
    fields: Dict[str, str]             # VINFO, as Redis names the fields


@dataclass(frozen=True)
class InfoResult:
    shard_info: List[ShardInfo]
    size: int                          # sum of "size"
    attributes_count: int              # sum of "attributes-count"
    partial: bool = False
    shards: ShardSummary = field(default_factory=ShardSummary)


@dataclass(frozen=True)
class RandomMembers:
    ids: List[str]
    partial: bool = False
    shards: ShardSummary = field(default_factory=ShardSummary)


@dataclass(frozen=True)
class Links:
    """An element's HNSW neighbours: levels[0] is level 0, each a list of
    (id, score)."""

    levels: List[List[Tuple[str, float]]]
    shard: int


# ------------------------------------------------------------ resharding

class ReshardMove(enum.Enum):
    """Which online move is open (vsetd.v1.ReshardMove).  Jump hash can only
    add or remove a shard at the end of the layout."""

    NONE = 0        # no move open
    ADD = 1         # append one shard
    REMOVE = 2      # drain the last shard into the others, drop it

    @classmethod
    def from_wire(cls, number: int) -> "ReshardMove":
        try:
            return cls(number)
        except ValueError:  # a value a newer server added
            return cls.NONE


class ReshardPhase(enum.Enum):
    """The topology record's phase (vsetd.v1.ReshardPhase)."""

    STABLE = 0
    DUAL = 1        # writes go to the old and the new owner; reads use the old layout
    SWITCHED = 2    # writes go to the new owner; reads use both layouts

    @classmethod
    def from_wire(cls, number: int) -> "ReshardPhase":
        try:
            return cls(number)
        except ValueError:
            return cls.STABLE


@dataclass(frozen=True)
class ReshardProgress:
    """Counts of one move, summed over collections and source shards.
    to_move grows while the sources are being listed."""

    to_move: int = 0        # ids found that change owner
    copied: int = 0         # copied to their new owner by the mover
    skipped: int = 0        # already there (written by a router in DUAL) or deleted
    cleaned: int = 0        # old copies deleted in SWITCHED (or copies, after an abort)
    sources_total: int = 0  # (collection, source shard) pairs
    sources_copied: int = 0
    sources_cleaned: int = 0

    @property
    def moved(self) -> int:
        """copied + skipped: the ids that are where they belong."""
        return self.copied + self.skipped


@dataclass(frozen=True)
class ReshardRouter:
    """A router serving the deployment, from its heartbeat."""

    id: str                 # "host/pid/listen address"
    epoch: int              # the topology epoch it routes by
    seen_ms_ago: int        # since its last heartbeat


@dataclass(frozen=True)
class ReshardState:
    """What every reshard_* call answers.  done: the move is complete (or,
    after an abort, cleaned up): stop stepping.  retry_after_ms: wait that
    long before the next step."""

    epoch: int
    phase: ReshardPhase
    move: ReshardMove
    shards: List[str]                  # the layout (the new one during a move)
    from_shards: List[str]             # the layout before the move, if any
    progress: ReshardProgress
    done: bool = False
    step: str = ""                     # what this step did, for logs
    routers: List[ReshardRouter] = field(default_factory=list)  # reshard_status only
    retry_after_ms: int = 0

    def routers_behind(self) -> List[ReshardRouter]:
        """Live routers still routing by an older epoch than the record's."""
        return [r for r in self.routers if r.epoch < self.epoch]
