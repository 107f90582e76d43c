"""The router's id -> shard function, ported to Python for the checks.

Why a port: the resharding test checks IN REDIS that every element sits on
exactly its owner after a move.  It must not ask vsetd where an element
belongs (a router that routes wrongly would then agree with itself), so it
computes the owner itself, from the documented algorithm
(src/common/vs_hash.c: FNV-1a 64 then murmur3's fmix64, then Lamping and
Veach's jump consistent hash; src/fanout/route.c: the id's bytes, no NUL,
over the ordered shard list).  Python ints are unbounded, so every 64-bit
product is masked; the jump step computes in doubles exactly as the C code
does (Python floats are IEEE doubles).  test_reshard checks the port
against ids inserted through vsetd (their answers name the shard) and
against the outputs tests/unit/test_hash.c pins.
"""
from __future__ import annotations

MASK64 = (1 << 64) - 1
FNV_OFFSET = 0xcbf29ce484222325
FNV_PRIME = 0x100000001b3
FMIX_C1 = 0xff51afd7ed558ccd
FMIX_C2 = 0xc4ceb9fe1a85ec53
JUMP_MUL = 2862933555777941757

# (id, hash64, owner among 2, 3, 10 shards): copied from
# tests/unit/test_hash.c, which pins them for the C code.
PINNED = [
    (b"", 0xefd01f60ba992926, 1, 1, 1),
    (b"a", 0x82a2a958a9bece5b, 1, 1, 5),
    (b"doc:1", 0x85fb41767a3fa4c6, 0, 2, 4),
    (b"user-42", 0xa39532c7ab051e8d, 1, 1, 6),
    (b"\xc3\xa9l\xc3\xa9ment", 0xe971aa476301fa35, 1, 1, 5),
    (b"0123456789abcdef", 0x9fe524d33625dec6, 1, 1, 7),
]


def hash64(data: bytes) -> int:
    h = FNV_OFFSET
    for b in data:
        h ^= b
        h = (h * FNV_PRIME) & MASK64
    h ^= h >> 33
    h = (h * FMIX_C1) & MASK64
    h ^= h >> 33
    h = (h * FMIX_C2) & MASK64
    h ^= h >> 33
    return h


def jump_hash(key: int, nbuckets: int) -> int:
    b, j = -1, 0
    while j < nbuckets:
        b = j
        key = (key * JUMP_MUL + 1) & MASK64
        j = int(float(b + 1) * (float(1 << 31) / float((key >> 33) + 1)))
    return b


def shard_of(element_id: str, nshards: int) -> int:
    """The index (0-based, in the ordered shard list) that owns the id."""
    return jump_hash(hash64(element_id.encode()), nshards)


def self_check() -> None:
    """Raise AssertionError if the port disagrees with the pinned outputs."""
    for data, h, of2, of3, of10 in PINNED:
        got = hash64(data)
        assert got == h, f"hash64({data!r}) = {got:#x}, pinned {h:#x}"
        for n, want in ((2, of2), (3, of3), (10, of10)):
            got_n = jump_hash(got, n)
            assert got_n == want, f"owner of {data!r} among {n} = {got_n}, pinned {want}"
