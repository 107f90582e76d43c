#!/usr/bin/python3
"""gen_reply_seeds.py - (re)generate tests/fuzz/corpus/reply/, the seeds of
the reply fuzz target (fz_target.h, fz_reply_one): what shards send back to
a search.  Standard library only; deterministic.

    /usr/bin/python3 tests/fuzz/gen_reply_seeds.py [CORPUS_DIR]

Each seed is a 3-byte header (flags: shards-1 in bits 0-1, WITHATTRIBS in
bit 2, epsilon in bit 3; K-1; feed piece size-1) and a RESP2 stream, one
reply per shard.
"""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def bulk(b):
    if isinstance(b, str):
        b = b.encode()
    return b"$%d\r\n%s\r\n" % (len(b), b)


def arr(items):
    return b"*%d\r\n" % len(items) + b"".join(items)


def vsim(pairs, attrs=None):
    out = []
    for i, (ident, score) in enumerate(pairs):
        out.append(bulk(ident))
        out.append(bulk(score))
        if attrs is not None:
            out.append(attrs[i] if isinstance(attrs[i], bytes) and
                       attrs[i].startswith(b"$") else bulk(attrs[i]))
    return arr(out)


def head(shards=3, k=10, piece=64, withattrs=False, eps=False):
    flags = (shards - 1) | (4 if withattrs else 0) | (8 if eps else 0)
    return bytes([flags, k - 1, piece - 1])


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "corpus",
                                                              "reply")
    s = {}
    a = vsim([("a1", "0.99"), ("a2", "0.75"), ("a3", "0.5")])
    b = vsim([("b1", "0.98"), ("a2", "0.80"), ("b3", "0.1")])
    c = vsim([("c1", "1"), ("c2", "0")])
    s["three-shards"] = head() + a + b + c
    s["three-shards-bytewise"] = head(piece=1) + a + b + c
    s["one-shard"] = head(shards=1, k=3) + a
    s["empty"] = head() + arr([]) + arr([]) + arr([])
    s["k1-tie"] = head(k=1) + vsim([("x", "0.5")]) + vsim([("w", "0.5")]) + \
        vsim([("y", "0.5")])
    s["epsilon"] = head(eps=True) + a + b + c
    s["withattribs"] = head(withattrs=True) + \
        vsim([("a1", "0.9"), ("a2", "0.8")], ['{"n":1}', b"$-1\r\n"]) + \
        vsim([("b1", "0.7")], ['{"s":"\xc3\xa9"}']) + arr([])
    s["error-reply"] = head() + b"-ERR syntax error\r\n" + a + \
        b"-LOADING Redis is loading\r\n"
    s["wrongtype"] = head(shards=1) + \
        b"-WRONGTYPE Operation against a key\r\n"
    s["nan"] = head() + vsim([("n", "nan")]) + vsim([("i", "inf")]) + \
        vsim([("m", "-inf")])
    s["score-out-of-range"] = head() + vsim([("a", "1.5")]) + \
        vsim([("b", "-0.5")]) + vsim([("c", "1e308")])
    s["score-not-number"] = head() + vsim([("a", "0.5x")]) + \
        vsim([("b", "")]) + vsim([("c", " 0.5")])
    s["more-than-k"] = head(k=2) + vsim([("a%d" % i, "0.5") for i in
                                         range(5)]) + a + b
    s["odd-elements"] = head() + arr([bulk("a"), bulk("0.5"), bulk("b")]) + \
        a + b
    s["id-integer"] = head() + arr([b":12\r\n", bulk("0.5")]) + a + b
    s["id-nil"] = head() + arr([b"$-1\r\n", bulk("0.5")]) + a + b
    s["id-empty"] = head() + vsim([("", "0.5")]) + a + b
    s["id-nul"] = head() + vsim([(b"a\x00b", "0.5")]) + a + b
    s["id-bad-utf8"] = head() + vsim([(b"\xc0\xaf", "0.5")]) + a + b
    s["id-too-long"] = head() + vsim([("x" * 65, "0.5")]) + a + b
    s["nested"] = head() + arr([arr([bulk("a")]), bulk("0.5")]) + a + b
    s["deep"] = head() + b"*1\r\n" * 8 + b":1\r\n" + a
    s["status-and-int"] = head() + b"+OK\r\n:42\r\n" + a
    s["huge-array"] = head() + b"*2000000000\r\n"
    s["big-array"] = head() + b"*1025\r\n" + bulk("a") * 10
    s["negative-array"] = head() + b"*-1\r\n" + b"*-2\r\n" + a
    s["huge-bulk"] = head() + b"*2\r\n$2000000000\r\nabc"
    s["bad-bulk-len"] = head() + b"*2\r\n$abc\r\n"
    s["garbage"] = head() + b"\x00\xff not RESP\r\n"
    s["no-crlf"] = head() + b"*2" + b"0" * 200
    s["budget"] = head(shards=1) + arr([bulk("x" * 500)] * 40)
    s["truncated"] = head() + (a + b)[:-7]
    s["duplicate-ids"] = head() + vsim([("d", "0.9"), ("d", "0.8")]) + \
        vsim([("d", "0.95")]) + a
    os.makedirs(out, exist_ok=True)
    for name, data in sorted(s.items()):
        with open(os.path.join(out, name + ".bin"), "wb") as f:
            f.write(data)
    print("wrote %d seeds under %s" % (len(s), out))


if __name__ == "__main__":
    main()
