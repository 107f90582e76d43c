/*
 * op_insert.c - Insert: each item to the one shard that owns its id.
 *
 *   VADD vsetd:<collection> [REDUCE r] FP32 <blob> <id> [CAS] Q8|NOQUANT|BIN
 *        [EF ef] [SETATTR <json>] M m
 *
 * First the collection's parameters (collection.h: cache, else an HGETALL
 * + TYPE round): an item whose dimension contradicts them is refused
 * before any VADD is sent.  A missing collection is created, as VADD does
 * in Redis, with the defaults and the first item's dimension (unless
 * no_create, or another type sits at its key on some shard: then
 * FAILED_PRECONDITION and nothing is written): its metadata, with a new
 * generation, goes to shard 0 first (the authority, collection.h), then to
 * every other shard in the same round as the VADDs, ahead of them in each
 * shard's pipeline.  Every VADD names quantization and M explicitly,
 * because Redis refuses a VADD that omits them on a set created with other
 * values.
 *
 * Every VADD runs inside the write fence (fence.h) with the generation we
 * believe in; a shard that says VSETDSTALE (another router dropped or
 * re-created the collection) makes us reload the metadata and send the
 * whole batch again, at most VSD_FENCE_MAX_TRIES attempts within the
 * deadline (VADD overwrites, so resending is safe).
 *
 * The vector goes as an FP32 blob straight from the decoded request (no
 * text formatting: protobuf-c's repeated float is already little-endian
 * float32 on the hosts we build for).  Items for one shard are pipelined
 * in request order; all shards are written in parallel.
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

/* Create the missing collection: the adopt script on shard 0, the
 * authority (collection.h), then whatever it answers is the collection
 * (another router may have won the race).  Every other shard is then
 * "missing": the caller writes the same metadata there. */
static int
vsd_insert_create(struct vsd_call *call, const Vsetd__V1__InsertRequest *req,
    struct vsd_coll_params *p, uint8_t *missing)
{
	uint32_t nshards = call->view.nall, s;
	struct vsd_coll_params got;
	const char *metakey, *why;
	struct vsd_cmd *c;
	size_t metalen;
	int rv;

	memset(p, 0, sizeof(*p));
	p->dim = (uint32_t)req->items[0]->n_vector;
	p->quant = VSETD__V1__QUANTIZATION__QUANT_Q8;
	p->m = VSD_DEFAULT_M;
	vsd_coll_new_gen(p);
	metakey = vsd_meta_key(call, req->collection, &metalen);
	c = vsd_call_alloc(call, sizeof(*c));
	if (metakey == NULL || c == NULL ||
	    vsd_coll_adopt_cmd(call, c, 0, metakey, metalen, p) != 0)
		return vsd_status_set(&call->st, VSD_RESOURCE_EXHAUSTED,
		    "out of memory");
	vsd_fence_run(call, c, 1, VSD_RUN_WRITE, vsd_round_half_deadline(call));
	if (vsd_reply_check(call, 0, c->reply) != VSD_OK) {
		char msg[sizeof(call->st.msg)];

		snprintf(msg, sizeof(msg), "%s", call->st.msg);
		return vsd_status_set(&call->st, call->st.code, "creating "
		    "collection \"%s\" needs shard 0: %s", req->collection,
		    msg);
	}
	if ((rv = vsd_coll_parse(c->reply, &got, &why)) != 1)
		return vsd_status_set(&call->st, VSD_UNAVAILABLE, "shard 0: "
		    "protocol error: creating collection \"%s\": %s",
		    req->collection, rv == 0 ? "no metadata written" : why);
	*p = got;
	for (s = 0; s < nshards; s++)
		missing[s] = s != 0;
	vsd_coll_cache_put(req->collection, p);
	return VSD_OK;
}

/* The collection's parameters (the cache only on the first attempt),
 * created when missing.  missing[]: shards to write the metadata to. */
static int
vsd_insert_params(struct vsd_call *call, const Vsetd__V1__InsertRequest *req,
    int attempt, struct vsd_coll_params *p, uint8_t *missing)
{
	size_t dim = req->items[0]->n_vector;
	int found, rv;

	if ((rv = vsd_coll_load(call, req->collection, VSD_LOAD_TYPE |
	    (attempt == 0 ? VSD_LOAD_CACHE : 0), p, &found, missing)) != VSD_OK)
		return rv;
	if (!found) {
		if (req->no_create)
			return vsd_status_set(&call->st, VSD_NOT_FOUND,
			    "collection \"%s\" does not exist (no_create is "
			    "set)", req->collection);
		if ((rv = vsd_insert_create(call, req, p, missing)) != VSD_OK)
			return rv;
	}
	if (dim != p->dim && attempt == 0) {
		/* The cached parameters may predate a drop and re-create by
		 * another router: ask the shards before refusing. */
		vsd_coll_cache_drop(req->collection);
		return vsd_insert_params(call, req, 1, p, missing);
	}
	if (dim != p->dim)
		return vsd_status_set(&call->st, VSD_INVALID_ARGUMENT,
		    "items have dimension %zu but collection \"%s\" has "
		    "dimension %u", dim, req->collection, p->dim);
	return VSD_OK;
}

