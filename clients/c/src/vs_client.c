/*
 * vs_client.c - the vs_ API: plain C structs in, generated stubs over the
 * nng transport, plain C structs out.
 *
 * Each call builds its request message on the stack, pointing into the
 * caller's memory (nothing is copied on the way out), and each closure deep
 * copies the reply into one result object the caller owns.  Result objects
 * keep their strings in the same allocation family: vs_*_free releases all.
 */
#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "vs_internal.h"
#include "vsetd.pb-c.h"


int
vs_connect(vs_client **out, const char *url, int timeout_ms)
{
	vs_connect_options o;

	memset(&o, 0, sizeof(o));
	o.timeout_ms = timeout_ms;
	return vs_connect_opts(out, url, &o);
}

void
vs_close(vs_client *c)
{
	if (c == NULL)
		return;
	if (c->sp) {
		vs_sp_free(c);
	} else {
		vs_chans_free(c);
		nng_close(c->sock);
	}
	pthread_mutex_destroy(&c->mu);
	free(c);
}

void
vs_set_timeout(vs_client *c, int timeout_ms)
{
	if (timeout_ms > 0)
		c->timeout_ms = timeout_ms;
}

struct ProtobufCService *
vs_service(vs_client *c)
{
	return &c->service;
}

static char *
vs_strdup(const char *s)
{
	return strdup(s != NULL ? s : "");
}

static void
vs_copy_shards(vs_shards *dst, const Vsetd__V1__ShardSummary *src)
{
	if (src == NULL)
		return;
	dst->total = src->total;
	dst->ok = src->ok;
	dst->failed = src->failed;
	dst->timed_out = src->timed_out;
	dst->from_replica = (uint32_t)src->n_from_replica;
}

/* ------------------------------------------------------------ writes */

struct vs_write_call {
	vs_write_result *res;
	int oom;
};

void
vs_write_result_free(vs_write_result *r)
{
	size_t i;

	if (r == NULL)
		return;
	for (i = 0; i < r->n_items; i++) {
		free((char *)r->items[i].id);
		free((char *)r->items[i].message);
	}
	free(r->items);
	free(r);
}

/* Copy the per-item results that Insert and Delete replies share.  Returns
 * NULL when out of memory. */
static vs_write_result *
vs_write_copy(Vsetd__V1__ItemResult *const *items, size_t n,
    const Vsetd__V1__ShardSummary *shards)
{
	vs_write_result *r;
	size_t i;

	if ((r = calloc(1, sizeof(*r))) == NULL)
		return NULL;
	if (n > 0 && (r->items = calloc(n, sizeof(*r->items))) == NULL) {
		free(r);
		return NULL;
	}
	r->n_items = n;
	for (i = 0; i < n; i++) {
		vs_item_result *d = &r->items[i];

		d->id = vs_strdup(items[i]->id);
		d->message = vs_strdup(items[i]->message);
		if (d->id == NULL || d->message == NULL) {
			vs_write_result_free(r);
			return NULL;
		}
		d->outcome = (int)items[i]->outcome;
		d->shard = items[i]->shard;
		d->code = (int)items[i]->code;
	}
	vs_copy_shards(&r->shards, shards);
	return r;
}

static void
vs_insert_done(const Vsetd__V1__InsertResponse *m, void *data)
{
	struct vs_write_call *call = data;

	if (m == NULL)
		return;
	call->res = vs_write_copy(m->results, m->n_results, m->shards);
	if (call->res == NULL) {
		call->oom = 1;
		return;
	}
	call->res->added = m->added;
	call->res->updated = m->updated;
	call->res->failed = m->failed;
}

static void
vs_delete_done(const Vsetd__V1__DeleteResponse *m, void *data)
{
	struct vs_write_call *call = data;

	if (m == NULL)
		return;
	call->res = vs_write_copy(m->results, m->n_results, m->shards);
	if (call->res == NULL) {
		call->oom = 1;
		return;
	}
	call->res->deleted = m->deleted;
	call->res->not_found = m->not_found;
	call->res->failed = m->failed;
}

/* Hand the result to the caller, or drop it; return the call's status. */
static int
vs_write_finish(struct vs_write_call *call, vs_write_result **out)
{
	int code;

	if (call->oom)
		vs_set_error(VS_RESOURCE_EXHAUSTED, "out of memory copying reply");
	code = vs_errcode();
	if (out != NULL)
		*out = call->res;
	else
		vs_write_result_free(call->res);
	return code;
}

