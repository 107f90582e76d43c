/*
 * test_fence.c - a stale router cannot damage a collection (issue 12,
 * finding 6; src/fanout/fence.h).
 *
 * Two real vsetd (routers A and B) serve the same two real Redis shards.
 * Each caches a collection's parameters for a second, so A's view can be
 * older than what B just did.  What users rely on, checked in Redis
 * itself:
 *   - B drops and re-creates a collection with another dimension; A, with
 *     the old view cached, inserts an item of the old dimension: refused
 *     (INVALID_ARGUMENT, the dimension now true), every shard's set keeps
 *     the metadata's dimension, and valid inserts keep working;
 *   - while B drops and re-creates a collection over and over with
 *     alternating dimensions and A inserts: every shard's set matches its
 *     metadata, and nothing A wrote before the last drop survives it;
 *   - two routers creating the same collection at once agree on one
 *     generation on every shard;
 *   - a collection made before generations existed (no `gen` field) keeps
 *     working, and is not given one behind the operator's back;
 *   - the shard refuses a write with an old generation or epoch by itself
 *     (the script, sent by hand), and scripts flushed from a shard are
 *     loaded again transparently;
 *   - a shard holding another generation, or malformed metadata, is
 *     reported failed by Search (its hits dropped) instead of mixing in.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pthread.h>

#include <cmocka.h>

#include "fence_lua.h"
#include "harness.h"
#include "testutil.h"
#include "tp_vsetd.h"
#include "vs_hash.h"
#include "vsetd.h"

#define NSHARDS 2
#define DIM_A 4
#define DIM_B 8
#define NIDS 16
/* The concurrent test: B cycles drop + create for CHURN_MS, A keeps
 * inserting until TAIL_MS after B stopped. */
#define CHURN_MS 2000
#define TAIL_MS 400
#define MAX_WRITES 20000
#define RACE_ROUNDS 20

struct fx {
	struct tu_fixture f;         /* router A: the harness's vsetd */
	struct tp_vsetd b;           /* router B */
	vs_client *cb;
	redisContext *rc[NSHARDS];
};

static int
group_setup(void **state)
{
	char sh[NSHARDS][32];
	const char *args[4 + 2 * NSHARDS];
	struct fx *t;
	int i, n = 0;

	if ((t = tu_state_new(sizeof(*t), NSHARDS, NULL)) == NULL)
		return -1;
	args[n++] = "--listen";
	args[n++] = "tcp://127.0.0.1:0";
	for (i = 0; i < NSHARDS; i++) {
		snprintf(sh[i], sizeof(sh[i]), "127.0.0.1:%d",
		    h_shard_port(t->f.cl, i));
		args[n++] = "--shard";
		args[n++] = sh[i];
	}
	args[n] = NULL;
	if (tp_vsetd_start(&t->b, h_shard_dir(t->f.cl, 0), "b", args,
	    NULL) != 0 || vs_connect(&t->cb, t->b.url, TU_TIMEOUT_MS) != VS_OK)
		goto fail;
	if (tu_shards_open(t->f.cl, NSHARDS, NULL, t->rc, TU_TIMEOUT_MS) !=
	    0)
		goto fail;
	*state = t;
	return 0;
fail:
	fprintf(stderr, "# router B or shard connections failed\n");
	return -1;
}

static int
group_teardown(void **state)
{
	struct fx *t = *state;

	tu_shards_close(t->rc, NSHARDS);
	vs_close(t->cb);
	tp_vsetd_term(&t->b, 3000);
	return tu_group_teardown(state);
}

/* ------------------------------------------------------------ helpers */

/* A command straight to shard s of the fixture t (testutil.h). */
#define cmd(t, s, ...) tu_cmd((t)->rc[s], (s), __VA_ARGS__)

/* VDIM of the collection's set on shard s, 0 when there is no set. */
static long long
set_dim(struct fx *t, int s, const char *coll)
{
	redisReply *r = cmd(t, s, "VDIM vsetd:%s", coll);
	long long d = r->type == REDIS_REPLY_INTEGER ? r->integer : 0;

	freeReplyObject(r);
	return d;
}