/* The VADD of one item into a (fenced by the caller). */
static int
vsd_insert_vadd(struct vsd_call *call, const Vsetd__V1__InsertRequest *req,
    const Vsetd__V1__Item *it, const char *key, size_t keylen,
    const struct vsd_coll_params *p, struct vsd_argv *out)
{
	uint32_t ef = req->ef != 0 ? req->ef : p->build_ef;
	/* VADD key FP32 blob id Q8 M m, and the optional pairs: counted so
	 * that an argument lost on the way is never sent as a different
	 * command. */
	int want = 8 + (p->reduce != 0 ? 2 : 0) + (req->cas ? 1 : 0) +
	    (ef != 0 ? 2 : 0) + (it->attributes_json[0] != '\0' ? 2 : 0);
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
	if (a.argc != want) {
		vsd_status_set(&call->st, VSD_INTERNAL, "VADD for item "
		    "\"%.64s\" has %d arguments, expected %d", it->id,
		    a.argc, want);
		return -1;
	}
	*out = a;
	return 0;
}

/* One attempt: the metadata repairs first on each shard (so its VADDs
 * pass the fence), then one fenced VADD per item on its owner (both
 * owners in DUAL: dual.h).  *nmeta: how many commands precede the VADDs.
 * 1 when a shard said stale. */
static int
vsd_insert_attempt(struct vsd_call *call, const Vsetd__V1__InsertRequest *req,
    const struct vsd_coll_params *p, const uint8_t *missing,
    struct vsd_cmd **out, size_t *nmeta)
{
	uint32_t nshards = call->view.nall, s;
	size_t keylen, metalen, i, n = req->n_items, m = 0;
	const char *key, *metakey;
	struct vsd_cmd *cmds, *second;

	key = vsd_call_key(call, req->collection, &keylen);
	metakey = vsd_meta_key(call, req->collection, &metalen);
	cmds = vsd_call_alloc(call, (n + nshards) * sizeof(*cmds));
	second = vsd_call_alloc(call, (n + nshards) * sizeof(*second));
	if (key == NULL || metakey == NULL || cmds == NULL || second == NULL)
		return -1;
	memset(second, 0, (n + nshards) * sizeof(*second));
	for (s = 0; s < nshards; s++)
		if (missing[s] && vsd_coll_adopt_cmd(call, &cmds[m++], s,
		    metakey, metalen, p) != 0)
			return -1;
	for (i = 0; i < n; i++) {
		const Vsetd__V1__Item *it = req->items[i];
		struct vsd_argv a;

		/* the metadata repairs above precede: gen holds everywhere */
		if (vsd_insert_vadd(call, req, it, key, keylen, p, &a) != 0 ||
		    vsd_dual_wrap(call, &a, req->collection, metakey, metalen,
		    p->gen, NULL, it->id, &cmds[m + i], &second[m + i]) != 0)
			return -1;
	}
	vsd_dual_run(call, cmds, second, m + n, call->deadline_us);
	*out = cmds;
	*nmeta = m;
	for (i = 0; i < n; i++)
		if (vsd_fence_is_stale(cmds[m + i].reply))
			return 1;
	return 0;
}

void
vsd_op_insert(struct vsd_call *call, const ProtobufCMessage *m)
{
	const Vsetd__V1__InsertRequest *req = (const Vsetd__V1__InsertRequest *)m;
	Vsetd__V1__InsertResponse *resp;
	struct vsd_coll_params params;
	uint32_t counts[5] = { 0 };
	struct vsd_cmd *cmds = NULL;
	uint8_t *missing;
	char **ids;
	size_t i, n = req->n_items, nmeta = 0;
	int attempt, rv;

	if (vsd_insert_validate(call, req) != VSD_OK)
		return;
	ids = vsd_call_alloc(call, n * sizeof(*ids));
	resp = vsd_call_alloc(call, sizeof(*resp));
	if (ids == NULL || resp == NULL)
		goto oom;
	for (i = 0; i < n; i++)
		ids[i] = req->items[i]->id;
	/* A shard that refuses the write as stale (another router dropped
	 * or re-created the collection) makes us reload and try again,
	 * a bounded number of times, within the deadline (fence.h). */
	for (attempt = 0; ; attempt++) {
		/* sized by this attempt's view: a reload may add a shard */
		if ((missing = vsd_call_alloc(call, call->view.nall)) == NULL)
			goto oom;
		if (vsd_insert_params(call, req, attempt, &params,
		    missing) != VSD_OK)
			return;
		if ((rv = vsd_insert_attempt(call, req, &params, missing,
		    &cmds, &nmeta)) < 0)
			goto oom;
		if (rv == 0 || attempt + 1 >= VSD_FENCE_MAX_TRIES ||
		    vs_now_us() >= call->deadline_us)
			break;
		if (vsd_topo_after_stale(call) != VSD_OK)
			return;
		vsd_coll_cache_drop(req->collection);
	}
	if (rv != 0)
		vsd_coll_cache_drop(req->collection);
	/* vsd_call_write_results reads call->cmds[i] as item i: leave only
	 * the VADDs there. */
	vsd_cmds_free_replies(cmds, nmeta);
	call->cmds = cmds + nmeta;
	call->ncmds = n;

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
	if (call->st.code == VSD_OK)
		vsd_status_set(&call->st, VSD_RESOURCE_EXHAUSTED,
		    "out of memory");
}
