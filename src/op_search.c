/*
 * op_search.c - Search: the same query to every shard at once, merged.
 *
 *   VSIM vsetd:<collection> FP32 <blob> WITHSCORES COUNT <k> [EF <ef>]
 *
 * Every shard is asked for the full K (see merge.h for why that makes the
 * merge exact).  A shard that fails or misses the deadline makes the answer
 * partial, not an error, unless the caller required every shard.  A Redis
 * error reply that is about the request (say, a dimension that does not
 * match the collection) fails the call: retrying elsewhere cannot help.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "merge.h"
#include "ops.h"
#include "validate.h"

#define VSD_DEFAULT_K 10
#define VSD_SEARCH_ARGC 9

/* Append shard s's VSIM ... WITHSCORES reply to hits.  -1 (and st set) if a
 * request error came back; a malformed reply marks the shard failed. */
static int
vsd_search_collect(struct vsd_call *call, uint32_t s, const redisReply *r,
    struct vsd_hit *hits, size_t *nhits)
{
	struct vsd_shard_result *res = &call->w->res[s];
	size_t i;
	char *end;
	int code;

	if (r->type == REDIS_REPLY_ERROR) {
		code = vsd_redis_error_code(r->str);
		if (code == VSD_UNAVAILABLE) {
			res->state = VSD_SHARD_FAILED;
			snprintf(res->error, sizeof(res->error), "%s", r->str);
			return 0;
		}
		vsd_status_set(&call->st, code, "shard %u: %s", s, r->str);
		return -1;
	}
	if (r->type != REDIS_REPLY_ARRAY || r->elements % 2 != 0)
		goto bad;
	for (i = 0; i + 1 < r->elements; i += 2) {
		const redisReply *id = r->element[i], *sc = r->element[i + 1];
		struct vsd_hit *h = &hits[*nhits];

		if (id->type != REDIS_REPLY_STRING || sc->type != REDIS_REPLY_STRING)
			goto bad;
		h->id = id->str;
		h->id_len = id->len;
		h->score = strtod(sc->str, &end);
		if (end == sc->str)
			goto bad;
		h->shard = s;
		(*nhits)++;
	}
	return 0;
bad:
	res->state = VSD_SHARD_FAILED;
	snprintf(res->error, sizeof(res->error), "unexpected VSIM reply");
	return 0;
}

void
vsd_op_search(struct vsd_call *call, const ProtobufCMessage *m)
{
	const Vsetd__V1__SearchRequest *req = (const Vsetd__V1__SearchRequest *)m;
	uint32_t nshards = call->srv->cfg->nshards, s, k;
	Vsetd__V1__SearchResponse *resp;
	Vsetd__V1__SearchHit *hitmsg;
	Vsetd__V1__ShardSummary *sum;
	struct vsd_hit *hits;
	const char **argv;
	size_t *len, keylen, nhits = 0, i, top;
	const char *key;
	char *kbuf, *efbuf;

	if (vsd_check_collection(req->collection, &call->st) != VSD_OK ||
	    vsd_check_vector(req->vector, req->n_vector, 0, call->lim, "vector",
	    &call->st) != VSD_OK ||
	    vsd_check_k(req->k, call->lim, &call->st) != VSD_OK)
		return;
	k = req->k != 0 ? req->k : VSD_DEFAULT_K;

	key = vsd_call_key(call, req->collection, &keylen);
	argv = vsd_call_alloc(call, VSD_SEARCH_ARGC * sizeof(*argv));
	len = vsd_call_alloc(call, VSD_SEARCH_ARGC * sizeof(*len));
	kbuf = vsd_call_alloc(call, 16);
	efbuf = vsd_call_alloc(call, 16);
	call->cmds = vsd_call_alloc(call, nshards * sizeof(*call->cmds));
	hits = vsd_call_alloc(call, (size_t)nshards * k * sizeof(*hits));
	resp = vsd_call_alloc(call, sizeof(*resp));
	sum = vsd_call_alloc(call, sizeof(*sum));
	if (key == NULL || argv == NULL || len == NULL || kbuf == NULL ||
	    efbuf == NULL || call->cmds == NULL || hits == NULL ||
	    resp == NULL || sum == NULL)
		goto oom;

	/* One argument vector, shared by every shard's command. */
	argv[0] = "VSIM";        len[0] = 4;
	argv[1] = key;           len[1] = keylen;
	argv[2] = "FP32";        len[2] = 4;
	argv[3] = (const char *)req->vector;
	len[3] = req->n_vector * sizeof(float);
	argv[4] = "WITHSCORES";  len[4] = 10;
	argv[5] = "COUNT";       len[5] = 5;
	argv[6] = kbuf;          len[6] = (size_t)snprintf(kbuf, 16, "%u", k);
	argv[7] = "EF";          len[7] = 2;
	argv[8] = efbuf;         len[8] = (size_t)snprintf(efbuf, 16, "%u", req->ef);
	for (s = 0; s < nshards; s++) {
		call->cmds[s].shard = s;
		call->cmds[s].argc = req->ef != 0 ? 9 : 7;
		call->cmds[s].argv = argv;
		call->cmds[s].argvlen = len;
	}
	call->ncmds = nshards;
	vsd_links_run(call->w->links, call->cmds, nshards, VSD_RUN_READ,
	    call->deadline_us,
	    call->w->res);

	for (s = 0; s < nshards; s++) {
		if (call->cmds[s].reply == NULL)
			continue;
		if (vsd_search_collect(call, s, call->cmds[s].reply, hits,
		    &nhits) != 0)
			return;
	}

	vsetd__v1__search_response__init(resp);
	resp->shards = sum;
	if (vsd_call_shards(call, sum, &resp->shard_errors,
	    &resp->n_shard_errors) != 0)
		goto oom;
	resp->partial = sum->ok < sum->total;
	if (sum->ok == 0 || (req->require_all_shards && resp->partial)) {
		/* No answer at all, or not the complete one required. */
		const Vsetd__V1__ShardError *e = resp->shard_errors[0];

		vsd_status_set(&call->st, sum->failed > 0 ? VSD_UNAVAILABLE :
		    VSD_DEADLINE_EXCEEDED, "%u of %u shards did not answer "
		    "(%u failed, %u timed out); first: shard %u: %s",
		    sum->failed + sum->timed_out, sum->total, sum->failed,
		    sum->timed_out, e->shard, e->message);
		return;
	}

	top = vsd_merge_topk(hits, nhits, k);
	resp->results = vsd_call_alloc(call, top * sizeof(*resp->results));
	hitmsg = vsd_call_alloc(call, top * sizeof(*hitmsg));
	if (top > 0 && (resp->results == NULL || hitmsg == NULL))
		goto oom;
	for (i = 0; i < top; i++) {
		vsetd__v1__search_hit__init(&hitmsg[i]);
		/* Reply strings are NUL-terminated by hiredis. */
		hitmsg[i].id = (char *)hits[i].id;
		hitmsg[i].score = hits[i].score;
		hitmsg[i].shard = hits[i].shard;
		resp->results[i] = &hitmsg[i];
	}
	resp->n_results = top;
	call->resp = &resp->base;
	return;
oom:
	vsd_status_set(&call->st, VSD_RESOURCE_EXHAUSTED, "out of memory");
}
