/*
 * test_search.c - fanned-out search agrees with a brute-force cosine top-k.
 *
 * The test keeps every vector it inserted, so for any query it can compute
 * the true top-k (score = (1 + cos)/2, Redis's 1 - cosine_distance/2) and
 * the true score of every returned id.  What users rely on and what is
 * checked: high recall against exact search (HNSW over 500 items with the
 * default EF is near exact; Q8 quantization costs a little), scores that
 * are the cosine score within quantization error, the documented order
 * (score desc, ties by id asc, including ties across shards), each id at
 * most once, and the shard each hit names being its owner.
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
#define NITEMS 500
#define DIM 16
#define NQUERIES 20
#define K 10
#define COLL "search"
#define SCORE_TOL 1e-2       /* Q8 quantization */
#define MIN_RECALL 0.9

struct search {
	struct tu_fixture f;
	char ids[NITEMS][16];
	float vec[NITEMS][DIM];
};

static int
group_setup(void **state)
{
	vs_item items[NITEMS];
	struct search *t;

	if ((t = tu_state_new(sizeof(*t), NSHARDS, NULL)) == NULL)
		return -1;
	tu_items_make(items, NITEMS, t->ids[0], sizeof(t->ids[0]), t->vec[0],
	    DIM, "s-%04d", 0x5eed0002);
	if (tu_insert_new(t->f.cli, COLL, items, NITEMS) != 0) {
		tu_state_free(t);
		return -1;
	}
	*state = t;
	return 0;
}

/* "s-0123" -> 123, the index into t->vec. */
static int
id_index(const char *id)
{
	int i;

	if (strncmp(id, "s-", 2) != 0)
		return -1;
	i = atoi(id + 2);
	return i >= 0 && i < NITEMS ? i : -1;
}

/* Indices of the exact top k of q, best first, into top[0..k). */
static void
brute_topk(struct search *t, const float *q, int k, int *top)
{
	double best[K], s;
	int n = 0, i, j;

	for (i = 0; i < NITEMS; i++) {
		s = tu_cos_score(q, t->vec[i], DIM);
		if (n == k && s <= best[k - 1])
			continue;
		j = n < k ? n++ : k - 1;
		while (j > 0 && best[j - 1] < s) {
			best[j] = best[j - 1];
			top[j] = top[j - 1];
			j--;
		}
		best[j] = s;
		top[j] = i;
	}
}

/* Checks every answer must pass: order, owners, true scores, no repeats. */
static void
check_hits(struct search *t, const float *q, const vs_search_result *r)
{
	char seen[NITEMS] = { 0 };
	double truth;
	long bad;
	size_t i;
	int idx;

	assert_false(r->partial);
	assert_int_equal(r->shards.total, NSHARDS);
	assert_int_equal(r->shards.ok, NSHARDS);
	assert_int_equal(r->shards.failed + r->shards.timed_out, 0);
	bad = tu_first_unsorted(r);
	if (bad >= 0)
		fail_msg("out of order at %ld: %s %.9f then %s %.9f", bad,
		    r->hits[bad].id, r->hits[bad].score, r->hits[bad + 1].id,
		    r->hits[bad + 1].score);
	for (i = 0; i < r->n_hits; i++) {
		idx = id_index(r->hits[i].id);
		if (idx < 0)
			fail_msg("unknown id \"%s\"", r->hits[i].id);
		if (seen[idx]++)
			fail_msg("id %s returned twice", r->hits[i].id);
		assert_int_equal(r->hits[i].shard,
		    vs_shard_of(r->hits[i].id, strlen(r->hits[i].id), NSHARDS));
		truth = tu_cos_score(q, t->vec[idx], DIM);
		if (r->hits[i].score < truth - SCORE_TOL ||
		    r->hits[i].score > truth + SCORE_TOL)
			fail_msg("%s: score %.5f, true cosine score %.5f",
			    r->hits[i].id, r->hits[i].score, truth);
		assert_true(r->hits[i].score >= 0.0 &&
		    r->hits[i].score <= 1.0 + 1e-9);
	}
}

static void
test_recall_against_brute_force(void **state)
{
	struct search *t = *state;
	vs_search_params p = { COLL, NULL, DIM, K, 0, 0 };
	vs_search_result *r = NULL;
	uint64_t seed = 0x9e77;
	float q[DIM];
	int top[K], qi, i, rv, hit, sum = 0;
	size_t j;
	double recall;

	p.vector = q;
	for (qi = 0; qi < NQUERIES; qi++) {
		tu_rand_vec(&seed, q, DIM);
		rv = vs_search(t->f.cli, &p, &r);
		if (rv != VS_OK)
			fail_msg("query %d: %s %s", qi, vs_code_name(rv),
			    vs_errmsg());
		assert_int_equal(r->n_hits, K);
		check_hits(t, q, r);
		brute_topk(t, q, K, top);
		for (i = 0; i < K; i++) {
			hit = 0;
			for (j = 0; j < r->n_hits; j++)
				hit |= id_index(r->hits[j].id) == top[i];
			sum += hit;
		}
		vs_search_result_free(r);
		r = NULL;
	}
	recall = (double)sum / (NQUERIES * K);
	fprintf(stderr, "# recall@%d over %d queries: %.3f\n", K, NQUERIES,
	    recall);
	assert_true(recall >= MIN_RECALL);
}

