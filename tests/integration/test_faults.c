/*
 * test_faults.c - a dead or frozen shard degrades answers, never the server.
 *
 * What users rely on when a shard fails:
 *   - kill -9: Search still answers from the live shards, flagged partial,
 *     with the shard counted as failed; require_all turns that into
 *     UNAVAILABLE; and it stays fast (no per-request reconnect stall).
 *   - SIGSTOP (a shard that accepts but never answers): Search answers by
 *     the caller's deadline plus a small margin, counted as timed out;
 *     require_all gives DEADLINE_EXCEEDED; after SIGCONT full answers are
 *     back within a couple of seconds.
 *   - restart on the same port: full answers again within ~2 s.
 *   - writes: items owned by a dead shard fail (UNAVAILABLE) one by one,
 *     the others are written, and the call says UNAVAILABLE.
 * Every test starts from a healed cluster with the base data (re)loaded, so
 * the tests do not depend on each other's order.  The timing bounds are
 * the documented deadlines, measured around the client call; the measured
 * values are printed as TAP comments.
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
#define VICTIM 1             /* the shard we kill or stop */
#define NITEMS 300
#define DIM 8
#define COLL "faults"
#define K 20
#define FAST_DEADLINE_MS 1000  /* dead-shard searches must beat this */
#define SHORT_DEADLINE_MS 300  /* the deadline used against a frozen shard */
#define MARGIN_MS 250          /* allowed overshoot past a deadline */
#define RECOVER_MS 3000        /* "within a couple of seconds", with slack */

struct faults {
	struct tu_fixture f;
	char ids[NITEMS][16];
	float vec[NITEMS][DIM];
	vs_item items[NITEMS];
};

static uint32_t
owner(const char *id)
{
	return vs_shard_of(id, strlen(id), NSHARDS);
}

static int
group_setup(void **state)
{
	struct faults *t;

	if ((t = tu_state_new(sizeof(*t), NSHARDS, NULL)) == NULL)
		return -1;
	tu_items_make(t->items, NITEMS, t->ids[0], sizeof(t->ids[0]),
	    t->vec[0], DIM, "f-%03d", 0x5eed0004);
	*state = t;
	return 0;
}

/* Poll (bounded by max_ms) until a search is answered by every shard.
 * Returns the milliseconds it took, or -1. */
static int64_t
wait_full(struct faults *t, int64_t max_ms)
{
	vs_search_params p = { COLL, NULL, DIM, K, 0, 0 };
	vs_search_result *r = NULL;
	int64_t t0 = tu_now_ms(), now;
	int full;

	p.vector = t->vec[0];
	for (;;) {
		full = 0;
		if (vs_search(t->f.cli, &p, &r) == VS_OK) {
			full = !r->partial && r->shards.ok == NSHARDS;
			vs_search_result_free(r);
			r = NULL;
		}
		now = tu_now_ms();
		if (full)
			return now - t0;
		if (now - t0 > max_ms)
			return -1;
		tu_sleep_ms(20);
	}
}

/* Every shard up and answering, the base data on all of them. */
static int
test_setup(void **state)
{
	struct faults *t = *state;
	vs_write_result *r = NULL;
	int rv;

	vs_set_timeout(t->f.cli, TU_TIMEOUT_MS);
	if (h_shards_heal(t->f.cl) != 0 || wait_full(t, 10000) < 0) {
		fprintf(stderr, "# cluster did not heal\n");
		return -1;
	}
	rv = vs_insert(t->f.cli, COLL, t->items, NITEMS, &r);
	vs_write_result_free(r);
	if (rv != VS_OK) {
		fprintf(stderr, "# reload: %s %s\n", vs_code_name(rv),
		    vs_errmsg());
		return -1;
	}
	return 0;
}

static int
test_teardown(void **state)
{
	struct faults *t = *state;

	vs_set_timeout(t->f.cli, TU_TIMEOUT_MS);
	return h_shards_heal(t->f.cl);
}

/* No hit may come from the victim, by its own word or by routing. */
static void
check_no_victim_hits(const vs_search_result *r)
{
	size_t i;

	for (i = 0; i < r->n_hits; i++) {
		if (r->hits[i].shard == VICTIM || owner(r->hits[i].id) == VICTIM)
			fail_msg("hit %s (shard %u) from the missing shard",
			    r->hits[i].id, r->hits[i].shard);
	}
	assert_int_equal(tu_first_unsorted(r), -1);
}

static void
check_victim_error(const vs_search_result *r, int code)
{
	size_t i;

	for (i = 0; i < r->n_shard_errors; i++) {
		if (r->shard_errors[i].shard == VICTIM) {
			assert_int_equal(r->shard_errors[i].code, code);
			return;
		}
	}
	fail_msg("no shard error names shard %d", VICTIM);
}

