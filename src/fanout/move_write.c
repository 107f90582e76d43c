/*
 * move_write.c - the new owner's write in DUAL (move_write.h).
 *
 * For now the plain fence: the bookkeeping the mover checks comes with
 * the mover (mover.c).
 */
#include "fence.h"
#include "move_write.h"

int
vsd_move_wrap_new_owner(struct vsd_call *call, const struct vsd_argv *inner,
    const char *collection, const char *metakey, size_t metalen,
    const char *gen, uint32_t shard, struct vsd_cmd *cmd)
{
	(void)collection;
	return vsd_fence_wrap(call, inner, metakey, metalen, gen, shard, cmd);
}
