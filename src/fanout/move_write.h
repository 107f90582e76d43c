/*
 * move_write.h - a write of a moving id on its NEW owner while a move is
 * in phase DUAL (issue 10; topology.h, phase_route.h).
 *
 * In DUAL a write of an id whose owner changes goes to the old owner
 * first and, once that one acknowledged it, to the new owner.  On the new
 * owner the mover may be copying the same id at the same moment, from
 * what it read on the old owner a little earlier.  The write is therefore
 * wrapped in a script that leaves, atomically with the write, what the
 * mover's copy script checks (mover.c) so that a copy can never undo it:
 * a delete is never resurrected, an attribute update is never lost.
 *
 * Same arguments and ownership as vsd_fence_wrap() (fence.h): the
 * command lives in the call's arena.  0, or -1 when out of memory.
 */
#ifndef VSD_MOVE_WRITE_H
#define VSD_MOVE_WRITE_H

#include <stddef.h>
#include <stdint.h>

#include "call.h"
#include "round.h"

int vsd_move_wrap_new_owner(struct vsd_call *call,
    const struct vsd_argv *inner, const char *collection,
    const char *metakey, size_t metalen, const char *gen, uint32_t shard,
    struct vsd_cmd *cmd);

#endif
