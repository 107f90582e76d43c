/*
 * op_element.c - the reads and writes of one element, each routed to the
 * one shard that owns its id (route.h), commands pipelined there:
 *
 *   Get            VEMB key id [+ VEMB key id RAW] + VGETATTR key id
 *   GetAttributes  VEMB key id + VGETATTR key id   (VEMB tells a missing
 *                  element, NOT_FOUND, from one without attributes)
 *   SetAttributes  VSETATTR key id json            (0 = NOT_FOUND)
 *   Exists         VEMB key id                      (works on every 8.x;
 *                  VISMEMBER is not needed)
 *   Links          VLINKS key id WITHSCORES        (nil = NOT_FOUND)
 *
 * Every reply is checked against what was asked (shard_reply.h): a VEMB
 * of finite numbers (the collection's dimension when it is known), text
 * that is valid UTF-8, an integer where one is due, neighbour ids that are
 * valid ids with scores in [0, 1].  A violation fails the call UNAVAILABLE
 * with "shard N: protocol error: ..." and counts against the shard's
 * circuit breaker; nothing from that reply reaches the client.
 *
 * VLINKS answers its levels highest first; LinksResponse.levels is level
 * 0 first (the proto), so they are reversed here.
 */
#include <stdlib.h>
#include <string.h>

#include "dual.h"
#include "fence.h"
#include "ops.h"
#include "collection.h"
#include "round.h"
#include "route.h"
#include "shard_reply.h"
#include "validate.h"
#include "vs_json.h"

#define VSD_ATTRS_MAX_DEPTH 32
/* vsd_elem_round kind: one write, through the fence (fence.h) */
#define VSD_RUN_FENCED (-1)
/* HNSW levels are logarithmic in the set size (Redis caps them at 16). */
#define VSD_LINKS_MAX_LEVELS 64
/* Quantization names ("f32", "int8", "bin"). */
#define VSD_QUANT_NAME_MAX 16

/* The routed round: validated collection and id, then up to 3 commands
 * "CMD key id [extra]" on the owner.  Returns the owner or -1 (st set). */
struct vsd_elem_cmd {
	const char *name;
	const char *extra;           /* NULL: none */
	size_t extra_len;
};

static long
vsd_elem_round(struct vsd_call *call, const char *collection, const char *id,
    const struct vsd_elem_cmd *want, size_t n, int kind)
{
	uint32_t shard;
	struct vsd_cmd *cmds;
	const char *key;
	size_t keylen, i;

	if (vsd_check_collection(collection, &call->st) != VSD_OK ||
	    vsd_check_id(id, call->lim, "id", &call->st) != VSD_OK)
		return -1;
	shard = vsd_read_owner(call, id);
	key = vsd_call_key(call, collection, &keylen);
	cmds = vsd_call_alloc(call, n * sizeof(*cmds));
	if (key == NULL || cmds == NULL)
		goto oom;
	for (i = 0; i < n; i++) {
		struct vsd_argv a;

		if (vsd_argv_init(call, &a, 4) != 0)
			goto oom;
		vsd_argv_str(&a, want[i].name);
		vsd_argv_add(&a, key, keylen);
		vsd_argv_str(&a, id);
		if (want[i].extra != NULL)
			vsd_argv_add(&a, want[i].extra, want[i].extra_len);
		vsd_argv_to_cmd(&a, &cmds[i], shard);
	}
	if (kind == VSD_RUN_FENCED) {
		struct vsd_argv a = { .argv = cmds[0].argv,
		    .len = (size_t *)cmds[0].argvlen, .argc = cmds[0].argc,
		    .cap = cmds[0].argc, .call = call };

		if (vsd_fence_write_one(call, collection, &a, id) != VSD_OK)
			return -1;
		shard = call->cmds[0].shard;    /* the outcome's (dual.h) */
		n = 1;
	} else {
		vsd_round_run(call, cmds, n, kind, call->deadline_us);
	}
	for (i = 0; i < n; i++)
		if (vsd_reply_check(call, shard, call->cmds[i].reply) != VSD_OK)
			return -1;
	return (long)shard;
oom:
	vsd_status_set(&call->st, VSD_RESOURCE_EXHAUSTED, "out of memory");
	return -1;
}

static int
vsd_elem_missing(const redisReply *r)
{
	return r->type == REDIS_REPLY_NIL ||
	    (r->type == REDIS_REPLY_ARRAY && r->elements == 0);
}

