"""Client: the Pythonic face of vsetd's VectorService.

Layers, bottom up:
- _transport.SPReqConnection moves bytes (one SP request, one reply).
- Client.call_raw / Client.call wrap a request in a RequestEnvelope, unwrap
  the ReplyEnvelope, and turn a non-OK status into a VsetdError.  They work
  for every method in the proto, including ones added later.
- insert / delete / search convert between Python values and messages.
  Adding a typed method is a few lines: build the request, call(), convert
  the response.

Deadlines: `timeout` (seconds; per client, overridable per call) is sent to
the server as RequestEnvelope.deadline_ms, so the server stops waiting for
its shards in time to answer.  The client itself waits `timeout + grace` for
that answer, so a server honouring the deadline always gets its
DEADLINE_EXCEEDED (or partial) reply through instead of the client giving
up first.

Retries: none.  A request is sent exactly once (no nng-style resend).
Insert and Delete are safe to repeat after an error; see docs/protocol.md.
"""
from __future__ import annotations

import itertools
import json
import math
import threading
from typing import Iterable, Mapping, Optional, Sequence, Tuple, TypeVar, Union

from ._proto import METHODS, Message, Method, pb
from ._transport import SPReqConnection, TransportError
from .errors import DeadlineExceeded, Internal, Unavailable, code_name, error_for
from .types import (Attributes, Hit, Item, ItemResult, Outcome, SearchResult,
                    ShardError, ShardSummary, WriteResult)

__all__ = ["Client", "DEFAULT_URL", "ItemLike"]

DEFAULT_URL = "tcp://127.0.0.1:5555"

# What insert() accepts per item: an Item, (id, vector) or (id, vector, attrs).
ItemLike = Union[Item, Tuple[str, Sequence[float]], Tuple[str, Sequence[float], Attributes]]

M = TypeVar("M", bound=Message)


