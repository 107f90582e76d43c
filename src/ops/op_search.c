/*
 * op_search.c - Search and BatchSearch: the same queries to every shard at
 * once, merged per query.
 *
 *   per shard, pipelined:  VSIM vsetd:<collection> FP32 <blob> WITHSCORES
 *                               [WITHATTRIBS] COUNT <k'> [EF ef] [FILTER f]
 *                               [FILTER-EF n] [EPSILON 2e] [TRUTH]
 *                               [NOTHREAD]           (one per query)
 *                          HGETALL vsetd:@meta:<collection>  (or, while
 *                          cached, HMGET vsetd:@meta:<collection> gen dim)
 *                          HGET vsetd:@topology epoch  (topology.h: a
 *                          newer epoch reloads the layout, runs again)
 *   then, if attributes were asked and some shard lacks WITHATTRIBS:
 *                          VGETATTR on the owner of each merged hit
 *
 * K.  By default every shard is asked for the full K, so the merge is exact
 * with respect to the shards' answers (merge.h).  shard_k_ratio < 1 asks
 * each for ceil(K * ratio) instead: less work per shard, but an element of
 * the true top K is lost whenever one shard holds more than its share of
 * them (docs/collections.md).
 *
 * The metadata read rides in the same pipeline as the VSIMs, so a query
 * whose dimension contradicts the collection is answered with vsetd's own
 * message at no extra round trip (the VSIM replies are then dropped); it
 * is replaced by the cheaper HMGET of the generation while the
 * collection's parameters are cached (collection.h), which is most of the
 * time under load.  It goes last: VSIM runs on a Redis thread and blocks
 * the connection until
 * it answers, so HGETALL's reply then leaves with the VSIM's, in one read
 * and one wake-up of the worker.  Sent first, it came back on its own
 * ~0.7 ms earlier and cost each search an extra wake-up per shard, which
 * on a small VM was a measurable part of vsetd's CPU.
 *
 * Generation.  Searches are not fenced by a script (a script would force
 * VSIM onto Redis's main thread): each shard's generation, read right
 * after its VSIMs, is compared instead.  A cached generation contradicted
 * by a shard means the cache is stale: reload and run again, once.  A
 * shard contradicting a fresh read (a drop or re-create under way) or
 * with malformed metadata is counted failed and its hits are dropped.
 *
 * No shard answering is OK with partial set and the summary, unless
 * require_all_shards (protocol.md 7), for Search and BatchSearch alike.
 * A FILTER that matched nothing anywhere is compiled on one shard by a
 * script, because Redis does not parse it on a missing key.
 *
 * EPSILON.  vsetd's contract is score >= 1 - epsilon.  Redis's EPSILON
 * bounds the cosine distance (score > 1 - EPSILON/2), so shards that have
 * it are sent 2*epsilon, slightly widened, as a pre-filter, and vsetd
 * applies the exact cut to the merged list on every shard's answers
 * (which also emulates it for shards without the option).
 *
 * Search by element: VEMB on the owner (NOT_FOUND if missing), then the
 * vector it returns is queried as FP32 everywhere, like any other.
 *
 * Untrusted replies (shard_reply.h).  Before anything is merged, every
 * shard's VSIM replies are checked against what was asked: at most COUNT
 * hits, valid ids, finite scores in [0, 1], attributes of valid UTF-8.  A
 * shard with one bad reply is counted failed ("protocol error: ...") for
 * the whole call, so the queries of a BatchSearch agree on which shards
 * answered; the merge then appends at most COUNT hits per shard, so its
 * array (shards x COUNT) cannot overflow whatever a shard sends.
 */
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "capabilities.h"
#include "collection.h"
#include "dual.h"
#include "fence.h"
#include "merge.h"
#include "ops.h"
#include "vs_time.h"

/* The round's layout: per shard s, `per` commands (one VSIM per query qi,
 * then the metadata HGETALL, or HMGET while the parameters are cached,
 * then the topology epoch, topology.h). */
#define VSD_SQ_VSIM(s, per, qi) ((s) * (per) + (qi))
#define VSD_SQ_META(s, per)     ((s) * (per) + (per) - 2)
#define VSD_SQ_EPOCH(s, per)    ((s) * (per) + (per) - 1)
#include "round.h"
#include "route.h"
#include "shard_reply.h"
#include "topology.h"
#include "validate.h"

#define VSD_DEFAULT_K 10
#define VSD_SEARCH_ARGC 20

/* What one call (Search or BatchSearch) shares across its queries. */
struct vsd_sq {
	const Vsetd__V1__SearchRequest *req;  /* options */
	const char *collection;
	uint32_t k, kshard;
	size_t nq;
	const float *const *vecs;             /* nq query vectors */
	size_t dim;
	Vsetd__V1__SearchResponse **resps;    /* nq, filled here */
	int nothread;                         /* VSIM ... NOTHREAD */
};

