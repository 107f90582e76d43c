/*
 * topology_run.c - the topology epoch while serving (design in
 * topology.h): the epoch every fenced write carries, and what a call does
 * when a shard shows another one.
 *
 * A call routes by the view it took when it started (view.h); every
 * fenced write carries that view's epoch.
 *
 * A write refused with -VSETDSTALE epoch, or a search that read an epoch
 * above its own right after its VSIMs, re-reads vsetd:@topology on every
 * shard of its view (one round, within half of what is left of the
 * deadline), adopts the highest valid epoch (view.h: shards it did not
 * know are added to the table; any phase of a one-shard move), takes the
 * new view, and the caller retries (writes) or runs again (search).  A
 * record this router cannot follow (another address at an index it
 * knows) answers UNAVAILABLE "... restart vsetd".
 * When no shard holds a newer epoch than ours (another worker adopted it
 * meanwhile, or one shard is behind), the caller simply retries: its
 * attempts are bounded (VSD_FENCE_MAX_TRIES), and a write a shard keeps
 * refusing fails per item with the VSETDSTALE message.
 *
 * Ownership: commands and strings live in the call's arena; the two
 * scratch records of a reload are heap-allocated and freed here.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fence.h"
#include "log.h"
#include "round.h"
#include "topology.h"
#include "vs_time.h"

#define VSD_STALE_EPOCH VSD_FENCE_STALE " epoch "
#define VSD_WHY_LEN 200

const char *
vsd_topo_epoch_arg(struct vsd_call *call)
{
	char *s = vsd_call_alloc(call, VSD_TOPO_MAX_EPOCH_LEN + 1);

	if (s != NULL)
		snprintf(s, VSD_TOPO_MAX_EPOCH_LEN + 1, "%llu",
		    (unsigned long long)call->view.epoch);
	return s;
}

int
vsd_topo_epoch_cmd(struct vsd_call *call, struct vsd_cmd *cmd, uint32_t shard)
{
	struct vsd_argv a;

	if (vsd_argv_init(call, &a, 3) != 0)
		return -1;
	vsd_argv_str(&a, "HGET");
	vsd_argv_str(&a, VSD_TOPO_KEY);
	vsd_argv_str(&a, "epoch");
	vsd_argv_to_cmd(&a, cmd, shard);
	return 0;
}

/*
 * Re-read the record on every shard and adopt it if we can route by it.
 * VSD_OK (adopted, or nothing newer: retry), or UNAVAILABLE set.
 */
static int
vsd_topo_reload(struct vsd_call *call)
{
	struct vsd_topo *scratch = NULL, *best = NULL;
	struct vsd_cmd *cmds;
	uint32_t s, n = call->view.nall;
	char why[VSD_WHY_LEN], list[VSD_TOPO_MAX_ADDR * 4];
	int rv = VSD_OK, have = 0;

	cmds = vsd_call_alloc(call, n * sizeof(*cmds));
	scratch = malloc(sizeof(*scratch));
	best = malloc(sizeof(*best));
	if (cmds == NULL || scratch == NULL || best == NULL) {
		rv = vsd_status_set(&call->st, VSD_RESOURCE_EXHAUSTED,
		    "out of memory");
		goto out;
	}
	for (s = 0; s < n; s++) {
		struct vsd_argv a;

		if (vsd_argv_key(call, &a, "HGETALL", VSD_TOPO_KEY,
		    strlen(VSD_TOPO_KEY)) != 0) {
			rv = vsd_status_set(&call->st, VSD_RESOURCE_EXHAUSTED,
			    "out of memory");
			goto out;
		}
		vsd_argv_to_cmd(&a, &cmds[s], s);
	}
	vsd_round_run(call, cmds, n, VSD_RUN_READ,
	    vsd_round_half_deadline(call));
	for (s = 0; s < n; s++) {
		int kind = vsd_topo_from_reply(cmds[s].reply, scratch, why,
		    sizeof(why));

		if (kind == VSD_TOPO_MALFORMED)
			vsd_warn("topology: shard %u: malformed %s: %s", s,
			    VSD_TOPO_KEY, why);
		if (kind == VSD_TOPO_RECORD &&
		    (!have || scratch->epoch > best->epoch)) {
			memcpy(best, scratch, sizeof(*best));
			have = 1;
		}
	}
	if (!have || best->epoch <= vsd_view_epoch())
		goto out;            /* nothing newer: retry */
	if (vsd_view_adopt(best, why, sizeof(why)) == 0)
		goto out;
	if (vsd_topo_format_list(best->shards, best->nshards, list,
	    sizeof(list)) == 0)
		snprintf(list, sizeof(list), "(list too long to show)");
	rv = vsd_status_set(&call->st, VSD_UNAVAILABLE, "topology changed "
	    "to epoch %llu (%u shards %s, phase %s) and this router cannot "
	    "follow it (%s): restart vsetd to adopt it",
	    (unsigned long long)best->epoch, best->nshards, list,
	    vsd_topo_phase_name(best->phase), why);
out:
	vsd_view_now(&call->view);  /* route the retry by what is true now */
	free(scratch);
	free(best);
	return rv;
}

