/*
 * op_collection.c - CreateCollection, DescribeCollection, ListCollections,
 * DropCollection.  All four touch every shard (collection.h: the metadata
 * hash "vsetd:@meta:<collection>" is on every shard).
 *
 *   Create:   HGETALL meta + EXISTS key on all, then HSET meta on all
 *             (every shard must answer: a collection known to only some
 *             shards would be re-created with defaults by the others)
 *   Describe: HGETALL meta + VCARD key + VINFO key on all
 *   List:     SCAN MATCH vsetd:@meta:* on all, until every cursor is 0
 *   Drop:     DEL key meta on all (every shard must answer); OK even
 *             when nothing was there (keys_deleted 0), so a retry sees
 *             what the first call saw
 *
 * Creation makes the collection's generation (collection.h): shard 0
 * first, with the adopt script, then the others with what shard 0 holds.
 */
#include <stdlib.h>
#include <string.h>

#include "collection.h"
#include "fence.h"
#include "ops.h"
#include "round.h"
#include "validate.h"

#define VSD_SCAN_COUNT "1000"
#define VSD_SCAN_MAX_ROUNDS 10000

/* collection.h's quantizations are the wire's, number for number. */
_Static_assert((int)VSD_QUANT_Q8 == (int)VSETD__V1__QUANTIZATION__QUANT_Q8 &&
    (int)VSD_QUANT_NOQUANT ==
    (int)VSETD__V1__QUANTIZATION__QUANT_NOQUANT &&
    (int)VSD_QUANT_BIN == (int)VSETD__V1__QUANTIZATION__QUANT_BIN,
    "collection.h VSD_QUANT_* differ from the proto's Quantization");

int
vsd_coll_params_from_msg(const Vsetd__V1__CollectionParams *m,
    const struct vsd_limits *lim, struct vsd_coll_params *p,
    struct vsd_status *st)
{
	if (m == NULL || m->dim == 0)
		return vsd_status_set(st, VSD_INVALID_ARGUMENT,
		    "params.dim is required (1..%u)", lim->max_dim);
	if (m->dim > lim->max_dim)
		return vsd_status_set(st, VSD_INVALID_ARGUMENT,
		    "params.dim is %u; the limit is %u", m->dim, lim->max_dim);
	if ((int)m->quant < 0 || m->quant > VSETD__V1__QUANTIZATION__QUANT_BIN)
		return vsd_status_set(st, VSD_INVALID_ARGUMENT,
		    "params.quant %d is not a known quantization", (int)m->quant);
	if (m->m != 0 && (m->m < VSD_MIN_M || m->m > VSD_MAX_M))
		return vsd_status_set(st, VSD_INVALID_ARGUMENT,
		    "params.m is %u; it must be %d..%d", m->m, VSD_MIN_M,
		    VSD_MAX_M);
	if (m->reduce >= m->dim)
		return vsd_status_set(st, VSD_INVALID_ARGUMENT,
		    "params.reduce is %u; it must be smaller than dim (%u)",
		    m->reduce, m->dim);
	if (m->build_ef > VSD_MAX_EF)
		return vsd_status_set(st, VSD_INVALID_ARGUMENT,
		    "params.build_ef is %u; the limit is %d", m->build_ef,
		    VSD_MAX_EF);
	p->dim = m->dim;
	p->quant = m->quant != 0 ? (int)m->quant :
	    VSD_QUANT_Q8;
	p->m = m->m != 0 ? m->m : VSD_DEFAULT_M;
	p->reduce = m->reduce;
	p->build_ef = m->build_ef;
	return VSD_OK;
}

void
vsd_coll_params_to_msg(const struct vsd_coll_params *p,
    Vsetd__V1__CollectionParams *m)
{
	vsetd__v1__collection_params__init(m);
	m->dim = p->dim;
	m->quant = (Vsetd__V1__Quantization)p->quant;
	m->m = p->m;
	m->reduce = p->reduce;
	m->build_ef = p->build_ef;
}

static int
vsd_oom(struct vsd_call *call)
{
	return vsd_status_set(&call->st, VSD_RESOURCE_EXHAUSTED,
	    "out of memory");
}

/* Status for a write that must reach every shard, when some did not
 * answer. */