/* Searches this router is running now, for --vsim-threads auto. */
static _Atomic int vsd_searches_running;

static int
vsd_search_check_opts(struct vsd_call *call,
    const Vsetd__V1__SearchRequest *req)
{
	if (vsd_check_collection(req->collection, &call->st) != VSD_OK ||
	    vsd_check_k(req->k, call->lim, &call->st) != VSD_OK)
		return call->st.code;
	if (req->ef > VSD_MAX_EF)
		return vsd_status_set(&call->st, VSD_INVALID_ARGUMENT,
		    "ef is %u; the limit is %d", req->ef, VSD_MAX_EF);
	if (req->filter_ef > VSD_MAX_EF * 10u)
		return vsd_status_set(&call->st, VSD_INVALID_ARGUMENT,
		    "filter_ef is %u; the limit is %d", req->filter_ef,
		    VSD_MAX_EF * 10);
	if (isnan(req->epsilon) || req->epsilon < 0 || req->epsilon > 2)
		return vsd_status_set(&call->st, VSD_INVALID_ARGUMENT,
		    "epsilon is %g; it must be in (0, 2] (0 = no limit)",
		    req->epsilon);
	if (isnan(req->shard_k_ratio) || req->shard_k_ratio < 0 ||
	    req->shard_k_ratio > 1)
		return vsd_status_set(&call->st, VSD_INVALID_ARGUMENT,
		    "shard_k_ratio is %g; it must be in (0, 1] (0 = 1)",
		    req->shard_k_ratio);
	if (strlen(req->filter) > 4096)
		return vsd_status_set(&call->st, VSD_INVALID_ARGUMENT,
		    "filter is %zu bytes; the limit is 4096",
		    strlen(req->filter));
	return VSD_OK;
}

static int
vsd_search_vsim(struct vsd_call *call, const struct vsd_sq *q,
    const char *key, size_t keylen, const float *vec, uint32_t shard,
    struct vsd_cmd *c)
{
	const Vsetd__V1__SearchRequest *req = q->req;
	unsigned caps = vsd_caps_of(shard);
	struct vsd_argv a;

	if (vsd_argv_init(call, &a, VSD_SEARCH_ARGC) != 0)
		return -1;
	vsd_argv_str(&a, "VSIM");
	vsd_argv_add(&a, key, keylen);
	vsd_argv_str(&a, "FP32");
	vsd_argv_add(&a, vec, q->dim * sizeof(float));
	vsd_argv_str(&a, "WITHSCORES");
	if (req->with_attributes && (caps & VSD_CAP_WITHATTRIBS))
		vsd_argv_str(&a, "WITHATTRIBS");
	vsd_argv_str(&a, "COUNT");
	if (vsd_argv_u64(call, &a, q->kshard) != 0)
		return -1;
	if (req->ef != 0) {
		vsd_argv_str(&a, "EF");
		if (vsd_argv_u64(call, &a, req->ef) != 0)
			return -1;
	}
	if (req->filter[0] != '\0') {
		vsd_argv_str(&a, "FILTER");
		vsd_argv_str(&a, req->filter);
	}
	if (req->filter_ef != 0) {
		vsd_argv_str(&a, "FILTER-EF");
		if (vsd_argv_u64(call, &a, req->filter_ef) != 0)
			return -1;
	}
	if (req->epsilon > 0 && (caps & VSD_CAP_EPSILON)) {
		double e = req->epsilon * 2 * (1 + 1e-6);

		vsd_argv_str(&a, "EPSILON");
		if (vsd_argv_dbl(call, &a, e > 2 ? 2 : e) != 0)
			return -1;
	}
	if (req->truth)
		vsd_argv_str(&a, "TRUTH");
	if (q->nothread)
		vsd_argv_str(&a, "NOTHREAD");
	vsd_argv_to_cmd(&a, c, shard);
	return 0;
}

/* Reply stride of cmd c: 3 when WITHATTRIBS was sent. */
static size_t
vsd_search_stride(const struct vsd_cmd *c)
{
	int i;

	for (i = 5; i < c->argc && i < 7; i++)
		if (c->argvlen[i] == 11 &&
		    memcmp(c->argv[i], "WITHATTRIBS", 11) == 0)
			return 3;
	return 2;
}

/* Check every shard's VSIM replies against what was asked, before any is
 * merged: a shard with one bad reply (wrong shape, more hits than COUNT,
 * an id that is no id, a score that is NaN, infinite or outside [0, 1])
 * is counted failed with a protocol error and contributes to no query, so
 * the queries of one BatchSearch agree on which shards answered.  Error
 * replies are left to the merge, which knows what they mean. */