int
vs_insert(vs_client *c, const char *collection, const vs_item *items,
    size_t n, vs_write_result **out)
{
	Vsetd__V1__InsertRequest req = VSETD__V1__INSERT_REQUEST__INIT;
	Vsetd__V1__Item *msgs = NULL, **ptrs = NULL;
	struct vs_write_call call = { NULL, 0 };
	size_t i;

	if (out != NULL)
		*out = NULL;
	if (n > 0) {
		msgs = calloc(n, sizeof(*msgs));
		ptrs = calloc(n, sizeof(*ptrs));
		if (msgs == NULL || ptrs == NULL) {
			free(msgs);
			free(ptrs);
			vs_set_error(VS_RESOURCE_EXHAUSTED, "out of memory");
			return VS_RESOURCE_EXHAUSTED;
		}
	}
	for (i = 0; i < n; i++) {
		vsetd__v1__item__init(&msgs[i]);
		msgs[i].id = (char *)(items[i].id != NULL ? items[i].id : "");
		msgs[i].vector = (float *)items[i].vector;
		msgs[i].n_vector = items[i].dim;
		if (items[i].attrs_json != NULL)
			msgs[i].attributes_json = (char *)items[i].attrs_json;
		ptrs[i] = &msgs[i];
	}
	req.collection = (char *)(collection != NULL ? collection : "");
	req.items = ptrs;
	req.n_items = n;
	vsetd__v1__vector_service__insert(&c->service, &req, vs_insert_done,
	    &call);
	free(msgs);
	free(ptrs);
	return vs_write_finish(&call, out);
}

int
vs_delete(vs_client *c, const char *collection, const char *const *ids,
    size_t n, vs_write_result **out)
{
	Vsetd__V1__DeleteRequest req = VSETD__V1__DELETE_REQUEST__INIT;
	struct vs_write_call call = { NULL, 0 };

	if (out != NULL)
		*out = NULL;
	req.collection = (char *)(collection != NULL ? collection : "");
	req.ids = (char **)ids;
	req.n_ids = n;
	vsetd__v1__vector_service__delete(&c->service, &req, vs_delete_done,
	    &call);
	return vs_write_finish(&call, out);
}

/* ------------------------------------------------------------ search */

struct vs_search_call {
	vs_search_result *res;
	int oom;
	int want_attrs;              /* copy SearchHit attributes */
};

void
vs_search_result_free(vs_search_result *r)
{
	size_t i;

	if (r == NULL)
		return;
	for (i = 0; i < r->n_hits; i++)
		free((char *)r->hits[i].id);
	for (i = 0; i < r->n_shard_errors; i++)
		free((char *)r->shard_errors[i].message);
	if (r->attrs != NULL)
		for (i = 0; i < r->n_hits; i++)
			free(r->attrs[i]);
	free(r->attrs);
	free(r->hits);
	free(r->shard_errors);
	free(r);
}

/* Copy one SearchResponse into a new vs_search_result (*out, NULL if out
 * of memory before anything was allocated); -1 if out of memory. */
static int
vs_search_copy(const Vsetd__V1__SearchResponse *m, int want_attrs,
    vs_search_result **out)
{
	vs_search_result *r;
	size_t i;

	if ((r = calloc(1, sizeof(*r))) == NULL)
		return -1;
	*out = r;
	if (m->n_results > 0 &&
	    (r->hits = calloc(m->n_results, sizeof(*r->hits))) == NULL)
		return -1;
	if (want_attrs && m->n_results > 0 &&
	    (r->attrs = calloc(m->n_results, sizeof(*r->attrs))) == NULL)
		return -1;
	for (i = 0; i < m->n_results; i++) {
		if ((r->hits[i].id = vs_strdup(m->results[i]->id)) == NULL)
			return -1;
		r->n_hits = i + 1;
		r->hits[i].score = m->results[i]->score;
		r->hits[i].shard = m->results[i]->shard;
		if (r->attrs != NULL && m->results[i]->has_attributes &&
		    (r->attrs[i] = vs_strdup(m->results[i]->attributes_json)) ==
		    NULL)
			return -1;
	}
	if (m->n_shard_errors > 0 && (r->shard_errors =
	    calloc(m->n_shard_errors, sizeof(*r->shard_errors))) == NULL)
		return -1;
	for (i = 0; i < m->n_shard_errors; i++) {
		vs_shard_error *e = &r->shard_errors[i];

		if ((e->message = vs_strdup(m->shard_errors[i]->message)) == NULL)
			return -1;
		r->n_shard_errors = i + 1;
		e->shard = m->shard_errors[i]->shard;
		e->code = (int)m->shard_errors[i]->code;
	}
	r->partial = m->partial;
	vs_copy_shards(&r->shards, m->shards);
	return 0;
}