/* Field f of the metadata hash on shard s into buf ("" when absent). */
static void
meta_field(struct fx *t, int s, const char *coll, const char *f, char *buf,
    size_t size)
{
	redisReply *r = cmd(t, s, "HGET vsetd:@meta:%s %s", coll, f);

	snprintf(buf, size, "%s", r->type == REDIS_REPLY_STRING ? r->str : "");
	freeReplyObject(r);
}

/* Every shard that holds a set has the metadata's dimension. */
static void
assert_sets_match_meta(struct fx *t, const char *coll)
{
	char dim[32];
	int s;

	for (s = 0; s < NSHARDS; s++) {
		long long d = set_dim(t, s, coll);

		meta_field(t, s, coll, "dim", dim, sizeof(dim));
		if (d != 0 && d != atoll(dim))
			fail_msg("shard %d: set \"%s\" has dimension %lld, "
			    "its metadata says \"%s\"", s, coll, d, dim);
	}
}

/* An id owned by shard s: "<prefix><n>" for the first fitting n. */
static void
id_on(int s, const char *prefix, int from, char *buf, size_t size)
{
	int n;

	for (n = from; ; n++) {
		snprintf(buf, size, "%s%d", prefix, n);
		if ((int)vs_shard_of(buf, strlen(buf), NSHARDS) == s)
			return;
	}
}

static int
insert1(vs_client *c, const char *coll, const char *id, size_t dim,
    float seed)
{
	float v[DIM_B];
	vs_item it = { id, v, dim, NULL };
	size_t i;

	for (i = 0; i < dim; i++)
		v[i] = seed + (float)i;
	return vs_insert(c, coll, &it, 1, NULL);
}

/* ------------------------------------------------------------ tests */

/* Finding 6 as reported: A's cache says dim 4, B re-created with dim 8. */
static void
test_stale_router_insert_refused(void **state)
{
	struct fx *t = *state;
	vs_collection_params p8 = { DIM_B, 0, 0, 0, 0 };
	char id[32];
	int s, rv;

	for (s = 0; s < NSHARDS; s++) {
		id_on(s, "a", 0, id, sizeof(id));
		assert_int_equal(insert1(t->f.cli, "c6", id, DIM_A, 1), VS_OK);
	}
	/* A now has dim 4 cached for a second.  B drops and re-creates. */
	assert_int_equal(vs_drop_collection(t->cb, "c6", NULL), VS_OK);
	assert_int_equal(vs_create_collection(t->cb, "c6", &p8, NULL), VS_OK);
	for (s = 0; s < NSHARDS; s++) {
		id_on(s, "stale", 0, id, sizeof(id));
		rv = insert1(t->f.cli, "c6", id, DIM_A, 2);
		if (rv != VS_INVALID_ARGUMENT)
			fail_msg("stale dim-4 insert to shard %d: %s %s "
			    "(want INVALID_ARGUMENT)", s, vs_code_name(rv),
			    vs_errmsg());
		assert_non_null(strstr(vs_errmsg(), "dimension 8"));
	}
	assert_sets_match_meta(t, "c6");
	for (s = 0; s < NSHARDS; s++)
		assert_int_equal(set_dim(t, s, "c6"), 0);
	/* Valid dim-8 inserts work on every shard, through both routers. */
	for (s = 0; s < NSHARDS; s++) {
		id_on(s, "new", 0, id, sizeof(id));
		assert_int_equal(insert1(t->f.cli, "c6", id, DIM_B, 3), VS_OK);
		id_on(s, "newb", 0, id, sizeof(id));
		assert_int_equal(insert1(t->cb, "c6", id, DIM_B, 4), VS_OK);
		assert_int_equal(set_dim(t, s, "c6"), DIM_B);
	}
	assert_sets_match_meta(t, "c6");
}

/* The other way round: A's cache says dim 8, B re-created the collection
 * with dim 4.  A valid dim-4 insert or search through A must not be
 * refused on the cache's word: A asks the shards first. */