static int
vsd_all_shards(struct vsd_call *call, const char *what)
{
	const struct vsd_shard_result *res = call->w->res;
	uint32_t s, n = call->view.nall;

	for (s = 0; s < n; s++) {
		if (res[s].state == VSD_SHARD_OK || res[s].state ==
		    VSD_SHARD_UNUSED)
			continue;
		return vsd_status_set(&call->st,
		    vsd_shard_state_code(res[s].state), "%s needs every "
		    "shard; shard %u: %s", what, s, res[s].error);
	}
	return VSD_OK;
}

/* One command per shard from a fixed argv. */
static struct vsd_cmd *
vsd_each_shard(struct vsd_call *call, const struct vsd_argv *a,
    size_t per, size_t slot, struct vsd_cmd *cmds)
{
	uint32_t s, n = call->view.nall;

	if (cmds == NULL)
		cmds = vsd_call_alloc(call, n * per * sizeof(*cmds));
	if (cmds == NULL)
		return NULL;
	for (s = 0; s < n; s++)
		vsd_argv_to_cmd(a, &cmds[s * per + slot], s);
	return cmds;
}

/* The adopt script's answer on a shard must be the collection we meant:
 * VSD_OK, or ALREADY_EXISTS / a protocol error (st set). */
static int
vsd_create_check(struct vsd_call *call, const char *collection,
    const struct vsd_cmd *c, const struct vsd_coll_params *p,
    struct vsd_coll_params *got)
{
	const char *why;
	int rv;

	if (vsd_reply_check(call, c->shard, c->reply) != VSD_OK)
		return call->st.code;
	if ((rv = vsd_coll_parse(c->reply, got, &why)) != 1)
		return vsd_status_set(&call->st, VSD_UNAVAILABLE, "shard %u: "
		    "protocol error: metadata of \"%s\": %s", c->shard,
		    collection, rv == 0 ? "not written" : why);
	if (!vsd_coll_params_equal(got, p))
		return vsd_status_set(&call->st, VSD_ALREADY_EXISTS,
		    "collection \"%s\" exists with other parameters (dim %u, "
		    "quant %s, m %u, reduce %u, build_ef %u)", collection,
		    got->dim, vsd_quant_name(got->quant), got->m, got->reduce,
		    got->build_ef);
	return VSD_OK;
}

