/*
 * test_delete.c - Delete removes elements from Redis and from search.
 *
 * Checked in Redis directly (VEMB on the owner shard answers nil, VCARD
 * drops) and through Search (a deleted id never comes back, even when the
 * query is its own vector).  Deleting what is not there is not an error:
 * the item says WRITE_NOT_FOUND and the call succeeds, which is what makes
 * a retried Delete safe.
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
#define NITEMS 60
#define NDEL 20              /* the first NDEL ids are deleted */
#define DIM 8
#define COLL "del"

struct del {
	struct tu_fixture f;
	char ids[NITEMS][16];
	const char *idp[NITEMS];
	float vec[NITEMS][DIM];
};

static int
group_setup(void **state)
{
	vs_item items[NITEMS];
	struct del *t;
	int i;

	if ((t = tu_state_new(sizeof(*t), NSHARDS, NULL)) == NULL)
		return -1;
	tu_items_make(items, NITEMS, t->ids[0], sizeof(t->ids[0]), t->vec[0],
	    DIM, "d-%02d", 0x5eed0003);
	for (i = 0; i < NITEMS; i++)
		t->idp[i] = t->ids[i];
	if (tu_insert_new(t->f.cli, COLL, items, NITEMS) != 0) {
		tu_state_free(t);
		return -1;
	}
	*state = t;
	return 0;
}

static uint32_t
owner(const char *id)
{
	return vs_shard_of(id, strlen(id), NSHARDS);
}

static long long
total_card(struct del *t)
{
	long long sum = 0, n;
	int s;

	for (s = 0; s < NSHARDS; s++) {
		n = h_vcard(t->f.cl, s, COLL);
		assert_true(n >= 0);
		sum += n;
	}
	return sum;
}

static void
test_delete_removes_from_redis(void **state)
{
	struct del *t = *state;
	vs_write_result *r = NULL;
	int i, rv;

	assert_int_equal(total_card(t), NITEMS);
	/* Present before, so "absent after" means the delete did it. */
	for (i = 0; i < NDEL; i++)
		assert_int_equal(h_vemb_present(t->f.cl, (int)owner(t->ids[i]),
		    COLL, t->ids[i]), 1);

	rv = vs_delete(t->f.cli, COLL, t->idp, NDEL, &r);
	if (rv != VS_OK)
		fail_msg("delete: %s %s", vs_code_name(rv), vs_errmsg());
	assert_non_null(r);
	assert_int_equal(r->n_items, NDEL);
	assert_int_equal(r->deleted, NDEL);
	assert_int_equal(r->not_found + r->failed, 0);
	for (i = 0; i < NDEL; i++) {
		assert_string_equal(r->items[i].id, t->ids[i]);
		assert_int_equal(r->items[i].outcome, VS_WRITE_DELETED);
		assert_int_equal(r->items[i].shard, owner(t->ids[i]));
	}
	vs_write_result_free(r);

	for (i = 0; i < NITEMS; i++)
		assert_int_equal(h_vemb_present(t->f.cl, (int)owner(t->ids[i]),
		    COLL, t->ids[i]), i >= NDEL);
	assert_int_equal(total_card(t), NITEMS - NDEL);
}

/* Runs after the delete above: a deleted id never comes back. */
static void
test_deleted_not_in_search(void **state)
{
	struct del *t = *state;
	vs_search_params p = { COLL, NULL, DIM, NITEMS, 0, 1 };
	vs_search_result *r = NULL;
	size_t j;
	int i, rv, idx;

	for (i = 0; i < NDEL; i++) {
		p.vector = t->vec[i];
		rv = vs_search(t->f.cli, &p, &r);
		if (rv != VS_OK)
			fail_msg("search: %s %s", vs_code_name(rv),
			    vs_errmsg());
		/* k exceeds what is left, so everything left is returned;
		 * none of it may be a deleted id. */
		assert_int_equal(r->n_hits, NITEMS - NDEL);
		for (j = 0; j < r->n_hits; j++) {
			idx = atoi(r->hits[j].id + 2);
			if (idx < NDEL)
				fail_msg("deleted %s returned for query %s",
				    r->hits[j].id, t->ids[i]);
		}
		vs_search_result_free(r);
		r = NULL;
	}
}

static void
test_delete_missing_is_not_found(void **state)
{
	struct del *t = *state;
	/* An already deleted id, a never inserted one, a live one. */
	const char *ids[] = { t->ids[0], "never-there", t->ids[NITEMS - 1] };
	vs_write_result *r = NULL;
	int rv;

	rv = vs_delete(t->f.cli, COLL, ids, 3, &r);
	if (rv != VS_OK)
		fail_msg("delete: %s %s", vs_code_name(rv), vs_errmsg());
	assert_non_null(r);
	assert_int_equal(r->n_items, 3);
	assert_int_equal(r->items[0].outcome, VS_WRITE_NOT_FOUND);
	assert_int_equal(r->items[1].outcome, VS_WRITE_NOT_FOUND);
	assert_string_equal(r->items[1].id, "never-there");
	assert_int_equal(r->items[2].outcome, VS_WRITE_DELETED);
	assert_int_equal(r->not_found, 2);
	assert_int_equal(r->deleted, 1);
	assert_int_equal(r->failed, 0);
	vs_write_result_free(r);
	r = NULL;
	assert_int_equal(h_vemb_present(t->f.cl,
	    (int)owner(t->ids[NITEMS - 1]), COLL, t->ids[NITEMS - 1]), 0);

	/* A collection that never existed: every id is simply not found. */
	rv = vs_delete(t->f.cli, "no-such-collection", ids, 3, &r);
	if (rv != VS_OK)
		fail_msg("delete: %s %s", vs_code_name(rv), vs_errmsg());
	assert_int_equal(r->not_found, 3);
	assert_int_equal(r->deleted + r->failed, 0);
	vs_write_result_free(r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_delete_removes_from_redis),
		cmocka_unit_test(test_deleted_not_in_search),
		cmocka_unit_test(test_delete_missing_is_not_found),
	};

	return cmocka_run_group_tests(tests, group_setup,
	    tu_group_teardown);
}
