/*
 * op_delete.c - Delete: each id on the shard that owns it.
 *
 *   VREM vsetd:<collection> <id>
 *
 * VREM takes one element, so a batch is one pipelined VREM per id, on
 * the owner (both owners while a move is in DUAL: dual.h).  Each
 * goes inside the fence (fence.h), expecting the generation read from the
 * metadata (collection.h: cache, else one HGETALL round), so a delete
 * never lands in a collection re-created since; a refused attempt reloads
 * and tries again.
 */
#include <string.h>

#include "collection.h"
#include "dual.h"
#include "fence.h"
#include "topology.h"
#include "ops.h"
#include "round.h"
#include "route.h"
#include "validate.h"
#include "vs_time.h"

/* One attempt: a fenced VREM per id, expecting the generation each shard
 * had when read (none where it had no metadata).  1 when a shard said
 * stale, -1 when out of memory. */
static int
vsd_delete_attempt(struct vsd_call *call, const Vsetd__V1__DeleteRequest *req,
    int attempt)
{
	struct vsd_coll_params p;
	const char *key, *metakey;
	struct vsd_cmd *cmds, *second;
	uint8_t *missing;
	size_t keylen, metalen, i, n = req->n_ids;
	int found;

	if ((missing = vsd_call_alloc(call, call->view.nall)) == NULL)
		return -1;
	if (vsd_coll_load(call, req->collection, attempt == 0 ?
	    VSD_LOAD_CACHE : 0, &p, &found, missing) != VSD_OK)
		return -2;
	key = vsd_call_key(call, req->collection, &keylen);
	metakey = vsd_meta_key(call, req->collection, &metalen);
	cmds = vsd_call_alloc(call, n * sizeof(*cmds));
	second = vsd_call_alloc(call, n * sizeof(*second));
	if (key == NULL || metakey == NULL || cmds == NULL || second == NULL)
		return -1;
	for (i = 0; i < n; i++) {
		struct vsd_argv a;

		if (vsd_argv_init(call, &a, 3) != 0)
			return -1;
		vsd_argv_str(&a, "VREM");
		vsd_argv_add(&a, key, keylen);
		vsd_argv_str(&a, req->ids[i]);
		if (vsd_dual_wrap(call, &a, req->collection, metakey, metalen,
		    found ? p.gen : VSD_GEN_NONE, missing, req->ids[i],
		    &cmds[i], &second[i]) != 0)
			return -1;
	}
	vsd_dual_run(call, cmds, second, n, call->deadline_us);
	for (i = 0; i < n; i++)
		if (vsd_fence_is_stale(cmds[i].reply))
			return 1;
	return 0;
}

void
vsd_op_delete(struct vsd_call *call, const ProtobufCMessage *m)
{
	const Vsetd__V1__DeleteRequest *req = (const Vsetd__V1__DeleteRequest *)m;
	Vsetd__V1__DeleteResponse *resp;
	uint32_t counts[5] = { 0 };
	char what[32];
	size_t i, n = req->n_ids;
	int attempt, rv;

	if (vsd_check_collection(req->collection, &call->st) != VSD_OK ||
	    vsd_check_batch(n, call->lim, "ids", &call->st) != VSD_OK)
		return;
	for (i = 0; i < n; i++) {
		snprintf(what, sizeof(what), "ids[%zu]", i);
		if (vsd_check_id(req->ids[i], call->lim, what, &call->st) != VSD_OK)
			return;
	}
	if ((resp = vsd_call_alloc(call, sizeof(*resp))) == NULL)
		goto oom;
	/* Stale (the collection was dropped or re-created by another
	 * router since we read it): reload and try again (fence.h). */
	for (attempt = 0; ; attempt++) {
		if ((rv = vsd_delete_attempt(call, req, attempt)) == -1)
			goto oom;
		if (rv == -2)
			return;
		if (rv == 0 || attempt + 1 >= VSD_FENCE_MAX_TRIES ||
		    vs_now_us() >= call->deadline_us)
			break;
		if (vsd_topo_after_stale(call) != VSD_OK)
			return;
		vsd_coll_cache_drop(req->collection);
	}

	vsetd__v1__delete_response__init(resp);
	resp->shards = vsd_call_alloc(call, sizeof(*resp->shards));
	if (resp->shards == NULL)
		goto oom;
	if (vsd_call_shards(call, resp->shards, &resp->shard_errors,
	    &resp->n_shard_errors) != 0)
		goto oom;
	vsd_call_write_results(call, req->ids, n, 1, &resp->results, counts);
	if (resp->results == NULL)
		return;
	resp->n_results = n;
	resp->deleted = counts[VSETD__V1__WRITE_OUTCOME__WRITE_DELETED - 1];
	resp->not_found = counts[VSETD__V1__WRITE_OUTCOME__WRITE_NOT_FOUND - 1];
	resp->failed = counts[VSETD__V1__WRITE_OUTCOME__WRITE_FAILED - 1];
	call->resp = &resp->base;
	return;
oom:
	if (call->st.code == VSD_OK)
		vsd_status_set(&call->st, VSD_RESOURCE_EXHAUSTED,
		    "out of memory");
}
