/*
 * test_frozen.c - a frozen shard (SIGSTOP) holds at most half the workers,
 * for at most --shard-timeout-ms, and the shard timeout is what opens its
 * breaker (GitHub issue 12, findings 1 and 2).
 *
 * What users rely on:
 *   - workers: with one shard of 3 frozen and WORKERS Searches with a long
 *     deadline waiting on it (as many as vsetd has workers), an Insert whose
 *     ids all belong to healthy shards still answers OK well within 1 s,
 *     and a Search with a 200 ms deadline answers OK, partial (the frozen
 *     shard failed or timed out, every other shard ok) within its deadline
 *     + the documented margin.  The long Searches themselves answer
 *     partial: the first half at about the shard timeout, the others as
 *     soon as the stall rule lets them go;
 *   - shard timeout: a call with a deadline far beyond --shard-timeout-ms
 *     answers at about the shard timeout, the frozen shard counted
 *     timed_out (DEADLINE_EXCEEDED); after VSD_BREAKER_THRESHOLD (3) such
 *     calls the breaker is open and the next call skips the shard at once,
 *     counted failed with UNAVAILABLE ("circuit open ..."), and an Insert
 *     to it fails at once with UNAVAILABLE (finding 10).
 * The shard is always continued again (SIGCONT) before an assertion can
 * end a test, and the next test starts from full answers.
 * Timings are printed as TAP comments ("# frozen: insert ... ms").
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "rel_data.h"
#include "rel_rig.h"
#include "vsetd.h"

#define NSHARDS 3
#define VICTIM 2
#define NITEMS 300
#define DIM 16
#define COLL "frozen"
#define K 10
#define WORKERS 4               /* vsetd's default --workers */
#define LONG_DEADLINE_MS 5000
#define SHORT_DEADLINE_MS 200
#define INSERT_BOUND_MS 1000    /* "well within 1 s" */
#define SHARD_TIMEOUT_MS 1000   /* the rig's --shard-timeout-ms */
#define SHARD_TIMEOUT_ARG "1000"
#define EARLY_MS 50             /* a timeout may end this much early (clock) */
#define MARGIN_MS 250           /* VS_REPLY_GRACE_MS: the documented margin */
#define SKIP_BOUND_MS 200       /* a breaker skip answers "at once" */
#define THRESHOLD 3             /* VSD_BREAKER_THRESHOLD */
#define SETTLE_MS 100           /* let the long Searches reach the shard */
#define RECOVER_MS 3000
#define NINSERT 5

struct state {
	struct rel_rig rig;
};

struct waiter {
	pthread_t th;
	const struct state *s;
	int idx;
	int rv, partial;
	uint32_t ok;
	int64_t dur_ms;
};

static int
group_setup(void **st)
{
	static const char *const args[] = { "--shard-timeout-ms",
	    SHARD_TIMEOUT_ARG, NULL };
	struct state *s;

	if (rel_rig_new(st, sizeof(*s), "frozen", NSHARDS, NULL, NULL,
	    args) != 0)
		return -1;
	s = *st;
	s->rig.d = rel_data_new("f", NITEMS, DIM, NSHARDS, 0xf402e);
	return rel_rig_load(&s->rig, COLL, 3000);
}

/* One long Search on its own client. */
static void *
long_search(void *arg)
{
	struct waiter *w = arg;
	vs_search_result *res = NULL;
	vs_search_params sp;
	vs_client *cli = NULL;
	int64_t t;

	w->rv = rel_connect(&cli, w->s->rig.v.url, LONG_DEADLINE_MS);
	if (w->rv != VS_OK)
		return NULL;
	rel_search_params(&sp, w->s->rig.d, COLL, (size_t)w->idx, K);
	t = tp_now_ms();
	w->rv = vs_search(cli, &sp, &res);
	w->dur_ms = tp_now_ms() - t;
	if (res != NULL) {
		w->partial = res->partial;
		w->ok = res->shards.ok;
	}
	vs_search_result_free(res);
	vs_close(cli);
	return NULL;
}

