/*
 * test_surface.c - the vector-set surface through vsetd on 3 real Redis 8
 * shards: collections and their metadata, insert options, every search
 * option across shards, reads and aggregates, and the rejection paths.
 *
 * Data is checked in Redis directly (hiredis on each shard) where the
 * claim is about storage (metadata on every shard, VADD options, counts);
 * everything else is checked against what the test itself inserted.
 * Element ids are chosen by their owning shard (vs_shard_of) so a test can
 * put data on exactly the shard it needs.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "harness.h"
#include "testutil.h"
#include "vs_hash.h"
#include "vsetd.h"

#define NSHARDS 3
#define DIM 8

static struct tu_fixture F;

static int
group_setup(void **state)
{
	(void)state;
	return tu_fixture_start(&F, NSHARDS, NULL);
}

static int
group_teardown(void **state)
{
	(void)state;
	tu_fixture_stop(&F);
	return 0;
}

/* An id "<prefix>-<n>" owned by shard, written into buf. */
static void
id_on_shard(char *buf, size_t size, const char *prefix, int shard, int *n)
{
	for (;; (*n)++) {
		snprintf(buf, size, "%s-%d", prefix, *n);
		if ((int)vs_shard_of(buf, strlen(buf), NSHARDS) == shard) {
			(*n)++;
			return;
		}
	}
}

/* Assert a vs_ call's status, naming the server's message on failure. */
#define EXPECT(call, code) do {						\
	int rv_ = (call);						\
	if (rv_ != (code))						\
		fail_msg("%s: got %s (%s), want %s", #call,		\
		    vs_code_name(rv_), vs_errmsg(), vs_code_name(code));\
} while (0)

static redisReply *
shard_cmd(int shard, const char *fmt, ...)
{
	redisContext *rc = h_shard_connect(F.cl, shard, 2000);
	redisReply *r;
	va_list ap;

	assert_non_null(rc);
	va_start(ap, fmt);
	r = redisvCommand(rc, fmt, ap);
	va_end(ap);
	redisFree(rc);
	assert_non_null(r);
	return r;
}

static void
insert_one(const char *coll, const char *id, const float *v, size_t dim,
    const char *attrs)
{
	vs_item it = { id, v, dim, attrs };
	int rv = vs_insert(F.cli, coll, &it, 1, NULL);

	if (rv != VS_OK)
		fail_msg("insert %s/%s: %s %s", coll, id, vs_code_name(rv),
		    vs_errmsg());
}

/* ------------------------------------------------------------ collections */

