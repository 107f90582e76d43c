/*
 * merge.c - top-K merge by score.  See merge.h for the ordering contract.
 *
 * n is shards x K (a few thousand at most with the default limits), so a
 * plain qsort is both simplest and fast enough; the id dedup pass uses a
 * small open-addressing table so it stays linear.
 */
#include <stdlib.h>
#include <string.h>

#include "merge.h"
#include "vs_hash.h"

int
vsd_hit_cmp(const struct vsd_hit *a, const struct vsd_hit *b)
{
	size_t n;
	int c;

	if (a->score > b->score)
		return -1;
	if (a->score < b->score)
		return 1;
	n = a->id_len < b->id_len ? a->id_len : b->id_len;
	if ((c = memcmp(a->id, b->id, n)) != 0)
		return c;
	if (a->id_len != b->id_len)
		return a->id_len < b->id_len ? -1 : 1;
	if (a->shard != b->shard)
		return a->shard < b->shard ? -1 : 1;
	return 0;
}

static int
vsd_hit_qcmp(const void *a, const void *b)
{
	return vsd_hit_cmp(a, b);
}

size_t
vsd_merge_topk(struct vsd_hit *hits, size_t n, size_t k)
{
	const struct vsd_hit **seen = NULL;
	size_t i, out = 0, cap = 16, mask, j;

	if (n == 0 || k == 0)
		return 0;
	qsort(hits, n, sizeof(*hits), vsd_hit_qcmp);

	/* Keep the first (best) occurrence of each id, until k are kept. */
	while (cap < 2 * n)
		cap <<= 1;
	mask = cap - 1;
	if ((seen = calloc(cap, sizeof(*seen))) == NULL) {
		/* Without memory to dedup, still answer: ids are unique in
		 * every normal deployment (one owner shard per id). */
		return n < k ? n : k;
	}
	for (i = 0; i < n && out < k; i++) {
		j = vs_hash64(hits[i].id, hits[i].id_len) & mask;
		while (seen[j] != NULL && !(seen[j]->id_len == hits[i].id_len &&
		    memcmp(seen[j]->id, hits[i].id, hits[i].id_len) == 0))
			j = (j + 1) & mask;
		if (seen[j] != NULL)
			continue;       /* a better copy is already kept */
		hits[out] = hits[i];
		seen[j] = &hits[out];
		out++;
	}
	free(seen);
	return out;
}
