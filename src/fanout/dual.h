/*
 * dual.h - writes routed by the call's view, DUAL's two owners included
 * (issue 10; the phases are in topology.h, the table in phase_route.h).
 *
 * In DUAL a write of an id that changes owner must reach both owners:
 * the old one, which readers still use, and the new one, which readers
 * will use after the switch.  It goes to the old owner FIRST and, only
 * once that one acknowledged it, to the new owner (move_write.h says why
 * the mover needs this order).  The write is acknowledged to the caller
 * only when both took it; if the new owner did not, the caller sees the
 * new owner's error for that item (its old-owner write stands, and the
 * caller, told it failed, may retry: writes are idempotent).
 *
 * Ownership: commands and arrays live in the call's arena; replies end in
 * call->cmds like any round's (round.h).
 */
#ifndef VSD_DUAL_H
#define VSD_DUAL_H

#include <stddef.h>
#include <stdint.h>

#include "call.h"
#include "round.h"

/* The shards a write of id goes to under the call's view: the count (1,
 * or 2 in DUAL for a moving id: old owner first), owners in out[]. */
uint32_t vsd_write_owners(const struct vsd_call *call, const char *id,
    uint32_t out[VSD_PHASE_MAX_OWNERS]);

/* The one shard a point read of id asks: DUAL the old owner, otherwise
 * the owner in the new layout (complete in SWITCHED: every element was
 * copied to it before the switch). */
uint32_t vsd_read_owner(const struct vsd_call *call, const char *id);

/* How many shards a search or an aggregate asks, 0 .. count-1: DUAL the
 * old layout (complete), SWITCHED both (the merge drops ids seen twice),
 * else the layout. */
uint32_t vsd_read_shards(const struct vsd_call *call);

/*
 * The write inner (a command "CMD key args...") of element id, routed by
 * the call's view: *first := the fenced command on the (old) owner;
 * *second := the new owner's write in DUAL (move_write.h), or argc 0 when
 * id has one owner.  gen is the expected generation, except on shards
 * where missing (may be NULL) is set: there no metadata is expected
 * (VSD_GEN_NONE).  0, or -1 when out of memory.
 */
int vsd_dual_wrap(struct vsd_call *call, const struct vsd_argv *inner,
    const char *collection, const char *metakey, size_t metalen,
    const char *gen, const uint8_t *missing, const char *id,
    struct vsd_cmd *first, struct vsd_cmd *second);

/*
 * Run the fenced writes cmds[0..n) (vsd_fence_run), then second[i] for
 * every i whose second[i].argc > 0 and whose first reply is not an error
 * (the new owner's write, built with vsd_move_wrap_new_owner()).  Where
 * the second write got an error or no answer, cmds[i] becomes second[i]
 * (its shard, its reply), so cmds[i].reply is item i's outcome in
 * either case.  Per-shard results of both rounds are merged (the worse
 * state wins).  Afterwards call->cmds = cmds, call->ncmds = n.
 * second may be NULL (no item has a second owner).
 */
void vsd_dual_run(struct vsd_call *call, struct vsd_cmd *cmds,
    struct vsd_cmd *second, size_t n, int64_t deadline_us);

#endif
