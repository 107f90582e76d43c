/*
 * testutil.h - helpers shared by the integration tests (header-only).
 *
 * Design.  Each test executable is one cmocka group whose state is a
 * tu_fixture: an h_cluster (harness.h) plus one vs_client connected to its
 * vsetd.  The functions are static inline so every test file includes only
 * what it uses without -Wunused-function tripping -Werror.
 *
 * Randomness is a seeded splitmix64: every run sees the same data, so a
 * failure reproduces.  Ownership: tu_fixture_start() fills a caller-owned
 * struct whose cluster and client tu_fixture_stop() frees.  tu_state_new()
 * allocates a group state (any struct whose first member is a tu_fixture)
 * that tu_state_free() / tu_group_teardown() free; tu_cmd() returns a
 * hiredis reply the caller frees; nothing else allocates.
 */
#ifndef VS_TESTUTIL_H
#define VS_TESTUTIL_H

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "harness.h"
#include "vsetd.h"

/* Default client deadline of the tests (ms): generous, since a test
 * machine may be busy, yet every call stays bounded. */
#define TU_TIMEOUT_MS 3000

struct tu_fixture {
	h_cluster *cl;
	vs_client *cli;
};

static inline int64_t
tu_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static inline void
tu_sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* Start nshards shards and vsetd (with args, NULL-terminated or NULL), and
 * connect a client.  0 ok; -1 with everything already cleaned up. */
static inline int
tu_fixture_start(struct tu_fixture *f, int nshards, const char *const *args)
{
	static const char *const none[] = { NULL };
	int rv;

	f->cl = NULL;
	f->cli = NULL;
	if (h_cluster_start(&f->cl, nshards, args != NULL ? args : none) != 0)
		return -1;
	if ((rv = vs_connect(&f->cli, h_vsetd_url(f->cl), TU_TIMEOUT_MS)) !=
	    VS_OK) {
		fprintf(stderr, "# vs_connect %s: %s %s\n", h_vsetd_url(f->cl),
		    vs_code_name(rv), vs_errmsg());
		h_cluster_destroy(f->cl);
		f->cl = NULL;
		return -1;
	}
	return 0;
}

/* Close the client, print the vsetd log's tail (useful in meson's test log
 * when something failed), kill everything. */
static inline void
tu_fixture_stop(struct tu_fixture *f)
{
	vs_close(f->cli);
	f->cli = NULL;
	if (f->cl != NULL)
		h_vsetd_log_tail(f->cl, 1500);
	h_cluster_destroy(f->cl);
	f->cl = NULL;
}

/* A group state of size bytes, zeroed, whose first member is a struct
 * tu_fixture, with the fixture started (tu_fixture_start).  NULL on
 * failure, with nothing left behind. */
static inline void *
tu_state_new(size_t size, int nshards, const char *const *args)
{
	struct tu_fixture *f;

	if ((f = calloc(1, size)) == NULL)
		return NULL;
	if (tu_fixture_start(f, nshards, args) != 0) {
		free(f);
		return NULL;
	}
	return f;
}

/* Stop the fixture of a tu_state_new() state and free it.  NULL: no-op. */
static inline void
tu_state_free(void *state)
{
	struct tu_fixture *f = state;

	if (f == NULL)
		return;
	tu_fixture_stop(f);
	free(f);
}

/* cmocka group teardown for a tu_state_new() state. */
static inline int
tu_group_teardown(void **state)
{
	tu_state_free(*state);
	return 0;
}

/* A command straight to shard s over its connection rc (bypassing vsetd).
 * Fails the test when the connection broke; the caller frees the reply,
 * which may be an error reply. */
static inline redisReply *
tu_cmd(redisContext *rc, int s, const char *fmt, ...)
{
	redisReply *r;
	va_list ap;

	va_start(ap, fmt);
	r = redisvCommand(rc, fmt, ap);
	va_end(ap);
	if (r == NULL)
		fail_msg("shard %d: %s", s, rc->errstr);
	return r;
}

/* tu_cmd() that also fails the test on an error reply, and frees the
 * reply. */
static inline void
tu_cmd_ok(redisContext *rc, int s, const char *fmt, ...)
{
	redisReply *r;
	va_list ap;

	va_start(ap, fmt);
	r = redisvCommand(rc, fmt, ap);
	va_end(ap);
	if (r == NULL || r->type == REDIS_REPLY_ERROR)
		fail_msg("shard %d: %s", s, r != NULL ? r->str : rc->errstr);
	freeReplyObject(r);
}

/* Room for a shard's "127.0.0.1:PORT". */
#define TU_ADDR_LEN 40

/* Direct connections rc[0..n-1] to the n shards of cl (for commands that
 * bypass vsetd; tu_shards_close() closes them), and, unless addr is NULL,
 * each shard's "127.0.0.1:PORT" in addr[i].  0, or -1 when a connection
 * failed (those made stay in rc[] for tu_shards_close()). */