class Client:
    """A connection to one vsetd.

    >>> with Client("tcp://127.0.0.1:5555", timeout=2.0) as c:
    ...     c.insert("docs", [("a", [0.1, 0.2, 0.3])])
    ...     c.search("docs", [0.1, 0.2, 0.3], k=5)

    url      -- nng URL: tcp://HOST:PORT, tcp://[::1]:PORT or ipc:///PATH
    timeout  -- seconds; bounds connecting and is every call's deadline
    grace    -- extra seconds to wait for the server's own deadline answer
    connect  -- connect now (raising Unavailable if the server is not
                there) rather than on the first call

    One request is in flight at a time: threads may share a Client, but their
    calls run one after the other; use one Client per thread for parallel
    calls.  A connection that fails is replaced on the next call.
    """

    def __init__(self, url: str = DEFAULT_URL, timeout: float = 5.0, *,
                 grace: float = 0.5, max_reply_bytes: int = 64 << 20,
                 connect: bool = True) -> None:
        _check_timeout(timeout)
        if grace < 0:
            raise ValueError("grace must be >= 0")
        self.url = url
        self.timeout = timeout
        self.grace = grace
        self._conn = SPReqConnection(url, max_reply_bytes)
        self._ids = itertools.count(1)
        self._ids_lock = threading.Lock()
        if connect:
            try:
                self._conn.connect(timeout)
            except TransportError as e:
                raise Unavailable(e.message) from None

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Client({self.url!r}, timeout={self.timeout})"

    # ------------------------------------------------------------ generic calls

    def call_raw(self, method: str, payload: bytes, *,
                 timeout: Optional[float] = None) -> bytes:
        """Send a serialized request to method ("Search" or the full
        "/vsetd.v1.VectorService/Search") and return the serialized response.
        Raises VsetdError on any status but OK."""
        code, message, reply = self._exchange(_method_path(method), payload, timeout)
        if code != "OK":
            raise error_for(code, message)
        return reply

    def call(self, method: str, request: M, *, timeout: Optional[float] = None) -> Message:
        """Call any method of the service with its request message and return
        its response message (the classes of vsetd.vsetd_pb2)."""
        m = _method(method)
        if not isinstance(request, m.request_type):
            raise TypeError(f"{m.name} takes a {m.request_type.__name__}, not {type(request).__name__}")
        code, message, reply = self._exchange(m.path, request.SerializeToString(), timeout)
        if code != "OK":
            raise error_for(code, message)
        return _parse(m.response_type, reply)

    # ------------------------------------------------------------ typed calls

    def insert(self, collection: str, items: Iterable[ItemLike], *,
               timeout: Optional[float] = None) -> WriteResult:
        """Insert (or overwrite) items.  Raises VsetdError on failure; when
        some items were not written (Unavailable, DeadlineExceeded, or a
        shard's per-item error), err.result is the WriteResult telling
        which were (None if the server sent no per-item answer)."""
        req = pb.InsertRequest(collection=collection)
        for it in items:
            item_id, vector, attrs = _unpack_item(it)
            req.items.add(id=item_id, vector=_floats(vector), attributes_json=_attrs_json(attrs))
        resp = self._write_call("Insert", req, timeout)
        return WriteResult(items=_item_results(resp.results), added=resp.added,
                           updated=resp.updated, failed=resp.failed,
                           shards=_shards(resp.shards),
                           shard_errors=_shard_errors(resp.shard_errors))

    def delete(self, collection: str, ids: Iterable[str], *,
               timeout: Optional[float] = None) -> WriteResult:
        """Delete elements by id.  Missing ids are reported as
        Outcome.NOT_FOUND, not as an error."""
        if isinstance(ids, str):  # one id, not an iterable of characters
            ids = [ids]
        req = pb.DeleteRequest(collection=collection, ids=list(ids))
        resp = self._write_call("Delete", req, timeout)
        return WriteResult(items=_item_results(resp.results), deleted=resp.deleted,
                           not_found=resp.not_found, failed=resp.failed,
                           shards=_shards(resp.shards),
                           shard_errors=_shard_errors(resp.shard_errors))

    def search(self, collection: str, vector: Sequence[float], k: int = 10,
               ef: int = 0, require_all: bool = False, *,
               timeout: Optional[float] = None) -> SearchResult:
        """The k elements closest to vector (cosine), best first.

        ef: HNSW exploration factor, 0 = Redis's default.  require_all:
        raise Unavailable / DeadlineExceeded unless every shard answered;
        otherwise a missing shard gives a result with partial=True."""
        if k < 0 or ef < 0:
            raise ValueError("k and ef must be >= 0")
        req = pb.SearchRequest(collection=collection, vector=_floats(vector), k=k,
                               ef=ef, require_all_shards=require_all)
        resp = self.call("Search", req, timeout=timeout)
        assert isinstance(resp, pb.SearchResponse)
        return SearchResult(
            results=[Hit(id=h.id, score=h.score, shard=h.shard) for h in resp.results],
            partial=resp.partial, shards=_shards(resp.shards),
            shard_errors=_shard_errors(resp.shard_errors))

    # ------------------------------------------------------------ internals

    def _write_call(self, method: str, req: Message, timeout: Optional[float]) -> Message:
        m = _method(method)
        code, message, reply = self._exchange(m.path, req.SerializeToString(), timeout)
        if code == "OK":
            return _parse(m.response_type, reply)
        result = None
        # The server sends per-item results with UNAVAILABLE and
        # DEADLINE_EXCEEDED (and with any code a shard gave some items):
        # whenever they are there, hand them to the caller.
        if reply:
            resp = _parse(m.response_type, reply)
            result = WriteResult(
                items=_item_results(resp.results),  # type: ignore[attr-defined]
                added=getattr(resp, "added", 0), updated=getattr(resp, "updated", 0),
                deleted=getattr(resp, "deleted", 0), not_found=getattr(resp, "not_found", 0),
                failed=resp.failed, shards=_shards(resp.shards),  # type: ignore[attr-defined]
                shard_errors=_shard_errors(resp.shard_errors))  # type: ignore[attr-defined]
        raise error_for(code, message, result)

    def _exchange(self, path: str, payload: bytes,
                  timeout: Optional[float]) -> Tuple[str, str, bytes]:
        """One round trip: returns (code name, message, reply payload)."""
        t = self.timeout if timeout is None else timeout
        _check_timeout(t)
        with self._ids_lock:
            request_id = next(self._ids)
        env = pb.RequestEnvelope(method=path, payload=payload,
                                 deadline_ms=min(max(1, int(round(t * 1000))), 0xFFFFFFFF),
                                 request_id=request_id)
        try:
            raw = self._conn.request(env.SerializeToString(), t + self.grace)
        except TransportError as e:
            if e.kind == "deadline":
                raise DeadlineExceeded(f"{self.url}: no reply within {t + self.grace:.3g} s") from None
            raise Unavailable(e.message) from None
        reply = _parse(pb.ReplyEnvelope, raw)
        assert isinstance(reply, pb.ReplyEnvelope)
        # 0: the server could not read our envelope, so it could not echo.
        if reply.request_id not in (0, request_id):
            raise Internal(f"reply carries request id {reply.request_id}, sent {request_id}")
        if not reply.HasField("status"):
            return "OK", "", reply.payload
        return code_name(reply.status.code), reply.status.message, reply.payload