void
vsd_op_create_collection(struct vsd_call *call, const ProtobufCMessage *m)
{
	const Vsetd__V1__CreateCollectionRequest *req =
	    (const Vsetd__V1__CreateCollectionRequest *)m;
	uint32_t s, n = call->view.nall;
	Vsetd__V1__CreateCollectionResponse *resp;
	struct vsd_coll_params p, got;
	struct vsd_argv hget, exists;
	struct vsd_cmd *cmds, *writes;
	const char *key, *metakey, *why;
	uint8_t *lacks;
	size_t keylen, metalen, nw = 0;
	int have = 0, rv;

	if (vsd_check_collection(req->collection, &call->st) != VSD_OK ||
	    vsd_coll_params_from_msg(req->params, call->lim, &p,
	    &call->st) != VSD_OK)
		return;
	/* The mover copies element by element, which a REDUCE set cannot
	 * give back (fanout/elemcopy.h). */
	if (p.reduce != 0 && call->view.l.phase != VSD_PHASE_STABLE) {
		vsd_status_set(&call->st, VSD_FAILED_PRECONDITION, "a REDUCE "
		    "collection cannot be created while shards are being "
		    "added or removed (topology epoch %llu, phase %s): its "
		    "elements could not be moved", (unsigned long long)
		    call->view.epoch, vsd_topo_phase_name(call->view.l.phase));
		return;
	}
	key = vsd_call_key(call, req->collection, &keylen);
	metakey = vsd_meta_key(call, req->collection, &metalen);
	resp = vsd_call_alloc(call, sizeof(*resp));
	lacks = vsd_call_alloc(call, n);
	if (key == NULL || metakey == NULL || resp == NULL || lacks == NULL ||
	    vsd_argv_key(call, &hget, "HGETALL", metakey, metalen) != 0 ||
	    vsd_argv_key(call, &exists, "EXISTS", key, keylen) != 0) {
		vsd_oom(call);
		return;
	}
	cmds = vsd_each_shard(call, &hget, 2, 0, NULL);
	writes = vsd_call_alloc(call, n * sizeof(*writes));
	if (cmds == NULL || writes == NULL) {
		vsd_oom(call);
		return;
	}
	vsd_each_shard(call, &exists, 2, 1, cmds);
	vsd_round_run(call, cmds, 2 * n, VSD_RUN_READ, vsd_round_half_deadline(call));
	if (vsd_all_shards(call, "CreateCollection") != VSD_OK)
		return;
	for (s = 0; s < n; s++) {
		const redisReply *e = cmds[2 * s + 1].reply;

		if (vsd_reply_check(call, s, cmds[2 * s].reply) != VSD_OK ||
		    vsd_reply_check(call, s, e) != VSD_OK)
			return;
		if ((rv = vsd_coll_parse(cmds[2 * s].reply, &got, &why)) < 0) {
			vsd_status_set(&call->st, VSD_UNAVAILABLE, "shard %u: "
			    "protocol error: malformed metadata in %s: %s", s,
			    metakey, why);
			return;
		}
		if (rv == 1) {
			if (!vsd_coll_params_equal(&got, &p)) {
				vsd_status_set(&call->st, VSD_ALREADY_EXISTS,
				    "collection \"%s\" exists with other "
				    "parameters (dim %u, quant %s, m %u, "
				    "reduce %u, build_ef %u)", req->collection,
				    got.dim, vsd_quant_name(got.quant), got.m,
				    got.reduce, got.build_ef);
				return;
			}
			/* Shard 0 comes first: the authority's generation
			 * wins (collection.h). */
			if (!have)
				snprintf(p.gen, sizeof(p.gen), "%s", got.gen);
			have = 1;
			continue;
		}
		if (e->type == REDIS_REPLY_INTEGER && e->integer > 0) {
			vsd_status_set(&call->st, VSD_ALREADY_EXISTS,
			    "collection \"%s\" exists on shard %u without "
			    "vsetd metadata (made by hand or by an older "
			    "vsetd): drop it first", req->collection, s);
			return;
		}
		lacks[s] = 1;
	}
	vsetd__v1__create_collection_response__init(resp);
	resp->created = !have;
	if (!have) {
		/* A new generation, unless another router's creation wins
		 * on shard 0 first: then we adopt its generation. */
		vsd_coll_new_gen(&p);
		if (vsd_coll_adopt_cmd(call, &writes[0], 0, metakey, metalen,
		    &p) != 0) {
			vsd_oom(call);
			return;
		}
		vsd_fence_run(call, writes, 1, VSD_RUN_WRITE,
		    vsd_round_half_deadline(call));
		if (vsd_create_check(call, req->collection, &writes[0], &p,
		    &got) != VSD_OK)
			return;
		resp->created = strcmp(got.gen, p.gen) == 0;
		p = got;
		lacks[0] = 0;
		/* writes[] is reused below: its reply goes first (p and
		 * got hold copies, collection.h). */
		vsd_cmds_free_replies(writes, 1);
	}
	for (s = 0; s < n; s++)
		if (lacks[s] && vsd_coll_adopt_cmd(call, &writes[nw++], s,
		    metakey, metalen, &p) != 0) {
			vsd_oom(call);
			return;
		}
	resp->params = vsd_call_alloc(call, sizeof(*resp->params));
	if (resp->params == NULL) {
		vsd_oom(call);
		return;
	}
	vsd_coll_params_to_msg(&p, resp->params);
	if (nw > 0) {
		vsd_fence_run(call, writes, nw, VSD_RUN_WRITE, call->deadline_us);
		if (vsd_all_shards(call, "CreateCollection") != VSD_OK)
			return;
		for (s = 0; s < nw; s++)
			if (vsd_create_check(call, req->collection, &writes[s],
			    &p, &got) != VSD_OK)
				return;
	}
	if ((resp->shards = vsd_round_summary(call)) == NULL)
		return;
	vsd_coll_cache_put(req->collection, &p);
	call->resp = &resp->base;
}