/* A stored vector finds itself first, with a score of (nearly) 1. */
static void
test_exact_vector_is_top1(void **state)
{
	struct search *t = *state;
	vs_search_params p = { COLL, NULL, DIM, K, 0, 1 };
	vs_search_result *r = NULL;
	int i, idx, rv;

	for (i = 0; i < 10; i++) {
		idx = (i * 53 + 7) % NITEMS;
		p.vector = t->vec[idx];
		rv = vs_search(t->f.cli, &p, &r);
		if (rv != VS_OK)
			fail_msg("query %s: %s %s", t->ids[idx],
			    vs_code_name(rv), vs_errmsg());
		assert_true(r->n_hits > 0);
		assert_string_equal(r->hits[0].id, t->ids[idx]);
		assert_true(r->hits[0].score > 1.0 - SCORE_TOL);
		check_hits(t, t->vec[idx], r);
		vs_search_result_free(r);
		r = NULL;
	}
}

/* k=0 means 10; larger k merges more from every shard; k=1 the best. */
static void
test_k_values(void **state)
{
	static const uint32_t ks[] = { 0, 1, 3, 50, 200 };
	struct search *t = *state;
	vs_search_params p = { COLL, NULL, DIM, 0, 0, 0 };
	vs_search_result *r = NULL;
	size_t i, want;
	int rv;

	p.vector = t->vec[42];
	for (i = 0; i < sizeof(ks) / sizeof(ks[0]); i++) {
		p.k = ks[i];
		want = ks[i] == 0 ? 10 : ks[i];
		rv = vs_search(t->f.cli, &p, &r);
		if (rv != VS_OK)
			fail_msg("k=%u: %s %s", ks[i], vs_code_name(rv),
			    vs_errmsg());
		assert_int_equal(r->n_hits, want);
		assert_string_equal(r->hits[0].id, t->ids[42]);
		check_hits(t, t->vec[42], r);
		vs_search_result_free(r);
		r = NULL;
	}
}

/* Identical vectors under many ids, spread over the shards: every score
 * ties, so the merged order must be by id ascending across shards. */
static void
test_ties_ordered_by_id(void **state)
{
	static const char *const names[] = {
		"tie-k", "tie-b", "tie-z", "tie-a", "tie-m", "tie-c",
		"tie-y", "tie-d", "tie-q", "tie-e", "tie-x", "tie-f",
	};
	enum { N = sizeof(names) / sizeof(names[0]) };
	struct search *t = *state;
	vs_item items[N];
	vs_search_params p = { "ties", NULL, DIM, N, 0, 1 };
	vs_search_result *r = NULL;
	vs_write_result *w = NULL;
	uint32_t shards_used = 0;
	size_t i;
	int rv;

	for (i = 0; i < N; i++) {
		items[i].id = names[i];
		items[i].vector = t->vec[0];
		items[i].dim = DIM;
		items[i].attrs_json = NULL;
		shards_used |= 1u << vs_shard_of(names[i], strlen(names[i]),
		    NSHARDS);
	}
	/* The test means something only if the ties span shards. */
	assert_true(shards_used != 1u && shards_used != 2u &&
	    shards_used != 4u);
	rv = vs_insert(t->f.cli, "ties", items, N, &w);
	if (rv != VS_OK)
		fail_msg("insert: %s %s", vs_code_name(rv), vs_errmsg());
	vs_write_result_free(w);

	p.vector = t->vec[0];
	rv = vs_search(t->f.cli, &p, &r);
	if (rv != VS_OK)
		fail_msg("search: %s %s", vs_code_name(rv), vs_errmsg());
	assert_int_equal(r->n_hits, N);
	for (i = 0; i < r->n_hits; i++) {
		fprintf(stderr, "# %s %.12f shard %u\n", r->hits[i].id,
		    r->hits[i].score, r->hits[i].shard);
		assert_true(r->hits[i].score == r->hits[0].score);
		if (i > 0)
			assert_true(strcmp(r->hits[i - 1].id,
			    r->hits[i].id) < 0);
	}
	vs_search_result_free(r);
}

/* A collection nobody wrote to is empty, not an error. */
static void
test_missing_collection_is_empty(void **state)
{
	struct search *t = *state;
	vs_search_params p = { "never-written", NULL, DIM, K, 0, 1 };
	vs_search_result *r = NULL;
	int rv;

	p.vector = t->vec[0];
	rv = vs_search(t->f.cli, &p, &r);
	if (rv != VS_OK)
		fail_msg("search: %s %s", vs_code_name(rv), vs_errmsg());
	assert_int_equal(r->n_hits, 0);
	assert_false(r->partial);
	assert_int_equal(r->shards.ok, NSHARDS);
	vs_search_result_free(r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_recall_against_brute_force),
		cmocka_unit_test(test_exact_vector_is_top1),
		cmocka_unit_test(test_k_values),
		cmocka_unit_test(test_ties_ordered_by_id),
		cmocka_unit_test(test_missing_collection_is_empty),
	};

	return cmocka_run_group_tests(tests, group_setup,
	    tu_group_teardown);
}
