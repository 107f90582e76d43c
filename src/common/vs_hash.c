/*
 * vs_hash.c - id -> shard routing.  The contract is in vs_hash.h; changing
 * any constant here silently re-homes every element of every deployment, and
 * tests/unit/test_hash.c pins the outputs for that reason.
 */
#include "vs_hash.h"

uint64_t
vs_hash64(const void *data, size_t len)
{
	const unsigned char *p = data;
	uint64_t h = 0xcbf29ce484222325ULL;     /* FNV-1a 64 offset basis */
	size_t i;

	for (i = 0; i < len; i++) {
		h ^= p[i];
		h *= 0x100000001b3ULL;          /* FNV-1a 64 prime */
	}
	/* fmix64 */
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ULL;
	h ^= h >> 33;
	return h;
}

uint32_t
vs_jump_hash(uint64_t key, uint32_t nbuckets)
{
	int64_t b = -1;
	int64_t j = 0;

	while (j < (int64_t)nbuckets) {
		b = j;
		key = key * 2862933555777941757ULL + 1;
		j = (int64_t)((double)(b + 1) *
		    ((double)(1LL << 31) / (double)((key >> 33) + 1)));
	}
	return (uint32_t)b;
}

uint32_t
vs_shard_of(const void *id, size_t len, uint32_t nshards)
{
	return vs_jump_hash(vs_hash64(id, len), nshards);
}