static void
vsd_search_check_replies(struct vsd_call *call, const struct vsd_sq *q,
    size_t per_query_cmds)
{
	uint32_t nshards = vsd_read_shards(call), s;
	struct vsd_vsim_shape shape;
	char why[160];
	size_t qi;

	for (s = 0; s < nshards; s++) {
		if (call->w->res[s].state != VSD_SHARD_OK)
			continue;
		for (qi = 0; qi < q->nq; qi++) {
			const struct vsd_cmd *c =
			    &call->cmds[VSD_SQ_VSIM(s, per_query_cmds, qi)];

			if (c->reply == NULL ||
			    c->reply->type == REDIS_REPLY_ERROR)
				continue;
			shape.stride = vsd_search_stride(c);
			shape.count = q->kshard;
			shape.lim = call->lim;
			if (vsd_vsim_parse(c->reply, &shape, s, NULL, NULL, why,
			    sizeof(why)) != 0) {
				vsd_reply_protocol_error(call, s, "%s", why);
				break;
			}
		}
	}
}

/* Append shard s's VSIM reply to hits (room for q->kshard more).  -1 (and
 * st set) if a request error came back; a shard that failed (a
 * shard-side error reply, or a protocol error found by
 * vsd_search_check_replies) adds nothing. */
static int
vsd_search_collect(struct vsd_call *call, const struct vsd_sq *q,
    const struct vsd_cmd *c, struct vsd_hit *hits, size_t *nhits)
{
	const redisReply *r = c->reply;
	struct vsd_shard_result *res = &call->w->res[c->shard];
	struct vsd_vsim_shape shape;
	char why[160];
	int code;

	if (res->state != VSD_SHARD_OK)
		return 0;
	if (r->type == REDIS_REPLY_ERROR) {
		code = vsd_redis_error_code(r->str);
		if (code == VSD_UNAVAILABLE) {
			res->state = VSD_SHARD_FAILED;
			snprintf(res->error, sizeof(res->error), "%s", r->str);
			return 0;
		}
		vsd_status_set(&call->st, code, "shard %u: %s", c->shard,
		    r->str);
		return -1;
	}
	shape.stride = vsd_search_stride(c);
	shape.count = q->kshard;
	shape.lim = call->lim;
	/* Checked already; the parse bounds the appends again anyway. */
	if (vsd_vsim_parse(r, &shape, c->shard, hits, nhits, why,
	    sizeof(why)) != 0)
		vsd_reply_protocol_error(call, c->shard, "%s", why);
	return 0;
}

/* The attributes of hit h from a WITHATTRIBS reply c, if it is there:
 * 1 found (*json NULL for none), 0 not in that reply. */
static int
vsd_search_inline_attrs(const struct vsd_cmd *c, const struct vsd_hit *h,
    const char **json)
{
	const redisReply *r = c->reply;
	size_t i;

	if (r == NULL || r->type != REDIS_REPLY_ARRAY ||
	    vsd_search_stride(c) != 3)
		return 0;
	for (i = 0; i + 2 < r->elements; i += 3) {
		if (r->element[i]->str != h->id)
			continue;
		*json = r->element[i + 2]->type == REDIS_REPLY_STRING ?
		    r->element[i + 2]->str : NULL;
		return 1;
	}
	return 0;
}

/* Fill every response's hits' attributes: from WITHATTRIBS replies where
 * a shard sent them, else with one pipelined VGETATTR round to the
 * owners.  Strings that must outlive this round are copied first. */