static void
test_stale_cache_never_refuses_valid(void **state)
{
	struct fx *t = *state;
	vs_collection_params p4 = { DIM_A, 0, 0, 0, 0 };
	float v[DIM_A] = { 1, 2, 3, 4 };
	vs_search_params sp = { "c6r", v, DIM_A, 5, 0, 1 };
	vs_search_result *res = NULL;
	char id[32];
	int rv;

	id_on(0, "r8", 0, id, sizeof(id));
	assert_int_equal(insert1(t->f.cli, "c6r", id, DIM_B, 1), VS_OK);
	assert_int_equal(vs_drop_collection(t->cb, "c6r", NULL), VS_OK);
	assert_int_equal(vs_create_collection(t->cb, "c6r", &p4, NULL), VS_OK);
	id_on(1, "r4", 0, id, sizeof(id));
	rv = insert1(t->f.cli, "c6r", id, DIM_A, 2);
	if (rv != VS_OK)
		fail_msg("dim-4 insert through A, whose cache says 8: %s %s",
		    vs_code_name(rv), vs_errmsg());
	assert_int_equal(h_vemb_present(t->f.cl, 1, "c6r", id), 1);
	/* the same for a search, with a fresh stale cache */
	id_on(0, "s8", 0, id, sizeof(id));
	assert_int_equal(vs_drop_collection(t->cb, "c6r", NULL), VS_OK);
	assert_int_equal(insert1(t->f.cli, "c6r", id, DIM_B, 1), VS_OK);
	assert_int_equal(vs_drop_collection(t->cb, "c6r", NULL), VS_OK);
	assert_int_equal(vs_create_collection(t->cb, "c6r", &p4, NULL), VS_OK);
	rv = vs_search(t->f.cli, &sp, &res);
	if (rv != VS_OK)
		fail_msg("dim-4 search through A, whose cache says 8: %s %s",
		    vs_code_name(rv), vs_errmsg());
	vs_search_result_free(res);
}

/* The same with a Delete and SetAttributes through the stale router: they
 * reload and act on the collection that exists now. */
static void
test_stale_router_delete_and_setattr(void **state)
{
	struct fx *t = *state;
	vs_write_result *r = NULL;
	const char *ids[1];
	char id[32];
	int rv;

	id_on(1, "d", 0, id, sizeof(id));
	ids[0] = id;
	assert_int_equal(insert1(t->f.cli, "c6d", id, DIM_A, 1), VS_OK);
	assert_int_equal(vs_drop_collection(t->cb, "c6d", NULL), VS_OK);
	assert_int_equal(insert1(t->cb, "c6d", id, DIM_B, 1), VS_OK);
	rv = vs_set_attributes(t->f.cli, "c6d", id, "{\"x\":1}");
	if (rv != VS_OK)
		fail_msg("setattr via stale A: %s %s", vs_code_name(rv),
		    vs_errmsg());
	rv = vs_delete(t->f.cli, "c6d", ids, 1, &r);
	if (rv != VS_OK)
		fail_msg("delete via stale A: %s %s", vs_code_name(rv),
		    vs_errmsg());
	assert_int_equal(r->deleted, 1);
	vs_write_result_free(r);
	assert_int_equal(h_vemb_present(t->f.cl, 1, "c6d", id), 0);
}

/* The fence itself, sent by hand: an old generation or epoch writes
 * nothing; a shard at another topology epoch refuses a router's writes. */
