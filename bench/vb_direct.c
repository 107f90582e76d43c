/*
 * vb_direct.c - parallel hiredis fan-out to the shards (see vb_direct.h).
 *
 * Blocking contexts with a socket timeout (redisSetTimeout) are enough
 * here: the parallelism comes from writing to every shard before reading
 * any, and a read that times out drops that shard's context, so a late
 * reply can never be taken for the next command's.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include <hiredis/hiredis.h>

#include "vb_direct.h"
#include "vs_hash.h"
#include "vsetd.h"

/* FP32 blobs are the host's floats as they are: Redis wants
 * little-endian. */
#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "vb_direct sends host floats as FP32 blobs: little-endian only"
#endif

struct vb_shard {
	char host[256];
	int port;
	redisContext *c;             /* NULL until connected / after failure */
	redisReply *reply;           /* last search's answer */
	int code;                    /* last call's outcome on this shard */
	size_t pending;              /* replies still to read */
};

struct vb_direct {
	struct vb_shard *sh;
	size_t n;
	struct timeval tv;
	char *key;                   /* "vsetd:<collection>" */
	vb_hit *hits;
	size_t hits_cap;
};

static void
drop(struct vb_shard *s, int code)
{
	if (s->c != NULL)
		redisFree(s->c);
	s->c = NULL;
	s->code = code;
	s->pending = 0;
}

/* The status a failed context means: a read timeout shows as an I/O error
 * with errno EAGAIN in hiredis 0.14. */
static int
ctx_code(const redisContext *c)
{
	if (c->err == REDIS_ERR_IO && (errno == EAGAIN ||
	    errno == EWOULDBLOCK))
		return VS_DEADLINE_EXCEEDED;
	return VS_UNAVAILABLE;
}

static int
ensure(vb_direct *d, struct vb_shard *s)
{
	if (s->c != NULL)
		return 0;
	s->c = redisConnectWithTimeout(s->host, s->port, d->tv);
	if (s->c == NULL || s->c->err != 0 ||
	    redisSetTimeout(s->c, d->tv) != REDIS_OK) {
		drop(s, VS_UNAVAILABLE);
		return -1;
	}
	return 0;
}