static int
vsd_search_attrs(struct vsd_call *call, const struct vsd_sq *q,
    const char *key, size_t keylen, size_t per_query_cmds)
{
	struct vsd_cmd *vsim = call->cmds, *cmds;
	size_t qi, i, nget = 0, total = 0, j;
	char why[160];

	for (qi = 0; qi < q->nq; qi++)
		total += q->resps[qi]->n_results;
	if (total == 0)
		return 0;
	if ((cmds = vsd_call_alloc(call, total * sizeof(*cmds))) == NULL)
		return -1;
	for (qi = 0; qi < q->nq; qi++) {
		Vsetd__V1__SearchResponse *rp = q->resps[qi];

		for (i = 0; i < rp->n_results; i++) {
			Vsetd__V1__SearchHit *h = rp->results[i];
			const struct vsd_cmd *c;
			struct vsd_hit hit;
			const char *json = NULL;
			struct vsd_argv a;

			hit.id = h->id;
			c = &vsim[VSD_SQ_VSIM(h->shard, per_query_cmds, qi)];
			if (vsd_search_inline_attrs(c, &hit, &json)) {
				if (json != NULL) {
					h->attributes_json = vsd_call_strdup(
					    call, json, strlen(json));
					if (h->attributes_json == NULL)
						return -1;
					h->has_attributes = 1;
				}
				h->id = vsd_call_strdup(call, h->id,
				    strlen(h->id));
				if (h->id == NULL)
					return -1;
				continue;
			}
			/* The id must survive the VSIM replies. */
			if ((h->id = vsd_call_strdup(call, h->id,
			    strlen(h->id))) == NULL)
				return -1;
			if (vsd_argv_init(call, &a, 3) != 0)
				return -1;
			vsd_argv_str(&a, "VGETATTR");
			vsd_argv_add(&a, key, keylen);
			vsd_argv_str(&a, h->id);
			vsd_argv_to_cmd(&a, &cmds[nget++], h->shard);
		}
	}
	if (nget == 0)
		return 0;
	vsd_round_run(call, cmds, nget, VSD_RUN_READ, call->deadline_us);
	/* Same order as built: walk the hits again. */
	j = 0;
	for (qi = 0; qi < q->nq; qi++) {
		Vsetd__V1__SearchResponse *rp = q->resps[qi];

		for (i = 0; i < rp->n_results && j < nget; i++) {
			Vsetd__V1__SearchHit *h = rp->results[i];
			const redisReply *r;

			if (h->id != cmds[j].argv[2])
				continue;      /* came inline */
			r = cmds[j++].reply;
			if (r == NULL || r->type == REDIS_REPLY_NIL ||
			    r->type == REDIS_REPLY_ERROR)
				continue;
			if (vsd_reply_check_text(r, "VGETATTR reply", why,
			    sizeof(why)) != 0) {
				/* The hit stays, without attributes. */
				vsd_reply_protocol_error(call, h->shard, "%s",
				    why);
				continue;
			}
			h->attributes_json = r->str;
			h->has_attributes = 1;
		}
	}
	return 0;
}

/* Merge shard answers of query qi into a response. */
static int
vsd_search_merge(struct vsd_call *call, const struct vsd_sq *q, size_t qi,
    size_t per_query_cmds, Vsetd__V1__SearchResponse *resp)
{
	uint32_t nshards = vsd_read_shards(call), s;
	Vsetd__V1__SearchHit *hitmsg;
	struct vsd_hit *hits;
	size_t nhits = 0, top, i;

	hits = vsd_call_alloc(call, (size_t)nshards * q->kshard *
	    sizeof(*hits));
	if (hits == NULL)
		return vsd_status_set(&call->st, VSD_RESOURCE_EXHAUSTED,
		    "out of memory");
	for (s = 0; s < nshards; s++) {
		const struct vsd_cmd *c =
		    &call->cmds[VSD_SQ_VSIM(s, per_query_cmds, qi)];

		if (c->reply == NULL)
			continue;
		if (vsd_search_collect(call, q, c, hits, &nhits) != 0)
			return call->st.code;
	}
	top = vsd_merge_topk(hits, nhits, q->k);
	if (q->req->epsilon > 0) {
		double min = 1.0 - q->req->epsilon;

		while (top > 0 && hits[top - 1].score < min)
			top--;
	}
	resp->results = vsd_call_alloc(call, top * sizeof(*resp->results));
	hitmsg = vsd_call_alloc(call, top * sizeof(*hitmsg));
	if (top > 0 && (resp->results == NULL || hitmsg == NULL))
		return vsd_status_set(&call->st, VSD_RESOURCE_EXHAUSTED,
		    "out of memory");
	for (i = 0; i < top; i++) {
		vsetd__v1__search_hit__init(&hitmsg[i]);
		/* Reply strings are NUL-terminated by hiredis. */
		hitmsg[i].id = (char *)hits[i].id;
		hitmsg[i].score = hits[i].score;
		hitmsg[i].shard = hits[i].shard;
		resp->results[i] = &hitmsg[i];
	}
	resp->n_results = top;
	return VSD_OK;
}

static void
vsd_search_dim_error(struct vsd_call *call, const struct vsd_sq *q,
    const struct vsd_coll_params *params)
{
	vsd_status_set(&call->st, VSD_INVALID_ARGUMENT, "query vector has "
	    "dimension %zu but collection \"%s\" has dimension %u", q->dim,
	    q->collection, params->dim);
}

/* Each shard's generation, read right after its VSIMs (collection.h):
 * a shard holding another one than expected has its hits dropped and is
 * counted failed.  Returns 1 when the expected generation came from the
 * cache, a shard contradicts it and may_retry (the caller reloads and runs
 * again). */