static void
test_frozen_holds_half_the_workers(void **st)
{
	struct state *s = *st;
	struct waiter w[WORKERS];
	vs_item items[NINSERT];
	vs_write_result *wr = NULL;
	vs_search_result *res = NULL;
	vs_search_params sp;
	int64_t t, ins_ms, srch_ms;
	int i, n = 0, ins_rv, srch_rv, srch_partial = -1, victim_ok = -1;
	uint32_t srch_ok = 0, ins_added = 0;

	for (i = 0; i < NITEMS && n < NINSERT; i++)
		if (s->rig.d->owner[i] != VICTIM)
			items[n++] = s->rig.d->items[i];
	assert_int_equal(n, NINSERT);

	assert_int_equal(tp_redis_stop(&s->rig.shard[VICTIM]), 0);
	for (i = 0; i < WORKERS; i++) {
		memset(&w[i], 0, sizeof(w[i]));
		w[i].s = s;
		w[i].idx = i;
		if (pthread_create(&w[i].th, NULL, long_search, &w[i]) != 0) {
			tp_redis_cont(&s->rig.shard[VICTIM]);
			fail_msg("pthread_create");
		}
	}
	tp_sleep_ms(SETTLE_MS);

	/* Every worker may be waiting on the frozen shard now. */
	vs_set_timeout(s->rig.cli, LONG_DEADLINE_MS);
	t = tp_now_ms();
	ins_rv = vs_insert(s->rig.cli, COLL, items, NINSERT, &wr);
	ins_ms = tp_now_ms() - t;
	if (wr != NULL)
		ins_added = wr->added + wr->updated;
	vs_write_result_free(wr);

	vs_set_timeout(s->rig.cli, SHORT_DEADLINE_MS);
	rel_search_params(&sp, s->rig.d, COLL, 7, K);
	t = tp_now_ms();
	srch_rv = vs_search(s->rig.cli, &sp, &res);
	srch_ms = tp_now_ms() - t;
	if (res != NULL) {
		size_t e;

		srch_partial = res->partial;
		srch_ok = res->shards.ok;
		victim_ok = 1;
		for (e = 0; e < res->n_shard_errors; e++)
			if (res->shard_errors[e].shard == VICTIM)
				victim_ok = 0;
	}
	vs_search_result_free(res);

	for (i = 0; i < WORKERS; i++)
		pthread_join(w[i].th, NULL);
	assert_int_equal(tp_redis_cont(&s->rig.shard[VICTIM]), 0);

	fprintf(stderr, "# frozen: insert %s in %lld ms, %d-ms search %s "
	    "(partial %d, %u ok) in %lld ms\n", vs_code_name(ins_rv),
	    (long long)ins_ms, SHORT_DEADLINE_MS, vs_code_name(srch_rv),
	    srch_partial, srch_ok, (long long)srch_ms);
	for (i = 0; i < WORKERS; i++)
		fprintf(stderr, "# frozen: long search %d: %s partial %d "
		    "after %lld ms\n", i, vs_code_name(w[i].rv), w[i].partial,
		    (long long)w[i].dur_ms);

	assert_int_equal(ins_rv, VS_OK);
	assert_int_equal(ins_added, NINSERT);
	assert_true(ins_ms < INSERT_BOUND_MS);
	assert_int_equal(srch_rv, VS_OK);
	assert_int_equal(srch_partial, 1);
	assert_int_equal(srch_ok, NSHARDS - 1);
	assert_int_equal(victim_ok, 0);
	assert_true(srch_ms <= SHORT_DEADLINE_MS + MARGIN_MS);
	for (i = 0; i < WORKERS; i++) {
		assert_int_equal(w[i].rv, VS_OK);
		assert_int_equal(w[i].partial, 1);
		assert_int_equal(w[i].ok, NSHARDS - 1);
		/* bounded by the shard timeout, not the 5 s deadline */
		assert_true(w[i].dur_ms <= SHARD_TIMEOUT_MS + MARGIN_MS);
	}
	assert_true(rel_rig_wait_full(&s->rig, COLL, K, RECOVER_MS) >= 0);
}