static void
vs_search_done(const Vsetd__V1__SearchResponse *m, void *data)
{
	struct vs_search_call *call = data;

	if (m == NULL)
		return;
	if (vs_search_copy(m, call->want_attrs, &call->res) != 0)
		call->oom = 1;
}

int
vs_search(vs_client *c, const vs_search_params *p, vs_search_result **out)
{
	Vsetd__V1__SearchRequest req = VSETD__V1__SEARCH_REQUEST__INIT;
	struct vs_search_call call = { NULL, 0, 0 };
	int code;

	*out = NULL;
	req.collection = (char *)(p->collection != NULL ? p->collection : "");
	req.vector = (float *)p->vector;
	req.n_vector = p->dim;
	req.k = p->k;
	req.ef = p->ef;
	req.require_all_shards = p->require_all != 0;
	vsetd__v1__vector_service__search(&c->service, &req, vs_search_done,
	    &call);
	if (call.oom)
		vs_set_error(VS_RESOURCE_EXHAUSTED, "out of memory copying reply");
	code = vs_errcode();
	if (code == VS_OK)
		*out = call.res;
	else
		vs_search_result_free(call.res);
	return code;
}

/* ------------------------------------------------------------ raw */

int
vs_call_raw(vs_client *c, const char *method, const void *req,
    size_t req_len, void **reply, size_t *reply_len)
{
	Vsetd__V1__ReplyEnvelope *env;
	int code;

	*reply = NULL;
	*reply_len = 0;
	env = vs_transport_call(c, method, req, req_len);
	if (env == NULL)
		return vs_errcode();
	code = vs_errcode();
	if (env->payload.len > 0) {
		if ((*reply = malloc(env->payload.len)) == NULL) {
			vs_set_error(VS_RESOURCE_EXHAUSTED, "out of memory");
			code = VS_RESOURCE_EXHAUSTED;
		} else {
			memcpy(*reply, env->payload.data, env->payload.len);
			*reply_len = env->payload.len;
		}
	}
	vsetd__v1__reply_envelope__free_unpacked(env, NULL);
	return code;
}

/* ------------------------------------------------------------ surface */

/*
 * The surface calls go through one helper rather than the generated stubs
 * (vs_internal.h says why and who frees what).
 */
ProtobufCMessage *
vs_rpc(vs_client *c, const char *method, const ProtobufCMessage *req,
    const ProtobufCMessageDescriptor *out_desc)
{
	Vsetd__V1__ReplyEnvelope *env = NULL;
	ProtobufCMessage *out = NULL;
	char full[96];
	uint8_t *buf;
	size_t len;

	len = protobuf_c_message_get_packed_size(req);
	if ((buf = malloc(len ? len : 1)) == NULL) {
		vs_set_error(VS_RESOURCE_EXHAUSTED, "out of memory");
		return NULL;
	}
	protobuf_c_message_pack(req, buf);
	snprintf(full, sizeof(full), "/vsetd.v1.VectorService/%s", method);
	env = vs_transport_call(c, full, buf, len);
	free(buf);
	if (env == NULL)
		return NULL;
	if (vs_errcode() == VS_OK) {
		out = protobuf_c_message_unpack(out_desc, NULL, env->payload.len,
		    env->payload.data);
		if (out == NULL)
			vs_set_error(VS_INTERNAL, "undecodable %s reply",
			    method);
	}
	vsetd__v1__reply_envelope__free_unpacked(env, NULL);
	return out;
}

static int
vs_oom(void)
{
	vs_set_error(VS_RESOURCE_EXHAUSTED, "out of memory copying reply");
	return VS_RESOURCE_EXHAUSTED;
}

static void
vs_search_fill(Vsetd__V1__SearchRequest *req, const vs_search_params *p,
    const vs_search_options *o)
{
	req->collection = (char *)(p->collection != NULL ? p->collection : "");
	req->vector = (float *)p->vector;
	req->n_vector = p->vector != NULL ? p->dim : 0;
	req->k = p->k;
	req->ef = p->ef;
	req->require_all_shards = p->require_all != 0;
	if (o == NULL)
		return;
	if (o->filter != NULL)
		req->filter = (char *)o->filter;
	req->filter_ef = o->filter_ef;
	req->epsilon = o->epsilon;
	req->truth = o->truth != 0;
	req->nothread = o->nothread != 0;
	req->with_attributes = o->with_attrs != 0;
	if (o->by_id != NULL)
		req->by_id = (char *)o->by_id;
	req->shard_k_ratio = o->shard_k_ratio;
}