static void
test_create_describe_list_drop(void **state)
{
	vs_collection_params p = { 4, VS_QUANT_NOQUANT, 8, 0, 50 }, q;
	vs_collection_info *info = NULL;
	char **names = NULL;
	size_t n = 0, i;
	uint64_t del = 0;
	int created = -1, s, found = 0;
	redisReply *r;

	(void)state;
	assert_int_equal(vs_create_collection(F.cli, "coll-a", &p, &created),
	    VS_OK);
	assert_true(created);
	/* Metadata on every shard, in Redis. */
	for (s = 0; s < NSHARDS; s++) {
		r = shard_cmd(s, "HGET vsetd:@meta:coll-a quant");
		assert_int_equal(r->type, REDIS_REPLY_STRING);
		assert_string_equal(r->str, "noquant");
		freeReplyObject(r);
		r = shard_cmd(s, "HGET vsetd:@meta:coll-a dim");
		assert_string_equal(r->str, "4");
		freeReplyObject(r);
	}
	/* Same parameters again: fine, not created; others: refused. */
	assert_int_equal(vs_create_collection(F.cli, "coll-a", &p, &created),
	    VS_OK);
	assert_false(created);
	q = p;
	q.m = 16;
	assert_int_equal(vs_create_collection(F.cli, "coll-a", &q, NULL),
	    VS_ALREADY_EXISTS);
	/* Rejections of bad parameters. */
	q = p;
	q.dim = 0;
	assert_int_equal(vs_create_collection(F.cli, "coll-b", &q, NULL),
	    VS_INVALID_ARGUMENT);
	q = p;
	q.m = 2;
	assert_int_equal(vs_create_collection(F.cli, "coll-b", &q, NULL),
	    VS_INVALID_ARGUMENT);
	q = p;
	q.reduce = 4;
	assert_int_equal(vs_create_collection(F.cli, "coll-b", &q, NULL),
	    VS_INVALID_ARGUMENT);
	q = p;
	q.quant = 9;
	assert_int_equal(vs_create_collection(F.cli, "coll-b", &q, NULL),
	    VS_INVALID_ARGUMENT);

	assert_int_equal(vs_describe_collection(F.cli, "coll-a", &info), VS_OK);
	assert_int_equal(info->params.dim, 4);
	assert_int_equal(info->params.quant, VS_QUANT_NOQUANT);
	assert_int_equal(info->params.m, 8);
	assert_int_equal(info->params.build_ef, 50);
	assert_int_equal(info->count, 0);
	assert_int_equal(info->n_shards, NSHARDS);
	assert_true(info->has_metadata);
	vs_collection_info_free(info);
	assert_int_equal(vs_describe_collection(F.cli, "nope", &info),
	    VS_NOT_FOUND);

	assert_int_equal(vs_list_collections(F.cli, &names, &n), VS_OK);
	for (i = 0; i < n; i++)
		if (strcmp(names[i], "coll-a") == 0)
			found = 1;
	for (i = 0; i + 1 < n; i++)
		assert_true(strcmp(names[i], names[i + 1]) < 0);
	vs_strings_free(names, n);
	assert_true(found);

	/* An insert honours the parameters: NOQUANT and M 8 in Redis. */
	{
		float v[4] = { 1, 2, 3, 4 }, w[5] = { 1, 2, 3, 4, 5 };
		vs_item it = { "x", w, 5, NULL };

		insert_one("coll-a", "x", v, 4, NULL);
		s = (int)vs_shard_of("x", 1, NSHARDS);
		r = shard_cmd(s, "VINFO vsetd:coll-a");
		assert_int_equal(r->type, REDIS_REPLY_ARRAY);
		for (i = 0; i + 1 < r->elements; i += 2) {
			if (strcmp(r->element[i]->str, "quant-type") == 0)
				assert_string_equal(r->element[i + 1]->str, "f32");
			if (strcmp(r->element[i]->str, "hnsw-m") == 0)
				assert_int_equal(r->element[i + 1]->integer, 8);
		}
		freeReplyObject(r);
		/* Wrong dimension: refused by vsetd, nothing written. */
		assert_int_equal(vs_insert(F.cli, "coll-a", &it, 1, NULL),
		    VS_INVALID_ARGUMENT);
		assert_true(tu_has(vs_errmsg(), "dimension"));
		it.id = "y";
		assert_int_equal(vs_insert(F.cli, "coll-a", &it, 1, NULL),
		    VS_INVALID_ARGUMENT);
		assert_int_equal(h_vemb_present(F.cl,
		    (int)vs_shard_of("y", 1, NSHARDS), "coll-a", "y"), 0);
	}

	assert_int_equal(vs_drop_collection(F.cli, "coll-a", &del), VS_OK);
	assert_true(del >= NSHARDS + 1);
	for (s = 0; s < NSHARDS; s++) {
		r = shard_cmd(s, "EXISTS vsetd:@meta:coll-a vsetd:coll-a");
		assert_int_equal(r->integer, 0);
		freeReplyObject(r);
	}
	/* A repeated drop answers what the first one did (issue 12 #14). */
	del = 99;
	assert_int_equal(vs_drop_collection(F.cli, "coll-a", &del), VS_OK);
	assert_int_equal(del, 0);
	assert_int_equal(vs_drop_collection(F.cli, "", NULL),
	    VS_INVALID_ARGUMENT);
}