static inline int
tu_shards_open(const h_cluster *cl, int n, char (*addr)[TU_ADDR_LEN],
    redisContext **rc, int timeout_ms)
{
	int i;

	for (i = 0; i < n; i++) {
		if (addr != NULL)
			snprintf(addr[i], TU_ADDR_LEN, "127.0.0.1:%d",
			    h_shard_port(cl, i));
		if ((rc[i] = h_shard_connect(cl, i, timeout_ms)) == NULL)
			return -1;
	}
	return 0;
}

/* Run one fixed command (e.g. "FLUSHALL" before each test) on each of
 * the n shard connections rc[0..n-1].  0, or -1 when a connection broke. */
static inline int
tu_shards_run(redisContext *const *rc, int n, const char *command)
{
	redisReply *r;
	int i;

	for (i = 0; i < n; i++) {
		if ((r = redisCommand(rc[i], command)) == NULL)
			return -1;
		freeReplyObject(r);
	}
	return 0;
}

/* Close those of the n shard connections rc[0..n-1] that are open. */
static inline void
tu_shards_close(redisContext *const *rc, int n)
{
	int i;

	for (i = 0; i < n; i++)
		if (rc[i] != NULL)
			redisFree(rc[i]);
}

/* splitmix64 */
static inline uint64_t
tu_rand(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* Uniform in [-1, 1). */
static inline float
tu_randf(uint64_t *s)
{
	return (float)((double)(tu_rand(s) >> 11) / 9007199254740992.0 * 2.0 -
	    1.0);
}

static inline void
tu_rand_vec(uint64_t *s, float *v, size_t dim)
{
	size_t i;

	for (i = 0; i < dim; i++)
		v[i] = tu_randf(s);
}

/* n items: ids + i*id_size gets fmt formatted with i (an int), vec +
 * i*dim a vector drawn from a splitmix64 seeded with seed (in order, so the
 * data is the same every run), and items[i] points at both. */
static inline void
tu_items_make(vs_item *items, int n, char *ids, size_t id_size, float *vec,
    size_t dim, const char *fmt, uint64_t seed)
{
	int i;

	for (i = 0; i < n; i++) {
		snprintf(ids + (size_t)i * id_size, id_size, fmt, i);
		tu_rand_vec(&seed, vec + (size_t)i * dim, dim);
		items[i].id = ids + (size_t)i * id_size;
		items[i].vector = vec + (size_t)i * dim;
		items[i].dim = dim;
		items[i].attrs_json = NULL;
	}
}

/* Insert items[0..n) into a collection that has none of them: 0 when the
 * call succeeded and added all n, -1 otherwise (printed). */
static inline int
tu_insert_new(vs_client *cli, const char *collection, const vs_item *items,
    size_t n)
{
	vs_write_result *r = NULL;
	int rv, ok;

	rv = vs_insert(cli, collection, items, n, &r);
	ok = rv == VS_OK && r != NULL && r->added == n;
	if (!ok)
		fprintf(stderr, "# insert %s: %s %s\n", collection,
		    vs_code_name(rv), vs_errmsg());
	vs_write_result_free(r);
	return ok ? 0 : -1;
}

/* The score Redis reports: 1 - cosine_distance/2 = (1 + cos)/2. */
static inline double
tu_cos_score(const float *a, const float *b, size_t dim)
{
	double dot = 0, na = 0, nb = 0;
	size_t i;

	for (i = 0; i < dim; i++) {
		dot += (double)a[i] * b[i];
		na += (double)a[i] * a[i];
		nb += (double)b[i] * b[i];
	}
	if (na == 0 || nb == 0)
		return 0.5;
	return (1.0 + dot / (sqrt(na) * sqrt(nb))) / 2.0;
}

/* Index i of the first pair (i, i+1) out of the documented order (score
 * descending, ties by id ascending bytewise), or -1 when sorted. */
static inline long
tu_first_unsorted(const vs_search_result *r)
{
	size_t i;

	for (i = 0; i + 1 < r->n_hits; i++) {
		const vs_hit *a = &r->hits[i], *b = &r->hits[i + 1];

		if (a->score < b->score)
			return (long)i;
		if (a->score == b->score && strcmp(a->id, b->id) >= 0)
			return (long)i;
	}
	return -1;
}

/* Whether hay contains needle, ignoring ASCII case. */
static inline int
tu_has(const char *hay, const char *needle)
{
	return hay != NULL && strcasestr(hay, needle) != NULL;
}

/* Search collection with v and the default k; the hits' count or -1 on a
 * failed call.  For "does the server still work" checks. */
static inline int
tu_search_ok(vs_client *cli, const char *collection, const float *v,
    size_t dim)
{
	vs_search_params p = { collection, v, dim, 0, 0, 0 };
	vs_search_result *r = NULL;
	int n;

	if (vs_search(cli, &p, &r) != VS_OK) {
		fprintf(stderr, "# search %s: %s %s\n", collection,
		    vs_code_name(vs_errcode()), vs_errmsg());
		return -1;
	}
	n = (int)r->n_hits;
	vs_search_result_free(r);
	return n;
}

#endif