int
vs_search_ex(vs_client *c, const vs_search_params *p,
    const vs_search_options *o, vs_search_result **out)
{
	Vsetd__V1__SearchRequest req = VSETD__V1__SEARCH_REQUEST__INIT;
	struct vs_search_call call = { NULL, 0, o != NULL && o->with_attrs };
	int code;

	*out = NULL;
	vs_search_fill(&req, p, o);
	vsetd__v1__vector_service__search(&c->service, &req, vs_search_done,
	    &call);
	if (call.oom)
		vs_set_error(VS_RESOURCE_EXHAUSTED, "out of memory copying reply");
	code = vs_errcode();
	if (code == VS_OK)
		*out = call.res;
	else
		vs_search_result_free(call.res);
	return code;
}

const char *
vs_search_attrs(const vs_search_result *r, size_t i)
{
	if (r == NULL || r->attrs == NULL || i >= r->n_hits)
		return NULL;
	return r->attrs[i];
}

void
vs_search_results_free(vs_search_result **r, size_t n)
{
	size_t i;

	if (r == NULL)
		return;
	for (i = 0; i < n; i++)
		vs_search_result_free(r[i]);
	free(r);
}

int
vs_search_batch(vs_client *c, const vs_search_params *p,
    const vs_search_options *o, const float *const *vectors, size_t n,
    vs_search_result ***out)
{
	Vsetd__V1__BatchSearchRequest req = VSETD__V1__BATCH_SEARCH_REQUEST__INIT;
	Vsetd__V1__SearchRequest common = VSETD__V1__SEARCH_REQUEST__INIT;
	Vsetd__V1__QueryVector *qs = NULL, **qp = NULL;
	Vsetd__V1__BatchSearchResponse *resp = NULL;
	vs_search_params cp = *p;
	vs_search_result **res = NULL;
	size_t i;
	int code;

	*out = NULL;
	cp.vector = NULL;
	vs_search_fill(&common, &cp, o);
	if (n > 0 && ((qs = calloc(n, sizeof(*qs))) == NULL ||
	    (qp = calloc(n, sizeof(*qp))) == NULL)) {
		code = vs_oom();
		goto out;
	}
	for (i = 0; i < n; i++) {
		vsetd__v1__query_vector__init(&qs[i]);
		qs[i].vector = (float *)vectors[i];
		qs[i].n_vector = p->dim;
		qp[i] = &qs[i];
	}
	req.common = &common;
	req.queries = qp;
	req.n_queries = n;
	resp = (Vsetd__V1__BatchSearchResponse *)vs_rpc(c, "BatchSearch",
	    &req.base, &vsetd__v1__batch_search_response__descriptor);
	if (resp == NULL) {
		code = vs_errcode();
		goto out;
	}
	if ((res = calloc(resp->n_results ? resp->n_results : 1,
	    sizeof(*res))) == NULL) {
		code = vs_oom();
		goto out;
	}
	for (i = 0; i < resp->n_results; i++)
		if (vs_search_copy(resp->results[i], o != NULL && o->with_attrs,
		    &res[i]) != 0) {
			vs_search_results_free(res, resp->n_results);
			res = NULL;
			code = vs_oom();
			goto out;
		}
	*out = res;
	code = VS_OK;
out:
	if (resp != NULL)
		protobuf_c_message_free_unpacked(&resp->base, NULL);
	free(qs);
	free(qp);
	return code;
}

int
vs_insert_ex(vs_client *c, const char *collection, const vs_item *items,
    size_t n, const vs_insert_options *o, vs_write_result **out)
{
	Vsetd__V1__InsertRequest req = VSETD__V1__INSERT_REQUEST__INIT;
	Vsetd__V1__Item *msgs = NULL, **ptrs = NULL;
	struct vs_write_call call = { NULL, 0 };
	size_t i;

	if (out != NULL)
		*out = NULL;
	if (n > 0 && ((msgs = calloc(n, sizeof(*msgs))) == NULL ||
	    (ptrs = calloc(n, sizeof(*ptrs))) == NULL)) {
		free(msgs);
		return vs_oom();
	}
	for (i = 0; i < n; i++) {
		vsetd__v1__item__init(&msgs[i]);
		msgs[i].id = (char *)(items[i].id != NULL ? items[i].id : "");
		msgs[i].vector = (float *)items[i].vector;
		msgs[i].n_vector = items[i].dim;
		if (items[i].attrs_json != NULL)
			msgs[i].attributes_json = (char *)items[i].attrs_json;
		ptrs[i] = &msgs[i];
	}
	req.collection = (char *)(collection != NULL ? collection : "");
	req.items = ptrs;
	req.n_items = n;
	if (o != NULL) {
		req.no_create = o->no_create != 0;
		req.cas = o->cas != 0;
		req.ef = o->ef;
	}
	vsetd__v1__vector_service__insert(&c->service, &req, vs_insert_done,
	    &call);
	free(msgs);
	free(ptrs);
	return vs_write_finish(&call, out);
}