static void
test_shard_refuses_old_generation(void **state)
{
	struct fx *t = *state;
	const char *lua = vsd_script_text(VSD_SCRIPT_FENCE);
	vs_write_result *w = NULL;
	char gen[64], id[32];
	redisReply *r;
	int rv;

	id_on(0, "f", 0, id, sizeof(id));
	assert_int_equal(insert1(t->f.cli, "cf", id, DIM_A, 1), VS_OK);
	meta_field(t, 0, "cf", "gen", gen, sizeof(gen));
	assert_true(strlen(gen) > 8);
	/* Redis names the script as vsetd does (SHA-1). */
	r = cmd(t, 0, "SCRIPT LOAD %s", lua);
	assert_int_equal(r->type, REDIS_REPLY_STRING);
	assert_string_equal(r->str, vsd_script_sha(VSD_SCRIPT_FENCE));
	freeReplyObject(r);
	r = cmd(t, 0, "EVAL %s 3 vsetd:@meta:cf vsetd:@topology vsetd:cf "
	    "%s 0 VADD VALUES 4 1 2 3 4 intruder", lua, "1-oldlife");
	assert_int_equal(r->type, REDIS_REPLY_ERROR);
	assert_true(strncmp(r->str, "VSETDSTALE generation", 21) == 0);
	freeReplyObject(r);
	r = cmd(t, 0, "EVAL %s 3 vsetd:@meta:cf vsetd:@topology vsetd:cf "
	    "%s 7 VADD VALUES 4 1 2 3 4 intruder", lua, gen);
	assert_int_equal(r->type, REDIS_REPLY_ERROR);
	assert_true(strncmp(r->str, "VSETDSTALE epoch 0 expected 7", 29) == 0);
	freeReplyObject(r);
	r = cmd(t, 0, "EVAL %s 3 vsetd:@meta:cf vsetd:@topology vsetd:cf "
	    "%s 0 DEL x", lua, gen);
	assert_int_equal(r->type, REDIS_REPLY_ERROR);
	freeReplyObject(r);
	assert_int_equal(h_vemb_present(t->f.cl, 0, "cf", "intruder"), 0);
	/* The right generation and epoch: written. */
	r = cmd(t, 0, "EVAL %s 3 vsetd:@meta:cf vsetd:@topology vsetd:cf "
	    "%s 0 VADD VALUES 4 1 2 3 4 welcome Q8 M 16", lua, gen);
	assert_int_equal(r->type, REDIS_REPLY_INTEGER);
	freeReplyObject(r);
	assert_int_equal(h_vemb_present(t->f.cl, 0, "cf", "welcome"), 1);

	/* Shard 0 moved to topology epoch 1 (what resharding will do): a
	 * router at epoch 0 is refused there, writes nothing, and says so. */
	r = cmd(t, 0, "HSET vsetd:@topology epoch 1");
	freeReplyObject(r);
	{
		float v[DIM_A] = { 1, 1, 1, 1 };
		vs_item it = { "epoch-x", v, DIM_A, NULL };

		id_on(0, "e", 0, id, sizeof(id));
		it.id = id;
		rv = vs_insert(t->f.cli, "cf", &it, 1, &w);
	}
	r = cmd(t, 0, "DEL vsetd:@topology");
	freeReplyObject(r);
	assert_int_equal(rv, VS_UNAVAILABLE);
	assert_non_null(w);
	assert_non_null(strstr(w->items[0].message, "VSETDSTALE epoch"));
	vs_write_result_free(w);
	assert_int_equal(h_vemb_present(t->f.cl, 0, "cf", id), 0);
	assert_int_equal(insert1(t->f.cli, "cf", id, DIM_A, 1), VS_OK);
}

/* Scripts flushed from the shards (restart, SCRIPT FLUSH): writes still
 * work (NOSCRIPT -> EVAL). */
static void
test_script_flush(void **state)
{
	struct fx *t = *state;
	vs_write_result *r = NULL;
	const char *ids[1];
	char id[32];
	redisReply *x;
	int s;

	for (s = 0; s < NSHARDS; s++) {
		x = cmd(t, s, "SCRIPT FLUSH");
		freeReplyObject(x);
	}
	id_on(1, "sf", 0, id, sizeof(id));
	ids[0] = id;
	assert_int_equal(insert1(t->f.cli, "csf", id, DIM_A, 1), VS_OK);
	assert_int_equal(h_vemb_present(t->f.cl, 1, "csf", id), 1);
	for (s = 0; s < NSHARDS; s++) {
		x = cmd(t, s, "SCRIPT FLUSH");
		freeReplyObject(x);
	}
	assert_int_equal(vs_set_attributes(t->f.cli, "csf", id, "{\"a\":1}"),
	    VS_OK);
	for (s = 0; s < NSHARDS; s++) {
		x = cmd(t, s, "SCRIPT FLUSH");
		freeReplyObject(x);
	}
	assert_int_equal(vs_delete(t->f.cli, "csf", ids, 1, &r), VS_OK);
	assert_int_equal(r->deleted, 1);
	vs_write_result_free(r);
}