int
vsd_topo_after_stale(struct vsd_call *call)
{
	size_t i;

	for (i = 0; i < call->ncmds; i++) {
		const redisReply *r = call->cmds[i].reply;

		if (r != NULL && r->type == REDIS_REPLY_ERROR &&
		    strncmp(r->str, VSD_STALE_EPOCH,
		    strlen(VSD_STALE_EPOCH)) == 0)
			return vsd_topo_reload(call);
	}
	return VSD_OK;
}

/* An epoch read (vsd_topo_epoch_cmd) in call->cmds[i]? */
static int
vsd_is_epoch_read(const struct vsd_cmd *c)
{
	return c->argc == 3 && c->argvlen[0] == 4 &&
	    memcmp(c->argv[0], "HGET", 4) == 0 &&
	    c->argvlen[1] == strlen(VSD_TOPO_KEY) &&
	    memcmp(c->argv[1], VSD_TOPO_KEY, c->argvlen[1]) == 0;
}

int
vsd_topo_after_read(struct vsd_call *call, int may_retry)
{
	uint64_t cur = call->view.epoch, e, maxe = 0;
	uint32_t maxs = 0;
	size_t i;

	for (i = 0; i < call->ncmds; i++) {
		const struct vsd_cmd *c = &call->cmds[i];
		const redisReply *r = c->reply;

		if (r == NULL || !vsd_is_epoch_read(c))
			continue;
		if (r->type == REDIS_REPLY_NIL)
			continue;    /* epoch 0: never newer */
		if (r->type != REDIS_REPLY_STRING) {
			if (r->type != REDIS_REPLY_ERROR)
				vsd_warn("topology: shard %u: epoch read "
				    "answered type %d", c->shard, r->type);
			continue;
		}
		if (r->len <= 0 || r->len > VSD_TOPO_MAX_EPOCH_LEN ||
		    strspn(r->str, "0123456789") != (size_t)r->len) {
			vsd_warn("topology: shard %u: malformed epoch in %s",
			    c->shard, VSD_TOPO_KEY);
			continue;
		}
		e = strtoull(r->str, NULL, 10);
		if (e > maxe) {
			maxe = e;
			maxs = c->shard;
		}
	}
	if (maxe <= cur)
		return 0;
	/* The layout may have changed under this search: reload; run the
	 * search again when it is still ours, else fail. */
	if (vsd_topo_reload(call) != VSD_OK)
		return -1;
	if (call->view.epoch < maxe)
		return vsd_status_set(&call->st, VSD_UNAVAILABLE, "shard %u "
		    "holds topology epoch %llu but no valid %s record for it "
		    "(this router runs epoch %llu)", maxs,
		    (unsigned long long)maxe, VSD_TOPO_KEY,
		    (unsigned long long)call->view.epoch), -1;
	if (!may_retry || vs_now_us() >= call->deadline_us)
		return vsd_status_set(&call->st, VSD_UNAVAILABLE, "topology "
		    "epoch changed during the search; no time left to run it "
		    "again"), -1;
	return 1;
}