const char *
vs_quant_name(int quant)
{
	switch (quant) {
	case VS_QUANT_NOQUANT:
		return "noquant";
	case VS_QUANT_BIN:
		return "bin";
	default:
		return "q8";
	}
}

int
vs_quant_parse(const char *name)
{
	if (strcasecmp(name, "q8") == 0)
		return VS_QUANT_Q8;
	if (strcasecmp(name, "noquant") == 0)
		return VS_QUANT_NOQUANT;
	if (strcasecmp(name, "bin") == 0)
		return VS_QUANT_BIN;
	return -1;
}

static void
vs_params_from_msg(vs_collection_params *d,
    const Vsetd__V1__CollectionParams *m)
{
	if (m == NULL)
		return;
	d->dim = m->dim;
	d->quant = (int)m->quant;
	d->m = m->m;
	d->reduce = m->reduce;
	d->build_ef = m->build_ef;
}

int
vs_create_collection(vs_client *c, const char *collection,
    const vs_collection_params *p, int *created)
{
	Vsetd__V1__CreateCollectionRequest req =
	    VSETD__V1__CREATE_COLLECTION_REQUEST__INIT;
	Vsetd__V1__CollectionParams pm = VSETD__V1__COLLECTION_PARAMS__INIT;
	Vsetd__V1__CreateCollectionResponse *resp;

	req.collection = (char *)(collection != NULL ? collection : "");
	pm.dim = p->dim;
	pm.quant = (Vsetd__V1__Quantization)p->quant;
	pm.m = p->m;
	pm.reduce = p->reduce;
	pm.build_ef = p->build_ef;
	req.params = &pm;
	resp = (Vsetd__V1__CreateCollectionResponse *)vs_rpc(c,
	    "CreateCollection", &req.base,
	    &vsetd__v1__create_collection_response__descriptor);
	if (resp == NULL)
		return vs_errcode();
	if (created != NULL)
		*created = resp->created;
	protobuf_c_message_free_unpacked(&resp->base, NULL);
	return VS_OK;
}

void
vs_collection_info_free(vs_collection_info *i)
{
	if (i == NULL)
		return;
	free(i->shard_counts);
	free(i);
}

/* memcpy that accepts an empty copy: protobuf-c leaves an empty repeated or
 * bytes field's pointer NULL, and memcpy(dst, NULL, 0) is undefined. */
static void
vs_copy_bytes(void *dst, const void *src, size_t n)
{
	if (n > 0)
		memcpy(dst, src, n);
}

/* A copy of n uint64s (NULL for none); -1 if out of memory. */
static int
vs_copy_u64(uint64_t **dst, const uint64_t *src, size_t n)
{
	*dst = NULL;
	if (n == 0)
		return 0;
	if ((*dst = malloc(n * sizeof(**dst))) == NULL)
		return -1;
	memcpy(*dst, src, n * sizeof(**dst));
	return 0;
}

int
vs_describe_collection(vs_client *c, const char *collection,
    vs_collection_info **out)
{
	Vsetd__V1__DescribeCollectionRequest req =
	    VSETD__V1__DESCRIBE_COLLECTION_REQUEST__INIT;
	Vsetd__V1__DescribeCollectionResponse *resp;
	vs_collection_info *i;
	int code = VS_OK;

	*out = NULL;
	req.collection = (char *)(collection != NULL ? collection : "");
	resp = (Vsetd__V1__DescribeCollectionResponse *)vs_rpc(c,
	    "DescribeCollection", &req.base,
	    &vsetd__v1__describe_collection_response__descriptor);
	if (resp == NULL)
		return vs_errcode();
	if ((i = calloc(1, sizeof(*i))) == NULL ||
	    vs_copy_u64(&i->shard_counts, resp->shard_counts,
	    resp->n_shard_counts) != 0) {
		free(i);
		code = vs_oom();
		goto out;
	}
	vs_params_from_msg(&i->params, resp->params);
	i->count = resp->count;
	i->n_shards = resp->n_shard_counts;
	i->has_metadata = resp->has_metadata;
	vs_copy_shards(&i->shards, resp->shards);
	*out = i;
out:
	protobuf_c_message_free_unpacked(&resp->base, NULL);
	return code;
}

