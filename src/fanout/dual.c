/*
 * dual.c - writes routed by the call's view (dual.h).
 */
#include <string.h>

#include "collection.h"
#include "dual.h"
#include "fence.h"
#include "move_write.h"
#include "shards.h"

uint32_t
vsd_write_owners(const struct vsd_call *call, const char *id,
    uint32_t out[VSD_PHASE_MAX_OWNERS])
{
	return vsd_phase_write_shards(&call->view.l, id, strlen(id), out);
}

uint32_t
vsd_read_owner(const struct vsd_call *call, const char *id)
{
	uint32_t out[VSD_PHASE_MAX_OWNERS];

	/* vsd_phase_read_shards: the old owner in DUAL, else the new one
	 * first; a view always passes vsd_phase_check (view.c). */
	if (vsd_phase_read_shards(&call->view.l, id, strlen(id), out) == 0)
		return 0;
	return out[0];
}

uint32_t
vsd_read_shards(const struct vsd_call *call)
{
	return vsd_phase_search_shards(&call->view.l);
}

int
vsd_dual_wrap(struct vsd_call *call, const struct vsd_argv *inner,
    const char *collection, const char *metakey, size_t metalen,
    const char *gen, const uint8_t *missing, const char *id,
    struct vsd_cmd *first, struct vsd_cmd *second)
{
	uint32_t owner[VSD_PHASE_MAX_OWNERS];
	uint32_t n = vsd_write_owners(call, id, owner);

	memset(second, 0, sizeof(*second));
	if (vsd_fence_wrap(call, inner, metakey, metalen,
	    missing != NULL && missing[owner[0]] ? VSD_GEN_NONE : gen,
	    owner[0], first) != 0)
		return -1;
	if (n > 1 && vsd_move_wrap_new_owner(call, inner, collection,
	    metakey, metalen, missing != NULL && missing[owner[1]] ?
	    VSD_GEN_NONE : gen, owner[1], second) != 0)
		return -1;
	return 0;
}

/* How bad a shard's state is, for merging two rounds. */
static int
vsd_state_rank(int state)
{
	switch (state) {
	case VSD_SHARD_FAILED:
		return 3;
	case VSD_SHARD_TIMED_OUT:
		return 2;
	case VSD_SHARD_OK:
		return 1;
	default:
		return 0;
	}
}

/* res := the merge of the first round's results (saved) and the second's
 * (res): the worse state with its error; the smaller WAIT count. */
static void
vsd_dual_merge(struct vsd_shard_result *res,
    const struct vsd_shard_result *saved, uint32_t n)
{
	uint32_t s;

	for (s = 0; s < n; s++) {
		int wa = saved[s].wait_acked, wb = res[s].wait_acked;

		if (vsd_state_rank(saved[s].state) > vsd_state_rank(res[s].state))
			res[s] = saved[s];
		if (wa >= 0 && (wb < 0 || wa < wb))
			res[s].wait_acked = wa;
	}
}

void
vsd_dual_run(struct vsd_call *call, struct vsd_cmd *cmds,
    struct vsd_cmd *second, size_t n, int64_t deadline_us)
{
	struct vsd_shard_result *saved;
	struct vsd_cmd *two;
	size_t *idx;
	size_t i, m = 0;
	uint32_t nall = call->view.nall;

	vsd_fence_run(call, cmds, n, VSD_RUN_WRITE, deadline_us);
	for (i = 0; second != NULL && i < n; i++)
		if (second[i].argc > 0 && cmds[i].reply != NULL &&
		    cmds[i].reply->type != REDIS_REPLY_ERROR)
			m++;
	if (m == 0)
		return;
	two = vsd_call_alloc(call, m * sizeof(*two));
	idx = vsd_call_alloc(call, m * sizeof(*idx));
	saved = vsd_call_alloc(call, nall * sizeof(*saved));
	if (two == NULL || idx == NULL || saved == NULL) {
		/* Not acknowledged by both owners: fail those items. */
		for (i = 0; i < n; i++)
			if (second[i].argc > 0 && cmds[i].reply != NULL &&
			    cmds[i].reply->type != REDIS_REPLY_ERROR) {
				freeReplyObject(cmds[i].reply);
				cmds[i].reply = NULL;
			}
		return;
	}
	for (i = 0, m = 0; i < n; i++)
		if (second[i].argc > 0 && cmds[i].reply != NULL &&
		    cmds[i].reply->type != REDIS_REPLY_ERROR) {
			two[m] = second[i];
			idx[m++] = i;
		}
	memcpy(saved, call->w->res, nall * sizeof(*saved));
	/* The first round's replies stay ours: keep the round runner from
	 * freeing them when the second round starts. */
	call->cmds = NULL;
	call->ncmds = 0;
	vsd_fence_run(call, two, m, VSD_RUN_WRITE, deadline_us);
	vsd_dual_merge(call->w->res, saved, nall);
	for (i = 0; i < m; i++) {
		struct vsd_cmd *c = &cmds[idx[i]];
		redisReply *r = two[i].reply;

		if (r == NULL || r->type == REDIS_REPLY_ERROR) {
			freeReplyObject(c->reply);
			*c = two[i];
		} else {
			freeReplyObject(r);
		}
		two[i].reply = NULL;
	}
	call->cmds = cmds;
	call->ncmds = n;
}