/* A collection whose metadata predates generations: generation "0". */
static void
test_legacy_collection_without_gen(void **state)
{
	struct fx *t = *state;
	vs_search_params sp = { "legacy", NULL, DIM_A, 10, 0, 1 };
	vs_search_result *res = NULL;
	vs_write_result *w = NULL;
	const char *ids[1];
	char id[32], gen[64];
	float q[DIM_A] = { 1, 2, 3, 4 };
	redisReply *r;
	int s;

	for (s = 0; s < NSHARDS; s++) {
		r = cmd(t, s, "HSET vsetd:@meta:legacy dim 4 quant q8 m 16 "
		    "reduce 0 build_ef 0 version 1");
		freeReplyObject(r);
	}
	for (s = 0; s < NSHARDS; s++) {
		id_on(s, "l", 0, id, sizeof(id));
		assert_int_equal(insert1(t->f.cli, "legacy", id, DIM_A, 1),
		    VS_OK);
		assert_int_equal(h_vemb_present(t->f.cl, s, "legacy", id), 1);
	}
	sp.vector = q;
	assert_int_equal(vs_search(t->cb, &sp, &res), VS_OK);
	assert_int_equal(res->n_hits, NSHARDS);
	assert_false(res->partial);
	vs_search_result_free(res);
	ids[0] = id;
	assert_int_equal(vs_delete(t->cb, "legacy", ids, 1, &w), VS_OK);
	assert_int_equal(w->deleted, 1);
	vs_write_result_free(w);
	/* Still no generation: nothing rewrote the operator's metadata. */
	for (s = 0; s < NSHARDS; s++) {
		meta_field(t, s, "legacy", "gen", gen, sizeof(gen));
		assert_string_equal(gen, "");
	}
	/* Dropped and re-created, it gets one, the same on every shard. */
	assert_int_equal(vs_drop_collection(t->cb, "legacy", NULL), VS_OK);
	assert_int_equal(insert1(t->f.cli, "legacy", id, DIM_A, 1), VS_OK);
	meta_field(t, 0, "legacy", "gen", gen, sizeof(gen));
	assert_true(strlen(gen) > 8);
	for (s = 1; s < NSHARDS; s++) {
		char g2[64];

		meta_field(t, s, "legacy", "gen", g2, sizeof(g2));
		assert_string_equal(gen, g2);
	}
}

/* Two routers implicitly create the same collections at the same time. */
struct racer {
	vs_client *c;
	size_t dim;
	int ok;
	pthread_barrier_t *bar;
};

static void *
race_main(void *arg)
{
	struct racer *r = arg;
	char coll[32], id[32];
	int i;

	for (i = 0; i < RACE_ROUNDS; i++) {
		snprintf(coll, sizeof(coll), "race%d", i);
		snprintf(id, sizeof(id), "r%zu", r->dim);
		pthread_barrier_wait(r->bar);
		if (insert1(r->c, coll, id, DIM_A, (float)r->dim) == VS_OK)
			r->ok++;
	}
	return NULL;
}

static void
test_concurrent_create_agrees(void **state)
{
	struct fx *t = *state;
	struct racer ra = { t->f.cli, 1, 0, NULL }, rb = { t->cb, 2, 0, NULL };
	pthread_barrier_t bar;
	pthread_t th;
	char g0[64], g[64], coll[32];
	int i, s;

	pthread_barrier_init(&bar, NULL, 2);
	ra.bar = rb.bar = &bar;
	assert_int_equal(pthread_create(&th, NULL, race_main, &ra), 0);
	race_main(&rb);
	pthread_join(th, NULL);
	pthread_barrier_destroy(&bar);
	assert_int_equal(ra.ok, RACE_ROUNDS);
	assert_int_equal(rb.ok, RACE_ROUNDS);
	for (i = 0; i < RACE_ROUNDS; i++) {
		snprintf(coll, sizeof(coll), "race%d", i);
		meta_field(t, 0, coll, "gen", g0, sizeof(g0));
		assert_true(strlen(g0) > 8);
		for (s = 1; s < NSHARDS; s++) {
			meta_field(t, s, coll, "gen", g, sizeof(g));
			if (strcmp(g, g0) != 0)
				fail_msg("%s: shard 0 has generation %s, "
				    "shard %d %s", coll, g0, s, g);
		}
	}
}