void
vs_strings_free(char **s, size_t n)
{
	size_t i;

	if (s == NULL)
		return;
	for (i = 0; i < n; i++)
		free(s[i]);
	free(s);
}

/* A malloc'd copy of src[0..n); -1 if out of memory. */
static int
vs_copy_strings(char ***dst, char *const *src, size_t n)
{
	size_t i;

	if ((*dst = calloc(n ? n : 1, sizeof(**dst))) == NULL)
		return -1;
	for (i = 0; i < n; i++)
		if (((*dst)[i] = vs_strdup(src[i])) == NULL) {
			vs_strings_free(*dst, i);
			*dst = NULL;
			return -1;
		}
	return 0;
}

int
vs_list_collections(vs_client *c, char ***names, size_t *n)
{
	Vsetd__V1__ListCollectionsRequest req =
	    VSETD__V1__LIST_COLLECTIONS_REQUEST__INIT;
	Vsetd__V1__ListCollectionsResponse *resp;
	int code = VS_OK;

	*names = NULL;
	*n = 0;
	resp = (Vsetd__V1__ListCollectionsResponse *)vs_rpc(c,
	    "ListCollections", &req.base,
	    &vsetd__v1__list_collections_response__descriptor);
	if (resp == NULL)
		return vs_errcode();
	if (vs_copy_strings(names, resp->collections, resp->n_collections) != 0)
		code = vs_oom();
	else
		*n = resp->n_collections;
	protobuf_c_message_free_unpacked(&resp->base, NULL);
	return code;
}

int
vs_drop_collection(vs_client *c, const char *collection,
    uint64_t *keys_deleted)
{
	Vsetd__V1__DropCollectionRequest req =
	    VSETD__V1__DROP_COLLECTION_REQUEST__INIT;
	Vsetd__V1__DropCollectionResponse *resp;

	req.collection = (char *)(collection != NULL ? collection : "");
	resp = (Vsetd__V1__DropCollectionResponse *)vs_rpc(c, "DropCollection",
	    &req.base, &vsetd__v1__drop_collection_response__descriptor);
	if (resp == NULL)
		return vs_errcode();
	if (keys_deleted != NULL)
		*keys_deleted = resp->keys_deleted;
	protobuf_c_message_free_unpacked(&resp->base, NULL);
	return VS_OK;
}

void
vs_element_free(vs_element *e)
{
	if (e == NULL)
		return;
	free(e->id);
	free(e->vector);
	free(e->attrs_json);
	free(e->raw_quant);
	free(e->raw_data);
	free(e);
}

int
vs_get(vs_client *c, const char *collection, const char *id, int raw,
    vs_element **out)
{
	Vsetd__V1__GetRequest req = VSETD__V1__GET_REQUEST__INIT;
	Vsetd__V1__GetResponse *resp;
	vs_element *e;
	int code = VS_OK;

	*out = NULL;
	req.collection = (char *)(collection != NULL ? collection : "");
	req.id = (char *)(id != NULL ? id : "");
	req.raw = raw != 0;
	resp = (Vsetd__V1__GetResponse *)vs_rpc(c, "Get", &req.base,
	    &vsetd__v1__get_response__descriptor);
	if (resp == NULL)
		return vs_errcode();
	if ((e = calloc(1, sizeof(*e))) == NULL) {
		code = vs_oom();
		goto out;
	}
	e->id = vs_strdup(resp->id);
	e->vector = malloc((resp->n_vector ? resp->n_vector : 1) *
	    sizeof(float));
	if (e->id == NULL || e->vector == NULL)
		goto oom;
	vs_copy_bytes(e->vector, resp->vector, resp->n_vector * sizeof(float));
	e->dim = resp->n_vector;
	e->shard = resp->shard;
	if (resp->has_attributes &&
	    (e->attrs_json = vs_strdup(resp->attributes_json)) == NULL)
		goto oom;
	if (resp->raw != NULL) {
		e->has_raw = 1;
		e->raw_quant = vs_strdup(resp->raw->quantization);
		e->raw_data = malloc(resp->raw->data.len ? resp->raw->data.len :
		    1);
		if (e->raw_quant == NULL || e->raw_data == NULL)
			goto oom;
		vs_copy_bytes(e->raw_data, resp->raw->data.data, resp->raw->data.len);
		e->raw_len = resp->raw->data.len;
		e->raw_norm = resp->raw->norm;
		e->raw_range = resp->raw->range;
	}
	*out = e;
	goto out;
oom:
	vs_element_free(e);
	code = vs_oom();
out:
	protobuf_c_message_free_unpacked(&resp->base, NULL);
	return code;
}

