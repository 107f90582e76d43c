/*
 * vb_direct.h - the --direct baseline: one thread's own client-side
 * sharding straight to the Redis shards, the best a client can do without
 * vsetd.
 *
 * It routes like vsetd (vs_shard_of over the --shard list, key
 * "vsetd:<collection>") and fans a search out the way pitfalls.md says a
 * parallel hiredis fan-out must: append VSIM to every shard's context,
 * flush every buffer with redisBufferWrite, only then read the replies.
 * Writes are pipelined the same way: a batch's VADDs are appended to their
 * shards' contexts, all flushed, then all replies read.
 *
 * A vb_direct is used by one thread (hiredis contexts are not thread-safe).
 * A shard whose connection fails is dropped and reconnected on the next
 * call.  Results are vs_code numbers (vsetd.h), so that the report treats
 * both modes alike.
 *
 * Ownership: vb_direct_open hands out a vb_direct freed by vb_direct_close.
 * The hits of vb_direct_search point into replies the vb_direct keeps until
 * its next call.
 */
#ifndef VB_DIRECT_H
#define VB_DIRECT_H

#include <stddef.h>
#include <stdint.h>

typedef struct vb_direct vb_direct;

typedef struct vb_hit {
	const char *id;
	double score;
} vb_hit;

/* Connect to every shard ("HOST:PORT").  timeout_ms bounds the connect and
 * every later read.  0 or -1 with err filled. */
int vb_direct_open(vb_direct **out, char *const *shards, size_t nshards,
    const char *collection, int timeout_ms, char *err, size_t errlen);
void vb_direct_close(vb_direct *d);

/* VSIM on every shard, merged best first (score desc, id asc), k at most.
 * Shards that fail leave *partial set; with require_all any failure is the
 * answer.  Returns a vs_code. */
int vb_direct_search(vb_direct *d, const float *q, size_t dim, uint32_t k,
    uint32_t ef, const char *filter, int require_all, const vb_hit **hits,
    size_t *nhits, int *partial);

/* VADD vecs[i] as ids[i], i < n, each on its own shard.  *failed counts
 * items that were not written.  Returns VS_OK when all were. */
int vb_direct_add(vb_direct *d, const char *const *ids,
    const float *const *vecs, size_t n, size_t dim, size_t *failed);

/* VEMB id on its shard: VS_OK, VS_NOT_FOUND, or the failure. */
int vb_direct_get(vb_direct *d, const char *id);

/* VREM ids[0..n). */
int vb_direct_rem(vb_direct *d, const char *const *ids, size_t n,
    size_t *failed);

#endif
