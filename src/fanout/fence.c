/*
 * fence.c - the write fence and the metadata script (see fence.h for the
 * design), EVALSHA with the NOSCRIPT fallback.  The scripts' texts are in
 * fence_lua.c.
 */
#include <stdio.h>
#include <string.h>

#include "collection.h"
#include "dual.h"
#include "fence.h"
#include "topology.h"
#include "vs_time.h"

#define VSD_NOSCRIPT "NOSCRIPT"

/* ------------------------------------------------------------ fence */

int
vsd_fence_wrap(struct vsd_call *call, const struct vsd_argv *inner,
    const char *metakey, size_t metalen, const char *gen, uint32_t shard,
    struct vsd_cmd *cmd)
{
	const char *epoch = vsd_topo_epoch_arg(call);
	struct vsd_argv a;
	int i;

	if (epoch == NULL || inner->argc < 2 || vsd_argv_init(call, &a,
	    inner->argc + VSD_FENCE_EXTRA_ARGS) != 0)
		return -1;
	vsd_argv_str(&a, "EVALSHA");
	vsd_argv_str(&a, vsd_script_sha(VSD_SCRIPT_FENCE));
	vsd_argv_str(&a, "3");
	vsd_argv_add(&a, metakey, metalen);
	vsd_argv_str(&a, VSD_TOPOLOGY_KEY);
	vsd_argv_add(&a, inner->argv[1], inner->len[1]);
	vsd_argv_str(&a, gen);
	vsd_argv_str(&a, epoch);
	vsd_argv_add(&a, inner->argv[0], inner->len[0]);
	for (i = 2; i < inner->argc; i++)
		vsd_argv_add(&a, inner->argv[i], inner->len[i]);
	/* A lost argument would send another command: refuse instead. */
	if (a.argc != inner->argc + VSD_FENCE_EXTRA_ARGS)
		return -1;
	vsd_argv_to_cmd(&a, cmd, shard);
	return 0;
}

int
vsd_fence_is_stale(const redisReply *r)
{
	return r != NULL && r->type == REDIS_REPLY_ERROR &&
	    strncmp(r->str, VSD_FENCE_STALE " ", sizeof(VSD_FENCE_STALE)) == 0;
}

static int
vsd_is_noscript(const redisReply *r)
{
	return r != NULL && r->type == REDIS_REPLY_ERROR &&
	    strncmp(r->str, VSD_NOSCRIPT, strlen(VSD_NOSCRIPT)) == 0;
}

/* The script an EVALSHA command names, or NULL. */
static const char *
vsd_script_of(const struct vsd_cmd *c)
{
	int i;

	if (c->argc < 2 || c->argvlen[0] != 7 ||
	    memcmp(c->argv[0], "EVALSHA", 7) != 0 || c->argvlen[1] != 40)
		return NULL;
	for (i = 0; i < VSD_SCRIPT_COUNT; i++)
		if (memcmp(c->argv[1], vsd_script_sha(i), 40) == 0)
			return vsd_script_text(i);
	return NULL;
}

void
vsd_fence_run(struct vsd_call *call, struct vsd_cmd *cmds, size_t n,
    int kind, int64_t deadline_us)
{
	uint32_t s, nshards = call->view.nall;
	struct vsd_shard_result *res = call->w->res, *saved;
	struct vsd_cmd *again;
	uint8_t *used;
	size_t i, m = 0, j;

	vsd_round_run(call, cmds, n, kind, deadline_us);
	for (i = 0; i < n; i++)
		if (vsd_is_noscript(cmds[i].reply) &&
		    vsd_script_of(&cmds[i]) != NULL)
			m++;
	if (m == 0)
		return;
	again = vsd_call_alloc(call, m * sizeof(*again));
	saved = vsd_call_alloc(call, nshards * sizeof(*saved));
	used = vsd_call_alloc(call, nshards);
	if (again == NULL || saved == NULL || used == NULL)
		return;        /* the NOSCRIPT errors stand */
	memcpy(saved, res, nshards * sizeof(*saved));
	memset(used, 0, nshards);
	for (i = 0, j = 0; i < n; i++) {
		const char **argv;
		size_t *len;

		if (!vsd_is_noscript(cmds[i].reply) ||
		    vsd_script_of(&cmds[i]) == NULL)
			continue;
		argv = vsd_call_alloc(call, (size_t)cmds[i].argc *
		    sizeof(*argv));
		len = vsd_call_alloc(call, (size_t)cmds[i].argc *
		    sizeof(*len));
		if (argv == NULL || len == NULL)
			return;
		memcpy(argv, cmds[i].argv, (size_t)cmds[i].argc *
		    sizeof(*argv));
		memcpy(len, cmds[i].argvlen, (size_t)cmds[i].argc *
		    sizeof(*len));
		argv[1] = vsd_script_of(&cmds[i]);
		len[1] = strlen(argv[1]);
		argv[0] = "EVAL";
		len[0] = 4;
		again[j] = cmds[i];
		again[j].argv = argv;
		again[j].argvlen = len;
		again[j].reply = NULL;
		used[cmds[i].shard] = 1;
		j++;
	}
	vsd_links_run(call->w->links, again, m, kind, deadline_us, res);
	for (s = 0; s < nshards; s++)
		if (!used[s])
			res[s] = saved[s];
	for (i = 0, j = 0; i < n && j < m; i++) {
		if (!vsd_is_noscript(cmds[i].reply) ||
		    vsd_script_of(&cmds[i]) == NULL)
			continue;
		freeReplyObject(cmds[i].reply);
		cmds[i].reply = again[j++].reply;
	}
}

int
vsd_fence_write_one(struct vsd_call *call, const char *collection,
    const struct vsd_argv *inner, const char *id)
{
	struct vsd_coll_params p;
	const char *metakey;
	struct vsd_cmd *c;
	uint8_t *missing;
	size_t metalen;
	int attempt, found;

	metakey = vsd_meta_key(call, collection, &metalen);
	if (metakey == NULL)
		return call->st.code;
	for (attempt = 0; ; attempt++) {
		/* Every attempt routes by the call's view, which a reload
		 * may have changed. */
		missing = vsd_call_alloc(call, call->view.nall);
		c = vsd_call_alloc(call, VSD_PHASE_MAX_OWNERS * sizeof(*c));
		if (missing == NULL || c == NULL)
			return call->st.code;
		if (vsd_coll_load(call, collection, attempt == 0 ?
		    VSD_LOAD_CACHE : 0, &p, &found, missing) != VSD_OK)
			return call->st.code;
		if (vsd_dual_wrap(call, inner, collection, metakey, metalen,
		    found ? p.gen : VSD_GEN_NONE, missing, id, &c[0],
		    &c[1]) != 0)
			return vsd_status_set(&call->st, VSD_RESOURCE_EXHAUSTED,
			    "out of memory");
		vsd_dual_run(call, c, &c[1], 1, call->deadline_us);
		if (!vsd_fence_is_stale(c->reply) ||
		    attempt + 1 >= VSD_FENCE_MAX_TRIES ||
		    vs_now_us() >= call->deadline_us)
			return VSD_OK;
		if (vsd_topo_after_stale(call) != VSD_OK)
			return call->st.code;
		vsd_coll_cache_drop(collection);
	}
}