static void
test_insert_autocreate_and_options(void **state)
{
	float v[DIM] = { 1, 0, 0, 0, 0, 0, 0, 0 };
	vs_insert_options o = { 1, 0, 0 };
	vs_write_result *w = NULL;
	vs_collection_info *info = NULL;
	vs_item it = { "a1", v, DIM, NULL };
	redisReply *r;
	int s;

	(void)state;
	/* no_create on a missing collection: refused, nothing created. */
	assert_int_equal(vs_insert_ex(F.cli, "auto", &it, 1, &o, NULL),
	    VS_NOT_FOUND);
	for (s = 0; s < NSHARDS; s++)
		assert_int_equal(h_vcard(F.cl, s, "auto"), 0);
	/* Plain insert creates it with the defaults and this dimension. */
	o.no_create = 0;
	o.cas = 1;
	o.ef = 40;
	assert_int_equal(vs_insert_ex(F.cli, "auto", &it, 1, &o, &w), VS_OK);
	assert_int_equal(w->added, 1);
	assert_int_equal(w->items[0].outcome, VS_WRITE_ADDED);
	vs_write_result_free(w);
	assert_int_equal(vs_insert_ex(F.cli, "auto", &it, 1, &o, &w), VS_OK);
	assert_int_equal(w->updated, 1);
	assert_int_equal(w->items[0].outcome, VS_WRITE_UPDATED);
	vs_write_result_free(w);
	assert_int_equal(vs_describe_collection(F.cli, "auto", &info), VS_OK);
	assert_int_equal(info->params.dim, DIM);
	assert_int_equal(info->params.quant, VS_QUANT_Q8);
	assert_int_equal(info->params.m, 16);
	assert_int_equal(info->count, 1);
	vs_collection_info_free(info);
	for (s = 0; s < NSHARDS; s++) {
		r = shard_cmd(s, "HGET vsetd:@meta:auto dim");
		assert_int_equal(r->type, REDIS_REPLY_STRING);
		assert_int_equal(atoi(r->str), DIM);
		freeReplyObject(r);
	}
	/* Invalid attributes JSON: refused. */
	it.attrs_json = "{\"a\":";
	assert_int_equal(vs_insert(F.cli, "auto", &it, 1, NULL),
	    VS_INVALID_ARGUMENT);
	it.attrs_json = NULL;
	o.ef = 2000000;
	assert_int_equal(vs_insert_ex(F.cli, "auto", &it, 1, &o, NULL),
	    VS_INVALID_ARGUMENT);
}

/* ------------------------------------------------------------ search */

#define SC "srch"
#define NPER 30      /* elements per shard */

static char sc_ids[NSHARDS][NPER][24];
static float sc_vec[NSHARDS][NPER][DIM];

static void
fill_search_collection(void)
{
	static int done;
	uint64_t seed = 0x5eed0005;
	char attrs[64];
	int s, i, n = 0;

	if (done)
		return;
	done = 1;
	for (s = 0; s < NSHARDS; s++)
		for (i = 0; i < NPER; i++) {
			id_on_shard(sc_ids[s][i], sizeof(sc_ids[s][i]), "e", s,
			    &n);
			tu_rand_vec(&seed, sc_vec[s][i], DIM);
			/* "color":"red" only on shard 1's elements. */
			snprintf(attrs, sizeof(attrs),
			    "{\"shard\":%d,\"i\":%d,\"color\":\"%s\"}", s, i,
			    s == 1 ? "red" : "blue");
			insert_one(SC, sc_ids[s][i], sc_vec[s][i], DIM, attrs);
		}
}

