/* test_merge.c - merge order, ties, dedup and cut at K. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "merge.h"

#define H(id, score, shard) { id, sizeof(id) - 1, score, shard }

static void
test_order_by_score(void **state)
{
	struct vsd_hit h[] = {
		H("a", 0.5, 0), H("b", 0.9, 1), H("c", 0.7, 2), H("d", 0.8, 0),
	};
	size_t n;

	(void)state;
	n = vsd_merge_topk(h, 4, 3);
	assert_int_equal(n, 3);
	assert_string_equal(h[0].id, "b");
	assert_string_equal(h[1].id, "d");
	assert_string_equal(h[2].id, "c");
}

/* Equal scores order by id bytewise, shorter first; so the answer does not
 * depend on which shard replied first. */
static void
test_ties_by_id(void **state)
{
	struct vsd_hit h1[] = {
		H("b", 0.5, 0), H("ab", 0.5, 1), H("a", 0.5, 2), H("z", 0.9, 1),
	};
	struct vsd_hit h2[] = {
		H("a", 0.5, 2), H("z", 0.9, 1), H("b", 0.5, 0), H("ab", 0.5, 1),
	};
	const char *want[] = { "z", "a", "ab", "b" };
	size_t i;

	(void)state;
	assert_int_equal(vsd_merge_topk(h1, 4, 10), 4);
	assert_int_equal(vsd_merge_topk(h2, 4, 10), 4);
	for (i = 0; i < 4; i++) {
		assert_string_equal(h1[i].id, want[i]);
		assert_string_equal(h2[i].id, want[i]);
	}
}

static void
test_dedup_keeps_best(void **state)
{
	struct vsd_hit h[] = {
		H("x", 0.6, 0), H("y", 0.7, 1), H("x", 0.8, 1), H("w", 0.1, 2),
	};

	(void)state;
	assert_int_equal(vsd_merge_topk(h, 4, 10), 3);
	assert_string_equal(h[0].id, "x");
	assert_true(h[0].score == 0.8);
	assert_int_equal(h[0].shard, 1);
	assert_string_equal(h[1].id, "y");
	assert_string_equal(h[2].id, "w");
}

static void
test_empty_and_zero_k(void **state)
{
	struct vsd_hit h[] = { H("a", 0.5, 0) };

	(void)state;
	assert_int_equal(vsd_merge_topk(h, 0, 10), 0);
	assert_int_equal(vsd_merge_topk(h, 1, 0), 0);
}

/* Against a brute force on random shard answers: each shard's list is
 * already its own top; the merge must equal the top K of everything. */
static void
test_random_against_full_sort(void **state)
{
	enum { SHARDS = 5, PER = 40, K = 25 };
	static char ids[SHARDS * PER][8];
	struct vsd_hit h[SHARDS * PER], all[SHARDS * PER];
	size_t i, j, n;
	unsigned seed = 12345;

	(void)state;
	for (i = 0; i < SHARDS * PER; i++) {
		snprintf(ids[i], sizeof(ids[i]), "e%zu", i);
		seed = seed * 1103515245 + 12345;
		h[i].id = ids[i];
		h[i].id_len = strlen(ids[i]);
		/* coarse scores so that ties happen */
		h[i].score = (double)((seed >> 16) % 50) / 50.0;
		h[i].shard = (uint32_t)(i % SHARDS);
	}
	memcpy(all, h, sizeof(h));
	n = vsd_merge_topk(h, SHARDS * PER, K);
	assert_int_equal(n, K);
	for (i = 0; i + 1 < n; i++)
		assert_true(vsd_hit_cmp(&h[i], &h[i + 1]) < 0);
	/* nothing left out beats the K-th */
	for (j = 0; j < SHARDS * PER; j++) {
		int kept = 0;

		for (i = 0; i < n; i++)
			kept |= strcmp(all[j].id, h[i].id) == 0;
		if (!kept)
			assert_true(vsd_hit_cmp(&all[j], &h[n - 1]) > 0);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_order_by_score),
		cmocka_unit_test(test_ties_by_id),
		cmocka_unit_test(test_dedup_keeps_best),
		cmocka_unit_test(test_empty_and_zero_k),
		cmocka_unit_test(test_random_against_full_sort),
	};

	return cmocka_run_group_tests_name("merge", tests, NULL, NULL);
}
