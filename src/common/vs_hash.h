/*
 * vs_hash.h - which shard owns an element id.
 *
 * The routing function is part of vsetd's contract: every vsetd process
 * serving the same shard list, and any client that shards by itself (the
 * bench's --direct baseline), must compute the same answer forever.
 *
 *   key   = fmix64(fnv1a64(id bytes))          64-bit, see vs_hash64()
 *   shard = jump_consistent_hash(key, nshards)  Lamping & Veach, 2014
 *
 * Jump hash was chosen because growing from n to n+1 shards moves only
 * 1/(n+1) of the ids (the minimum), it needs no table or state, and it is a
 * few lines in any language.  Its one constraint, that shards can only be
 * added or removed at the end of the list, matches --shard's ordered list.
 * docs/architecture.md has the full argument and the test vectors.
 *
 * Pure functions; no allocation.
 */
#ifndef VS_HASH_H
#define VS_HASH_H

#include <stddef.h>
#include <stdint.h>

/* FNV-1a 64 over the bytes, then MurmurHash3's fmix64 finalizer (FNV's low
 * bits mix poorly, and jump hash consumes all 64). */
uint64_t vs_hash64(const void *data, size_t len);

/* Jump consistent hash: a bucket in [0, nbuckets).  nbuckets >= 1. */
uint32_t vs_jump_hash(uint64_t key, uint32_t nbuckets);

/* The owning shard of id[0..len) among nshards. */
uint32_t vs_shard_of(const void *id, size_t len, uint32_t nshards);

#endif