static int
vsd_not_found(struct vsd_call *call, const char *collection, const char *id)
{
	return vsd_status_set(&call->st, VSD_NOT_FOUND, "element \"%.200s\" "
	    "not found in collection \"%s\"", id, collection);
}

/* Shard shard's reply broke the protocol: count it against the shard and
 * fail the call UNAVAILABLE, naming the problem. */
static void
vsd_elem_bad(struct vsd_call *call, long shard, const char *why)
{
	vsd_reply_protocol_error(call, (uint32_t)shard, "%s", why);
	vsd_status_set(&call->st, VSD_UNAVAILABLE, "shard %ld: %s", shard,
	    call->w->res[shard].error);
}

/* A VEMB reply that said "present": an array of the collection's
 * dimension (when cached; its REDUCE dimension for a projected set, which
 * is what VEMB returns) of finite numbers.  0 or -1 (st set). */
static int
vsd_elem_vemb(struct vsd_call *call, const char *collection, long shard,
    const redisReply *emb, float *out)
{
	struct vsd_coll_params params;
	char why[160];

	if (vsd_coll_cache_get(collection, &params) != 1)
		params.dim = params.reduce = 0;
	if (vsd_vemb_parse(emb, call->lim, params.reduce != 0 ?
	    params.reduce : params.dim, out, why,
	    sizeof(why)) != 0) {
		vsd_elem_bad(call, shard, why);
		return -1;
	}
	return 0;
}

/* VGETATTR's reply: 1 with *json (valid UTF-8), 0 for none, -1 (st set)
 * when it is neither. */
static int
vsd_elem_attrs(struct vsd_call *call, long shard, const redisReply *r,
    char **json)
{
	char why[160];

	if (r->type == REDIS_REPLY_NIL)
		return 0;
	if (r->type != REDIS_REPLY_STRING) {
		snprintf(why, sizeof(why), "VGETATTR reply is not a string");
		vsd_elem_bad(call, shard, why);
		return -1;
	}
	if (vsd_reply_check_text(r, "attributes", why, sizeof(why)) != 0) {
		vsd_elem_bad(call, shard, why);
		return -1;
	}
	*json = r->str;
	return 1;
}

/* VEMB's reply means "present" (array) or "missing" (nil, empty array);
 * anything else is a protocol error: -1 (st set). */
static int
vsd_elem_vemb_kind(struct vsd_call *call, long shard, const redisReply *r)
{
	if (vsd_elem_missing(r))
		return 0;
	if (r->type != REDIS_REPLY_ARRAY) {
		vsd_elem_bad(call, shard, "VEMB reply is not an array");
		return -1;
	}
	return 1;
}

void
vsd_op_get(struct vsd_call *call, const ProtobufCMessage *m)
{
	const Vsetd__V1__GetRequest *req = (const Vsetd__V1__GetRequest *)m;
	const struct vsd_elem_cmd want[] = {
		{ "VEMB", NULL, 0 },
		{ "VGETATTR", NULL, 0 },
		{ "VEMB", "RAW", 3 },
	};
	Vsetd__V1__GetResponse *resp;
	const redisReply *emb, *attr, *raw;
	char why[160];
	long shard;
	int kind;

	shard = vsd_elem_round(call, req->collection, req->id, want,
	    req->raw ? 3 : 2, VSD_RUN_READ);
	if (shard < 0)
		return;
	emb = call->cmds[0].reply;
	attr = call->cmds[1].reply;
	if ((kind = vsd_elem_vemb_kind(call, shard, emb)) <= 0) {
		if (kind == 0)
			vsd_not_found(call, req->collection, req->id);
		return;
	}
	if ((resp = vsd_call_alloc(call, sizeof(*resp))) == NULL)
		goto oom;
	vsetd__v1__get_response__init(resp);
	resp->id = (char *)req->id;
	resp->shard = (uint32_t)shard;
	resp->vector = vsd_call_alloc(call, emb->elements * sizeof(float));
	if (resp->vector == NULL)
		goto oom;
	resp->n_vector = emb->elements;
	if (vsd_elem_vemb(call, req->collection, shard, emb,
	    resp->vector) != 0)
		return;
	switch (vsd_elem_attrs(call, shard, attr, &resp->attributes_json)) {
	case -1:
		return;
	case 1:
		resp->has_attributes = 1;
		break;
	}
	if (req->raw) {
		raw = call->cmds[2].reply;
		/* The quantization comes as a simple string (STATUS). */
		if (raw->type != REDIS_REPLY_ARRAY || raw->elements < 3 ||
		    raw->elements > 4 ||
		    raw->element[1]->type != REDIS_REPLY_STRING ||
		    raw->element[1]->len > (size_t)call->lim->max_dim *
		    sizeof(float)) {
			vsd_elem_bad(call, shard, "VEMB RAW reply is not "
			    "[quantization, bytes, norm[, range]]");
			return;
		}
		if ((resp->raw = vsd_call_alloc(call, sizeof(*resp->raw))) ==
		    NULL)
			goto oom;
		vsetd__v1__raw_vector__init(resp->raw);
		if (vsd_reply_check_text(raw->element[0], "quantization", why,
		    sizeof(why)) != 0 ||
		    vsd_reply_double(raw->element[2], "norm", &resp->raw->norm,
		    why, sizeof(why)) != 0 ||
		    (raw->elements > 3 && vsd_reply_double(raw->element[3],
		    "range", &resp->raw->range, why, sizeof(why)) != 0)) {
			vsd_elem_bad(call, shard, why);
			return;
		}
		if (raw->element[0]->len > VSD_QUANT_NAME_MAX) {
			vsd_elem_bad(call, shard, "VEMB RAW quantization name "
			    "is too long");
			return;
		}
		resp->raw->quantization = raw->element[0]->str;
		resp->raw->data.data = (uint8_t *)raw->element[1]->str;
		resp->raw->data.len = raw->element[1]->len;
	}
	call->resp = &resp->base;
	return;
oom:
	vsd_status_set(&call->st, VSD_RESOURCE_EXHAUSTED, "out of memory");
}

