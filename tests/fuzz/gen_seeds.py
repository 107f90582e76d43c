#!/usr/bin/python3
"""gen_seeds.py - (re)generate the seed corpus in tests/fuzz/corpus/.

    /usr/bin/python3 tests/fuzz/gen_seeds.py [CORPUS_DIR]

Needs protoc and Debian's python3-protobuf (hence /usr/bin/python3, not the
pyenv python).  The vsetd_pb2 module is generated into a temporary directory
from proto/vsetd/v1/vsetd.proto, so the seeds always match the contract.

Seeds are deterministic: rerunning rewrites identical files, so `git status`
shows only real changes.  Hand-made malformed bytes are built with the small
wire helpers below because a protobuf library refuses to produce them.

  corpus/envelope/  RequestEnvelope bytes (and a few ReplyEnvelopes, which
                    the envelope target also decodes as a client would)
  corpus/dispatch/  whole request messages, and bare payloads (the dispatch
                    target also wraps its input as the payload of each method)
  corpus/large/     bigger inputs, replayed by the test suite only
"""
import math
import os
import struct
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
SERVICE = "/vsetd.v1.VectorService/"


def load_pb2():
    tmp = tempfile.mkdtemp(prefix="vsetd-seeds-")
    subprocess.run(["protoc", "-I", os.path.join(ROOT, "proto"),
                    "--python_out=" + tmp, "vsetd/v1/vsetd.proto"],
                   check=True)
    sys.path.insert(0, os.path.join(tmp, "vsetd", "v1"))
    import vsetd_pb2  # noqa: E402
    return vsetd_pb2


# ---- raw wire helpers (for bytes no encoder would write)

def varint(v):
    out = bytearray()
    while True:
        b = v & 0x7F
        v >>= 7
        if v:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def key(field, wt):
    return varint(field << 3 | wt)


def ld(field, data):
    return key(field, 2) + varint(len(data)) + data


def vi(field, v):
    return key(field, 0) + varint(v)


def f32(field, x):
    return key(field, 5) + struct.pack("<f", x)


