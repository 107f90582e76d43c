/*
 * test_routing.c - every id lands on exactly the shard vs_shard_of() names.
 *
 * Users (and the bench's --direct mode) rely on the routing function being
 * the contract: an element must live on its owner shard and nowhere else,
 * or deletes and per-shard reads would miss it.  The check reads Redis
 * directly (VEMB on every shard, VCARD), not through vsetd, so a server
 * that routes consistently but wrongly still fails.
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
#define NITEMS 200
#define DIM 8

struct routing {
	struct tu_fixture f;
	char ids[NITEMS][16];
	float vec[NITEMS][DIM];
	vs_item items[NITEMS];
};

static int
group_setup(void **state)
{
	struct routing *t;

	if ((t = tu_state_new(sizeof(*t), NSHARDS, NULL)) == NULL)
		return -1;
	tu_items_make(t->items, NITEMS, t->ids[0], sizeof(t->ids[0]),
	    t->vec[0], DIM, "item-%03d", 0x5eed0001);
	*state = t;
	return 0;
}

/* Every id is on its owner shard and on no other; per-shard VCARD matches
 * the owner count, so nothing else is there either. */
static void
check_placement(struct routing *t, const char *coll)
{
	long long want[NSHARDS] = { 0 }, sum = 0, n;
	uint32_t owner;
	int i, s, present;

	for (i = 0; i < NITEMS; i++) {
		owner = vs_shard_of(t->ids[i], strlen(t->ids[i]), NSHARDS);
		want[owner]++;
		for (s = 0; s < NSHARDS; s++) {
			present = h_vemb_present(t->f.cl, s, coll, t->ids[i]);
			if (present != ((uint32_t)s == owner))
				fail_msg("%s: on shard %d present=%d, owner %u",
				    t->ids[i], s, present, owner);
		}
	}
	for (s = 0; s < NSHARDS; s++) {
		n = h_vcard(t->f.cl, s, coll);
		assert_int_equal(n, want[s]);
		/* 200 ids over 3 shards: an empty shard means routing is
		 * degenerate (e.g. everything on shard 0). */
		assert_true(n > 0);
		sum += n;
	}
	assert_int_equal(sum, NITEMS);
}

static void
check_outcomes(struct routing *t, const vs_write_result *r, size_t off,
    size_t n, int outcome)
{
	size_t i;

	assert_non_null(r);
	assert_int_equal(r->n_items, n);
	assert_int_equal(r->failed, 0);
	for (i = 0; i < n; i++) {
		const char *id = t->ids[off + i];

		assert_string_equal(r->items[i].id, id);
		assert_int_equal(r->items[i].outcome, outcome);
		assert_int_equal(r->items[i].shard,
		    vs_shard_of(id, strlen(id), NSHARDS));
	}
	if (outcome == VS_WRITE_ADDED) {
		assert_int_equal(r->added, n);
		assert_int_equal(r->updated, 0);
	} else {
		assert_int_equal(r->added, 0);
		assert_int_equal(r->updated, n);
	}
}

static void
test_insert_one_batch(void **state)
{
	struct routing *t = *state;
	vs_write_result *r = NULL;
	int rv;

	rv = vs_insert(t->f.cli, "route1", t->items, NITEMS, &r);
	if (rv != VS_OK)
		fail_msg("insert: %s %s", vs_code_name(rv), vs_errmsg());
	check_outcomes(t, r, 0, NITEMS, VS_WRITE_ADDED);
	/* One batch touches every shard. */
	assert_int_equal(r->shards.total, NSHARDS);
	assert_int_equal(r->shards.ok, NSHARDS);
	vs_write_result_free(r);
	check_placement(t, "route1");
}

/* Many small batches, then the same ids again: WRITE_UPDATED, and still
 * one copy each, on the owner. */
static void
test_reinsert_updates_in_place(void **state)
{
	struct routing *t = *state;
	vs_write_result *r = NULL;
	size_t off, n;
	int rv, pass;

	for (pass = 0; pass < 2; pass++) {
		for (off = 0; off < NITEMS; off += n) {
			n = NITEMS - off < 37 ? NITEMS - off : 37;
			rv = vs_insert(t->f.cli, "route2", &t->items[off], n,
			    &r);
			if (rv != VS_OK)
				fail_msg("insert pass %d at %zu: %s %s", pass,
				    off, vs_code_name(rv), vs_errmsg());
			check_outcomes(t, r, off, n,
			    pass == 0 ? VS_WRITE_ADDED : VS_WRITE_UPDATED);
			vs_write_result_free(r);
			r = NULL;
		}
	}
	check_placement(t, "route2");
}

/* An update stores the new vector: a search with it finds the item first. */
static void
test_update_takes_new_vector(void **state)
{
	struct routing *t = *state;
	vs_search_params p = { "route2", NULL, DIM, 1, 0, 1 };
	vs_search_result *sr = NULL;
	vs_write_result *r = NULL;
	float v[DIM];
	vs_item it;
	int i, rv;

	/* The opposite of the old vector: its nearest neighbour was surely
	 * not item-007 before the update. */
	for (i = 0; i < DIM; i++)
		v[i] = -t->vec[7][i];
	it.id = t->ids[7];
	it.vector = v;
	it.dim = DIM;
	it.attrs_json = NULL;
	rv = vs_insert(t->f.cli, "route2", &it, 1, &r);
	if (rv != VS_OK)
		fail_msg("insert: %s %s", vs_code_name(rv), vs_errmsg());
	assert_int_equal(r->items[0].outcome, VS_WRITE_UPDATED);
	vs_write_result_free(r);

	p.vector = v;
	rv = vs_search(t->f.cli, &p, &sr);
	if (rv != VS_OK)
		fail_msg("search: %s %s", vs_code_name(rv), vs_errmsg());
	assert_int_equal(sr->n_hits, 1);
	assert_string_equal(sr->hits[0].id, t->ids[7]);
	assert_true(sr->hits[0].score > 0.99);
	vs_search_result_free(sr);
	memcpy(t->vec[7], v, sizeof(v));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_insert_one_batch),
		cmocka_unit_test(test_reinsert_updates_in_place),
		cmocka_unit_test(test_update_takes_new_vector),
	};

	return cmocka_run_group_tests(tests, group_setup,
	    tu_group_teardown);
}
