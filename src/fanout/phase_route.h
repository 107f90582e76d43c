/*
 * phase_route.h - where reads and writes go in each phase of a move
 * (issue 10; the phases and why they are ordered so are in topology.h).
 *
 * Shard indexes.  A move either appends one shard (add: nnew = nold + 1)
 * or drops the last one (remove: nnew = nold - 1).  The two layouts share
 * their first min(nold, nnew) shards in the same order, so an index names
 * the same shard in both; the union of the layouts is the indexes
 * 0 .. max(nold, nnew) - 1, and the one shard in only one layout is the
 * last of the longer list.  Jump hash moves an id only between its old
 * owner and that shard (never between two shards both layouts share), so
 * a moving id has exactly two owners: old and new.
 *
 *   phase     writes of id                     searches ask    point reads
 *   stable    owner(id, n)                     0 .. n-1        owner
 *   dual      owner(id, nold), and             0 .. nold-1     old owner
 *             owner(id, nnew) if it differs
 *   switched  owner(id, nnew)                  the union       new owner,
 *                                                              then old
 *
 * (The routers' point reads take only the first: in SWITCHED the new
 * owner is complete, dual.h.)
 *
 * A write in DUAL is acknowledged only when both owners took it (the
 * caller's business).  Searches in SWITCHED may see an id twice (its old
 * copy not yet deleted): the merge already drops duplicate ids (merge.h).
 *
 * Pure functions of (phase, nold, nnew, id): no allocation, no I/O; the
 * caller owns every output array (VSD_PHASE_MAX_OWNERS entries for
 * owners, max(nold, nnew) for search shards).
 *
 * Calls route by their view (view.h), which holds these inputs.
 */
#ifndef VSD_PHASE_ROUTE_H
#define VSD_PHASE_ROUTE_H

#include <stddef.h>
#include <stdint.h>

#include "topology.h"

/* A moving id has two owners; any other id one. */
#define VSD_PHASE_MAX_OWNERS 2

/* The routing inputs of a topology: for a stable one nold == nnew. */
struct vsd_phase_layout {
	int phase;                   /* enum vsd_topo_phase */
	uint32_t nold, nnew;
};

/* The layout of a valid topology (vsd_topo_check() passed). */
void vsd_phase_layout_of(const struct vsd_topo *t, struct vsd_phase_layout *l);

/* 0 when l is one this module routes (stable with nold == nnew >= 1, or
 * a move of exactly one shard), else -1. */
int vsd_phase_check(const struct vsd_phase_layout *l);

/* The shards a write of id[0..len) goes to, into out[]: the count (1 or
 * 2; in DUAL the old owner first), or 0 for a layout that fails
 * vsd_phase_check(). */
uint32_t vsd_phase_write_shards(const struct vsd_phase_layout *l,
    const char *id, size_t len, uint32_t out[VSD_PHASE_MAX_OWNERS]);

/* The shards a point read of id tries, in order (1 or 2; 0 for a bad
 * layout). */
uint32_t vsd_phase_read_shards(const struct vsd_phase_layout *l,
    const char *id, size_t len, uint32_t out[VSD_PHASE_MAX_OWNERS]);

/* How many shards a search asks: they are 0 .. count-1 (0 for a bad
 * layout). */
uint32_t vsd_phase_search_shards(const struct vsd_phase_layout *l);

/* 1 when id changes owner in this move (*from, *to set), else 0.  The
 * mover copies exactly these ids, from *from to *to. */
int vsd_phase_moves(const struct vsd_phase_layout *l, const char *id,
    size_t len, uint32_t *from, uint32_t *to);

#endif
