/*
 * round.c - command building and multi-round helpers (see round.h).
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "round.h"
#include "vs_time.h"

int
vsd_argv_init(struct vsd_call *call, struct vsd_argv *a, int cap)
{
	a->argv = vsd_call_alloc(call, (size_t)cap * sizeof(*a->argv));
	a->len = vsd_call_alloc(call, (size_t)cap * sizeof(*a->len));
	a->argc = 0;
	a->cap = cap;
	a->overflow = 0;
	a->call = call;
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
	 * a bug, caught here rather than as memory corruption, and made
	 * fatal for the call (round.h). */
	if (a->argc >= a->cap) {
		if (!a->overflow && a->call != NULL)
			vsd_status_set(&a->call->st, VSD_INTERNAL, "internal "
			    "error: a %.*s command needs more than %d "
			    "arguments; nothing was sent",
			    a->argc > 0 ? (int)(a->len[0] < 32 ? a->len[0] :
			    32) : 1, a->argc > 0 ? a->argv[0] : "?", a->cap);
		a->overflow = 1;
		return;
	}
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
	cmd->argc = a->overflow ? -1 : a->argc;
	cmd->argv = a->argv;
	cmd->argvlen = a->len;
	cmd->reply = NULL;
}

/* A round with a poisoned command: send nothing; every shard that had a
 * command fails with the internal error. */
static void
vsd_round_refuse(struct vsd_call *call, struct vsd_cmd *cmds, size_t n)
{
	struct vsd_shard_result *res = call->w->res;
	uint32_t s, nshards = call->view.nall;
	size_t i;

	vsd_err("%s", call->st.msg);
	for (s = 0; s < nshards; s++) {
		res[s].state = VSD_SHARD_UNUSED;
		res[s].endpoint = 0;
		res[s].wait_acked = -1;
		res[s].error[0] = '\0';
	}
	for (i = 0; i < n; i++) {
		cmds[i].reply = NULL;
		if (cmds[i].shard < nshards) {
			res[cmds[i].shard].state = VSD_SHARD_FAILED;
			snprintf(res[cmds[i].shard].error,
			    sizeof(res[0].error), "internal error: a command "
			    "with too many arguments was not sent");
		}
	}
}

void
vsd_round_run(struct vsd_call *call, struct vsd_cmd *cmds, size_t n,
    int kind, int64_t deadline_us)
{
	size_t i;

	/* Also when cmds is the previous round's array again: the round
	 * below starts by clearing every reply pointer in it. */
	vsd_cmds_free_replies(call->cmds, call->ncmds);
	call->cmds = cmds;
	call->ncmds = n;
	for (i = 0; i < n; i++)
		if (cmds[i].argc < 0)
			break;
	if (i < n) {
		vsd_round_refuse(call, cmds, n);
		return;
	}
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
	uint32_t i, n = call->view.nall;

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