/* B drops and re-creates with alternating dimensions; A inserts. */
#define CHURN_FINAL_TRIES 50
struct write_rec {
	int64_t start, end;
	int ok;
	int rv;                      /* vs_insert's status */
	char why[120];               /* its message, when not OK */
	size_t dim;
	char id[16];
};

struct churn {
	struct fx *t;
	volatile int stop_b;
	int64_t last_drop_start, last_create_end;
	size_t last_dim;
	int cycles;
	int clean;                   /* the last drop was followed by a create */
	struct write_rec *w;
	size_t nw;
};

/* One drop + create.  The drop counts from its start even when it fails
 * (it may have reached some shards); and A's inserts may re-create the
 * collection between the two calls, so the create can be refused: then
 * the cycle is not clean and the next one drops again. */
static void
churn_cycle(struct churn *c, size_t dim)
{
	vs_collection_params p = { 0, 0, 0, 0, 0 };

	p.dim = dim;
	c->last_drop_start = tu_now_ms();
	c->clean = 0;
	if (vs_drop_collection(c->t->cb, "churn", NULL) != VS_OK ||
	    vs_create_collection(c->t->cb, "churn", &p, NULL) != VS_OK)
		return;
	c->last_create_end = tu_now_ms();
	c->last_dim = dim;
	c->clean = 1;
	c->cycles++;
}

static void *
churn_b(void *arg)
{
	struct churn *c = arg;
	int64_t until = tu_now_ms() + CHURN_MS;
	int tries;

	while (tu_now_ms() < until) {
		churn_cycle(c, c->cycles % 2 ? DIM_B : DIM_A);
		tu_sleep_ms(20);
	}
	/* End on a clean create, so "after the last create" is defined. */
	for (tries = 0; !c->clean && tries < CHURN_FINAL_TRIES; tries++)
		churn_cycle(c, c->cycles % 2 ? DIM_B : DIM_A);
	c->stop_b = 1;
	return NULL;
}

static void
test_concurrent_drop_recreate(void **state)
{
	struct fx *t = *state;
	struct churn c;
	pthread_t th;
	int64_t tail_end = 0;
	size_t i, oks = 0, after = 0;
	uint64_t seed = 0xc0ffee;

	memset(&c, 0, sizeof(c));
	c.t = t;
	c.w = calloc(MAX_WRITES, sizeof(*c.w));
	assert_non_null(c.w);
	assert_int_equal(pthread_create(&th, NULL, churn_b, &c), 0);
	while (c.nw < MAX_WRITES) {
		struct write_rec *w = &c.w[c.nw];

		if (c.stop_b && tail_end == 0)
			tail_end = tu_now_ms() + TAIL_MS;
		if (tail_end != 0 && tu_now_ms() >= tail_end)
			break;
		snprintf(w->id, sizeof(w->id), "w%zu", c.nw);
		w->dim = tu_rand(&seed) % 2 ? DIM_B : DIM_A;
		w->start = tu_now_ms();
		w->rv = insert1(t->f.cli, "churn", w->id, w->dim, 1);
		w->ok = w->rv == VS_OK;
		if (!w->ok)
			snprintf(w->why, sizeof(w->why), "%s", vs_errmsg());
		w->end = tu_now_ms();
		c.nw++;
	}
	pthread_join(th, NULL);
	assert_true(c.clean);
	assert_true(c.cycles >= 5);
	assert_sets_match_meta(t, "churn");
	for (i = 0; i < c.nw; i++) {
		struct write_rec *w = &c.w[i];
		int s = (int)vs_shard_of(w->id, strlen(w->id), NSHARDS);
		int present = h_vemb_present(t->f.cl, s, "churn", w->id);

		assert_true(present >= 0);
		if (w->ok)
			oks++;
		/* Acknowledged before the last drop began: an older
		 * generation, which the drop removed. */
		if (w->ok && w->end < c.last_drop_start && present)
			fail_msg("%s (dim %zu), acknowledged before the last "
			    "drop, survives in the new generation", w->id,
			    w->dim);
		/* Written after the last re-create: there, with its dim. */
		if (w->start > c.last_create_end) {
			if (w->ok != (w->dim == c.last_dim))
				fail_msg("%s dim %zu after the last create "
				    "(dim %zu): %s %s", w->id, w->dim,
				    c.last_dim, vs_code_name(w->rv), w->why);
			if (w->ok && !present)
				fail_msg("%s acknowledged but absent", w->id);
			after += w->ok;
		}
	}
	fprintf(stderr, "# churn: %d drop+create cycles, %zu inserts, %zu "
	    "acknowledged, %zu after the last create\n", c.cycles, c.nw, oks,
	    after);
	assert_true(oks > 0);
	assert_true(after > 0);
	free(c.w);
}