static int
vsd_search_gens(struct vsd_call *call, const struct vsd_sq *q, size_t per,
    int cached, int may_retry, const char *want)
{
	uint32_t nshards = vsd_read_shards(call), s;
	size_t qi;

	for (s = 0; s < nshards; s++) {
		struct vsd_cmd *mc = &call->cmds[VSD_SQ_META(s, per)];
		struct vsd_shard_result *res = &call->w->res[s];
		struct vsd_coll_params got;
		const char *gen = NULL, *why = "malformed generation";
		int rv;

		if (mc->reply == NULL || mc->reply->type == REDIS_REPLY_ERROR)
			continue;
		if (cached) {
			gen = vsd_coll_gen_of(mc->reply);
		} else if ((rv = vsd_coll_parse(mc->reply, &got, &why)) >= 0) {
			gen = rv == 1 ? vsd_call_strdup(call, got.gen,
			    strlen(got.gen)) : VSD_GEN_NONE;
			if (gen == NULL)
				return -1;
		}
		/* No metadata on a shard (restarted empty, made by hand):
		 * nothing to contradict. */
		if (gen != NULL && (strcmp(gen, want) == 0 ||
		    strcmp(gen, VSD_GEN_NONE) == 0))
			continue;
		if (gen != NULL && cached && may_retry)
			return 1;
		res->state = VSD_SHARD_FAILED;
		if (gen == NULL)
			snprintf(res->error, sizeof(res->error), "protocol "
			    "error: metadata of \"%s\": %s", q->collection, why);
		else
			snprintf(res->error, sizeof(res->error), "holds "
			    "generation %.48s of \"%s\", expected %.48s (a "
			    "drop or re-create is under way)", gen,
			    q->collection, want);
		for (qi = 0; qi < q->nq; qi++) {
			struct vsd_cmd *c = &call->cmds[VSD_SQ_VSIM(s, per, qi)];

			freeReplyObject(c->reply);
			c->reply = NULL;
		}
	}
	return 0;
}

/* A FILTER that matched nothing anywhere may never have been parsed:
 * VSIM on a missing key answers an empty array without looking at it.
 * Ask one shard that answered to compile it (the filter-check script,
 * fence.h) so a bad one is INVALID_ARGUMENT whether or not the
 * collection exists.  VSD_OK or the code set. */
static int
vsd_search_filter_check(struct vsd_call *call, const struct vsd_sq *q)
{
	uint32_t nshards = vsd_read_shards(call), s;
	struct vsd_shard_result *saved;
	struct vsd_argv a;
	struct vsd_cmd *c;
	const redisReply *r;
	size_t qi;

	if (q->req->filter[0] == '\0')
		return VSD_OK;
	for (qi = 0; qi < q->nq; qi++)
		if (q->resps[qi]->n_results > 0)
			return VSD_OK;
	for (s = 0; s < nshards; s++)
		if (call->w->res[s].state == VSD_SHARD_OK)
			break;
	if (s == nshards || (c = vsd_call_alloc(call, sizeof(*c))) == NULL ||
	    (saved = vsd_call_alloc(call, nshards * sizeof(*saved))) == NULL ||
	    vsd_argv_init(call, &a, 5) != 0)
		return call->st.code;
	/* Not a round of the search: its shard results (which the summary's
	 * messages point into) are put back afterwards. */
	memcpy(saved, call->w->res, nshards * sizeof(*saved));
	vsd_argv_str(&a, "EVALSHA");
	vsd_argv_str(&a, vsd_script_sha(VSD_SCRIPT_FILTER_CHECK));
	vsd_argv_str(&a, "1");
	vsd_argv_str(&a, VSD_FILTER_CHECK_KEY);
	vsd_argv_str(&a, q->req->filter);
	vsd_argv_to_cmd(&a, c, s);
	vsd_links_run(call->w->links, c, 1, VSD_RUN_WRITE, call->deadline_us,
	    call->w->res);
	r = c->reply;
	if (r != NULL && r->type == REDIS_REPLY_ERROR &&
	    strncmp(r->str, "NOSCRIPT", 8) == 0) {
		freeReplyObject(c->reply);
		c->reply = NULL;
		a.argv[0] = "EVAL";
		a.len[0] = 4;
		a.argv[1] = vsd_script_text(VSD_SCRIPT_FILTER_CHECK);
		a.len[1] = strlen(a.argv[1]);
		vsd_links_run(call->w->links, c, 1, VSD_RUN_WRITE,
		    call->deadline_us, call->w->res);
		r = c->reply;
	}
	if (r != NULL && r->type == REDIS_REPLY_ERROR &&
	    vsd_redis_error_code(r->str) == VSD_INVALID_ARGUMENT &&
	    strstr(r->str, "FILTER") != NULL)
		vsd_status_set(&call->st, VSD_INVALID_ARGUMENT, "shard %u: %s",
		    s, r->str);
	freeReplyObject(c->reply);
	memcpy(call->w->res, saved, nshards * sizeof(*saved));
	return call->st.code;
}

