/*
 * test_coll_edges.c - answers that must not mislead a caller (issue 12,
 * findings 11, 13, 14, 15), on two real Redis shards and a real vsetd.
 *
 *   13  a key of another type at a collection's key (WRONGTYPE) is
 *       FAILED_PRECONDITION for Count, Info, RandomMembers and Describe
 *       too (not UNAVAILABLE, which invites retries; not NOT_FOUND or an
 *       empty OK), and a refused Insert leaves no metadata behind (no
 *       ghost in ListCollections);
 *   14  DropCollection is idempotent: a repeated drop answers OK with
 *       keys_deleted 0, like the first drop of a missing collection;
 *   15  an invalid FILTER is INVALID_ARGUMENT whether or not the
 *       collection exists (and a valid one on a missing collection is OK
 *       with no hits);
 *   11  Search and BatchSearch without require_all, when no shard answers
 *       in time, answer OK with partial = true and the ShardSummary
 *       (protocol.md 7); with require_all, DEADLINE_EXCEEDED.  Last,
 *       because it freezes the shards.
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
#include "vsetd.h"

#define NSHARDS 2
#define DIM 4
/* The deadline of the calls made while every shard is frozen (ms), and
 * the margin allowed on top of it on a busy 2-core machine. */
#define FROZEN_DEADLINE_MS 300
#define FROZEN_MARGIN_MS 1500

struct fx {
	struct tu_fixture f;
};

static int
group_setup(void **state)
{
	*state = tu_state_new(sizeof(struct fx), NSHARDS, NULL);
	return *state != NULL ? 0 : -1;
}

static void
shard_cmd(struct fx *t, int s, const char *c)
{
	redisContext *rc = h_shard_connect(t->f.cl, s, TU_TIMEOUT_MS);
	redisReply *r;

	assert_non_null(rc);
	r = redisCommand(rc, c);
	assert_non_null(r);
	freeReplyObject(r);
	redisFree(rc);
}

static int
meta_exists(struct fx *t, int s, const char *coll)
{
	redisContext *rc = h_shard_connect(t->f.cl, s, TU_TIMEOUT_MS);
	redisReply *r;
	int e;

	assert_non_null(rc);
	r = redisCommand(rc, "EXISTS vsetd:@meta:%s", coll);
	assert_non_null(r);
	e = r->type == REDIS_REPLY_INTEGER && r->integer > 0;
	freeReplyObject(r);
	redisFree(rc);
	return e;
}

static void
expect(int rv, int want, const char *what)
{
	if (rv != want)
		fail_msg("%s: %s (%s), want %s", what, vs_code_name(rv),
		    vs_errmsg(), vs_code_name(want));
}

/* 13: another type at vsetd:wt on shard 0. */
static void
test_wrongtype_is_failed_precondition(void **state)
{
	struct fx *t = *state;
	float v[DIM] = { 1, 2, 3, 4 };
	vs_item it = { "x", v, DIM, NULL };
	vs_count_result *cr = NULL;
	vs_info_result *ir = NULL;
	vs_collection_info *ci = NULL;
	vs_write_result *w = NULL;
	char **names = NULL, **ids = NULL;
	size_t n = 0, i;
	int s, rv;

	shard_cmd(t, 0, "SET vsetd:wt x");
	expect(vs_count(t->f.cli, "wt", &cr), VS_FAILED_PRECONDITION, "Count");
	vs_count_result_free(cr);
	expect(vs_info(t->f.cli, "wt", &ir), VS_FAILED_PRECONDITION, "Info");
	vs_info_result_free(ir);
	expect(vs_random_members(t->f.cli, "wt", 3, &ids, &n),
	    VS_FAILED_PRECONDITION, "RandomMembers");
	expect(vs_describe_collection(t->f.cli, "wt", &ci),
	    VS_FAILED_PRECONDITION, "Describe");
	vs_collection_info_free(ci);
	/* Whichever shard the items go to, the refused implicit create
	 * writes nothing anywhere. */
	for (i = 0; i < 8; i++) {
		char id[16];

		snprintf(id, sizeof(id), "x%zu", i);
		it.id = id;
		rv = vs_insert(t->f.cli, "wt", &it, 1, &w);
		vs_write_result_free(w);
		w = NULL;
		expect(rv, VS_FAILED_PRECONDITION, "Insert");
	}
	for (s = 0; s < NSHARDS; s++)
		assert_false(meta_exists(t, s, "wt"));
	assert_int_equal(vs_list_collections(t->f.cli, &names, &n), VS_OK);
	for (i = 0; i < n; i++)
		if (strcmp(names[i], "wt") == 0)
			fail_msg("ghost collection \"wt\" listed");
	vs_strings_free(names, n);

	/* With metadata present (the collection exists, then its key on one
	 * shard is replaced), Describe is still FAILED_PRECONDITION. */
	shard_cmd(t, 0, "DEL vsetd:wt");
	it.id = "y";
	assert_int_equal(vs_insert(t->f.cli, "wt", &it, 1, NULL), VS_OK);
	shard_cmd(t, 0, "DEL vsetd:wt");
	shard_cmd(t, 1, "DEL vsetd:wt");
	shard_cmd(t, 0, "SET vsetd:wt x");
	expect(vs_describe_collection(t->f.cli, "wt", &ci),
	    VS_FAILED_PRECONDITION, "Describe with metadata");
	vs_collection_info_free(ci);
	expect(vs_count(t->f.cli, "wt", &cr), VS_FAILED_PRECONDITION,
	    "Count with metadata");
	vs_count_result_free(cr);
	shard_cmd(t, 0, "DEL vsetd:wt");
}