int
vb_direct_open(vb_direct **out, char *const *shards, size_t nshards,
    const char *collection, int timeout_ms, char *err, size_t errlen)
{
	vb_direct *d;
	const char *colon;
	size_t i, hl;

	*out = NULL;
	if ((d = calloc(1, sizeof(*d))) == NULL ||
	    (d->sh = calloc(nshards ? nshards : 1, sizeof(*d->sh))) == NULL ||
	    (d->key = malloc(strlen(collection) + 7)) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	sprintf(d->key, "vsetd:%s", collection);
	d->n = nshards;
	d->tv.tv_sec = timeout_ms / 1000;
	d->tv.tv_usec = (timeout_ms % 1000) * 1000;
	for (i = 0; i < nshards; i++) {
		colon = strrchr(shards[i], ':');
		hl = colon != NULL ? (size_t)(colon - shards[i]) : 0;
		if (colon == NULL || hl == 0 || hl >= sizeof(d->sh[i].host) ||
		    atoi(colon + 1) <= 0) {
			snprintf(err, errlen, "bad shard '%s' (HOST:PORT)",
			    shards[i]);
			goto fail;
		}
		memcpy(d->sh[i].host, shards[i], hl);
		d->sh[i].port = atoi(colon + 1);
		if (ensure(d, &d->sh[i]) != 0) {
			snprintf(err, errlen, "cannot connect to shard %s",
			    shards[i]);
			goto fail;
		}
	}
	*out = d;
	return 0;
fail:
	vb_direct_close(d);
	return -1;
}

static void
free_replies(vb_direct *d)
{
	size_t i;

	for (i = 0; i < d->n; i++) {
		if (d->sh[i].reply != NULL)
			freeReplyObject(d->sh[i].reply);
		d->sh[i].reply = NULL;
	}
}

void
vb_direct_close(vb_direct *d)
{
	size_t i;

	if (d == NULL)
		return;
	if (d->sh != NULL) {
		free_replies(d);
		for (i = 0; i < d->n; i++)
			drop(&d->sh[i], VS_OK);
	}
	free(d->sh);
	free(d->key);
	free(d->hits);
	free(d);
}

/* Flush every shard that has commands queued, before reading any. */
static void
flush_all(vb_direct *d)
{
	size_t i;
	int done;

	for (i = 0; i < d->n; i++) {
		struct vb_shard *s = &d->sh[i];

		if (s->c == NULL || s->pending == 0)
			continue;
		do {
			if (redisBufferWrite(s->c, &done) != REDIS_OK) {
				drop(s, ctx_code(s->c));
				break;
			}
		} while (!done);
	}
}

/* Read one reply from s; NULL after dropping the shard. */
static redisReply *
read_one(struct vb_shard *s)
{
	void *r = NULL;

	if (s->c == NULL)
		return NULL;
	if (redisGetReply(s->c, &r) != REDIS_OK || r == NULL) {
		drop(s, ctx_code(s->c));
		return NULL;
	}
	s->pending--;
	return r;
}

static int
hit_cmp(const void *a, const void *b)
{
	const vb_hit *x = a, *y = b;

	if (x->score != y->score)
		return x->score > y->score ? -1 : 1;
	return strcmp(x->id, y->id);
}

int
vb_direct_search(vb_direct *d, const float *q, size_t dim, uint32_t k,
    uint32_t ef, const char *filter, int require_all, const vb_hit **hits,
    size_t *nhits, int *partial)
{
	const char *argv[11];
	size_t argvlen[11], i, j, total = 0, nok = 0;
	char kbuf[16], efbuf[16];
	int argc = 0, code = VS_UNAVAILABLE, timed_out = 0;
	redisReply *r;
	vb_hit *nh;

	*hits = NULL;
	*nhits = 0;
	*partial = 0;
	free_replies(d);
	snprintf(kbuf, sizeof(kbuf), "%u", k ? k : 10);
	argv[argc++] = "VSIM";
	argv[argc++] = d->key;
	argv[argc++] = "FP32";
	argvlen[argc] = dim * sizeof(float);
	argv[argc++] = (const char *)q;
	argv[argc++] = "WITHSCORES";
	argv[argc++] = "COUNT";
	argv[argc++] = kbuf;
	if (ef != 0) {
		snprintf(efbuf, sizeof(efbuf), "%u", ef);
		argv[argc++] = "EF";
		argv[argc++] = efbuf;
	}
	if (filter != NULL && filter[0] != '\0') {
		argv[argc++] = "FILTER";
		argv[argc++] = filter;
	}
	for (i = 0; i < (size_t)argc; i++)
		if (i != 3)
			argvlen[i] = strlen(argv[i]);

	for (i = 0; i < d->n; i++) {
		struct vb_shard *s = &d->sh[i];

		s->code = VS_OK;
		if (ensure(d, s) != 0)
			continue;
		if (redisAppendCommandArgv(s->c, argc, argv, argvlen) !=
		    REDIS_OK) {
			drop(s, VS_INTERNAL);
			continue;
		}
		s->pending = 1;
	}
	flush_all(d);
	for (i = 0; i < d->n; i++) {
		struct vb_shard *s = &d->sh[i];

		if ((r = read_one(s)) == NULL)
			continue;
		if (r->type != REDIS_REPLY_ARRAY || r->elements % 2 != 0) {
			freeReplyObject(r);
			s->code = VS_INTERNAL;
			continue;
		}
		s->reply = r;
		total += r->elements / 2;
	}
	for (i = 0; i < d->n; i++) {
		if (d->sh[i].code == VS_OK) {
			nok++;
			continue;
		}
		if (d->sh[i].code == VS_DEADLINE_EXCEEDED)
			timed_out = 1;
		else if (code != VS_INTERNAL)
			code = d->sh[i].code;
	}
	if (timed_out)
		code = VS_DEADLINE_EXCEEDED;
	if (nok < d->n && (require_all || nok == 0))
		return code;
	*partial = nok < d->n;

	if (total > d->hits_cap) {
		if ((nh = realloc(d->hits, total * sizeof(*nh))) == NULL)
			return VS_RESOURCE_EXHAUSTED;
		d->hits = nh;
		d->hits_cap = total;
	}
	total = 0;
	for (i = 0; i < d->n; i++) {
		if ((r = d->sh[i].reply) == NULL)
			continue;
		for (j = 0; j + 1 < r->elements; j += 2) {
			d->hits[total].id = r->element[j]->str;
			d->hits[total].score = r->element[j + 1]->str != NULL ?
			    strtod(r->element[j + 1]->str, NULL) : 0.0;
			total++;
		}
	}
	qsort(d->hits, total, sizeof(*d->hits), hit_cmp);
	*hits = d->hits;
	*nhits = total < (k ? k : 10) ? total : (k ? k : 10);
	return VS_OK;
}

/* Queue one command per item on its shard, flush all, read all: the
 * common shape of VADD and VREM batches. */
static int
pipelined(vb_direct *d, size_t n, const char *const *ids,
    int (*append)(vb_direct *, redisContext *, size_t, void *), void *arg,
    size_t *failed)
{
	uint32_t *owner = NULL;
	size_t i, bad = 0;
	int code = VS_OK;
	redisReply *r;

	if ((owner = malloc((n ? n : 1) * sizeof(*owner))) == NULL) {
		*failed = n;
		return VS_RESOURCE_EXHAUSTED;
	}
	for (i = 0; i < d->n; i++) {
		d->sh[i].code = VS_OK;
		d->sh[i].pending = 0;
		(void)ensure(d, &d->sh[i]);
	}
	for (i = 0; i < n; i++) {
		struct vb_shard *s;

		owner[i] = vs_shard_of(ids[i], strlen(ids[i]),
		    (uint32_t)d->n);
		s = &d->sh[owner[i]];
		if (s->c == NULL)
			continue;
		if (append(d, s->c, i, arg) != REDIS_OK) {
			drop(s, VS_INTERNAL);
			continue;
		}
		s->pending++;
	}
	flush_all(d);
	/* Replies come back in order per shard: item i's is the next one on
	 * its owner's connection. */
	for (i = 0; i < n; i++) {
		struct vb_shard *s = &d->sh[owner[i]];

		if ((r = read_one(s)) == NULL) {
			bad++;
			if (code == VS_OK)
				code = s->code;
			continue;
		}
		if (r->type == REDIS_REPLY_ERROR) {
			bad++;
			if (code == VS_OK)
				code = VS_INTERNAL;
		}
		freeReplyObject(r);
	}
	free(owner);
	*failed = bad;
	return code;
}

struct add_arg {
	const float *const *vecs;
	size_t dim;
	const char *const *ids;
};

/* The options vsetd passes for a default collection (Q8, M 16), spelled
 * out as pitfalls.md advises, so both modes ask Redis for the same work. */
static int
append_vadd(vb_direct *d, redisContext *c, size_t i, void *arg)
{
	struct add_arg *a = arg;
	const char *argv[8] = { "VADD", d->key, "FP32",
	    (const char *)a->vecs[i], a->ids[i], "Q8", "M", "16" };
	size_t argvlen[8] = { 4, strlen(d->key), 4, a->dim * sizeof(float),
	    strlen(a->ids[i]), 2, 1, 2 };

	return redisAppendCommandArgv(c, 8, argv, argvlen);
}

static int
append_vrem(vb_direct *d, redisContext *c, size_t i, void *arg)
{
	const char *const *ids = arg;
	const char *argv[3] = { "VREM", d->key, ids[i] };
	size_t argvlen[3] = { 4, strlen(d->key), strlen(ids[i]) };

	return redisAppendCommandArgv(c, 3, argv, argvlen);
}

int
vb_direct_add(vb_direct *d, const char *const *ids,
    const float *const *vecs, size_t n, size_t dim, size_t *failed)
{
	struct add_arg a = { vecs, dim, ids };

	free_replies(d);
	return pipelined(d, n, ids, append_vadd, &a, failed);
}

int
vb_direct_get(vb_direct *d, const char *id)
{
	struct vb_shard *s;
	const char *argv[3] = { "VEMB", d->key, id };
	size_t argvlen[3] = { 4, strlen(d->key), strlen(id) };
	redisReply *r;
	int code;

	free_replies(d);
	s = &d->sh[vs_shard_of(id, strlen(id), (uint32_t)d->n)];
	s->code = VS_OK;
	s->pending = 0;
	if (ensure(d, s) != 0)
		return s->code;
	if (redisAppendCommandArgv(s->c, 3, argv, argvlen) != REDIS_OK) {
		drop(s, VS_INTERNAL);
		return VS_INTERNAL;
	}
	s->pending = 1;
	flush_all(d);
	if ((r = read_one(s)) == NULL)
		return s->code;
	/* A missing element or key answers nil (or an empty array). */
	if (r->type == REDIS_REPLY_ARRAY && r->elements > 0)
		code = VS_OK;
	else if (r->type == REDIS_REPLY_ERROR)
		code = VS_INTERNAL;
	else
		code = VS_NOT_FOUND;
	freeReplyObject(r);
	return code;
}

int
vb_direct_rem(vb_direct *d, const char *const *ids, size_t n,
    size_t *failed)
{
	free_replies(d);
	return pipelined(d, n, ids, append_vrem, (void *)ids, failed);
}
