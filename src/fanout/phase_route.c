/*
 * phase_route.c - the routing table of phase_route.h, from jump hash
 * (vs_hash.h) applied to the old and the new shard count.
 */
#include "phase_route.h"
#include "vs_hash.h"

void
vsd_phase_layout_of(const struct vsd_topo *t, struct vsd_phase_layout *l)
{
	l->phase = t->phase;
	l->nnew = t->nshards;
	l->nold = t->phase == VSD_PHASE_STABLE ? t->nshards : t->nfrom;
}

int
vsd_phase_check(const struct vsd_phase_layout *l)
{
	if (l->nold == 0 || l->nnew == 0)
		return -1;
	switch (l->phase) {
	case VSD_PHASE_STABLE:
		return l->nold == l->nnew ? 0 : -1;
	case VSD_PHASE_DUAL:
	case VSD_PHASE_SWITCHED:
		return l->nnew == l->nold + 1 || l->nnew + 1 == l->nold ? 0 : -1;
	default:
		return -1;
	}
}

uint32_t
vsd_phase_write_shards(const struct vsd_phase_layout *l, const char *id,
    size_t len, uint32_t out[VSD_PHASE_MAX_OWNERS])
{
	uint32_t o, n;

	if (vsd_phase_check(l) != 0)
		return 0;
	n = vs_shard_of(id, len, l->nnew);
	if (l->phase != VSD_PHASE_DUAL) {
		out[0] = n;
		return 1;
	}
	o = vs_shard_of(id, len, l->nold);
	out[0] = o;
	if (o == n)
		return 1;
	out[1] = n;
	return 2;
}

uint32_t
vsd_phase_read_shards(const struct vsd_phase_layout *l, const char *id,
    size_t len, uint32_t out[VSD_PHASE_MAX_OWNERS])
{
	uint32_t o, n;

	if (vsd_phase_check(l) != 0)
		return 0;
	o = vs_shard_of(id, len, l->nold);
	n = vs_shard_of(id, len, l->nnew);
	switch (l->phase) {
	case VSD_PHASE_DUAL:
		out[0] = o;
		return 1;
	case VSD_PHASE_SWITCHED:
		out[0] = n;
		if (o == n)
			return 1;
		out[1] = o;
		return 2;
	default:
		out[0] = n;
		return 1;
	}
}

uint32_t
vsd_phase_search_shards(const struct vsd_phase_layout *l)
{
	if (vsd_phase_check(l) != 0)
		return 0;
	switch (l->phase) {
	case VSD_PHASE_DUAL:
		return l->nold;
	case VSD_PHASE_SWITCHED:
		return l->nold > l->nnew ? l->nold : l->nnew;
	default:
		return l->nnew;
	}
}

int
vsd_phase_moves(const struct vsd_phase_layout *l, const char *id, size_t len,
    uint32_t *from, uint32_t *to)
{
	uint32_t o, n;

	if (vsd_phase_check(l) != 0 || l->phase == VSD_PHASE_STABLE)
		return 0;
	o = vs_shard_of(id, len, l->nold);
	n = vs_shard_of(id, len, l->nnew);
	if (o == n)
		return 0;
	*from = o;
	*to = n;
	return 1;
}