static void
test_search_filter_one_shard(void **state)
{
	vs_search_params p = { SC, sc_vec[0][0], DIM, 50, 0, 1 };
	vs_search_options o;
	vs_search_result *r = NULL;
	size_t i;

	(void)state;
	fill_search_collection();
	memset(&o, 0, sizeof(o));
	o.filter = ".color == \"red\"";
	o.with_attrs = 1;
	o.filter_ef = 500;
	assert_int_equal(vs_search_ex(F.cli, &p, &o, &r), VS_OK);
	assert_int_equal(r->n_hits, NPER);
	assert_int_equal(r->shards.ok, NSHARDS);
	for (i = 0; i < r->n_hits; i++) {
		assert_int_equal(r->hits[i].shard, 1);
		assert_non_null(vs_search_attrs(r, i));
		assert_non_null(strstr(vs_search_attrs(r, i), "\"red\""));
	}
	assert_int_equal(tu_first_unsorted(r), -1);
	vs_search_result_free(r);
	/* Filter syntax error: INVALID_ARGUMENT with Redis's message. */
	o.filter = ".color ==";
	assert_int_equal(vs_search_ex(F.cli, &p, &o, &r), VS_INVALID_ARGUMENT);
	assert_true(tu_has(vs_errmsg(), "syntax error in FILTER"));
}

static void
test_search_attrs_merged(void **state)
{
	vs_search_params p = { SC, sc_vec[2][3], DIM, 20, 0, 1 };
	vs_search_options o;
	vs_search_result *r = NULL;
	char want[64];
	size_t i;
	int shards_seen = 0, s, idx;

	(void)state;
	fill_search_collection();
	memset(&o, 0, sizeof(o));
	o.with_attrs = 1;
	o.truth = 1;
	o.nothread = 1;
	assert_int_equal(vs_search_ex(F.cli, &p, &o, &r), VS_OK);
	assert_int_equal(r->n_hits, 20);
	assert_string_equal(r->hits[0].id, sc_ids[2][3]);
	for (i = 0; i < r->n_hits; i++) {
		const char *a = vs_search_attrs(r, i);

		s = (int)r->hits[i].shard;
		shards_seen |= 1 << s;
		for (idx = 0; idx < NPER; idx++)
			if (strcmp(sc_ids[s][idx], r->hits[i].id) == 0)
				break;
		assert_true(idx < NPER);
		snprintf(want, sizeof(want), "\"shard\":%d,\"i\":%d,", s, idx);
		assert_non_null(a);
		if (strstr(a, want) == NULL)
			fail_msg("hit %s: attrs %s, want %s", r->hits[i].id, a,
			    want);
	}
	/* Merged from more than one shard. */
	assert_true(shards_seen != 1 && shards_seen != 2 && shards_seen != 4);
	vs_search_result_free(r);
	/* Without with_attrs there are none. */
	o.with_attrs = 0;
	assert_int_equal(vs_search_ex(F.cli, &p, &o, &r), VS_OK);
	assert_null(r->attrs);
	vs_search_result_free(r);
}

static void
test_search_epsilon(void **state)
{
	vs_search_params p = { SC, sc_vec[0][5], DIM, 90, 0, 1 };
	vs_search_options o;
	vs_search_result *all = NULL, *cut = NULL;
	size_t i, expect = 0;
	double eps = 0.2;

	(void)state;
	fill_search_collection();
	memset(&o, 0, sizeof(o));
	o.truth = 1;
	assert_int_equal(vs_search_ex(F.cli, &p, &o, &all), VS_OK);
	o.epsilon = eps;
	assert_int_equal(vs_search_ex(F.cli, &p, &o, &cut), VS_OK);
	for (i = 0; i < all->n_hits; i++)
		if (all->hits[i].score >= 1 - eps)
			expect++;
	/* The cut removed something and kept exactly the good ones. */
	assert_true(expect > 0 && expect < all->n_hits);
	assert_int_equal(cut->n_hits, expect);
	for (i = 0; i < cut->n_hits; i++) {
		assert_true(cut->hits[i].score >= 1 - eps);
		assert_string_equal(cut->hits[i].id, all->hits[i].id);
	}
	vs_search_result_free(all);
	vs_search_result_free(cut);
	o.epsilon = -1;
	assert_int_equal(vs_search_ex(F.cli, &p, &o, &cut), VS_INVALID_ARGUMENT);
	o.epsilon = 0;
	o.shard_k_ratio = 1.5;
	assert_int_equal(vs_search_ex(F.cli, &p, &o, &cut), VS_INVALID_ARGUMENT);
}