static void
test_shard_timeout_opens_breaker(void **st)
{
	struct state *s = *st;
	vs_search_result *res;
	vs_search_params sp;
	int64_t t, dur[THRESHOLD + 1];
	int rv[THRESHOLD + 1], i;
	uint32_t timed_out[THRESHOLD + 1], failed[THRESHOLD + 1];
	int code[THRESHOLD + 1], ins_rv, ins_outcome = -1, ins_code = -1;
	char msg[THRESHOLD + 1][200];
	vs_write_result *wr = NULL;
	int64_t ins_ms;
	size_t v;

	for (v = 0; v < NITEMS && s->rig.d->owner[v] != VICTIM; v++)
		;
	assert_true(v < NITEMS);

	assert_true(rel_rig_wait_full(&s->rig, COLL, K, RECOVER_MS) >= 0);
	assert_int_equal(tp_redis_stop(&s->rig.shard[VICTIM]), 0);
	vs_set_timeout(s->rig.cli, LONG_DEADLINE_MS);
	for (i = 0; i <= THRESHOLD; i++) {
		rel_search_params(&sp, s->rig.d, COLL, (size_t)i, K);
		res = NULL;
		t = tp_now_ms();
		rv[i] = vs_search(s->rig.cli, &sp, &res);
		dur[i] = tp_now_ms() - t;
		timed_out[i] = failed[i] = 0;
		code[i] = -1;
		msg[i][0] = '\0';
		if (res != NULL) {
			timed_out[i] = res->shards.timed_out;
			failed[i] = res->shards.failed;
			if (res->n_shard_errors == 1 &&
			    res->shard_errors[0].shard == VICTIM) {
				code[i] = res->shard_errors[0].code;
				snprintf(msg[i], sizeof(msg[i]), "%s",
				    res->shard_errors[0].message);
			}
		}
		vs_search_result_free(res);
		fprintf(stderr, "# shard timeout: call %d: %s after %lld ms, "
		    "timed_out %u failed %u: %s %s\n", i, vs_code_name(rv[i]),
		    (long long)dur[i], timed_out[i], failed[i],
		    vs_code_name(code[i]), msg[i]);
	}
	/* An Insert to the skipped shard (breaker opened by timeouts). */
	t = tp_now_ms();
	ins_rv = vs_insert(s->rig.cli, COLL, &s->rig.d->items[v], 1, &wr);
	ins_ms = tp_now_ms() - t;
	if (wr != NULL && wr->n_items == 1) {
		ins_outcome = wr->items[0].outcome;
		ins_code = wr->items[0].code;
	}
	vs_write_result_free(wr);
	fprintf(stderr, "# shard timeout: insert to the skipped shard: %s "
	    "after %lld ms: %s\n", vs_code_name(ins_rv), (long long)ins_ms,
	    vs_errmsg());
	assert_int_equal(tp_redis_cont(&s->rig.shard[VICTIM]), 0);

	for (i = 0; i < THRESHOLD; i++) {
		assert_int_equal(rv[i], VS_OK);
		assert_true(dur[i] >= SHARD_TIMEOUT_MS - EARLY_MS);
		assert_true(dur[i] <= SHARD_TIMEOUT_MS + MARGIN_MS);
		assert_int_equal(timed_out[i], 1);
		assert_int_equal(failed[i], 0);
		assert_int_equal(code[i], VS_DEADLINE_EXCEEDED);
	}
	/* The breaker is open: skipped at once, failed, UNAVAILABLE. */
	assert_int_equal(rv[THRESHOLD], VS_OK);
	assert_true(dur[THRESHOLD] < SKIP_BOUND_MS);
	assert_int_equal(timed_out[THRESHOLD], 0);
	assert_int_equal(failed[THRESHOLD], 1);
	assert_int_equal(code[THRESHOLD], VS_UNAVAILABLE);
	assert_non_null(strstr(msg[THRESHOLD], "circuit open"));
	assert_int_equal(ins_rv, VS_UNAVAILABLE);
	assert_int_equal(ins_outcome, VS_WRITE_FAILED);
	assert_int_equal(ins_code, VS_UNAVAILABLE);
	assert_true(ins_ms < SKIP_BOUND_MS);

	assert_true(rel_rig_wait_full(&s->rig, COLL, K, RECOVER_MS) >= 0);
	assert_true(tp_proc_alive(&s->rig.v.p));
	assert_int_equal(tp_vsetd_term(&s->rig.v, 5000), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_frozen_holds_half_the_workers),
		cmocka_unit_test(test_shard_timeout_opens_breaker),
	};

	return cmocka_run_group_tests(tests, group_setup, rel_rig_teardown);
}