def main():
    pb = load_pb2()
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "corpus")
    seeds = {"envelope": {}, "dispatch": {}, "large": {}}

    def env(method, payload=b"", rid=7, deadline=0):
        e = pb.RequestEnvelope(method=method, payload=payload,
                               request_id=rid, deadline_ms=deadline)
        return e.SerializeToString()

    def item(i, dim=4, attrs=""):
        return pb.Item(id="item-%d" % i,
                       vector=[(i + j) / 10.0 for j in range(dim)],
                       attributes_json=attrs)

    ins = pb.InsertRequest(collection="docs",
                           items=[item(i, attrs='{"n":%d}' % i if i % 2 else "")
                                  for i in range(3)]).SerializeToString()
    dele = pb.DeleteRequest(collection="docs",
                            ids=["item-0", "item-1", "nope"]).SerializeToString()
    srch = pb.SearchRequest(collection="docs", vector=[0.1, 0.2, 0.3, 0.4],
                            k=5, ef=50).SerializeToString()
    srch_all = pb.SearchRequest(collection="docs", vector=[1, 0, 0, 0],
                                require_all_shards=True).SerializeToString()

    # ---------------------------------------------------------- envelope
    E = seeds["envelope"]
    E["valid-insert"] = env(SERVICE + "Insert", ins, 1, 500)
    E["valid-delete"] = env(SERVICE + "Delete", dele, 2)
    E["valid-search"] = env(SERVICE + "Search", srch, 3, 100)
    E["empty"] = b""
    E["method-only"] = env(SERVICE + "Search", rid=0)
    E["no-method"] = ld(2, srch) + vi(4, 9)
    E["empty-method"] = ld(1, b"") + vi(4, 10)
    E["unknown-method"] = env(SERVICE + "Upsert", ins, 11)
    E["other-service"] = env("/grpc.health.v1.Health/Check", b"", 12)
    E["method-no-slash"] = env("vsetd.v1.VectorService.Search", srch, 13)
    E["method-utf8-bad"] = ld(1, SERVICE.encode() + b"\xff\xfe") + vi(4, 14)
    E["method-nul"] = ld(1, SERVICE.encode() + b"Search\x00junk") + vi(4, 15)
    v = E["valid-insert"]
    E["truncated-half"] = v[: len(v) // 2]
    E["truncated-last-byte"] = v[:-1]
    E["truncated-in-varint"] = vi(4, 1 << 40)[:-2]
    # length prefixes claiming far more than the message holds
    E["huge-len-payload"] = ld(1, (SERVICE + "Search").encode()) + \
        key(2, 2) + varint(0xFFFFFFFF) + b"abc"
    E["huge-len-64bit"] = key(2, 2) + b"\xff" * 9 + b"\x01" + b"x"
    E["huge-len-method"] = key(1, 2) + varint(1 << 31) + b"/vsetd"
    E["varint-10-bytes"] = ld(1, (SERVICE + "Delete").encode()) + \
        key(4, 0) + b"\xff" * 9 + b"\x01"
    E["varint-11-bytes"] = ld(1, (SERVICE + "Delete").encode()) + \
        key(4, 0) + b"\xff" * 10 + b"\x01"
    E["id-twice"] = env(SERVICE + "Search", srch, 21) + vi(4, 22)
    E["id-wrong-wiretype"] = ld(1, (SERVICE + "Search").encode()) + ld(4, b"12345678")
    E["method-as-varint"] = vi(1, 5) + vi(4, 23)
    E["group-start"] = env(SERVICE + "Search", srch, 24) + key(9, 3) + key(9, 4)
    E["wiretype-7"] = env(SERVICE + "Search", srch, 25) + key(9, 7)
    E["field-zero"] = key(0, 0) + b"\x01" + env(SERVICE + "Search", srch, 26)
    E["unknown-fields"] = (env(SERVICE + "Search", srch, 27) + vi(100, 1) +
                           key(101, 1) + b"\x00" * 8 + key(102, 5) + b"\x00" * 4 +
                           ld(103, b"unknown"))
    E["deadline-max"] = env(SERVICE + "Search", srch, 28, 0xFFFFFFFF)
    E["deadline-1ms"] = env(SERVICE + "Search", srch, 29, 1)
    # Nested length-delimited unknown fields, 200 deep: protobuf-c keeps
    # unknown fields as opaque bytes, so depth must not matter.
    nest = b""
    for _ in range(200):
        nest = ld(15, nest)
    E["nested-200"] = env(SERVICE + "Search", srch, 30) + nest
    r = pb.ReplyEnvelope(request_id=31, payload=b"\x08\x01")
    r.status.code = pb.UNAVAILABLE
    r.status.message = "shard 1: connection refused"
    E["reply-status"] = r.SerializeToString()
    E["reply-ok"] = pb.ReplyEnvelope(request_id=32, payload=b"\x10\x01").SerializeToString()

    # found by fuzz_envelope: protobuf-c accepts an unknown field 0 keyed
    # with a non-minimal varint, but not its own re-encoding of it
    E["reply-unknown-field-0"] = b"\x20\x80\x32\x80\x00\x06"
    E["reply-status-unknown-field-0"] = b"\x12\x05\x80\x80\x80\x00\x00"
    E["request-unknown-field-0"] = env(SERVICE + "Search", srch, 33) + b"\x80\x00\x06"

    # ---------------------------------------------------------- dispatch
    D = seeds["dispatch"]
    for name in ("valid-insert", "valid-delete", "valid-search", "empty",
                 "truncated-half", "unknown-method", "huge-len-payload",
                 "nested-200", "deadline-1ms"):
        D["env-" + name] = E[name]
    D["env-search-all"] = env(SERVICE + "Search", srch_all, 40)

    # bare payloads: the target wraps them for every method
    D["insert"] = ins
    D["delete"] = dele
    D["search"] = srch
    D["search-all-shards"] = srch_all
    D["search-k0"] = pb.SearchRequest(collection="c", vector=[1.0]).SerializeToString()
    D["search-k-max"] = pb.SearchRequest(collection="c", vector=[1.0], k=1000).SerializeToString()
    D["search-k-too-big"] = pb.SearchRequest(collection="c", vector=[1.0], k=1001).SerializeToString()
    D["search-k-u32max"] = pb.SearchRequest(collection="c", vector=[1.0], k=0xFFFFFFFF).SerializeToString()
    D["search-ef-u32max"] = pb.SearchRequest(collection="c", vector=[1.0], ef=0xFFFFFFFF).SerializeToString()
    D["search-no-vector"] = pb.SearchRequest(collection="c", k=3).SerializeToString()
    D["search-nan"] = pb.SearchRequest(collection="c", vector=[1.0, math.nan]).SerializeToString()
    D["search-inf"] = pb.SearchRequest(collection="c", vector=[-math.inf, 1.0]).SerializeToString()
    D["search-denormal"] = pb.SearchRequest(collection="c", vector=[1e-45, 0.0]).SerializeToString()
    D["search-all-zero"] = pb.SearchRequest(collection="c", vector=[0.0, 0.0]).SerializeToString()
    # repeated float written unpacked (one tag per element): legal proto
    D["search-unpacked-floats"] = ld(1, b"c") + f32(2, 1.0) + f32(2, 2.0) + vi(3, 2)
    D["search-mixed-packing"] = ld(1, b"c") + f32(2, 1.0) + ld(2, struct.pack("<2f", 2, 3))
    D["search-packed-odd-len"] = ld(1, b"c") + ld(2, b"\x00\x00\x80\x3f\x00")
    D["no-collection"] = pb.DeleteRequest(ids=["a"]).SerializeToString()
    D["collection-bad-char"] = pb.DeleteRequest(collection="a b/c", ids=["a"]).SerializeToString()
    D["collection-201"] = pb.DeleteRequest(collection="c" * 201, ids=["a"]).SerializeToString()
    D["collection-200"] = pb.DeleteRequest(collection="c" * 200, ids=["a"]).SerializeToString()
    D["collection-nul"] = ld(1, b"docs\x00evil") + ld(2, b"a")
    D["delete-empty"] = pb.DeleteRequest(collection="c").SerializeToString()
    D["delete-empty-id"] = pb.DeleteRequest(collection="c", ids=["a", ""]).SerializeToString()
    D["delete-id-1024"] = pb.DeleteRequest(collection="c", ids=["x" * 1024]).SerializeToString()
    D["delete-id-1025"] = pb.DeleteRequest(collection="c", ids=["x" * 1025]).SerializeToString()
    D["delete-id-bad-utf8"] = ld(1, b"c") + ld(2, b"ok") + ld(2, b"\xc0\xaf")
    D["delete-id-surrogate"] = ld(1, b"c") + ld(2, b"\xed\xa0\x80")
    D["delete-id-nul"] = ld(1, b"c") + ld(2, b"a\x00b")
    D["delete-id-utf8"] = pb.DeleteRequest(collection="c", ids=["ключ", "键", "🔑"]).SerializeToString()
    D["insert-no-items"] = pb.InsertRequest(collection="c").SerializeToString()
    D["insert-nan"] = pb.InsertRequest(collection="c", items=[
        pb.Item(id="a", vector=[1.0, math.nan])]).SerializeToString()
    D["insert-inf"] = pb.InsertRequest(collection="c", items=[
        pb.Item(id="a", vector=[math.inf])]).SerializeToString()
    D["insert-mixed-dim"] = pb.InsertRequest(collection="c", items=[
        item(0, 4), item(1, 3)]).SerializeToString()
    D["insert-no-vector"] = pb.InsertRequest(collection="c", items=[
        pb.Item(id="a")]).SerializeToString()
    D["insert-empty-id"] = pb.InsertRequest(collection="c", items=[
        pb.Item(id="", vector=[1.0])]).SerializeToString()
    D["insert-empty-item"] = ld(1, b"c") + ld(2, b"")
    D["insert-item-truncated"] = ld(1, b"c") + key(2, 2) + varint(50) + ld(1, b"a")
    D["insert-item-huge-len"] = ld(1, b"c") + key(2, 2) + varint(0xFFFFFFF0) + ld(1, b"a")
    D["insert-item-garbage"] = ld(1, b"c") + ld(2, b"\xff\xff\xff")
    for name, attrs in [("attrs-object", '{"a":[1,2,{"b":null}],"c":"\\u00e9"}'),
                        ("attrs-array", "[1,2]"),
                        ("attrs-string", '"x"'),
                        ("attrs-bad-json", '{"a":}'),
                        ("attrs-trailing", '{} {}'),
                        ("attrs-deep-32", '{"a":' * 31 + '1' + '}' * 31),
                        ("attrs-deep-33", '{"a":' * 33 + '1' + '}' * 33),
                        ("attrs-deep-1000", '[' * 1000 + ']' * 1000),
                        ("attrs-unclosed", '{"a":"' + 'x' * 50),
                        ("attrs-big-number", '{"n":1e999999}'),
                        ("attrs-bad-escape", '{"a":"\\x"}')]:
        D["insert-" + name] = pb.InsertRequest(collection="c", items=[
            pb.Item(id="a", vector=[1.0], attributes_json=attrs)]).SerializeToString()
    D["insert-attrs-bad-utf8"] = ld(1, b"c") + ld(2, ld(1, b"a") + f32(2, 1.0) +
                                                   ld(3, b'{"a":"\xff"}'))
    D["insert-nested-unknown"] = ld(1, b"c") + ld(2, ld(1, b"a") + f32(2, 1.0) +
                                                   nest)

    # the other RPCs, when this version of the proto has them
    def opt(name, factory):
        try:
            D[name] = factory().SerializeToString()
        except AttributeError:
            pass
    opt("create", lambda: pb.CreateCollectionRequest(
        collection="c", params=pb.CollectionParams(dim=4, quant=pb.QUANT_BIN,
                                                   m=16, reduce=2, build_ef=100)))
    opt("create-m-huge", lambda: pb.CreateCollectionRequest(
        collection="c", params=pb.CollectionParams(dim=0xFFFFFFFF, m=0xFFFFFFFF,
                                                   quant=99)))
    opt("create-no-params", lambda: pb.CreateCollectionRequest(collection="c"))
    opt("get-raw", lambda: pb.GetRequest(collection="c", id="a", raw=True))
    opt("set-attributes", lambda: pb.SetAttributesRequest(
        collection="c", id="a", attributes_json='{"x":[1,{"y":2}]}'))
    opt("set-attributes-deep", lambda: pb.SetAttributesRequest(
        collection="c", id="a", attributes_json='[' * 500 + ']' * 500))
    opt("random-members-neg", lambda: pb.RandomMembersRequest(collection="c",
                                                             count=-(1 << 62)))
    opt("random-members-max", lambda: pb.RandomMembersRequest(collection="c",
                                                             count=(1 << 63) - 1))
    opt("batch-search", lambda: pb.BatchSearchRequest(
        common=pb.SearchRequest(collection="c", k=3),
        queries=[pb.QueryVector(vector=[1, 0]), pb.QueryVector(vector=[0, 1])]))
    opt("batch-search-mixed-dim", lambda: pb.BatchSearchRequest(
        common=pb.SearchRequest(collection="c"),
        queries=[pb.QueryVector(vector=[1, 0]), pb.QueryVector(vector=[1]),
                 pb.QueryVector()]))
    opt("batch-search-common-vector", lambda: pb.BatchSearchRequest(
        common=pb.SearchRequest(collection="c", vector=[1.0], k=1001)))

    # ---------------------------------------------------------- large
    L = seeds["large"]
    L["insert-batch-10001"] = env(SERVICE + "Insert", pb.InsertRequest(
        collection="c", items=[pb.Item(id="i%d" % i, vector=[1.0])
                               for i in range(10001)]).SerializeToString(), 51)
    L["delete-batch-10000"] = env(SERVICE + "Delete", pb.DeleteRequest(
        collection="c", ids=["d%d" % i for i in range(10000)]).SerializeToString(), 52)
    L["search-dim-32769"] = env(SERVICE + "Search", pb.SearchRequest(
        collection="c", vector=[0.5] * 32769).SerializeToString(), 54)
    # 50,000 empty items: 100 KB on the wire that decode to far more
    # (decode amplification; see docs/fuzzing.md).
    L["insert-50k-empty-items"] = env(SERVICE + "Insert",
                                      ld(1, b"c") + ld(2, b"") * 50000, 55)
    # 30,000 unknown varint fields in the envelope itself.
    L["envelope-30k-unknown"] = env(SERVICE + "Search", srch, 56) + \
        vi(1000, 1) * 30000
    L["insert-id-64k"] = env(SERVICE + "Insert", pb.InsertRequest(
        collection="c", items=[pb.Item(id="x" * 65536, vector=[1.0])]).SerializeToString(), 57)

    n = 0
    for target, files in seeds.items():
        d = os.path.join(out, target)
        os.makedirs(d, exist_ok=True)
        for name, data in sorted(files.items()):
            with open(os.path.join(d, name + ".bin"), "wb") as f:
                f.write(data)
            n += 1
    total = sum(len(d) for t in seeds.values() for d in t.values())
    print("wrote %d seeds (%d bytes) under %s" % (n, total, out))


if __name__ == "__main__":
    main()
