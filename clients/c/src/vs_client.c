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
#include <stdlib.h>
#include <string.h>

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
	nng_close(c->sock);
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
	free(r->hits);
	free(r->shard_errors);
	free(r);
}

static void
vs_search_done(const Vsetd__V1__SearchResponse *m, void *data)
{
	struct vs_search_call *call = data;
	vs_search_result *r;
	size_t i;

	if (m == NULL)
		return;
	if ((r = calloc(1, sizeof(*r))) == NULL)
		goto oom;
	call->res = r;
	if (m->n_results > 0 &&
	    (r->hits = calloc(m->n_results, sizeof(*r->hits))) == NULL)
		goto oom;
	for (i = 0; i < m->n_results; i++) {
		if ((r->hits[i].id = vs_strdup(m->results[i]->id)) == NULL)
			goto oom;
		r->n_hits = i + 1;
		r->hits[i].score = m->results[i]->score;
		r->hits[i].shard = m->results[i]->shard;
	}
	if (m->n_shard_errors > 0 && (r->shard_errors =
	    calloc(m->n_shard_errors, sizeof(*r->shard_errors))) == NULL)
		goto oom;
	for (i = 0; i < m->n_shard_errors; i++) {
		vs_shard_error *e = &r->shard_errors[i];

		if ((e->message = vs_strdup(m->shard_errors[i]->message)) == NULL)
			goto oom;
		r->n_shard_errors = i + 1;
		e->shard = m->shard_errors[i]->shard;
		e->code = (int)m->shard_errors[i]->code;
	}
	r->partial = m->partial;
	vs_copy_shards(&r->shards, m->shards);
	return;
oom:
	call->oom = 1;
}

int
vs_search(vs_client *c, const vs_search_params *p, vs_search_result **out)
{
	Vsetd__V1__SearchRequest req = VSETD__V1__SEARCH_REQUEST__INIT;
	struct vs_search_call call = { NULL, 0 };
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