void
vsd_op_get_attributes(struct vsd_call *call, const ProtobufCMessage *m)
{
	const Vsetd__V1__GetAttributesRequest *req =
	    (const Vsetd__V1__GetAttributesRequest *)m;
	const struct vsd_elem_cmd want[] = {
		{ "VEMB", NULL, 0 },
		{ "VGETATTR", NULL, 0 },
	};
	Vsetd__V1__GetAttributesResponse *resp;
	long shard;
	int kind;

	if ((shard = vsd_elem_round(call, req->collection, req->id, want,
	    2, VSD_RUN_READ)) < 0)
		return;
	if ((kind = vsd_elem_vemb_kind(call, shard,
	    call->cmds[0].reply)) <= 0) {
		if (kind == 0)
			vsd_not_found(call, req->collection, req->id);
		return;
	}
	if ((resp = vsd_call_alloc(call, sizeof(*resp))) == NULL)
		return;
	vsetd__v1__get_attributes_response__init(resp);
	resp->shard = (uint32_t)shard;
	switch (vsd_elem_attrs(call, shard, call->cmds[1].reply,
	    &resp->attributes_json)) {
	case -1:
		return;
	case 1:
		resp->has_attributes = 1;
		break;
	}
	call->resp = &resp->base;
}

void
vsd_op_set_attributes(struct vsd_call *call, const ProtobufCMessage *m)
{
	const Vsetd__V1__SetAttributesRequest *req =
	    (const Vsetd__V1__SetAttributesRequest *)m;
	size_t alen = strlen(req->attributes_json), where = 0;
	struct vsd_elem_cmd want[1] = { { "VSETATTR", NULL, 0 } };
	Vsetd__V1__SetAttributesResponse *resp;
	const char *why = NULL;
	const redisReply *r;
	long shard;

	if (alen > 0) {
		if (vs_json_validate(req->attributes_json, alen,
		    VSD_ATTRS_MAX_DEPTH, &why, &where) != 0) {
			vsd_status_set(&call->st, VSD_INVALID_ARGUMENT,
			    "attributes_json is not valid JSON: %s at byte %zu",
			    why, where);
			return;
		}
		if (!vs_json_is_object(req->attributes_json, alen)) {
			vsd_status_set(&call->st, VSD_INVALID_ARGUMENT,
			    "attributes_json must be a JSON object");
			return;
		}
	}
	/* "" is sent as is: VSETATTR with an empty string removes them.
	 * A data write: inside the fence (fence.h). */
	want[0].extra = req->attributes_json;
	want[0].extra_len = alen;
	if ((shard = vsd_elem_round(call, req->collection, req->id, want,
	    1, VSD_RUN_FENCED)) < 0)
		return;
	r = call->cmds[0].reply;
	if (r->type != REDIS_REPLY_INTEGER || r->integer < 0 ||
	    r->integer > 1) {
		vsd_elem_bad(call, shard, "VSETATTR reply is not 0 or 1");
		return;
	}
	if (r->integer == 0) {
		vsd_not_found(call, req->collection, req->id);
		return;
	}
	if ((resp = vsd_call_alloc(call, sizeof(*resp))) == NULL)
		return;
	vsetd__v1__set_attributes_response__init(resp);
	resp->shard = (uint32_t)shard;
	call->resp = &resp->base;
}