static void
test_search_by_element(void **state)
{
	vs_search_params p = { SC, NULL, 0, 10, 0, 1 };
	vs_search_options o;
	vs_search_result *r = NULL;
	const char *id = sc_ids[2][7];    /* lives on shard 2 */
	size_t i;
	int shards_seen = 0;

	(void)state;
	fill_search_collection();
	assert_int_equal(vs_shard_of(id, strlen(id), NSHARDS), 2);
	memset(&o, 0, sizeof(o));
	o.by_id = id;
	o.truth = 1;
	assert_int_equal(vs_search_ex(F.cli, &p, &o, &r), VS_OK);
	assert_int_equal(r->n_hits, 10);
	assert_string_equal(r->hits[0].id, id);
	assert_true(r->hits[0].score > 0.999);
	for (i = 0; i < r->n_hits; i++)
		shards_seen |= 1 << r->hits[i].shard;
	assert_true(shards_seen & ~4);   /* results beyond the owner shard */
	vs_search_result_free(r);
	o.by_id = "no-such-element";
	assert_int_equal(vs_search_ex(F.cli, &p, &o, &r), VS_NOT_FOUND);
	/* Both a vector and by_id: refused. */
	p.vector = sc_vec[0][0];
	p.dim = DIM;
	o.by_id = id;
	assert_int_equal(vs_search_ex(F.cli, &p, &o, &r), VS_INVALID_ARGUMENT);
	/* Wrong dimension vs the collection: vsetd's message. */
	o.by_id = NULL;
	p.dim = DIM - 1;
	assert_int_equal(vs_search_ex(F.cli, &p, &o, &r), VS_INVALID_ARGUMENT);
	assert_true(tu_has(vs_errmsg(), "collection"));
}

static void
test_batch_and_ratio(void **state)
{
	vs_search_params p = { SC, NULL, DIM, 5, 0, 1 };
	const float *qs[3] = { sc_vec[0][1], sc_vec[1][2], sc_vec[2][3] };
	const char *want[3] = { sc_ids[0][1], sc_ids[1][2], sc_ids[2][3] };
	vs_search_result **rs = NULL, *r = NULL;
	vs_search_options o;
	size_t i;

	(void)state;
	fill_search_collection();
	memset(&o, 0, sizeof(o));
	o.truth = 1;
	assert_int_equal(vs_search_batch(F.cli, &p, &o, qs, 3, &rs), VS_OK);
	for (i = 0; i < 3; i++) {
		assert_int_equal(rs[i]->n_hits, 5);
		assert_string_equal(rs[i]->hits[0].id, want[i]);
		assert_int_equal(tu_first_unsorted(rs[i]), -1);
	}
	vs_search_results_free(rs, 3);
	/* A ratio asks each shard for ceil(k * ratio): at most 3 * 2 here. */
	o.shard_k_ratio = 0.4;
	p.vector = qs[0];
	p.k = 10;
	assert_int_equal(vs_search_ex(F.cli, &p, &o, &r), VS_OK);
	assert_true(r->n_hits <= 3 * 4 && r->n_hits >= 4);
	assert_string_equal(r->hits[0].id, want[0]);
	vs_search_result_free(r);
}

