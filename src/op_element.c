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
 */
#include <stdlib.h>
#include <string.h>

#include "fence.h"
#include "ops.h"
#include "round.h"
#include "route.h"
#include "validate.h"
#include "vs_json.h"

#define VSD_ATTRS_MAX_DEPTH 32
/* vsd_elem_round kind: one write, through the fence (fence.h) */
#define VSD_RUN_FENCED (-1)

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
	shard = vsd_route_shard(id, call->srv->cfg->nshards);
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
		struct vsd_argv a = { cmds[0].argv, (size_t *)cmds[0].argvlen,
		    cmds[0].argc, cmds[0].argc };

		if (vsd_fence_write_one(call, collection, &a, shard) != VSD_OK)
			return -1;
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

static double
vsd_reply_double(const redisReply *r)
{
	if (r->type == REDIS_REPLY_STRING)
		return strtod(r->str, NULL);
	if (r->type == REDIS_REPLY_INTEGER)
		return (double)r->integer;
	return 0;
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
	long shard;
	size_t i;

	shard = vsd_elem_round(call, req->collection, req->id, want,
	    req->raw ? 3 : 2, VSD_RUN_READ);
	if (shard < 0)
		return;
	emb = call->cmds[0].reply;
	attr = call->cmds[1].reply;
	if (vsd_elem_missing(emb)) {
		vsd_not_found(call, req->collection, req->id);
		return;
	}
	if (emb->type != REDIS_REPLY_ARRAY)
		goto bad;
	if ((resp = vsd_call_alloc(call, sizeof(*resp))) == NULL)
		goto oom;
	vsetd__v1__get_response__init(resp);
	resp->id = (char *)req->id;
	resp->shard = (uint32_t)shard;
	resp->vector = vsd_call_alloc(call, emb->elements * sizeof(float));
	if (resp->vector == NULL)
		goto oom;
	resp->n_vector = emb->elements;
	for (i = 0; i < emb->elements; i++) {
		if (emb->element[i]->type != REDIS_REPLY_STRING)
			goto bad;
		resp->vector[i] = (float)vsd_reply_double(emb->element[i]);
	}
	if (attr->type == REDIS_REPLY_STRING) {
		resp->attributes_json = attr->str;
		resp->has_attributes = 1;
	}
	if (req->raw) {
		raw = call->cmds[2].reply;
		/* The quantization comes as a simple string (STATUS). */
		if (raw->type != REDIS_REPLY_ARRAY || raw->elements < 3 ||
		    (raw->element[0]->type != REDIS_REPLY_STRING &&
		    raw->element[0]->type != REDIS_REPLY_STATUS) ||
		    raw->element[1]->type != REDIS_REPLY_STRING)
			goto bad;
		if ((resp->raw = vsd_call_alloc(call, sizeof(*resp->raw))) ==
		    NULL)
			goto oom;
		vsetd__v1__raw_vector__init(resp->raw);
		resp->raw->quantization = raw->element[0]->str;
		resp->raw->data.data = (uint8_t *)raw->element[1]->str;
		resp->raw->data.len = raw->element[1]->len;
		resp->raw->norm = vsd_reply_double(raw->element[2]);
		if (raw->elements > 3)
			resp->raw->range = vsd_reply_double(raw->element[3]);
	}
	call->resp = &resp->base;
	return;
bad:
	vsd_status_set(&call->st, VSD_INTERNAL, "shard %ld: unexpected VEMB "
	    "reply", shard);
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
	const redisReply *attr;
	long shard;

	if ((shard = vsd_elem_round(call, req->collection, req->id, want,
	    2, VSD_RUN_READ)) < 0)
		return;
	if (vsd_elem_missing(call->cmds[0].reply)) {
		vsd_not_found(call, req->collection, req->id);
		return;
	}
	if ((resp = vsd_call_alloc(call, sizeof(*resp))) == NULL)
		return;
	vsetd__v1__get_attributes_response__init(resp);
	resp->shard = (uint32_t)shard;
	attr = call->cmds[1].reply;
	if (attr->type == REDIS_REPLY_STRING) {
		resp->attributes_json = attr->str;
		resp->has_attributes = 1;
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
	if (r->type != REDIS_REPLY_INTEGER || r->integer == 0) {
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

	if ((shard = vsd_elem_round(call, req->collection, req->id, want,
	    1, VSD_RUN_READ)) < 0)
		return;
	if ((resp = vsd_call_alloc(call, sizeof(*resp))) == NULL)
		return;
	vsetd__v1__exists_response__init(resp);
	resp->shard = (uint32_t)shard;
	resp->exists = !vsd_elem_missing(call->cmds[0].reply);
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
	long shard;
	size_t i, j;

	if ((shard = vsd_elem_round(call, req->collection, req->id, want,
	    1, VSD_RUN_READ)) < 0)
		return;
	r = call->cmds[0].reply;
	if (vsd_elem_missing(r)) {
		vsd_not_found(call, req->collection, req->id);
		return;
	}
	if (r->type != REDIS_REPLY_ARRAY)
		goto bad;
	resp = vsd_call_alloc(call, sizeof(*resp));
	lv = vsd_call_alloc(call, r->elements * sizeof(*lv));
	if (resp == NULL || (r->elements > 0 && lv == NULL))
		goto oom;
	vsetd__v1__links_response__init(resp);
	resp->shard = (uint32_t)shard;
	resp->levels = vsd_call_alloc(call, r->elements * sizeof(*resp->levels));
	if (r->elements > 0 && resp->levels == NULL)
		goto oom;
	resp->n_levels = r->elements;
	for (i = 0; i < r->elements; i++) {
		const redisReply *l = r->element[i];
		size_t n;

		vsetd__v1__link_level__init(&lv[i]);
		resp->levels[i] = &lv[i];
		if (l->type != REDIS_REPLY_ARRAY || l->elements % 2 != 0)
			goto bad;
		n = l->elements / 2;
		lv[i].ids = vsd_call_alloc(call, n * sizeof(*lv[i].ids));
		lv[i].scores = vsd_call_alloc(call, n * sizeof(double));
		if (n > 0 && (lv[i].ids == NULL || lv[i].scores == NULL))
			goto oom;
		lv[i].n_ids = lv[i].n_scores = n;
		for (j = 0; j < n; j++) {
			if (l->element[2 * j]->type != REDIS_REPLY_STRING)
				goto bad;
			lv[i].ids[j] = l->element[2 * j]->str;
			lv[i].scores[j] = vsd_reply_double(l->element[2 * j + 1]);
		}
	}
	call->resp = &resp->base;
	return;
bad:
	vsd_status_set(&call->st, VSD_INTERNAL, "shard %ld: unexpected VLINKS "
	    "reply", shard);
	return;
oom:
	vsd_status_set(&call->st, VSD_RESOURCE_EXHAUSTED, "out of memory");
}