static void
test_killed_shard_gives_partial(void **state)
{
	struct faults *t = *state;
	vs_search_params p = { COLL, NULL, DIM, K, 0, 0 };
	vs_search_result *r = NULL;
	int64_t t0, el, worst = 0, sum = 0;
	int i, rv;

	assert_int_equal(h_shard_kill(t->f.cl, VICTIM), 0);
	p.vector = t->vec[5];
	rv = vs_search(t->f.cli, &p, &r);
	if (rv != VS_OK)
		fail_msg("search: %s %s", vs_code_name(rv), vs_errmsg());
	assert_true(r->partial);
	assert_int_equal(r->shards.total, NSHARDS);
	assert_int_equal(r->shards.ok, NSHARDS - 1);
	assert_int_equal(r->shards.failed, 1);
	assert_int_equal(r->shards.timed_out, 0);
	/* 200 items on the live shards: k is still filled. */
	assert_int_equal(r->n_hits, K);
	check_no_victim_hits(r);
	check_victim_error(r, VS_UNAVAILABLE);
	vs_search_result_free(r);
	r = NULL;

	p.require_all = 1;
	rv = vs_search(t->f.cli, &p, &r);
	assert_int_equal(rv, VS_UNAVAILABLE);
	assert_null(r);
	if (!tu_has(vs_errmsg(), "shard"))
		fail_msg("message does not name the shard: \"%s\"",
		    vs_errmsg());

	/* With the shard dead, answers stay fast: no connect stall or
	 * deadline wait per request. */
	p.require_all = 0;
	vs_set_timeout(t->f.cli, FAST_DEADLINE_MS);
	for (i = 0; i < 50; i++) {
		p.vector = t->vec[i];
		t0 = tu_now_ms();
		rv = vs_search(t->f.cli, &p, &r);
		el = tu_now_ms() - t0;
		if (rv != VS_OK)
			fail_msg("search %d: %s %s", i, vs_code_name(rv),
			    vs_errmsg());
		assert_true(r->partial);
		assert_int_equal(r->shards.failed, 1);
		check_no_victim_hits(r);
		vs_search_result_free(r);
		r = NULL;
		if (el >= FAST_DEADLINE_MS)
			fail_msg("search %d took %lld ms, deadline %d", i,
			    (long long)el, FAST_DEADLINE_MS);
		worst = el > worst ? el : worst;
		sum += el;
	}
	fprintf(stderr, "# dead shard: 50 searches, mean %.1f ms, worst %lld "
	    "ms\n", sum / 50.0, (long long)worst);
}

static void
test_restarted_shard_rejoins(void **state)
{
	struct faults *t = *state;
	vs_search_params p = { COLL, NULL, DIM, K, 0, 0 };
	vs_search_result *r = NULL;
	vs_write_result *w = NULL;
	long long want = 0;
	int64_t el;
	int i, rv;

	assert_int_equal(h_shard_kill(t->f.cl, VICTIM), 0);
	/* Let vsetd see it dead (and open its breaker) first. */
	p.vector = t->vec[0];
	for (i = 0; i < 5; i++) {
		rv = vs_search(t->f.cli, &p, &r);
		assert_int_equal(rv, VS_OK);
		assert_true(r->partial);
		vs_search_result_free(r);
		r = NULL;
	}
	assert_int_equal(h_shard_restart(t->f.cl, VICTIM), 0);
	el = wait_full(t, 10000);
	fprintf(stderr, "# restarted shard back in full results after %lld "
	    "ms\n", (long long)el);
	assert_true(el >= 0);
	assert_true(el <= RECOVER_MS);

	/* It came back empty (no persistence); writes reach it again. */
	assert_int_equal(h_vcard(t->f.cl, VICTIM, COLL), 0);
	rv = vs_insert(t->f.cli, COLL, t->items, NITEMS, &w);
	if (rv != VS_OK)
		fail_msg("insert: %s %s", vs_code_name(rv), vs_errmsg());
	for (i = 0; i < NITEMS; i++) {
		if (owner(t->ids[i]) != VICTIM)
			continue;
		want++;
		assert_int_equal(w->items[i].outcome, VS_WRITE_ADDED);
	}
	vs_write_result_free(w);
	assert_int_equal(h_vcard(t->f.cl, VICTIM, COLL), want);
}

