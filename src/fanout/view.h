/*
 * view.h - the layout one call routes by, and how a running router
 * adopts a new one (issue 10; the record and the phases are in
 * topology.h, the per-phase table in phase_route.h).
 *
 * Why a snapshot per call.  A move changes the layout while calls run:
 * the phase and the shard count change between two rounds of one call.
 * A call that read the phase once and the shard count again later could
 * write a moving id to one owner only.  So a call takes one struct
 * vsd_view when it starts (dispatch), routes every round by it, and
 * fences every write with its epoch: if the data has moved on meanwhile,
 * the fence refuses the write and the call reloads (topology_run.c).
 *
 * The shard table only grows.  Shards of a new layout beyond the ones a
 * router knows are appended to its table (address, breakers, one lazy
 * connection per worker) before the view that routes to them is
 * published; a removed shard stays in the table, unused.  An address at
 * an index the router already knows with another address cannot be
 * adopted (the router says "restart vsetd").
 *
 * Ownership: a view is a plain value (no pointers); the table belongs to
 * the process (main.c) and is read lock-free.
 */
#ifndef VSD_VIEW_H
#define VSD_VIEW_H

#include <stddef.h>
#include <stdint.h>

#include "phase_route.h"
#include "topology.h"

struct vsd_view {
	uint64_t epoch;
	struct vsd_phase_layout l;   /* phase, nold, nnew */
	uint32_t nall;               /* max(nold, nnew): indexes in use */
};

/* Before any worker: route by t (NULL: no record, a stable layout of
 * nshards at epoch 0).  The table (table.h) must already hold t's
 * shards. */
void vsd_view_start(const struct vsd_topo *t, uint32_t nshards);

/* The layout the router routes by now (thread-safe). */
void vsd_view_now(struct vsd_view *v);
/* Its epoch. */
uint64_t vsd_view_epoch(void);

/*
 * Make every shard of t (its layout and its `from` list) known to the
 * router, without routing to the new ones yet: afterwards rounds may
 * address them by index.  0, or -1 with err set (an index already known
 * with another address; more than VSD_MAX_SHARDS; out of memory).
 */
int vsd_view_register(const struct vsd_topo *t, char *err, size_t errlen);

/*
 * vsd_view_register(t), then route by t from now on, when t's epoch is
 * above the current one (else nothing changes).  0, or -1 with err set.
 */
int vsd_view_adopt(const struct vsd_topo *t, char *err, size_t errlen);

#endif