int
vs_get_attributes(vs_client *c, const char *collection, const char *id,
    char **json)
{
	Vsetd__V1__GetAttributesRequest req =
	    VSETD__V1__GET_ATTRIBUTES_REQUEST__INIT;
	Vsetd__V1__GetAttributesResponse *resp;
	int code = VS_OK;

	*json = NULL;
	req.collection = (char *)(collection != NULL ? collection : "");
	req.id = (char *)(id != NULL ? id : "");
	resp = (Vsetd__V1__GetAttributesResponse *)vs_rpc(c, "GetAttributes",
	    &req.base, &vsetd__v1__get_attributes_response__descriptor);
	if (resp == NULL)
		return vs_errcode();
	if (resp->has_attributes &&
	    (*json = vs_strdup(resp->attributes_json)) == NULL)
		code = vs_oom();
	protobuf_c_message_free_unpacked(&resp->base, NULL);
	return code;
}

int
vs_set_attributes(vs_client *c, const char *collection, const char *id,
    const char *json)
{
	Vsetd__V1__SetAttributesRequest req =
	    VSETD__V1__SET_ATTRIBUTES_REQUEST__INIT;
	ProtobufCMessage *resp;

	req.collection = (char *)(collection != NULL ? collection : "");
	req.id = (char *)(id != NULL ? id : "");
	req.attributes_json = (char *)(json != NULL ? json : "");
	resp = vs_rpc(c, "SetAttributes", &req.base,
	    &vsetd__v1__set_attributes_response__descriptor);
	if (resp == NULL)
		return vs_errcode();
	protobuf_c_message_free_unpacked(resp, NULL);
	return VS_OK;
}

int
vs_exists(vs_client *c, const char *collection, const char *id, int *exists)
{
	Vsetd__V1__ExistsRequest req = VSETD__V1__EXISTS_REQUEST__INIT;
	Vsetd__V1__ExistsResponse *resp;

	*exists = 0;
	req.collection = (char *)(collection != NULL ? collection : "");
	req.id = (char *)(id != NULL ? id : "");
	resp = (Vsetd__V1__ExistsResponse *)vs_rpc(c, "Exists", &req.base,
	    &vsetd__v1__exists_response__descriptor);
	if (resp == NULL)
		return vs_errcode();
	*exists = resp->exists;
	protobuf_c_message_free_unpacked(&resp->base, NULL);
	return VS_OK;
}

void
vs_count_result_free(vs_count_result *r)
{
	if (r == NULL)
		return;
	free(r->shard_counts);
	free(r);
}

int
vs_count(vs_client *c, const char *collection, vs_count_result **out)
{
	Vsetd__V1__CountRequest req = VSETD__V1__COUNT_REQUEST__INIT;
	Vsetd__V1__CountResponse *resp;
	vs_count_result *r;
	int code = VS_OK;

	*out = NULL;
	req.collection = (char *)(collection != NULL ? collection : "");
	resp = (Vsetd__V1__CountResponse *)vs_rpc(c, "Count", &req.base,
	    &vsetd__v1__count_response__descriptor);
	if (resp == NULL)
		return vs_errcode();
	if ((r = calloc(1, sizeof(*r))) == NULL ||
	    vs_copy_u64(&r->shard_counts, resp->shard_counts,
	    resp->n_shard_counts) != 0) {
		free(r);
		code = vs_oom();
		goto out;
	}
	r->count = resp->count;
	r->n_shards = resp->n_shard_counts;
	r->partial = resp->partial;
	vs_copy_shards(&r->shards, resp->shards);
	*out = r;
out:
	protobuf_c_message_free_unpacked(&resp->base, NULL);
	return code;
}

void
vs_info_result_free(vs_info_result *r)
{
	size_t i, j;

	if (r == NULL)
		return;
	for (i = 0; i < r->n_shard_info; i++) {
		for (j = 0; j < r->shard_info[i].n_fields; j++) {
			free(r->shard_info[i].fields[j].name);
			free(r->shard_info[i].fields[j].value);
		}
		free(r->shard_info[i].fields);
	}
	free(r->shard_info);
	free(r);
}