/* VINFO reply -> parameters, for a vector set without metadata. */
static void
vsd_params_from_vinfo(const redisReply *r, struct vsd_coll_params *p)
{
	size_t i;

	memset(p, 0, sizeof(*p));
	if (r == NULL || r->type != REDIS_REPLY_ARRAY)
		return;
	for (i = 0; i + 1 < r->elements; i += 2) {
		const redisReply *k = r->element[i], *v = r->element[i + 1];
		long long iv = v->type == REDIS_REPLY_INTEGER ? v->integer :
		    v->type == REDIS_REPLY_STRING ? atoll(v->str) : 0;

		/* RESP2 sends the names and quant-type as simple strings. */
		if (k->type != REDIS_REPLY_STRING &&
		    k->type != REDIS_REPLY_STATUS)
			continue;
		if (strcmp(k->str, "quant-type") == 0 &&
		    (v->type == REDIS_REPLY_STRING ||
		    v->type == REDIS_REPLY_STATUS))
			p->quant = strcmp(v->str, "bin") == 0 ?
			    VSETD__V1__QUANTIZATION__QUANT_BIN :
			    strcmp(v->str, "int8") == 0 ?
			    VSETD__V1__QUANTIZATION__QUANT_Q8 :
			    VSETD__V1__QUANTIZATION__QUANT_NOQUANT;
		else if (strcmp(k->str, "hnsw-m") == 0)
			p->m = (uint32_t)iv;
		else if (strcmp(k->str, "vector-dim") == 0 && p->dim == 0)
			p->dim = (uint32_t)iv;
		else if (strcmp(k->str, "projection-input-dim") == 0 && iv > 0) {
			p->reduce = p->dim;
			p->dim = (uint32_t)iv;
		}
	}
}

void
vsd_op_describe_collection(struct vsd_call *call, const ProtobufCMessage *m)
{
	const Vsetd__V1__DescribeCollectionRequest *req =
	    (const Vsetd__V1__DescribeCollectionRequest *)m;
	uint32_t s, n = call->view.nall;
	Vsetd__V1__DescribeCollectionResponse *resp;
	struct vsd_coll_params p, got;
	struct vsd_argv hget, vcard, vinfo;
	const redisReply *info = NULL;
	struct vsd_cmd *cmds;
	const char *key, *metakey;
	size_t keylen, metalen, i;
	int have = 0;

	if (vsd_check_collection(req->collection, &call->st) != VSD_OK)
		return;
	key = vsd_call_key(call, req->collection, &keylen);
	metakey = vsd_meta_key(call, req->collection, &metalen);
	resp = vsd_call_alloc(call, sizeof(*resp));
	if (key == NULL || metakey == NULL || resp == NULL ||
	    vsd_argv_key(call, &hget, "HGETALL", metakey, metalen) != 0 ||
	    vsd_argv_key(call, &vcard, "VCARD", key, keylen) != 0 ||
	    vsd_argv_key(call, &vinfo, "VINFO", key, keylen) != 0) {
		vsd_oom(call);
		return;
	}
	if ((cmds = vsd_each_shard(call, &hget, 3, 0, NULL)) == NULL) {
		vsd_oom(call);
		return;
	}
	vsd_each_shard(call, &vcard, 3, 1, cmds);
	vsd_each_shard(call, &vinfo, 3, 2, cmds);
	vsd_round_run(call, cmds, 3 * n, VSD_RUN_READ, call->deadline_us);

	vsetd__v1__describe_collection_response__init(resp);
	resp->collection = (char *)req->collection;
	resp->shard_counts = vsd_call_alloc(call, n * sizeof(uint64_t));
	resp->params = vsd_call_alloc(call, sizeof(*resp->params));
	if (resp->shard_counts == NULL || resp->params == NULL) {
		vsd_oom(call);
		return;
	}
	resp->n_shard_counts = n;
	for (s = 0; s < n; s++) {
		const redisReply *c = cmds[3 * s + 1].reply;
		const redisReply *vi = cmds[3 * s + 2].reply;
		const redisReply *mr = cmds[3 * s].reply;
		struct vsd_shard_result *res = &call->w->res[s];
		const char *why;
		int rv;

		/* Another type at the key is the caller's problem, not the
		 * shard's: FAILED_PRECONDITION, as for every other call. */
		for (i = 0; i < 3; i++) {
			const redisReply *r = cmds[3 * s + i].reply;

			if (r != NULL && r->type == REDIS_REPLY_ERROR &&
			    vsd_redis_error_code(r->str) ==
			    VSD_FAILED_PRECONDITION) {
				vsd_status_set(&call->st,
				    VSD_FAILED_PRECONDITION, "shard %u: %s",
				    s, r->str);
				return;
			}
		}
		if (mr != NULL && mr->type != REDIS_REPLY_ERROR &&
		    (rv = vsd_coll_parse(mr, &got, &why)) != 0) {
			if (rv < 0) {
				res->state = VSD_SHARD_FAILED;
				snprintf(res->error, sizeof(res->error),
				    "protocol error: malformed metadata in "
				    "%s: %s", metakey, why);
				continue;
			}
			if (!have)
				p = got;
			have = 1;
		}
		if (c != NULL && c->type == REDIS_REPLY_INTEGER) {
			resp->shard_counts[s] = (uint64_t)c->integer;
			resp->count += (uint64_t)c->integer;
		}
		if (info == NULL && vi != NULL && vi->type == REDIS_REPLY_ARRAY)
			info = vi;
	}
	if ((resp->shards = vsd_round_summary(call)) == NULL)
		return;
	if (resp->shards->ok == 0) {
		vsd_round_no_answer(call, "DescribeCollection");
		return;
	}
	if (!have && info == NULL) {
		vsd_status_set(&call->st, VSD_NOT_FOUND, "collection \"%s\" "
		    "does not exist", req->collection);
		return;
	}
	if (!have)
		vsd_params_from_vinfo(info, &p);
	resp->has_metadata = have;
	vsd_coll_params_to_msg(&p, resp->params);
	call->resp = &resp->base;
}