/* Run the queries of q; fills q->resps or sets call->st. */
static void
vsd_search_run_once(struct vsd_call *call, struct vsd_sq *q)
{
	const Vsetd__V1__SearchRequest *req = q->req;
	uint32_t nshards, s;
	size_t per, keylen, metalen = 0, qi, i;
	Vsetd__V1__ShardSummary *sum;
	Vsetd__V1__ShardError **errs;
	struct vsd_coll_params params;
	const char *key, *metakey, *want, *why;
	struct vsd_cmd *cmds;
	size_t nerrs;
	double ratio;
	int have_meta, s_meta, attempt, rv;

	ratio = req->shard_k_ratio > 0 ? req->shard_k_ratio : 1.0;
	q->kshard = (uint32_t)ceil(q->k * ratio);
	if (q->kshard == 0)
		q->kshard = 1;
	if (req->with_attributes || req->epsilon > 0)
		vsd_caps_refresh(call);

	for (attempt = 0; ; attempt++) {
		/* Known parameters (cached by a write or search in the last second)
		 * spare the shards the metadata read: then only the generation is
		 * read, after the VSIMs, to check the cache is still right. */
		have_meta = attempt == 0 && vsd_coll_cache_get(q->collection, &params);
		if (have_meta && params.dim != q->dim) {
			/* The cache may predate a drop and re-create by another
			 * router: read the metadata from the shards this time
			 * (the check below then refuses a real mismatch). */
			vsd_coll_cache_drop(q->collection);
			have_meta = 0;
		}
		per = q->nq + 2;
		/* by this attempt's view: a reload may have changed it */
		nshards = vsd_read_shards(call);
		key = vsd_call_key(call, q->collection, &keylen);
		metakey = vsd_meta_key(call, q->collection, &metalen);
		cmds = vsd_call_alloc(call, nshards * per * sizeof(*cmds));
		sum = vsd_call_alloc(call, sizeof(*sum));
		if (key == NULL || metakey == NULL || cmds == NULL || sum == NULL)
			goto oom;
		for (s = 0; s < nshards; s++) {
			struct vsd_argv a;

			if (have_meta) {
				if (vsd_coll_gen_cmd(call, &cmds[VSD_SQ_META(s, per)],
				    s, metakey, metalen) != 0)
					goto oom;
			} else {
				if (vsd_argv_key(call, &a, "HGETALL", metakey,
				    metalen) != 0)
					goto oom;
				vsd_argv_to_cmd(&a, &cmds[VSD_SQ_META(s, per)], s);
			}
			for (qi = 0; qi < q->nq; qi++)
				if (vsd_search_vsim(call, q, key, keylen, q->vecs[qi], s,
				    &cmds[VSD_SQ_VSIM(s, per, qi)]) != 0)
					goto oom;
			if (vsd_topo_epoch_cmd(call, &cmds[VSD_SQ_EPOCH(s, per)],
			    s) != 0)
				goto oom;
		}
		vsd_round_run(call, cmds, nshards * per, VSD_RUN_READ, call->deadline_us);

		want = have_meta ? params.gen : VSD_GEN_NONE;
		for (s = 0; !have_meta && s < nshards; s++) {
			s_meta = vsd_coll_parse(cmds[VSD_SQ_META(s, per)].reply,
			    &params, &why);
			if (s_meta != 1)
				continue;
			/* Shard 0 first: the authority's copy wins (collection.h). */
			vsd_coll_cache_put(q->collection, &params);
			if (params.dim != q->dim) {
				vsd_search_dim_error(call, q, &params);
				return;
			}
			want = params.gen;
			break;
		}
		if ((rv = vsd_search_gens(call, q, per, have_meta,
		    vs_now_us() < call->deadline_us, want)) < 0)
			goto oom;
		/* A shard at a newer topology epoch: reload it and run again
		 * (topology.h); a layout we cannot route fails the call. */
		if (rv == 0 && (rv = vsd_topo_after_read(call,
		    attempt + 1 < VSD_FENCE_MAX_TRIES)) < 0)
			return;
		if (rv == 0)
			break;
		/* The cache is out of date: another router dropped or re-created
		 * the collection.  Read it afresh and search again, once. */
		vsd_coll_cache_drop(q->collection);
	}
	vsd_search_check_replies(call, q, per);
	for (qi = 0; qi < q->nq; qi++) {
		q->resps[qi] = vsd_call_alloc(call, sizeof(*q->resps[qi]));
		if (q->resps[qi] == NULL)
			goto oom;
		vsetd__v1__search_response__init(q->resps[qi]);
		if (vsd_search_merge(call, q, qi, per, q->resps[qi]) != VSD_OK)
			return;
	}
	if (vsd_call_shards(call, sum, &errs, &nerrs) != 0)
		goto oom;
	/* Without require_all_shards, no shard answering is still OK, flagged
	 * partial with the summary saying why (protocol.md 7). */
	if (req->require_all_shards && sum->ok < sum->total) {
		vsd_status_set(&call->st, sum->failed > 0 ? VSD_UNAVAILABLE :
		    VSD_DEADLINE_EXCEEDED, "%u of %u shards did not answer "
		    "(%u failed, %u timed out); first: shard %u: %s",
		    sum->failed + sum->timed_out, sum->total, sum->failed,
		    sum->timed_out, nerrs > 0 ? errs[0]->shard : 0,
		    nerrs > 0 ? errs[0]->message : "?");
		return;
	}
	if (vsd_search_filter_check(call, q) != VSD_OK)
		return;
	for (qi = 0; qi < q->nq; qi++) {
		q->resps[qi]->shards = sum;
		q->resps[qi]->shard_errors = errs;
		q->resps[qi]->n_shard_errors = nerrs;
		q->resps[qi]->partial = sum->ok < sum->total;
	}
	if (req->with_attributes) {
		/* Shard errors point into w->res, which the next round
		 * overwrites: keep copies. */
		for (i = 0; i < nerrs; i++) {
			Vsetd__V1__ShardError *e = vsd_call_alloc(call,
			    sizeof(*e));

			if (e == NULL)
				goto oom;
			*e = *errs[i];
			e->message = vsd_call_strdup(call, errs[i]->message,
			    strlen(errs[i]->message));
			if (e->message == NULL)
				goto oom;
			errs[i] = e;
		}
		if (vsd_search_attrs(call, q, key, keylen, per) != 0)
			goto oom;
	}
	return;
oom:
	vsd_status_set(&call->st, VSD_RESOURCE_EXHAUSTED, "out of memory");
}

