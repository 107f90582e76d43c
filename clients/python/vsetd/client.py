"""Client: the Pythonic face of vsetd's VectorService.

Layers, bottom up:
- _transport.SPReqConnection moves bytes (one SP request, one reply).
- Client.call_raw / Client.call wrap a request in a RequestEnvelope, unwrap
  the ReplyEnvelope, and turn a non-OK status into a VsetdError.  They work
  for every method in the proto, including ones added later.
- One typed method per RPC converts between Python values and messages
  (_convert.py).  Adding one is a few lines: build the request, call(),
  convert the response.

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
import math
import ssl
import threading
from typing import Any, Iterable, List, Optional, Sequence, Tuple, TypeVar, Union

from . import _convert as cv
from ._proto import METHODS, Message, Method, pb
from ._transport import SPReqConnection, TransportError
from .errors import DeadlineExceeded, Internal, Unavailable, code_name, error_for
from .types import (Attributes, CollectionInfo, CollectionList, CollectionParams,
                    CountResult, CreateResult, DropResult, Element, InfoResult, Item,
                    Links, Quantization, RandomMembers, ReshardMove, ReshardState,
                    SearchResult, ShardInfo, WriteResult)

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

    url      -- nng URL: tcp://HOST:PORT, tcp://[::1]:PORT, ipc:///PATH or
                tls+tcp://HOST:PORT
    timeout  -- seconds; bounds connecting and is every call's deadline
    grace    -- extra seconds to wait for the server's own deadline answer
    connect  -- connect now (raising Unavailable if the server is not
                there) rather than on the first call
    tls_ca_file, tls_cert_file, tls_key_file, tls_server_name -- for
                tls+tcp://: the CA (PEM) that verifies the server (default:
                the system's CAs), a client certificate and key if the
                server asks for one, the name to verify (default: the
                URL's host).  Or pass a ready ssl_context.

    One request is in flight at a time: threads may share a Client, but their
    calls run one after the other; use one Client per thread for parallel
    calls.  A connection that fails is replaced on the next call.
    """

    def __init__(self, url: str = DEFAULT_URL, timeout: float = 5.0, *,
                 grace: float = 0.5, max_reply_bytes: int = 64 << 20,
                 connect: bool = True, tls_ca_file: Optional[str] = None,
                 tls_cert_file: Optional[str] = None, tls_key_file: Optional[str] = None,
                 tls_server_name: Optional[str] = None,
                 ssl_context: Optional[ssl.SSLContext] = None) -> None:
        _check_timeout(timeout)
        if grace < 0:
            raise ValueError("grace must be >= 0")
        self.url = url
        self.timeout = timeout
        self.grace = grace
        if ssl_context is None and url.startswith("tls+tcp://"):
            ssl_context = ssl.create_default_context(cafile=tls_ca_file)
            if tls_cert_file:
                ssl_context.load_cert_chain(tls_cert_file, tls_key_file)
        self._conn = SPReqConnection(url, max_reply_bytes, ssl_context, tls_server_name)
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

    def call(self, method: str, request: M, *, timeout: Optional[float] = None) -> Any:
        """Call any method of the service with its request message and return
        its response message (the classes of vsetd.vsetd_pb2)."""
        m = _method(method)
        if not isinstance(request, m.request_type):
            raise TypeError(f"{m.name} takes a {m.request_type.__name__}, not {type(request).__name__}")
        code, message, reply = self._exchange(m.path, request.SerializeToString(), timeout)
        if code != "OK":
            raise error_for(code, message)
        return _parse(m.response_type, reply)

    # ------------------------------------------------------------ writes

    def insert(self, collection: str, items: Iterable[ItemLike], *, no_create: bool = False,
               cas: bool = False, ef: int = 0, timeout: Optional[float] = None) -> WriteResult:
        """Insert (or overwrite) items.  A missing collection is created with
        the first item's dimension unless no_create (then NotFound).  cas:
        VADD CAS (neighbour search off Redis's main thread); ef: build EF.

        Raises VsetdError on failure; when some items were not written
        (Unavailable, DeadlineExceeded, or a shard's per-item error),
        err.result is the WriteResult telling which were (None if the server
        sent no per-item answer)."""
        req = pb.InsertRequest(collection=collection, no_create=no_create, cas=cas, ef=ef)
        for it in items:
            item_id, vector, attrs = cv.unpack_item(it)
            req.items.add(id=item_id, vector=cv.floats(vector), attributes_json=cv.attrs_json(attrs))
        return cv.write_result(self._write_call("Insert", req, timeout))

    def delete(self, collection: str, ids: Iterable[str], *,
               timeout: Optional[float] = None) -> WriteResult:
        """Delete elements by id.  Missing ids are reported as
        Outcome.NOT_FOUND, not as an error."""
        if isinstance(ids, str):  # one id, not an iterable of characters
            ids = [ids]
        req = pb.DeleteRequest(collection=collection, ids=list(ids))
        return cv.write_result(self._write_call("Delete", req, timeout))

    def set_attributes(self, collection: str, id: str, attributes: Attributes, *,
                       timeout: Optional[float] = None) -> None:
        """Replace an element's JSON attributes; None removes them."""
        self.call("SetAttributes", pb.SetAttributesRequest(
            collection=collection, id=id, attributes_json=cv.attrs_json(attributes)), timeout=timeout)

    # ------------------------------------------------------------ search

    def search(self, collection: str, vector: Optional[Sequence[float]] = None, k: int = 10,
               ef: int = 0, require_all: bool = False, *, by_id: str = "", filter: str = "",
               filter_ef: int = 0, epsilon: float = 0.0, with_attributes: bool = False,
               truth: bool = False, nothread: bool = False, shard_k_ratio: float = 0.0,
               timeout: Optional[float] = None) -> SearchResult:
        """The k elements closest to vector (cosine), best first.

        ef: HNSW exploration factor, 0 = Redis's default.  require_all:
        raise Unavailable / DeadlineExceeded unless every shard answered;
        otherwise a missing shard gives a result with partial=True.
        by_id: search with that element's vector instead (NotFound if it
        does not exist).  filter / filter_ef: VSIM FILTER expression.
        epsilon: only scores >= 1 - epsilon.  with_attributes: fill
        Hit.attributes.  truth: exact linear scan.  nothread: VSIM NOTHREAD.
        shard_k_ratio: ask each shard for ceil(k * ratio) (trades recall for
        speed)."""
        req = self._search_request(collection, k, ef, require_all, by_id, filter, filter_ef,
                                   epsilon, with_attributes, truth, nothread, shard_k_ratio)
        if vector is not None:
            req.vector.extend(cv.floats(vector))
        elif not by_id:
            raise ValueError("search needs a vector or by_id")
        return cv.search_result(self.call("Search", req, timeout=timeout))

    def batch_search(self, collection: str, vectors: Iterable[Sequence[float]], k: int = 10,
                     ef: int = 0, require_all: bool = False, *, filter: str = "",
                     filter_ef: int = 0, epsilon: float = 0.0, with_attributes: bool = False,
                     truth: bool = False, nothread: bool = False, shard_k_ratio: float = 0.0,
                     timeout: Optional[float] = None) -> List[SearchResult]:
        """Several searches with the same options in one round trip; one
        SearchResult per vector, in order."""
        req = pb.BatchSearchRequest()
        req.common.CopyFrom(self._search_request(collection, k, ef, require_all, "", filter,
                                                 filter_ef, epsilon, with_attributes, truth,
                                                 nothread, shard_k_ratio))
        for v in vectors:
            req.queries.add(vector=cv.floats(v))
        resp = self.call("BatchSearch", req, timeout=timeout)
        return [cv.search_result(r) for r in resp.results]

    @staticmethod
    def _search_request(collection: str, k: int, ef: int, require_all: bool, by_id: str,
                        filter: str, filter_ef: int, epsilon: float, with_attributes: bool,
                        truth: bool, nothread: bool, shard_k_ratio: float) -> Any:
        if k < 0 or ef < 0 or filter_ef < 0:
            raise ValueError("k, ef and filter_ef must be >= 0")
        return pb.SearchRequest(collection=collection, k=k, ef=ef, require_all_shards=require_all,
                                by_id=by_id, filter=filter, filter_ef=filter_ef, epsilon=epsilon,
                                with_attributes=with_attributes, truth=truth, nothread=nothread,
                                shard_k_ratio=shard_k_ratio)

    # ------------------------------------------------------------ collections

    def create_collection(self, collection: str, dim: int,
                          quant: Union[Quantization, str, None] = None, *, m: int = 0,
                          reduce: int = 0, build_ef: int = 0,
                          timeout: Optional[float] = None) -> CreateResult:
        """Create a collection with fixed parameters.  Repeating it with the
        same parameters is fine (created=False); different ones raise
        AlreadyExists."""
        req = pb.CreateCollectionRequest(collection=collection)
        cv.params_to_pb(CollectionParams(dim=dim, quant=Quantization.parse(quant), m=m,
                                         reduce=reduce, build_ef=build_ef), req.params)
        resp = self.call("CreateCollection", req, timeout=timeout)
        return CreateResult(params=cv.params_from_pb(resp.params), created=resp.created,
                            shards=cv.shards(resp.shards))

    def describe_collection(self, collection: str, *,
                            timeout: Optional[float] = None) -> CollectionInfo:
        resp = self.call("DescribeCollection", pb.DescribeCollectionRequest(collection=collection),
                         timeout=timeout)
        return CollectionInfo(collection=resp.collection, params=cv.params_from_pb(resp.params),
                              count=resp.count, shard_counts=list(resp.shard_counts),
                              shards=cv.shards(resp.shards), has_metadata=resp.has_metadata)

    def list_collections(self, *, timeout: Optional[float] = None) -> CollectionList:
        resp = self.call("ListCollections", pb.ListCollectionsRequest(), timeout=timeout)
        return CollectionList(collections=list(resp.collections), partial=resp.partial,
                              shards=cv.shards(resp.shards))

    def drop_collection(self, collection: str, *, timeout: Optional[float] = None) -> DropResult:
        resp = self.call("DropCollection", pb.DropCollectionRequest(collection=collection),
                         timeout=timeout)
        return DropResult(keys_deleted=resp.keys_deleted, shards=cv.shards(resp.shards))

    def count(self, collection: str, *, timeout: Optional[float] = None) -> CountResult:
        resp = self.call("Count", pb.CountRequest(collection=collection), timeout=timeout)
        return CountResult(count=resp.count, shard_counts=list(resp.shard_counts),
                           partial=resp.partial, shards=cv.shards(resp.shards))

    def info(self, collection: str, *, timeout: Optional[float] = None) -> InfoResult:
        resp = self.call("Info", pb.InfoRequest(collection=collection), timeout=timeout)
        return InfoResult(
            shard_info=[ShardInfo(shard=s.shard, exists=s.exists,
                                  fields={f.name: f.value for f in s.fields})
                        for s in resp.shard_info],
            size=resp.size, attributes_count=resp.attributes_count,
            partial=resp.partial, shards=cv.shards(resp.shards))

    # ------------------------------------------------------------ elements

    def get(self, collection: str, id: str, *, raw: bool = False,
            timeout: Optional[float] = None) -> Element:
        """One element's vector and attributes; NotFound if missing."""
        resp = self.call("Get", pb.GetRequest(collection=collection, id=id, raw=raw),
                         timeout=timeout)
        return Element(id=resp.id, vector=list(resp.vector),
                       attributes=cv.parse_attrs(resp.attributes_json, resp.has_attributes),
                       shard=resp.shard, raw=cv.raw_vector(resp.raw, resp.HasField("raw")))

    def get_attributes(self, collection: str, id: str, *,
                       timeout: Optional[float] = None) -> Any:
        """The element's parsed JSON attributes, None if it has none."""
        resp = self.call("GetAttributes", pb.GetAttributesRequest(collection=collection, id=id),
                         timeout=timeout)
        return cv.parse_attrs(resp.attributes_json, resp.has_attributes)

    def exists(self, collection: str, id: str, *, timeout: Optional[float] = None) -> bool:
        resp = self.call("Exists", pb.ExistsRequest(collection=collection, id=id), timeout=timeout)
        return bool(resp.exists)

    def random_members(self, collection: str, count: int = 1, *,
                       timeout: Optional[float] = None) -> RandomMembers:
        """VRANDMEMBER: count > 0 gives up to count distinct ids, count < 0
        exactly -count ids with repeats allowed."""
        resp = self.call("RandomMembers", pb.RandomMembersRequest(collection=collection, count=count),
                         timeout=timeout)
        return RandomMembers(ids=list(resp.ids), partial=resp.partial, shards=cv.shards(resp.shards))

    def links(self, collection: str, id: str, *, timeout: Optional[float] = None) -> Links:
        """The element's HNSW neighbours per level (VLINKS WITHSCORES)."""
        resp = self.call("Links", pb.LinksRequest(collection=collection, id=id), timeout=timeout)
        return Links(levels=[list(zip(lv.ids, lv.scores)) for lv in resp.levels], shard=resp.shard)

    # ------------------------------------------------------------ resharding
    #
    # An online move is driven by its caller, one bounded step at a time:
    # reshard_add()/reshard_remove() open it (or answer the move already
    # under way, which is how a driver that died resumes), then
    # reshard_step() until state.done, sleeping state.retry_after_ms between
    # steps.  All progress lives in Redis and every call is idempotent, so a
    # step that raised Unavailable or DeadlineExceeded may simply be sent
    # again.  `vset reshard` is such a driver; docs/operations.md, "Growing
    # and shrinking", explains the phases.

    def reshard_add(self, shard: str, *, timeout: Optional[float] = None) -> ReshardState:
        """Open (or resume) a move that appends the Redis 8 server `shard`
        ("host:port", IPv6 in brackets; its primary only: the topology
        record stores primaries) as the last shard.  FailedPrecondition when
        another move is open."""
        if not shard:
            raise ValueError("reshard_add needs the new shard's address (host:port)")
        return self._reshard("ReshardStart", pb.ReshardStartRequest(
            move=ReshardMove.ADD.value, shard=shard), timeout)

    def reshard_remove(self, expect_last: str = "", *,
                       timeout: Optional[float] = None) -> ReshardState:
        """Open (or resume) a move that drains the LAST shard into the others
        and drops it.  expect_last ("host:port", optional): the server
        refuses unless the last shard is this one."""
        return self._reshard("ReshardStart", pb.ReshardStartRequest(
            move=ReshardMove.REMOVE.value, expect_last=expect_last), timeout)

    def reshard_step(self, batch: int = 0, *, timeout: Optional[float] = None) -> ReshardState:
        """One bounded unit of work: at most `batch` elements copied or old
        copies deleted (0 = the server's default, 256)."""
        if batch < 0:
            raise ValueError("batch must be >= 0")
        return self._reshard("ReshardStep", pb.ReshardStepRequest(batch=batch), timeout)

    def reshard_status(self, *, timeout: Optional[float] = None) -> ReshardState:
        """The topology record, the move's progress and every live router
        with the epoch it routes by (state.routers_behind())."""
        return self._reshard("ReshardStatus", pb.ReshardStatusRequest(), timeout)

    def reshard_abort(self, *, timeout: Optional[float] = None) -> ReshardState:
        """Return to the layout before the move.  Only in phase DUAL
        (FailedPrecondition otherwise); then reshard_step() until done
        deletes the copies already made."""
        return self._reshard("ReshardAbort", pb.ReshardAbortRequest(), timeout)

    def _reshard(self, method: str, req: Message, timeout: Optional[float]) -> ReshardState:
        return cv.reshard_state(self.call(method, req, timeout=timeout))

    # ------------------------------------------------------------ internals

    def _write_call(self, method: str, req: Message, timeout: Optional[float]) -> Any:
        m = _method(method)
        code, message, reply = self._exchange(m.path, req.SerializeToString(), timeout)
        if code == "OK":
            return _parse(m.response_type, reply)
        # The server sends per-item results with UNAVAILABLE and
        # DEADLINE_EXCEEDED (and with any code a shard gave some items):
        # whenever they are there, hand them to the caller.
        result = cv.write_result(_parse(m.response_type, reply)) if reply else None
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


def _parse(cls: type, data: bytes) -> Any:
    msg = cls()
    try:
        msg.ParseFromString(data)
    except Exception as e:  # DecodeError, or the C++ backend's own errors
        raise Internal(f"malformed {cls.__name__} from server: {e}") from None
    return msg


def _check_timeout(t: float) -> None:
    if not (isinstance(t, (int, float)) and t > 0 and math.isfinite(t)):
        raise ValueError(f"timeout must be a positive number of seconds, not {t!r}")
