/*
 * op_insert.c - Insert: each item to the one shard that owns its id.
 *
 *   VADD vsetd:<collection> [REDUCE r] FP32 <blob> <id> [CAS] Q8|NOQUANT|BIN
 *        [EF ef] [SETATTR <json>] M m
 *
 * First the collection's parameters (collection.h: cache, else an HGETALL
 * round): an item whose dimension contradicts them is refused before any
 * VADD is sent.  A missing collection is created, as VADD does in Redis,
 * with the defaults and the first item's dimension (unless no_create): its
 * metadata is written to every shard in the same round as the VADDs.
 * Every VADD names quantization and M explicitly, because Redis refuses a
 * VADD that omits them on a set created with other values.
 *
 * The vector goes as an FP32 blob straight from the decoded request (no
 * text formatting: protobuf-c's repeated float is already little-endian
 * float32 on the hosts we build for).  Items for one shard are pipelined
 * in request order; all shards are written in parallel.
 */
#include <string.h>

#include "collection.h"
#include "ops.h"
#include "round.h"
#include "route.h"
#include "validate.h"
#include "vs_json.h"
#include "vs_time.h"

#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "VADD FP32 blobs are little-endian: add a byte swap for this host"
#endif

#define VSD_INSERT_ARGC 16
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
	if (req->ef > VSD_MAX_EF)
		return vsd_status_set(&call->st, VSD_INVALID_ARGUMENT,
		    "ef is %u; the limit is %d", req->ef, VSD_MAX_EF);
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

/* The collection's parameters, created from the defaults when missing.
 * *create: write the metadata to every shard; missing[]: shards to repair. */
static int
vsd_insert_params(struct vsd_call *call, const Vsetd__V1__InsertRequest *req,
    struct vsd_coll_params *p, int *create, uint8_t *missing)
{
	size_t dim = req->items[0]->n_vector;
	int found, rv;

	*create = 0;
	if ((rv = vsd_coll_load(call, req->collection, 1, p, &found,
	    missing)) != VSD_OK)
		return rv;
	if (!found) {
		if (req->no_create)
			return vsd_status_set(&call->st, VSD_NOT_FOUND,
			    "collection \"%s\" does not exist (no_create is "
			    "set)", req->collection);
		memset(p, 0, sizeof(*p));
		p->dim = (uint32_t)dim;
		p->quant = VSETD__V1__QUANTIZATION__QUANT_Q8;
		p->m = VSD_DEFAULT_M;
		*create = 1;
		return VSD_OK;
	}
	if (dim != p->dim)
		return vsd_status_set(&call->st, VSD_INVALID_ARGUMENT,
		    "items have dimension %zu but collection \"%s\" has "
		    "dimension %u", dim, req->collection, p->dim);
	return VSD_OK;
}

static int
vsd_insert_vadd(struct vsd_call *call, const Vsetd__V1__InsertRequest *req,
    const Vsetd__V1__Item *it, const char *key, size_t keylen,
    const struct vsd_coll_params *p, struct vsd_cmd *c)
{
	uint32_t ef = req->ef != 0 ? req->ef : p->build_ef;
	struct vsd_argv a;

	if (vsd_argv_init(call, &a, VSD_INSERT_ARGC) != 0)
		return -1;
	vsd_argv_str(&a, "VADD");
	vsd_argv_add(&a, key, keylen);
	if (p->reduce != 0) {
		vsd_argv_str(&a, "REDUCE");
		if (vsd_argv_u64(call, &a, p->reduce) != 0)
			return -1;
	}
	vsd_argv_str(&a, "FP32");
	vsd_argv_add(&a, it->vector, it->n_vector * sizeof(float));
	vsd_argv_str(&a, it->id);
	if (req->cas)
		vsd_argv_str(&a, "CAS");
	vsd_argv_str(&a, vsd_quant_vadd(p->quant));
	if (ef != 0) {
		vsd_argv_str(&a, "EF");
		if (vsd_argv_u64(call, &a, ef) != 0)
			return -1;
	}
	if (it->attributes_json[0] != '\0') {
		vsd_argv_str(&a, "SETATTR");
		vsd_argv_str(&a, it->attributes_json);
	}
	vsd_argv_str(&a, "M");
	if (vsd_argv_u64(call, &a, p->m) != 0)
		return -1;
	vsd_argv_to_cmd(&a, c, vsd_route_shard(it->id, call->srv->cfg->nshards));
	return 0;
}

void
vsd_op_insert(struct vsd_call *call, const ProtobufCMessage *m)
{
	const Vsetd__V1__InsertRequest *req = (const Vsetd__V1__InsertRequest *)m;
	Vsetd__V1__InsertResponse *resp;
	struct vsd_coll_params params;
	uint32_t counts[5] = { 0 };
	uint32_t nshards = call->srv->cfg->nshards, s;
	const char *key, *metakey;
	struct vsd_cmd *cmds;
	uint8_t *missing;
	char **ids;
	size_t keylen, metalen, i, n = req->n_items, ncmds;
	int create;

	if (vsd_insert_validate(call, req) != VSD_OK)
		return;
	if ((missing = vsd_call_alloc(call, nshards)) == NULL)
		goto oom;
	if (vsd_insert_params(call, req, &params, &create, missing) != VSD_OK)
		return;
	key = vsd_call_key(call, req->collection, &keylen);
	metakey = vsd_meta_key(call, req->collection, &metalen);
	/* The VADDs first, one per item (vsd_call_write_results reads
	 * cmds[i] as item i), then the metadata writes. */
	cmds = vsd_call_alloc(call, (n + nshards) * sizeof(*cmds));
	ids = vsd_call_alloc(call, n * sizeof(*ids));
	resp = vsd_call_alloc(call, sizeof(*resp));
	if (key == NULL || metakey == NULL || cmds == NULL || ids == NULL ||
	    resp == NULL)
		goto oom;
	for (i = 0; i < n; i++) {
		if (vsd_insert_vadd(call, req, req->items[i], key, keylen,
		    &params, &cmds[i]) != 0)
			goto oom;
		ids[i] = req->items[i]->id;
	}
	ncmds = n;
	for (s = 0; s < nshards; s++) {
		if (!create && !missing[s])
			continue;
		if (vsd_coll_hset_cmd(call, &cmds[ncmds++], s, metakey, metalen,
		    &params) != 0)
			goto oom;
	}
	vsd_round_run(call, cmds, ncmds, VSD_RUN_WRITE, call->deadline_us);
	if (create)
		vsd_coll_cache_put(req->collection, &params);

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