static void
test_merge_each_quant(void **state)
{
	static const int quants[] = { VS_QUANT_Q8, VS_QUANT_NOQUANT,
	    VS_QUANT_BIN };
	vs_search_params p = { NULL, NULL, DIM, 15, 0, 1 };
	vs_search_options o;
	char coll[32];
	size_t qi, i;

	(void)state;
	fill_search_collection();
	memset(&o, 0, sizeof(o));
	o.truth = 1;
	for (qi = 0; qi < 3; qi++) {
		vs_collection_params cp = { DIM, quants[qi], 0, 0, 0 };
		vs_search_result *r = NULL;
		int s, j;

		snprintf(coll, sizeof(coll), "q-%s", vs_quant_name(quants[qi]));
		assert_int_equal(vs_create_collection(F.cli, coll, &cp, NULL),
		    VS_OK);
		for (s = 0; s < NSHARDS; s++)
			for (j = 0; j < 10; j++)
				insert_one(coll, sc_ids[s][j], sc_vec[s][j], DIM,
				    NULL);
		p.collection = coll;
		p.vector = sc_vec[1][4];
		assert_int_equal(vs_search_ex(F.cli, &p, &o, &r), VS_OK);
		assert_int_equal(r->n_hits, 15);
		assert_int_equal(tu_first_unsorted(r), -1);
		assert_string_equal(r->hits[0].id, sc_ids[1][4]);
		for (i = 0; i < r->n_hits; i++) {
			assert_true(r->hits[i].score >= 0 &&
			    r->hits[i].score <= 1.0000001);
			assert_int_equal(r->hits[i].shard,
			    vs_shard_of(r->hits[i].id, strlen(r->hits[i].id),
			    NSHARDS));
		}
		vs_search_result_free(r);
	}
}

/* ------------------------------------------------------------ reads */

/* l (from vsetd) lists, level by level, the same neighbours as VLINKS on
 * shard `shard` itself.  VLINKS lists the highest level first; vsetd's
 * levels are level 0 first (the proto). */
static void
links_match_redis(const vs_links_result *l, const char *coll, const char *id,
    int shard)
{
	redisContext *rc;
	redisReply *r;
	size_t lv, i, j;
	char key[128];

	snprintf(key, sizeof(key), "vsetd:%s", coll);
	rc = h_shard_connect(F.cl, shard, 2000);
	assert_non_null(rc);
	r = redisCommand(rc, "VLINKS %s %s", key, id);
	assert_non_null(r);
	assert_int_equal(r->type, REDIS_REPLY_ARRAY);
	assert_int_equal(r->elements, l->n_levels);
	for (lv = 0; lv < l->n_levels; lv++) {
		const redisReply *level = r->element[l->n_levels - 1 - lv];

		assert_int_equal(level->type, REDIS_REPLY_ARRAY);
		assert_int_equal(level->elements, l->levels[lv].n);
		for (i = 0; i < level->elements; i++) {
			int found = 0;

			for (j = 0; j < l->levels[lv].n; j++)
				if (strcmp(level->element[i]->str,
				    l->levels[lv].ids[j]) == 0)
					found = 1;
			assert_true(found);
		}
	}
	freeReplyObject(r);
	redisFree(rc);
}

