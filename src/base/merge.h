/*
 * merge.h - the global top K from the shards' answers.
 *
 * Each shard returns its own best K.  Because an element lives on exactly
 * one shard, the global top K is contained in the union of the shards'
 * top K, so sorting the union and cutting at K is exact with respect to what
 * the shards answered.
 *
 * Order: score descending; equal scores by id ascending (bytewise, shorter
 * first on a common prefix), so the same data always answers in the same
 * order whichever shard replied first.  An id that appears twice (possible
 * only while data moves between shards) is kept once, at its best score.
 *
 * Pure: sorts the caller's array in place; no allocation except a scratch
 * table from the arena-less malloc, freed before return.
 */
#ifndef VSD_MERGE_H
#define VSD_MERGE_H

#include <stddef.h>
#include <stdint.h>

struct vsd_hit {
	const char *id;              /* not owned */
	size_t id_len;
	double score;
	uint32_t shard;
};

/* Compare in result order (negative: a comes first). */
int vsd_hit_cmp(const struct vsd_hit *a, const struct vsd_hit *b);

/* Sort hits[0..n) into result order, drop repeated ids, and return how many
 * of the best to keep: min(k, distinct ids).  hits[0..return) is the top. */
size_t vsd_merge_topk(struct vsd_hit *hits, size_t n, size_t k);

#endif