/* 14 */
static void
test_repeated_drop_is_ok(void **state)
{
	struct fx *t = *state;
	float v[DIM] = { 1, 2, 3, 4 };
	vs_item it = { "a", v, DIM, NULL };
	uint64_t keys = 99;

	assert_int_equal(vs_insert(t->f.cli, "dd", &it, 1, NULL), VS_OK);
	expect(vs_drop_collection(t->f.cli, "dd", &keys), VS_OK, "drop");
	assert_true(keys >= 2);      /* the set and the metadata */
	keys = 99;
	expect(vs_drop_collection(t->f.cli, "dd", &keys), VS_OK,
	    "repeated drop");
	assert_int_equal(keys, 0);
	keys = 99;
	expect(vs_drop_collection(t->f.cli, "never-was", &keys), VS_OK,
	    "drop of a missing collection");
	assert_int_equal(keys, 0);
}

/* 15 */
static void
test_bad_filter_on_missing_collection(void **state)
{
	struct fx *t = *state;
	float q[DIM] = { 1, 0, 0, 0 };
	vs_search_params p = { "nofilter", q, DIM, 5, 0, 0 };
	vs_search_options o = { 0 };
	vs_search_result *r = NULL, **rs = NULL;
	const float *qs[2] = { q, q };
	vs_item it = { "a", q, DIM, "{\"n\":1}" };

	o.filter = ".n ==";
	expect(vs_search_ex(t->f.cli, &p, &o, &r), VS_INVALID_ARGUMENT,
	    "bad filter, missing collection");
	assert_non_null(strstr(vs_errmsg(), "FILTER"));
	expect(vs_search_batch(t->f.cli, &p, &o, qs, 2, &rs),
	    VS_INVALID_ARGUMENT, "bad filter, missing collection, batch");
	o.filter = ".n == 1";
	expect(vs_search_ex(t->f.cli, &p, &o, &r), VS_OK,
	    "good filter, missing collection");
	assert_int_equal(r->n_hits, 0);
	vs_search_result_free(r);
	/* And on an existing collection, as before. */
	p.collection = "withfilter";
	assert_int_equal(vs_insert(t->f.cli, "withfilter", &it, 1, NULL),
	    VS_OK);
	o.filter = ".n ==";
	expect(vs_search_ex(t->f.cli, &p, &o, &r), VS_INVALID_ARGUMENT,
	    "bad filter, existing collection");
	o.filter = ".n == 2";
	expect(vs_search_ex(t->f.cli, &p, &o, &r), VS_OK,
	    "filter matching nothing");
	assert_int_equal(r->n_hits, 0);
	vs_search_result_free(r);
	o.filter = ".n == 1";
	expect(vs_search_ex(t->f.cli, &p, &o, &r), VS_OK, "filter matching");
	assert_int_equal(r->n_hits, 1);
	vs_search_result_free(r);
}

/* 11: every shard frozen. */
static void
test_no_shard_answers_is_ok_partial(void **state)
{
	struct fx *t = *state;
	float q[DIM] = { 1, 0, 0, 0 };
	vs_search_params p = { "frozen", q, DIM, 5, 0, 0 };
	vs_item it = { "a", q, DIM, NULL };
	vs_search_result *r = NULL, **rs = NULL;
	const float *qs[2] = { q, q };
	int64_t t0;
	int s, rv;
	size_t i;

	assert_int_equal(vs_insert(t->f.cli, "frozen", &it, 1, NULL), VS_OK);
	for (s = 0; s < NSHARDS; s++)
		assert_int_equal(h_shard_stop(t->f.cl, s), 0);
	vs_set_timeout(t->f.cli, FROZEN_DEADLINE_MS);

	t0 = tu_now_ms();
	rv = vs_search(t->f.cli, &p, &r);
	expect(rv, VS_OK, "Search, no shard answering");
	assert_true(tu_now_ms() - t0 < FROZEN_DEADLINE_MS + FROZEN_MARGIN_MS);
	assert_true(r->partial);
	assert_int_equal(r->n_hits, 0);
	assert_int_equal(r->shards.total, NSHARDS);
	assert_int_equal(r->shards.ok, 0);
	assert_int_equal(r->shards.timed_out + r->shards.failed, NSHARDS);
	assert_int_equal(r->n_shard_errors, NSHARDS);
	vs_search_result_free(r);

	rv = vs_search_batch(t->f.cli, &p, NULL, qs, 2, &rs);
	expect(rv, VS_OK, "BatchSearch, no shard answering");
	for (i = 0; i < 2; i++) {
		assert_true(rs[i]->partial);
		assert_int_equal(rs[i]->n_hits, 0);
		assert_int_equal(rs[i]->shards.ok, 0);
		assert_int_equal(rs[i]->shards.total, NSHARDS);
	}
	vs_search_results_free(rs, 2);

	p.require_all = 1;
	rv = vs_search(t->f.cli, &p, &r);
	if (rv != VS_DEADLINE_EXCEEDED && rv != VS_UNAVAILABLE)
		fail_msg("require_all with no shard: %s", vs_code_name(rv));
	rv = vs_search_batch(t->f.cli, &p, NULL, qs, 2, &rs);
	if (rv != VS_DEADLINE_EXCEEDED && rv != VS_UNAVAILABLE)
		fail_msg("batch require_all with no shard: %s",
		    vs_code_name(rv));

	vs_set_timeout(t->f.cli, TU_TIMEOUT_MS);
	for (s = 0; s < NSHARDS; s++)
		assert_int_equal(h_shard_cont(t->f.cl, s), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_wrongtype_is_failed_precondition),
		cmocka_unit_test(test_repeated_drop_is_ok),
		cmocka_unit_test(test_bad_filter_on_missing_collection),
		cmocka_unit_test(test_no_shard_answers_is_ok_partial),
	};

	return cmocka_run_group_tests(tests, group_setup, tu_group_teardown);
}