/*
 * --vsim-threads (config.h): VSIM in Redis's own thread (NOTHREAD) or in
 * the thread Redis starts for each VSIM.  A thread costs its start-up and
 * a hand-off on every query.  Measured on the 2-core reference host
 * (docs/benchmarks.md, "VSIM threads"), NOTHREAD won at 1 and at 16
 * callers, at 10,000 and 60,000 rows: the threads only pay where a shard
 * has idle cores to run them on, which 16 concurrent searches on 2 cores
 * do not leave.  So `auto` asks for NOTHREAD up to
 * VSD_VSIM_AUTO_MAX_RUNNING searches at once (the range measured, with
 * room) and lets Redis thread them beyond.  The default is nevertheless
 * `on`: a VSIM sent with NOTHREAD runs on the shard's main thread even
 * after its caller gave up (vsetd drops the connection, Redis still runs
 * what it read), so a caller flooding searches with tiny deadlines
 * delays every other caller's commands on that shard
 * (tests/reliability/test_isolation.c fails with NOTHREAD); with a
 * thread per VSIM the main thread stays free.  `auto` or `off` is for
 * deployments whose callers are trusted to wait for their answers.
 * The caller's own `nothread` always wins.
 */
static void
vsd_search_run(struct vsd_call *call, struct vsd_sq *q)
{
	int running = atomic_fetch_add(&vsd_searches_running, 1) + 1;

	switch (call->w->cfg->vsim_threads) {
	case VSD_VSIM_THREADS_OFF:
		q->nothread = 1;
		break;
	case VSD_VSIM_THREADS_AUTO:
		q->nothread = running <= VSD_VSIM_AUTO_MAX_RUNNING;
		break;
	default:
		q->nothread = 0;
		break;
	}
	q->nothread |= q->req->nothread;
	vsd_search_run_once(call, q);
	atomic_fetch_sub(&vsd_searches_running, 1);
}

/* Search by element: the vector of by_id from its owner (arena copy). */
static int
vsd_search_by_id(struct vsd_call *call, const Vsetd__V1__SearchRequest *req,
    float **vec, size_t *dim)
{
	uint32_t shard = vsd_read_owner(call, req->by_id);
	const redisReply *r;
	struct vsd_argv a;
	struct vsd_cmd *c;
	struct vsd_coll_params params;
	const char *key;
	size_t keylen;
	char why[160];

	if (vsd_check_id(req->by_id, call->lim, "by_id", &call->st) != VSD_OK)
		return call->st.code;
	if (req->n_vector != 0)
		return vsd_status_set(&call->st, VSD_INVALID_ARGUMENT,
		    "give either vector or by_id, not both");
	key = vsd_call_key(call, req->collection, &keylen);
	c = vsd_call_alloc(call, sizeof(*c));
	if (key == NULL || c == NULL || vsd_argv_init(call, &a, 3) != 0)
		return vsd_status_set(&call->st, VSD_RESOURCE_EXHAUSTED,
		    "out of memory");
	vsd_argv_str(&a, "VEMB");
	vsd_argv_add(&a, key, keylen);
	vsd_argv_str(&a, req->by_id);
	vsd_argv_to_cmd(&a, c, shard);
	vsd_round_run(call, c, 1, VSD_RUN_READ, vsd_round_half_deadline(call));
	r = c->reply;
	if (vsd_reply_check(call, shard, r) != VSD_OK)
		return call->st.code;
	if (r->type == REDIS_REPLY_NIL ||
	    (r->type == REDIS_REPLY_ARRAY && r->elements == 0))
		return vsd_status_set(&call->st, VSD_NOT_FOUND,
		    "element \"%.200s\" not found in collection \"%s\"",
		    req->by_id, req->collection);
	if (vsd_coll_cache_get(req->collection, &params) != 1)
		params.dim = 0;
	if (vsd_vemb_parse(r, call->lim, params.dim, NULL, why,
	    sizeof(why)) != 0) {
		vsd_reply_protocol_error(call, shard, "%s", why);
		return vsd_status_set(&call->st, VSD_UNAVAILABLE, "shard %u: "
		    "%s", shard, call->w->res[shard].error);
	}
	if ((*vec = vsd_call_alloc(call, r->elements * sizeof(float))) == NULL)
		return vsd_status_set(&call->st, VSD_RESOURCE_EXHAUSTED,
		    "out of memory");
	(void)vsd_vemb_parse(r, call->lim, params.dim, *vec, why, sizeof(why));
	*dim = r->elements;
	return VSD_OK;
}