static void
test_element_reads(void **state)
{
	const char *id = sc_ids[1][0];
	vs_element *e = NULL;
	vs_links_result *l = NULL;
	char *json = NULL;
	int ex = -1;
	size_t i;

	(void)state;
	fill_search_collection();
	EXPECT(vs_get(F.cli, SC, id, 1, &e), VS_OK);
	assert_int_equal(e->dim, DIM);
	assert_int_equal(e->shard, 1);
	assert_non_null(e->attrs_json);
	assert_non_null(strstr(e->attrs_json, "\"red\""));
	assert_true(e->has_raw);
	assert_string_equal(e->raw_quant, "int8");
	assert_int_equal(e->raw_len, DIM);
	/* VEMB gives back the direction of what was inserted. */
	assert_true(tu_cos_score(e->vector, sc_vec[1][0], DIM) > 0.999);
	vs_element_free(e);
	assert_int_equal(vs_get(F.cli, SC, "missing", 0, &e), VS_NOT_FOUND);

	assert_int_equal(vs_exists(F.cli, SC, id, &ex), VS_OK);
	assert_true(ex);
	assert_int_equal(vs_exists(F.cli, SC, "missing", &ex), VS_OK);
	assert_false(ex);

	assert_int_equal(vs_set_attributes(F.cli, SC, id, "{\"k\":7}"), VS_OK);
	assert_int_equal(vs_get_attributes(F.cli, SC, id, &json), VS_OK);
	assert_string_equal(json, "{\"k\":7}");
	free(json);
	assert_int_equal(vs_set_attributes(F.cli, SC, id, ""), VS_OK);
	assert_int_equal(vs_get_attributes(F.cli, SC, id, &json), VS_OK);
	assert_null(json);
	assert_int_equal(vs_set_attributes(F.cli, SC, id,
	    "{\"shard\":1,\"i\":0,\"color\":\"red\"}"), VS_OK);
	assert_int_equal(vs_set_attributes(F.cli, SC, "missing", "{}"),
	    VS_NOT_FOUND);
	assert_int_equal(vs_set_attributes(F.cli, SC, id, "[1]"),
	    VS_INVALID_ARGUMENT);
	assert_int_equal(vs_set_attributes(F.cli, SC, id, "{bad"),
	    VS_INVALID_ARGUMENT);
	assert_int_equal(vs_get_attributes(F.cli, SC, "missing", &json),
	    VS_NOT_FOUND);

	assert_int_equal(vs_links(F.cli, SC, id, &l), VS_OK);
	assert_true(l->n_levels >= 1);
	/* Exactly the owner's graph, as Redis itself tells it.  (Its level 0
	 * can be empty: in about 1 run of 40, Redis's HNSW leaves this
	 * element without level-0 neighbours.) */
	links_match_redis(l, SC, id, 1);
	for (i = 0; i < l->levels[0].n; i++) {
		/* Neighbours live on the same shard's graph. */
		assert_int_equal(vs_shard_of(l->levels[0].ids[i],
		    strlen(l->levels[0].ids[i]), NSHARDS), 1);
		assert_true(l->levels[0].scores[i] >= 0 &&
		    l->levels[0].scores[i] <= 1.0000001);
	}
	vs_links_result_free(l);
	assert_int_equal(vs_links(F.cli, SC, "missing", &l), VS_NOT_FOUND);
	assert_int_equal(vs_get(F.cli, SC, "", 0, &e), VS_INVALID_ARGUMENT);
}

static void
test_count_info(void **state)
{
	vs_count_result *c = NULL;
	vs_info_result *in = NULL;
	long long sum = 0, v;
	size_t i, j;
	int s;

	(void)state;
	fill_search_collection();
	assert_int_equal(vs_count(F.cli, SC, &c), VS_OK);
	assert_int_equal(c->n_shards, NSHARDS);
	for (s = 0; s < NSHARDS; s++) {
		v = h_vcard(F.cl, s, SC);
		assert_int_equal(c->shard_counts[s], v);
		sum += v;
	}
	assert_int_equal(c->count, sum);
	assert_int_equal(c->count, NSHARDS * NPER);
	assert_false(c->partial);
	vs_count_result_free(c);

	assert_int_equal(vs_info(F.cli, SC, &in), VS_OK);
	assert_int_equal(in->n_shard_info, NSHARDS);
	assert_int_equal(in->size, NSHARDS * NPER);
	for (i = 0, v = 0; i < in->n_shard_info; i++) {
		for (j = 0; j < in->shard_info[i].n_fields; j++)
			if (strcmp(in->shard_info[i].fields[j].name,
			    "attributes-count") == 0)
				v += atoll(in->shard_info[i].fields[j].value);
	}
	/* The total is the sum of what the shards report. */
	assert_int_equal(in->attributes_count, v);
	for (i = 0; i < in->n_shard_info; i++) {
		int have_size = 0;

		assert_true(in->shard_info[i].exists);
		for (j = 0; j < in->shard_info[i].n_fields; j++)
			if (strcmp(in->shard_info[i].fields[j].name, "size") == 0) {
				assert_int_equal(atoll(
				    in->shard_info[i].fields[j].value),
				    h_vcard(F.cl, (int)in->shard_info[i].shard,
				    SC));
				have_size = 1;
			}
		assert_true(have_size);
	}
	vs_info_result_free(in);
	assert_int_equal(vs_count(F.cli, "no-such", &c), VS_OK);
	assert_int_equal(c->count, 0);
	vs_count_result_free(c);
}