static int
vsd_name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void
vsd_op_list_collections(struct vsd_call *call, const ProtobufCMessage *m)
{
	uint32_t s, n = call->view.nall, active;
	Vsetd__V1__ListCollectionsResponse *resp;
	size_t nnames = 0, cap = 64, i, plen = strlen(VSD_META_PREFIX), nc;
	char **names, **grown, *cursors_buf;
	uint8_t *done, *failed;
	struct vsd_cmd *cmds;
	int round;

	(void)m;
	resp = vsd_call_alloc(call, sizeof(*resp));
	names = vsd_call_alloc(call, cap * sizeof(*names));
	cmds = vsd_call_alloc(call, n * sizeof(*cmds));
	done = vsd_call_alloc(call, n);
	failed = vsd_call_alloc(call, n);
	cursors_buf = vsd_call_alloc(call, (size_t)n * 24);
	if (resp == NULL || names == NULL || cmds == NULL || done == NULL ||
	    failed == NULL || cursors_buf == NULL) {
		vsd_oom(call);
		return;
	}
	for (s = 0; s < n; s++)
		snprintf(cursors_buf + 24 * s, 24, "0");
	for (round = 0; round < VSD_SCAN_MAX_ROUNDS; round++) {
		nc = 0;
		for (s = 0; s < n; s++) {
			struct vsd_argv a;

			if (done[s])
				continue;
			if (vsd_argv_init(call, &a, 6) != 0) {
				vsd_oom(call);
				return;
			}
			vsd_argv_str(&a, "SCAN");
			vsd_argv_str(&a, cursors_buf + 24 * s);
			vsd_argv_str(&a, "MATCH");
			vsd_argv_str(&a, VSD_META_PREFIX "*");
			vsd_argv_str(&a, "COUNT");
			vsd_argv_str(&a, VSD_SCAN_COUNT);
			vsd_argv_to_cmd(&a, &cmds[nc++], s);
		}
		if (nc == 0)
			break;
		vsd_round_run(call, cmds, nc, VSD_RUN_READ, call->deadline_us);
		for (i = 0; i < nc; i++) {
			const redisReply *r = cmds[i].reply, *keys;
			size_t j;

			s = cmds[i].shard;
			if (r == NULL || r->type != REDIS_REPLY_ARRAY ||
			    r->elements != 2 ||
			    r->element[0]->type != REDIS_REPLY_STRING ||
			    r->element[1]->type != REDIS_REPLY_ARRAY) {
				done[s] = failed[s] = 1;
				continue;
			}
			snprintf(cursors_buf + 24 * s, 24, "%s",
			    r->element[0]->str);
			if (strcmp(r->element[0]->str, "0") == 0)
				done[s] = 1;
			keys = r->element[1];
			for (j = 0; j < keys->elements; j++) {
				const redisReply *k = keys->element[j];

				if (k->type != REDIS_REPLY_STRING ||
				    k->len <= plen)
					continue;
				if (nnames == cap) {
					grown = vsd_call_alloc(call, 2 * cap *
					    sizeof(*grown));
					if (grown == NULL) {
						vsd_oom(call);
						return;
					}
					memcpy(grown, names, cap *
					    sizeof(*names));
					names = grown;
					cap *= 2;
				}
				names[nnames] = vsd_call_strdup(call,
				    k->str + plen, k->len - plen);
				if (names[nnames++] == NULL) {
					vsd_oom(call);
					return;
				}
			}
		}
	}
	vsd_cmds_free_replies(call->cmds, call->ncmds);
	call->ncmds = 0;
	qsort(names, nnames, sizeof(*names), vsd_name_cmp);
	for (i = 0, nc = 0; i < nnames; i++)
		if (nc == 0 || strcmp(names[nc - 1], names[i]) != 0)
			names[nc++] = names[i];
	vsetd__v1__list_collections_response__init(resp);
	resp->collections = names;
	resp->n_collections = nc;
	resp->shards = vsd_call_alloc(call, sizeof(*resp->shards));
	if (resp->shards == NULL) {
		vsd_oom(call);
		return;
	}
	vsetd__v1__shard_summary__init(resp->shards);
	for (s = 0, active = 0; s < n; s++) {
		resp->shards->total++;
		if (failed[s] || !done[s]) {
			resp->shards->failed++;
			continue;
		}
		resp->shards->ok++;
		active++;
	}
	resp->partial = active < n;
	if (active == 0) {
		vsd_status_set(&call->st, VSD_UNAVAILABLE, "ListCollections: "
		    "no shard answered");
		return;
	}
	call->resp = &resp->base;
}