void
vsd_op_search(struct vsd_call *call, const ProtobufCMessage *m)
{
	const Vsetd__V1__SearchRequest *req = (const Vsetd__V1__SearchRequest *)m;
	Vsetd__V1__SearchResponse *resp = NULL;
	const float *vp;
	struct vsd_sq q;
	float *vec = NULL;
	size_t dim = 0;

	if (vsd_search_check_opts(call, req) != VSD_OK)
		return;
	if (req->by_id[0] != '\0') {
		if (vsd_search_by_id(call, req, &vec, &dim) != VSD_OK)
			return;
		vp = vec;
	} else {
		if (vsd_check_vector(req->vector, req->n_vector, 0, call->lim,
		    "vector", &call->st) != VSD_OK)
			return;
		vp = req->vector;
		dim = req->n_vector;
	}
	memset(&q, 0, sizeof(q));
	q.req = req;
	q.collection = req->collection;
	q.k = req->k != 0 ? req->k : VSD_DEFAULT_K;
	q.nq = 1;
	q.vecs = &vp;
	q.dim = dim;
	q.resps = &resp;
	vsd_search_run(call, &q);
	if (call->st.code == VSD_OK && resp != NULL)
		call->resp = &resp->base;
}

void
vsd_op_batch_search(struct vsd_call *call, const ProtobufCMessage *m)
{
	const Vsetd__V1__BatchSearchRequest *req =
	    (const Vsetd__V1__BatchSearchRequest *)m;
	Vsetd__V1__SearchRequest empty = VSETD__V1__SEARCH_REQUEST__INIT;
	const Vsetd__V1__SearchRequest *common;
	Vsetd__V1__BatchSearchResponse *resp;
	const float **vecs;
	struct vsd_sq q;
	char what[48];
	size_t i;

	common = req->common != NULL ? req->common : &empty;
	if (vsd_search_check_opts(call, common) != VSD_OK ||
	    vsd_check_batch(req->n_queries, call->lim, "queries",
	    &call->st) != VSD_OK)
		return;
	if (common->by_id[0] != '\0' || common->n_vector != 0) {
		vsd_status_set(&call->st, VSD_INVALID_ARGUMENT, "common.by_id "
		    "and common.vector must be empty: give queries[]");
		return;
	}
	vecs = vsd_call_alloc(call, req->n_queries * sizeof(*vecs));
	resp = vsd_call_alloc(call, sizeof(*resp));
	if (vecs == NULL || resp == NULL) {
		vsd_status_set(&call->st, VSD_RESOURCE_EXHAUSTED,
		    "out of memory");
		return;
	}
	for (i = 0; i < req->n_queries; i++) {
		snprintf(what, sizeof(what), "queries[%zu].vector", i);
		if (vsd_check_vector(req->queries[i]->vector,
		    req->queries[i]->n_vector, req->queries[0]->n_vector,
		    call->lim, what, &call->st) != VSD_OK)
			return;
		vecs[i] = req->queries[i]->vector;
	}
	vsetd__v1__batch_search_response__init(resp);
	resp->results = vsd_call_alloc(call, req->n_queries *
	    sizeof(*resp->results));
	if (resp->results == NULL) {
		vsd_status_set(&call->st, VSD_RESOURCE_EXHAUSTED,
		    "out of memory");
		return;
	}
	memset(&q, 0, sizeof(q));
	q.req = common;
	q.collection = common->collection;
	q.k = common->k != 0 ? common->k : VSD_DEFAULT_K;
	q.nq = req->n_queries;
	q.vecs = vecs;
	q.dim = req->queries[0]->n_vector;
	q.resps = resp->results;
	vsd_search_run(call, &q);
	if (call->st.code != VSD_OK)
		return;
	resp->n_results = req->n_queries;
	call->resp = &resp->base;
}
