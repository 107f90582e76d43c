/*
 * capabilities.c - per-shard Redis version detection (see capabilities.h).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "capabilities.h"
#include "round.h"
#include "shard_reply.h"
#include "vs_time.h"

struct vsd_caps_entry {
	unsigned bits;
	int64_t at_us;               /* 0 = never detected */
};

static pthread_mutex_t vsd_caps_mu = PTHREAD_MUTEX_INITIALIZER;
/* VSD_MAX_SHARDS entries (the table grows: shard/table.h); lives for the
 * process. */
static struct vsd_caps_entry *vsd_caps;

unsigned
vsd_caps_from_info(const char *info)
{
	const char *v = strstr(info, "redis_version:");
	int major = 0, minor = 0, patch = 0;
	unsigned bits = 0;
	long ver;

	if (v == NULL || sscanf(v + 14, "%d.%d.%d", &major, &minor, &patch) < 2)
		return 0;
	ver = (long)major * 10000 + minor * 100 + patch;
	if (ver >= 80002)
		bits |= VSD_CAP_EPSILON;
	if (ver >= 80200)
		bits |= VSD_CAP_WITHATTRIBS;
	return bits;
}

unsigned
vsd_caps_of(uint32_t shard)
{
	unsigned bits = 0;

	pthread_mutex_lock(&vsd_caps_mu);
	if (vsd_caps != NULL && shard < VSD_MAX_SHARDS)
		bits = vsd_caps[shard].bits;
	pthread_mutex_unlock(&vsd_caps_mu);
	return bits;
}

void
vsd_caps_refresh(struct vsd_call *call)
{
	uint32_t s, n = call->view.nall;
	struct vsd_cmd *cmds;
	int64_t now = vs_now_us(), deadline;
	size_t ncmds = 0;

	cmds = vsd_call_alloc(call, n * sizeof(*cmds));
	if (cmds == NULL)
		return;
	pthread_mutex_lock(&vsd_caps_mu);
	if (vsd_caps == NULL)
		vsd_caps = calloc(VSD_MAX_SHARDS, sizeof(*vsd_caps));
	for (s = 0; vsd_caps != NULL && s < n; s++) {
		struct vsd_argv a;

		if (vsd_caps[s].at_us != 0 &&
		    now - vsd_caps[s].at_us < (int64_t)VSD_CAPS_TTL_MS * 1000)
			continue;
		if (vsd_argv_init(call, &a, 2) != 0)
			break;
		vsd_argv_str(&a, "INFO");
		vsd_argv_str(&a, "server");
		vsd_argv_to_cmd(&a, &cmds[ncmds++], s);
	}
	pthread_mutex_unlock(&vsd_caps_mu);
	if (ncmds == 0)
		return;
	deadline = now + (call->deadline_us - now) / 4;
	vsd_round_run(call, cmds, ncmds, VSD_RUN_READ, deadline);
	pthread_mutex_lock(&vsd_caps_mu);
	for (s = 0; s < ncmds; s++) {
		const redisReply *r = cmds[s].reply;

		if (r == NULL || r->type == REDIS_REPLY_ERROR)
			continue;
		if (r->type != REDIS_REPLY_STRING) {
			/* Not what INFO answers: the shard keeps no optional
			 * capability and its breaker hears of it. */
			vsd_reply_protocol_error(call, cmds[s].shard, "INFO "
			    "reply is not a string");
			continue;
		}
		vsd_caps[cmds[s].shard].bits = vsd_caps_from_info(r->str);
		vsd_caps[cmds[s].shard].at_us = vs_now_us();
	}
	pthread_mutex_unlock(&vsd_caps_mu);
	vsd_cmds_free_replies(cmds, ncmds);
	call->cmds = NULL;
	call->ncmds = 0;
}