static void
test_stopped_shard_meets_deadline(void **state)
{
	struct faults *t = *state;
	vs_search_params p = { COLL, NULL, DIM, K, 0, 0 };
	vs_search_result *r = NULL;
	int64_t t0, el;
	int i, rv;

	assert_int_equal(h_shard_stop(t->f.cl, VICTIM), 0);
	vs_set_timeout(t->f.cli, SHORT_DEADLINE_MS);
	p.vector = t->vec[0];

	/* First with require_all, while vsetd still believes the shard is
	 * healthy: this one really waits for the deadline. */
	p.require_all = 1;
	t0 = tu_now_ms();
	rv = vs_search(t->f.cli, &p, &r);
	el = tu_now_ms() - t0;
	fprintf(stderr, "# frozen shard, require_all: %lld ms (deadline %d, "
	    "overshoot %lld ms)\n", (long long)el, SHORT_DEADLINE_MS,
	    (long long)(el - SHORT_DEADLINE_MS));
	assert_int_equal(rv, VS_DEADLINE_EXCEEDED);
	assert_null(r);
	if (!tu_has(vs_errmsg(), "shard"))
		fail_msg("message does not name the shard: \"%s\"",
		    vs_errmsg());
	assert_true(el <= SHORT_DEADLINE_MS + MARGIN_MS);

	/* Then several partial answers in a row: later calls must not queue
	 * behind the earlier calls' unanswered requests on the frozen shard
	 * (and once vsetd gives up on the shard, they come back early). */
	p.require_all = 0;
	for (i = 0; i < 4; i++) {
		p.vector = t->vec[i];
		t0 = tu_now_ms();
		rv = vs_search(t->f.cli, &p, &r);
		el = tu_now_ms() - t0;
		fprintf(stderr, "# frozen shard: search %d took %lld ms "
		    "(deadline %d, overshoot %lld ms)\n", i, (long long)el,
		    SHORT_DEADLINE_MS, (long long)(el - SHORT_DEADLINE_MS));
		if (rv != VS_OK)
			fail_msg("search %d: %s %s", i, vs_code_name(rv),
			    vs_errmsg());
		assert_true(el <= SHORT_DEADLINE_MS + MARGIN_MS);
		assert_true(r->partial);
		assert_int_equal(r->shards.total, NSHARDS);
		assert_int_equal(r->shards.ok, NSHARDS - 1);
		assert_int_equal(r->shards.timed_out, 1);
		assert_int_equal(r->shards.failed, 0);
		assert_int_equal(r->n_hits, K);
		check_no_victim_hits(r);
		check_victim_error(r, VS_DEADLINE_EXCEEDED);
		vs_search_result_free(r);
		r = NULL;
	}

	assert_int_equal(h_shard_cont(t->f.cl, VICTIM), 0);
	vs_set_timeout(t->f.cli, TU_TIMEOUT_MS);
	el = wait_full(t, 10000);
	fprintf(stderr, "# resumed shard back in full results after %lld "
	    "ms\n", (long long)el);
	assert_true(el >= 0);
	assert_true(el <= RECOVER_MS);
}

static void
test_writes_with_dead_shard(void **state)
{
	enum { N = 60 };
	struct faults *t = *state;
	char ids[N][16];
	const char *idp[N];
	vs_item items[N];
	vs_write_result *r = NULL;
	long long live_want[NSHARDS] = { 0 };
	int i, s, rv, ndead = 0;

	for (i = 0; i < N; i++) {
		snprintf(ids[i], sizeof(ids[i]), "w-%02d", i);
		idp[i] = ids[i];
		items[i] = t->items[i];
		items[i].id = ids[i];
		if (owner(ids[i]) == VICTIM)
			ndead++;
		else
			live_want[owner(ids[i])]++;
	}
	assert_true(ndead > 0 && ndead < N);
	assert_int_equal(h_shard_kill(t->f.cl, VICTIM), 0);

	rv = vs_insert(t->f.cli, "faults-w", items, N, &r);
	assert_int_equal(rv, VS_UNAVAILABLE);
	assert_true(vs_errmsg()[0] != '\0');
	assert_non_null(r);
	assert_int_equal(r->n_items, N);
	assert_int_equal(r->failed, ndead);
	assert_int_equal(r->added, N - ndead);
	for (i = 0; i < N; i++) {
		assert_string_equal(r->items[i].id, ids[i]);
		if (owner(ids[i]) == VICTIM) {
			assert_int_equal(r->items[i].outcome, VS_WRITE_FAILED);
			assert_int_equal(r->items[i].code, VS_UNAVAILABLE);
		} else {
			assert_int_equal(r->items[i].outcome, VS_WRITE_ADDED);
			assert_int_equal(h_vemb_present(t->f.cl,
			    (int)owner(ids[i]), "faults-w", ids[i]), 1);
		}
	}
	vs_write_result_free(r);
	r = NULL;
	for (s = 0; s < NSHARDS; s++) {
		if (s != VICTIM)
			assert_int_equal(h_vcard(t->f.cl, s, "faults-w"),
			    live_want[s]);
	}

	/* Deletes split the same way. */
	rv = vs_delete(t->f.cli, "faults-w", idp, N, &r);
	assert_int_equal(rv, VS_UNAVAILABLE);
	assert_non_null(r);
	assert_int_equal(r->failed, ndead);
	assert_int_equal(r->deleted, N - ndead);
	for (i = 0; i < N; i++) {
		assert_int_equal(r->items[i].outcome, owner(ids[i]) == VICTIM ?
		    VS_WRITE_FAILED : VS_WRITE_DELETED);
	}
	vs_write_result_free(r);
	for (s = 0; s < NSHARDS; s++) {
		if (s != VICTIM)
			assert_int_equal(h_vcard(t->f.cl, s, "faults-w"), 0);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_killed_shard_gives_partial,
		    test_setup, test_teardown),
		cmocka_unit_test_setup_teardown(test_restarted_shard_rejoins,
		    test_setup, test_teardown),
		cmocka_unit_test_setup_teardown(
		    test_stopped_shard_meets_deadline, test_setup,
		    test_teardown),
		cmocka_unit_test_setup_teardown(test_writes_with_dead_shard,
		    test_setup, test_teardown),
	};

	return cmocka_run_group_tests(tests, group_setup,
	    tu_group_teardown);
}