static int
is_member(const char *id)
{
	int s, i;

	for (s = 0; s < NSHARDS; s++)
		for (i = 0; i < NPER; i++)
			if (strcmp(sc_ids[s][i], id) == 0)
				return 1;
	return 0;
}

static void
test_random_members(void **state)
{
	char **ids = NULL;
	size_t n = 0, i, j;
	int shards_seen = 0, dup = 0, round;

	(void)state;
	fill_search_collection();
	/* Positive: distinct, at most the count. */
	assert_int_equal(vs_random_members(F.cli, SC, 40, &ids, &n), VS_OK);
	assert_int_equal(n, 40);
	for (i = 0; i < n; i++) {
		assert_true(is_member(ids[i]));
		shards_seen |= 1 << vs_shard_of(ids[i], strlen(ids[i]), NSHARDS);
		for (j = 0; j < i; j++)
			assert_string_not_equal(ids[i], ids[j]);
	}
	assert_int_equal(shards_seen, 7);
	vs_strings_free(ids, n);
	/* More than there are: all of them, once. */
	assert_int_equal(vs_random_members(F.cli, SC, 1000, &ids, &n), VS_OK);
	assert_int_equal(n, NSHARDS * NPER);
	vs_strings_free(ids, n);
	/* Negative: exactly -count, repeats allowed (and, with 200 draws
	 * from 90, certain in practice). */
	for (round = 0; round < 3 && !dup; round++) {
		assert_int_equal(vs_random_members(F.cli, SC, -200, &ids, &n),
		    VS_OK);
		assert_int_equal(n, 200);
		for (i = 0; i < n && !dup; i++) {
			assert_true(is_member(ids[i]));
			for (j = 0; j < i; j++)
				if (strcmp(ids[i], ids[j]) == 0)
					dup = 1;
		}
		vs_strings_free(ids, n);
	}
	assert_true(dup);
	/* Zero means one. */
	assert_int_equal(vs_random_members(F.cli, SC, 0, &ids, &n), VS_OK);
	assert_int_equal(n, 1);
	vs_strings_free(ids, n);
	assert_int_equal(vs_random_members(F.cli, "no-such", 5, &ids, &n),
	    VS_OK);
	assert_int_equal(n, 0);
	vs_strings_free(ids, n);
	assert_int_equal(vs_random_members(F.cli, SC, -1000000, &ids, &n),
	    VS_INVALID_ARGUMENT);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_create_describe_list_drop),
		cmocka_unit_test(test_insert_autocreate_and_options),
		cmocka_unit_test(test_search_filter_one_shard),
		cmocka_unit_test(test_search_attrs_merged),
		cmocka_unit_test(test_search_epsilon),
		cmocka_unit_test(test_search_by_element),
		cmocka_unit_test(test_batch_and_ratio),
		cmocka_unit_test(test_merge_each_quant),
		cmocka_unit_test(test_element_reads),
		cmocka_unit_test(test_count_info),
		cmocka_unit_test(test_random_members),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
