"""vsetd: Python client for the vsetd vector-search router.

    from vsetd import Client
    with Client("tcp://127.0.0.1:5555", timeout=2.0) as c:
        c.insert("docs", [("a", [0.1, 0.2, 0.3], {"lang": "en"})])
        for hit in c.search("docs", [0.1, 0.2, 0.3], k=5):
            print(hit.id, hit.score)

Pure Python: the nng REQ/REP wire protocol is spoken directly over TCP or
IPC sockets (see docs/protocol.md); the only dependency is protobuf.
"""
from .client import DEFAULT_URL, Client, ItemLike
from .errors import (Aborted, AlreadyExists, Cancelled, DataLoss,
                     DeadlineExceeded, FailedPrecondition, Internal,
                     InvalidArgument, NotFound, OutOfRange, PermissionDenied,
                     ResourceExhausted, Unauthenticated, Unavailable,
                     Unimplemented, Unknown, VsetdError)
from .types import (CollectionInfo, CollectionList, CollectionParams, CountResult,
                    CreateResult, DropResult, Element, Hit, InfoResult, Item, ItemResult,
                    Links, Outcome, Quantization, RandomMembers, RawVector, ReshardMove,
                    ReshardPhase, ReshardProgress, ReshardRouter, ReshardState, SearchResult,
                    ShardError, ShardInfo, ShardSummary, WriteResult)

__version__ = "0.1.0"

__all__ = [
    "Client", "DEFAULT_URL", "ItemLike",
    "Item", "ItemResult", "Outcome", "WriteResult",
    "Hit", "SearchResult", "ShardSummary", "ShardError",
    "Quantization", "CollectionParams", "CreateResult", "CollectionInfo",
    "CollectionList", "DropResult", "CountResult", "InfoResult", "ShardInfo",
    "Element", "RawVector", "RandomMembers", "Links",
    "ReshardMove", "ReshardPhase", "ReshardProgress", "ReshardRouter", "ReshardState",
    "VsetdError", "Cancelled", "Unknown", "InvalidArgument", "DeadlineExceeded",
    "NotFound", "AlreadyExists", "PermissionDenied", "ResourceExhausted",
    "FailedPrecondition", "Aborted", "OutOfRange", "Unimplemented", "Internal",
    "Unavailable", "DataLoss", "Unauthenticated",
]
