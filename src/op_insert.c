/*
 * op_insert.c - Insert: each item to the one shard that owns its id.
 *
 *   VADD vsetd:<collection> FP32 <blob> <id> [SETATTR <json>]
 *
 * The vector goes as an FP32 blob straight from the decoded request (no
 * text formatting: protobuf-c's repeated float is already little-endian
 * float32 on the hosts we build for).  Items for one shard are pipelined
 * in request order; all shards are written in parallel.
 */
#include <string.h>

#include "ops.h"
#include "route.h"
#include "validate.h"
#include "vs_json.h"
#include "vs_time.h"

#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "VADD FP32 blobs are little-endian: add a byte swap for this host"
#endif

#define VSD_INSERT_ARGC 7
#define VSD_ATTRS_MAX_DEPTH 32

static int
vsd_insert_validate(struct vsd_call *call,
    const Vsetd__V1__InsertRequest *req)
{
	char what[48];
	size_t i;
	int rv;

	if ((rv = vsd_check_collection(req->collection, &call->st)) != VSD_OK)
		return rv;
	if ((rv = vsd_check_batch(req->n_items, call->lim, "items",
	    &call->st)) != VSD_OK)
		return rv;
	for (i = 0; i < req->n_items; i++) {
		const Vsetd__V1__Item *it = req->items[i];
		const char *why = NULL;
		size_t where = 0, alen;

		snprintf(what, sizeof(what), "items[%zu].id", i);
		if ((rv = vsd_check_id(it->id, call->lim, what, &call->st)) != VSD_OK)
			return rv;
		snprintf(what, sizeof(what), "items[%zu].vector", i);
		if ((rv = vsd_check_vector(it->vector, it->n_vector,
		    req->items[0]->n_vector, call->lim, what, &call->st)) != VSD_OK)
			return rv;
		alen = strlen(it->attributes_json);
		if (alen == 0)
			continue;
		if (vs_json_validate(it->attributes_json, alen,
		    VSD_ATTRS_MAX_DEPTH, &why, &where) != 0)
			return vsd_status_set(&call->st, VSD_INVALID_ARGUMENT,
			    "items[%zu].attributes_json is not valid JSON: %s "
			    "at byte %zu", i, why, where);
		if (!vs_json_is_object(it->attributes_json, alen))
			return vsd_status_set(&call->st, VSD_INVALID_ARGUMENT,
			    "items[%zu].attributes_json must be a JSON object",
			    i);
	}
	return VSD_OK;
}

void
vsd_op_insert(struct vsd_call *call, const ProtobufCMessage *m)
{
	const Vsetd__V1__InsertRequest *req = (const Vsetd__V1__InsertRequest *)m;
	Vsetd__V1__InsertResponse *resp;
	uint32_t counts[5] = { 0 };
	uint32_t nshards = call->srv->cfg->nshards;
	const char *key;
	char **ids;
	size_t keylen, i, n = req->n_items;

	if (vsd_insert_validate(call, req) != VSD_OK)
		return;
	key = vsd_call_key(call, req->collection, &keylen);
	call->cmds = vsd_call_alloc(call, n * sizeof(*call->cmds));
	ids = vsd_call_alloc(call, n * sizeof(*ids));
	resp = vsd_call_alloc(call, sizeof(*resp));
	if (key == NULL || call->cmds == NULL || ids == NULL || resp == NULL)
		goto oom;
	call->ncmds = n;
	for (i = 0; i < n; i++) {
		const Vsetd__V1__Item *it = req->items[i];
		struct vsd_cmd *c = &call->cmds[i];
		const char **argv;
		size_t *len;

		argv = vsd_call_alloc(call, VSD_INSERT_ARGC * sizeof(*argv));
		len = vsd_call_alloc(call, VSD_INSERT_ARGC * sizeof(*len));
		if (argv == NULL || len == NULL)
			goto oom;
		argv[0] = "VADD";     len[0] = 4;
		argv[1] = key;        len[1] = keylen;
		argv[2] = "FP32";     len[2] = 4;
		argv[3] = (const char *)it->vector;
		len[3] = it->n_vector * sizeof(float);
		argv[4] = it->id;     len[4] = strlen(it->id);
		c->argc = 5;
		if (it->attributes_json[0] != '\0') {
			argv[5] = "SETATTR";            len[5] = 7;
			argv[6] = it->attributes_json;
			len[6] = strlen(it->attributes_json);
			c->argc = 7;
		}
		c->argv = argv;
		c->argvlen = len;
		c->shard = vsd_route_shard(it->id, nshards);
		ids[i] = it->id;
	}
	vsd_links_run(call->w->links, call->cmds, n, VSD_RUN_WRITE,
	    call->deadline_us,
	    call->w->res);

	vsetd__v1__insert_response__init(resp);
	resp->shards = vsd_call_alloc(call, sizeof(*resp->shards));
	if (resp->shards == NULL)
		goto oom;
	if (vsd_call_shards(call, resp->shards, &resp->shard_errors,
	    &resp->n_shard_errors) != 0)
		goto oom;
	vsd_call_write_results(call, ids, n, 0, &resp->results, counts);
	if (resp->results == NULL)
		return;
	resp->n_results = n;
	resp->added = counts[VSETD__V1__WRITE_OUTCOME__WRITE_ADDED - 1];
	resp->updated = counts[VSETD__V1__WRITE_OUTCOME__WRITE_UPDATED - 1];
	resp->failed = counts[VSETD__V1__WRITE_OUTCOME__WRITE_FAILED - 1];
	call->resp = &resp->base;
	return;
oom:
	vsd_status_set(&call->st, VSD_RESOURCE_EXHAUSTED, "out of memory");
}