int
vs_info(vs_client *c, const char *collection, vs_info_result **out)
{
	Vsetd__V1__InfoRequest req = VSETD__V1__INFO_REQUEST__INIT;
	Vsetd__V1__InfoResponse *resp;
	vs_info_result *r;
	size_t i, j;
	int code = VS_OK;

	*out = NULL;
	req.collection = (char *)(collection != NULL ? collection : "");
	resp = (Vsetd__V1__InfoResponse *)vs_rpc(c, "Info", &req.base,
	    &vsetd__v1__info_response__descriptor);
	if (resp == NULL)
		return vs_errcode();
	if ((r = calloc(1, sizeof(*r))) == NULL)
		goto oom;
	if (resp->n_shard_info > 0 && (r->shard_info =
	    calloc(resp->n_shard_info, sizeof(*r->shard_info))) == NULL)
		goto oom;
	for (i = 0; i < resp->n_shard_info; i++) {
		const Vsetd__V1__ShardInfo *si = resp->shard_info[i];
		vs_shard_info *d = &r->shard_info[i];

		r->n_shard_info = i + 1;
		d->shard = si->shard;
		d->exists = si->exists;
		if (si->n_fields > 0 && (d->fields = calloc(si->n_fields,
		    sizeof(*d->fields))) == NULL)
			goto oom;
		for (j = 0; j < si->n_fields; j++) {
			d->n_fields = j + 1;
			d->fields[j].name = vs_strdup(si->fields[j]->name);
			d->fields[j].value = vs_strdup(si->fields[j]->value);
			if (d->fields[j].name == NULL ||
			    d->fields[j].value == NULL)
				goto oom;
		}
	}
	r->size = resp->size;
	r->attributes_count = resp->attributes_count;
	r->partial = resp->partial;
	vs_copy_shards(&r->shards, resp->shards);
	*out = r;
	goto out;
oom:
	vs_info_result_free(r);
	code = vs_oom();
out:
	protobuf_c_message_free_unpacked(&resp->base, NULL);
	return code;
}

int
vs_random_members(vs_client *c, const char *collection, int64_t count,
    char ***ids, size_t *n)
{
	Vsetd__V1__RandomMembersRequest req =
	    VSETD__V1__RANDOM_MEMBERS_REQUEST__INIT;
	Vsetd__V1__RandomMembersResponse *resp;
	int code = VS_OK;

	*ids = NULL;
	*n = 0;
	req.collection = (char *)(collection != NULL ? collection : "");
	req.count = count;
	resp = (Vsetd__V1__RandomMembersResponse *)vs_rpc(c, "RandomMembers",
	    &req.base, &vsetd__v1__random_members_response__descriptor);
	if (resp == NULL)
		return vs_errcode();
	if (vs_copy_strings(ids, resp->ids, resp->n_ids) != 0)
		code = vs_oom();
	else
		*n = resp->n_ids;
	protobuf_c_message_free_unpacked(&resp->base, NULL);
	return code;
}

void
vs_links_result_free(vs_links_result *r)
{
	size_t i;

	if (r == NULL)
		return;
	for (i = 0; i < r->n_levels; i++) {
		vs_strings_free(r->levels[i].ids, r->levels[i].n);
		free(r->levels[i].scores);
	}
	free(r->levels);
	free(r);
}

int
vs_links(vs_client *c, const char *collection, const char *id,
    vs_links_result **out)
{
	Vsetd__V1__LinksRequest req = VSETD__V1__LINKS_REQUEST__INIT;
	Vsetd__V1__LinksResponse *resp;
	vs_links_result *r;
	size_t i;
	int code = VS_OK;

	*out = NULL;
	req.collection = (char *)(collection != NULL ? collection : "");
	req.id = (char *)(id != NULL ? id : "");
	resp = (Vsetd__V1__LinksResponse *)vs_rpc(c, "Links", &req.base,
	    &vsetd__v1__links_response__descriptor);
	if (resp == NULL)
		return vs_errcode();
	if ((r = calloc(1, sizeof(*r))) == NULL)
		goto oom;
	r->shard = resp->shard;
	if (resp->n_levels > 0 && (r->levels = calloc(resp->n_levels,
	    sizeof(*r->levels))) == NULL)
		goto oom;
	for (i = 0; i < resp->n_levels; i++) {
		const Vsetd__V1__LinkLevel *l = resp->levels[i];
		vs_link_level *d = &r->levels[i];

		r->n_levels = i + 1;
		if (vs_copy_strings(&d->ids, l->ids, l->n_ids) != 0)
			goto oom;
		d->n = l->n_ids;
		if ((d->scores = calloc(d->n ? d->n : 1, sizeof(double))) ==
		    NULL)
			goto oom;
		if (l->n_scores == l->n_ids)
			vs_copy_bytes(d->scores, l->scores, d->n * sizeof(double));
	}
	*out = r;
	goto out;
oom:
	vs_links_result_free(r);
	code = vs_oom();
out:
	protobuf_c_message_free_unpacked(&resp->base, NULL);
	return code;
}