/* A shard holding another generation (a drop that reached only some
 * shards) or malformed metadata: Search counts it failed and drops its
 * hits; an insert there is refused, not written. */
static void
test_search_drops_shard_with_other_generation(void **state)
{
	struct fx *t = *state;
	vs_search_params sp = { "cg", NULL, DIM_A, 10, 0, 0 };
	vs_search_result *res = NULL;
	vs_write_result *w = NULL;
	float q[DIM_A] = { 1, 2, 3, 4 };
	char id[32];
	redisReply *r;
	size_t i;
	int s, rv;

	for (s = 0; s < NSHARDS; s++) {
		id_on(s, "g", 0, id, sizeof(id));
		assert_int_equal(insert1(t->f.cli, "cg", id, DIM_A, 1), VS_OK);
	}
	sp.vector = q;
	/* B reads (and caches) the collection; then shard 1 changes life.
	 * Searched at once (cache fresh: the generation read after VSIM
	 * contradicts it, B reloads) and after the cache expired. */
	assert_int_equal(vs_search(t->cb, &sp, &res), VS_OK);
	assert_int_equal(res->n_hits, NSHARDS);
	vs_search_result_free(res);
	r = cmd(t, 1, "HSET vsetd:@meta:cg gen 1-otherlife");
	freeReplyObject(r);
	for (s = 0; s < 2; s++) {
		if (s == 1)
			tu_sleep_ms(1100);      /* the caches expire */
		assert_int_equal(vs_search(t->cb, &sp, &res), VS_OK);
		assert_true(res->partial);
		assert_int_equal(res->shards.failed, 1);
		assert_int_equal(res->n_hits, 1);
		for (i = 0; i < res->n_hits; i++)
			assert_int_equal(res->hits[i].shard, 0);
		assert_int_equal(res->n_shard_errors, 1);
		assert_int_equal(res->shard_errors[0].shard, 1);
		assert_non_null(strstr(res->shard_errors[0].message,
		    "generation"));
		vs_search_result_free(res);
	}

	id_on(1, "g", 100, id, sizeof(id));
	{
		float v[DIM_A] = { 1, 1, 1, 1 };
		vs_item it = { id, v, DIM_A, NULL };

		rv = vs_insert(t->f.cli, "cg", &it, 1, &w);
	}
	assert_int_equal(rv, VS_UNAVAILABLE);
	assert_non_null(w);
	assert_int_equal(w->items[0].outcome, VS_WRITE_FAILED);
	assert_non_null(strstr(w->items[0].message, "VSETDSTALE"));
	vs_write_result_free(w);
	assert_int_equal(h_vemb_present(t->f.cl, 1, "cg", id), 0);

	/* Malformed metadata on shard 1: a protocol error, not used. */
	r = cmd(t, 1, "HSET vsetd:@meta:cg dim 0x10");
	freeReplyObject(r);
	tu_sleep_ms(1100);
	assert_int_equal(vs_search(t->cb, &sp, &res), VS_OK);
	assert_true(res->partial);
	assert_int_equal(res->n_shard_errors, 1);
	assert_int_equal(res->shard_errors[0].shard, 1);
	assert_non_null(strstr(res->shard_errors[0].message,
	    "protocol error"));
	vs_search_result_free(res);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stale_cache_never_refuses_valid),
		cmocka_unit_test(test_stale_router_insert_refused),
		cmocka_unit_test(test_stale_router_delete_and_setattr),
		cmocka_unit_test(test_shard_refuses_old_generation),
		cmocka_unit_test(test_script_flush),
		cmocka_unit_test(test_legacy_collection_without_gen),
		cmocka_unit_test(test_concurrent_create_agrees),
		cmocka_unit_test(test_concurrent_drop_recreate),
		cmocka_unit_test(test_search_drops_shard_with_other_generation),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