void
vsd_op_exists(struct vsd_call *call, const ProtobufCMessage *m)
{
	const Vsetd__V1__ExistsRequest *req = (const Vsetd__V1__ExistsRequest *)m;
	const struct vsd_elem_cmd want[] = { { "VEMB", NULL, 0 } };
	Vsetd__V1__ExistsResponse *resp;
	long shard;
	int kind;

	if ((shard = vsd_elem_round(call, req->collection, req->id, want,
	    1, VSD_RUN_READ)) < 0)
		return;
	if ((kind = vsd_elem_vemb_kind(call, shard,
	    call->cmds[0].reply)) < 0)
		return;
	if ((resp = vsd_call_alloc(call, sizeof(*resp))) == NULL)
		return;
	vsetd__v1__exists_response__init(resp);
	resp->shard = (uint32_t)shard;
	resp->exists = kind == 1;
	call->resp = &resp->base;
}

void
vsd_op_links(struct vsd_call *call, const ProtobufCMessage *m)
{
	const Vsetd__V1__LinksRequest *req = (const Vsetd__V1__LinksRequest *)m;
	const struct vsd_elem_cmd want[] = {
		{ "VLINKS", "WITHSCORES", 10 },
	};
	Vsetd__V1__LinksResponse *resp;
	Vsetd__V1__LinkLevel *lv;
	const redisReply *r;
	char why[160];
	long shard;
	size_t i, j, nlv;

	if ((shard = vsd_elem_round(call, req->collection, req->id, want,
	    1, VSD_RUN_READ)) < 0)
		return;
	r = call->cmds[0].reply;
	if (vsd_elem_missing(r)) {
		vsd_not_found(call, req->collection, req->id);
		return;
	}
	if (r->type != REDIS_REPLY_ARRAY || r->elements > VSD_LINKS_MAX_LEVELS) {
		vsd_elem_bad(call, shard, "VLINKS reply is not an array of at "
		    "most 64 levels");
		return;
	}
	nlv = r->elements;
	resp = vsd_call_alloc(call, sizeof(*resp));
	lv = vsd_call_alloc(call, nlv * sizeof(*lv));
	if (resp == NULL || lv == NULL)
		goto oom;
	vsetd__v1__links_response__init(resp);
	resp->shard = (uint32_t)shard;
	resp->levels = vsd_call_alloc(call, nlv * sizeof(*resp->levels));
	if (resp->levels == NULL)
		goto oom;
	resp->n_levels = nlv;
	for (i = 0; i < nlv; i++) {
		/* Redis answers the highest level first; levels[0] is level 0. */
		const redisReply *l = r->element[nlv - 1 - i];
		size_t n;

		vsetd__v1__link_level__init(&lv[i]);
		resp->levels[i] = &lv[i];
		if (l->type != REDIS_REPLY_ARRAY || l->elements % 2 != 0) {
			vsd_elem_bad(call, shard, "a VLINKS level is not an "
			    "array of (id, score) pairs");
			return;
		}
		n = l->elements / 2;
		lv[i].ids = vsd_call_alloc(call, n * sizeof(*lv[i].ids));
		lv[i].scores = vsd_call_alloc(call, n * sizeof(double));
		if (lv[i].ids == NULL || lv[i].scores == NULL)
			goto oom;
		lv[i].n_ids = lv[i].n_scores = n;
		for (j = 0; j < n; j++) {
			if (vsd_reply_check_id(l->element[2 * j], call->lim, why,
			    sizeof(why)) != 0 ||
			    vsd_reply_score(l->element[2 * j + 1],
			    &lv[i].scores[j], why, sizeof(why)) != 0) {
				vsd_elem_bad(call, shard, why);
				return;
			}
			lv[i].ids[j] = l->element[2 * j]->str;
		}
	}
	call->resp = &resp->base;
	return;
oom:
	vsd_status_set(&call->st, VSD_RESOURCE_EXHAUSTED, "out of memory");
}
