/*
 * round.c - command building and multi-round helpers (see round.h).
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "round.h"
#include "vs_time.h"

int
vsd_argv_init(struct vsd_call *call, struct vsd_argv *a, int cap)
{
	a->argv = vsd_call_alloc(call, (size_t)cap * sizeof(*a->argv));
	a->len = vsd_call_alloc(call, (size_t)cap * sizeof(*a->len));
	a->argc = 0;
	a->cap = cap;
	return a->argv != NULL && a->len != NULL ? 0 : -1;
}

int
vsd_argv_key(struct vsd_call *call, struct vsd_argv *a, const char *cmd,
    const char *key, size_t keylen)
{
	if (vsd_argv_init(call, a, 2) != 0)
		return -1;
	vsd_argv_str(a, cmd);
	vsd_argv_add(a, key, keylen);
	return 0;
}

void
vsd_argv_add(struct vsd_argv *a, const void *p, size_t n)
{
	/* Capacities are compile-time counts of the ops; overflowing one is
	 * a bug, caught here rather than as memory corruption. */
	if (a->argc >= a->cap)
		return;
	a->argv[a->argc] = p;
	a->len[a->argc] = n;
	a->argc++;
}

void
vsd_argv_str(struct vsd_argv *a, const char *s)
{
	vsd_argv_add(a, s, strlen(s));
}

int
vsd_argv_u64(struct vsd_call *call, struct vsd_argv *a, uint64_t v)
{
	char *buf = vsd_call_alloc(call, 24);

	if (buf == NULL)
		return -1;
	vsd_argv_add(a, buf, (size_t)snprintf(buf, 24, "%" PRIu64, v));
	return 0;
}

int
vsd_argv_dbl(struct vsd_call *call, struct vsd_argv *a, double v)
{
	char *buf = vsd_call_alloc(call, 32);

	if (buf == NULL)
		return -1;
	vsd_argv_add(a, buf, (size_t)snprintf(buf, 32, "%.17g", v));
	return 0;
}

void
vsd_argv_to_cmd(const struct vsd_argv *a, struct vsd_cmd *cmd, uint32_t shard)
{
	cmd->shard = shard;
	cmd->argc = a->argc;
	cmd->argv = a->argv;
	cmd->argvlen = a->len;
	cmd->reply = NULL;
}

void
vsd_round_run(struct vsd_call *call, struct vsd_cmd *cmds, size_t n,
    int kind, int64_t deadline_us)
{
	if (call->cmds != cmds)
		vsd_cmds_free_replies(call->cmds, call->ncmds);
	call->cmds = cmds;
	call->ncmds = n;
	vsd_links_run(call->w->links, cmds, n, kind, deadline_us,
	    call->w->res);
}

int64_t
vsd_round_half_deadline(const struct vsd_call *call)
{
	int64_t now = vs_now_us();

	if (call->deadline_us <= now)
		return call->deadline_us;
	return now + (call->deadline_us - now) / 2;
}

int
vsd_round_no_answer(struct vsd_call *call, const char *what)
{
	const struct vsd_shard_result *res = call->w->res;
	uint32_t i, n = call->srv->cfg->nshards;

	for (i = 0; i < n; i++)
		if (res[i].state == VSD_SHARD_FAILED)
			return vsd_status_set(&call->st, VSD_UNAVAILABLE,
			    "%s: no shard answered; shard %u: %s", what, i,
			    res[i].error);
	return vsd_status_set(&call->st, VSD_DEADLINE_EXCEEDED,
	    "%s: no shard answered before the deadline", what);
}

char *
vsd_call_strdup(struct vsd_call *call, const char *s, size_t n)
{
	return vsd_arena_strndup(&call->w->arena, s, n);
}

int
vsd_reply_check(struct vsd_call *call, uint32_t shard, const redisReply *r)
{
	const struct vsd_shard_result *res = &call->w->res[shard];

	if (r == NULL)
		return vsd_status_set(&call->st,
		    vsd_shard_state_code(res->state), "shard %u: %s", shard,
		    res->error[0] != '\0' ? res->error : "no answer");
	if (r->type == REDIS_REPLY_ERROR)
		return vsd_status_set(&call->st, vsd_redis_error_code(r->str),
		    "shard %u: %s", shard, r->str);
	return VSD_OK;
}

Vsetd__V1__ShardSummary *
vsd_round_summary(struct vsd_call *call)
{
	Vsetd__V1__ShardSummary *sum = vsd_call_alloc(call, sizeof(*sum));
	Vsetd__V1__ShardError **errs;
	size_t nerrs;

	if (sum == NULL || vsd_call_shards(call, sum, &errs, &nerrs) != 0) {
		vsd_status_set(&call->st, VSD_RESOURCE_EXHAUSTED,
		    "out of memory");
		return NULL;
	}
	return sum;
}