def _method(name: str) -> Method:
    short = name.rsplit("/", 1)[-1]
    m = METHODS.get(short)
    if m is None or (name.startswith("/") and name != m.path):
        raise ValueError(f"no method {name!r} in the proto (have {', '.join(sorted(METHODS))})")
    return m


def _method_path(name: str) -> str:
    # Full paths pass through untouched so that call_raw can reach methods
    # this copy of the proto does not know (the server answers UNIMPLEMENTED
    # if it does not know them either).
    if name.startswith("/"):
        return name
    return _method(name).path


def _parse(cls: type, data: bytes) -> Message:
    msg = cls()
    try:
        msg.ParseFromString(data)
    except Exception as e:  # DecodeError, or RuntimeWarning-ish C++ errors
        raise Internal(f"malformed {cls.__name__} from server: {e}") from None
    return msg  # type: ignore[no-any-return]


def _check_timeout(t: float) -> None:
    if not (isinstance(t, (int, float)) and t > 0 and math.isfinite(t)):
        raise ValueError(f"timeout must be a positive number of seconds, not {t!r}")


def _floats(v: Sequence[float]) -> list:
    # float() accepts numpy scalars and ints; the server validates the values
    # (finite, dimension), so that the rules live in one place.
    return [float(x) for x in v]


def _unpack_item(it: ItemLike) -> Tuple[str, Sequence[float], Attributes]:
    if isinstance(it, Item):
        return it.id, it.vector, it.attributes
    if isinstance(it, tuple) and len(it) in (2, 3):
        return it[0], it[1], (it[2] if len(it) == 3 else None)  # type: ignore[misc]
    raise TypeError(f"an item is an Item or (id, vector[, attributes]), not {it!r}")


def _attrs_json(attrs: Attributes) -> str:
    if attrs is None:
        return ""
    if isinstance(attrs, str):
        return attrs
    if isinstance(attrs, Mapping):
        return json.dumps(dict(attrs), separators=(",", ":"), allow_nan=False)
    raise TypeError(f"attributes must be a dict, a JSON string or None, not {type(attrs).__name__}")


def _shards(s: Message) -> ShardSummary:
    return ShardSummary(total=s.total, ok=s.ok, failed=s.failed,  # type: ignore[attr-defined]
                        timed_out=s.timed_out)  # type: ignore[attr-defined]


def _shard_errors(errs: Iterable[Message]) -> list:
    return [ShardError(shard=e.shard, code=code_name(e.code), message=e.message)  # type: ignore[attr-defined]
            for e in errs]


def _item_results(results: Iterable[Message]) -> list:
    return [ItemResult(id=r.id, outcome=Outcome.from_wire(r.outcome), shard=r.shard,  # type: ignore[attr-defined]
                       code=code_name(r.code), message=r.message)  # type: ignore[attr-defined]
            for r in results]