void
vsd_op_drop_collection(struct vsd_call *call, const ProtobufCMessage *m)
{
	const Vsetd__V1__DropCollectionRequest *req =
	    (const Vsetd__V1__DropCollectionRequest *)m;
	uint32_t s, n = call->view.nall;
	Vsetd__V1__DropCollectionResponse *resp;
	const char *key, *metakey;
	struct vsd_cmd *cmds;
	struct vsd_argv a;
	size_t keylen, metalen;

	if (vsd_check_collection(req->collection, &call->st) != VSD_OK)
		return;
	key = vsd_call_key(call, req->collection, &keylen);
	metakey = vsd_meta_key(call, req->collection, &metalen);
	resp = vsd_call_alloc(call, sizeof(*resp));
	if (key == NULL || metakey == NULL || resp == NULL ||
	    vsd_argv_init(call, &a, 3) != 0) {
		vsd_oom(call);
		return;
	}
	vsd_argv_str(&a, "DEL");
	vsd_argv_add(&a, key, keylen);
	vsd_argv_add(&a, metakey, metalen);
	if ((cmds = vsd_each_shard(call, &a, 1, 0, NULL)) == NULL) {
		vsd_oom(call);
		return;
	}
	/* Forget it here first, so no insert of ours re-creates it from a
	 * cached entry while the DELs run. */
	vsd_coll_cache_drop(req->collection);
	vsd_round_run(call, cmds, n, VSD_RUN_WRITE, call->deadline_us);
	vsd_coll_cache_drop(req->collection);
	vsetd__v1__drop_collection_response__init(resp);
	for (s = 0; s < n; s++) {
		const redisReply *r = cmds[s].reply;

		if (r != NULL && r->type == REDIS_REPLY_INTEGER)
			resp->keys_deleted += (uint64_t)r->integer;
	}
	if (vsd_all_shards(call, "DropCollection") != VSD_OK)
		return;
	for (s = 0; s < n; s++)
		if (vsd_reply_check(call, s, cmds[s].reply) != VSD_OK)
			return;
	/* A collection that is already gone is not an error: a retried
	 * drop (its first reply lost) must see the same answer, OK, with
	 * keys_deleted = 0 telling that nothing was left (protocol.md 8). */
	if ((resp->shards = vsd_round_summary(call)) == NULL)
		return;
	call->resp = &resp->base;
}
