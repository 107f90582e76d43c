/*
 * call.c - what every layer above the shards does with a call: its arena,
 * the status codes of shard failures.  See call.h.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "call.h"
#include "health.h"
#include "route.h"
#include "shards.h"
#include "vs_time.h"

void
vsd_call_init(struct vsd_call *call, struct vsd_lane *w)
{
	memset(call, 0, sizeof(*call));
	call->w = w;
	call->lim = w->lim;
	vsd_view_now(&call->view);
}

void
vsd_call_release(struct vsd_call *call)
{
	vsd_cmds_free_replies(call->cmds, call->ncmds);
	call->cmds = NULL;
	call->ncmds = 0;
}

void *
vsd_call_alloc(struct vsd_call *call, size_t size)
{
	void *p = vsd_arena_alloc(&call->w->arena, size);

	/* Recorded here once, so a caller only has to give up. */
	if (p == NULL && call->st.code == VSD_OK)
		vsd_status_set(&call->st, VSD_RESOURCE_EXHAUSTED,
		    "out of memory");
	return p;
}

const char *
vsd_call_key(struct vsd_call *call, const char *collection, size_t *len)
{
	size_t size = strlen(collection) + sizeof(VSD_KEY_PREFIX);
	char *key;

	if ((key = vsd_call_alloc(call, size)) == NULL)
		return NULL;
	*len = vsd_route_key(key, size, collection);
	return key;
}

static int
vsd_prefix(const char *s, const char *p)
{
	return strncmp(s, p, strlen(p)) == 0;
}

int
vsd_redis_error_code(const char *err)
{
	static const char *const shard_side[] = {
		"LOADING", "BUSY", "MASTERDOWN", "TRYAGAIN", "NOAUTH",
		"WRONGPASS", "NOPERM", "READONLY", "CLUSTERDOWN", "MOVED", "ASK",
		"VSETDSTALE",           /* fence.h: still stale after reloads */
	};
	size_t i;

	for (i = 0; i < sizeof(shard_side) / sizeof(shard_side[0]); i++)
		if (vsd_prefix(err, shard_side[i]))
			return VSD_UNAVAILABLE;
	if (vsd_prefix(err, "OOM"))
		return VSD_RESOURCE_EXHAUSTED;
	if (vsd_prefix(err, "WRONGTYPE"))
		return VSD_FAILED_PRECONDITION;
	if (vsd_prefix(err, "ERR unknown command"))
		return VSD_UNIMPLEMENTED;
	return VSD_INVALID_ARGUMENT;
}

int
vsd_shard_state_code(int state)
{
	return state == VSD_SHARD_TIMED_OUT ? VSD_DEADLINE_EXCEEDED :
	    VSD_UNAVAILABLE;
}

int
vsd_reply_protocol_error(struct vsd_call *call, uint32_t shard,
    const char *fmt, ...)
{
	struct vsd_shard_result *res = &call->w->res[shard];
	char why[160];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	/* The first error of a shard is the one reported. */
	if (res->state != VSD_SHARD_FAILED) {
		res->state = VSD_SHARD_FAILED;
		snprintf(res->error, sizeof(res->error), "protocol error: %s",
		    why);
		if (call->w->health != NULL)
			vsd_health_bad_reply(&call->w->health[(size_t)shard *
			    VSD_MAX_ENDPOINTS + (size_t)res->endpoint],
			    vs_now_us(), res->error);
	}
	return VSD_UNAVAILABLE;
}
