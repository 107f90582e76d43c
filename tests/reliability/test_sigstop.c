/*
 * test_sigstop.c - a frozen shard (SIGSTOP) never holds a reply past the
 * deadline plus a small margin.
 *
 * A stopped Redis keeps its TCP connections and accepts new ones (the
 * kernel completes the handshake) but never answers: the worst kind of
 * shard failure, since nothing tells vsetd it is gone.  Users rely on:
 *   - every call returning by its deadline + MARGIN_MS (the client's
 *     documented grace, VS_REPLY_GRACE_MS), measured around the client
 *     call, over NCALLS calls with a DEADLINE_MS deadline;
 *   - status OK, partial, the frozen shard counted timed out (or failed),
 *     the other shards' hits all there;
 *   - require_all turning it into DEADLINE_EXCEEDED;
 *   - after SIGCONT, full answers again (bounded wait).
 * The overshoot (duration - deadline) is printed as TAP comments, twice:
 *   - over NCALLS calls in a row against the frozen shard
 *     ("# overshoot p50=..ms p99=..ms max=..ms").  Each waits for the
 *     deadline: a caller's own deadline never counts against the shard's
 *     breaker, and DEADLINE_MS is far below --shard-timeout-ms, which
 *     would (test_frozen.c);
 *   - over the calls that did wait the full deadline, gathered over NCYCLES
 *     SIGCONT/SIGSTOP cycles: "# waited overshoot p50= p99= max=".
 */
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
#define VICTIM 1
#define NITEMS 300
#define DIM 16
#define COLL "stop"
#define K 10
#define NCALLS 200
#define DEADLINE_MS 100
#define MARGIN_MS 250           /* VS_REPLY_GRACE_MS: the documented margin */
#define RECOVER_MS 3000
#define NCYCLES 12
#define MAX_WAITED 256

struct state {
	struct rel_rig rig;
};

static int
group_setup(void **st)
{
	static const char *const none[] = { NULL };
	struct state *s;

	if (rel_rig_new(st, sizeof(*s), "stop", NSHARDS, NULL, NULL, none) != 0)
		return -1;
	s = *st;
	s->rig.d = rel_data_new("s", NITEMS, DIM, NSHARDS, 0x5709);
	return rel_rig_load(&s->rig, COLL, 3000);
}

static void
test_sigstop_deadline(void **st)
{
	struct state *s = *st;
	static double over[NCALLS], wover[MAX_WAITED];
	double p50, p99, max;
	vs_search_result *res;
	vs_search_params sp;
	int64_t t, dur;
	int i, c, rv, nw, waited = 0;
	size_t h;

	assert_int_equal(tp_redis_stop(&s->rig.shard[VICTIM]), 0);
	vs_set_timeout(s->rig.cli, DEADLINE_MS);
	for (i = 0; i < NCALLS; i++) {
		rel_search_params(&sp, s->rig.d, COLL, i, K);
		res = NULL;
		t = tp_now_ms();
		rv = vs_search(s->rig.cli, &sp, &res);
		dur = tp_now_ms() - t;
		over[i] = (double)(dur - DEADLINE_MS);
		if (dur >= DEADLINE_MS * 9 / 10)
			waited++;
		if (rv != VS_OK || dur > DEADLINE_MS + MARGIN_MS)
			fprintf(stderr, "# call %d: %s %s after %lld ms\n", i,
			    vs_code_name(rv), vs_errmsg(), (long long)dur);
		assert_int_equal(rv, VS_OK);
		assert_true(dur <= DEADLINE_MS + MARGIN_MS);
		assert_int_equal(res->partial, 1);
		assert_int_equal(res->shards.ok, NSHARDS - 1);
		assert_int_equal(res->shards.timed_out + res->shards.failed, 1);
		assert_int_equal(res->n_hits, K);
		for (h = 0; h < res->n_hits; h++)
			assert_int_not_equal(res->hits[h].shard, VICTIM);
		vs_search_result_free(res);
	}
	p50 = rel_quantile(over, NCALLS, 0.50);
	p99 = rel_quantile(over, NCALLS, 0.99);
	max = over[NCALLS - 1];
	fprintf(stderr, "# overshoot p50=%.0fms p99=%.0fms max=%.0fms "
	    "(deadline %d ms, %d calls, %d waited for the frozen shard, "
	    "margin %d ms)\n", p50, p99, max, DEADLINE_MS, NCALLS, waited,
	    MARGIN_MS);

	/* require_all: a too-slow shard is DEADLINE_EXCEEDED, still bounded. */
	for (i = 0; i < 5; i++) {
		rel_search_params(&sp, s->rig.d, COLL, i, K);
		sp.require_all = 1;
		res = NULL;
		t = tp_now_ms();
		rv = vs_search(s->rig.cli, &sp, &res);
		dur = tp_now_ms() - t;
		vs_search_result_free(res);
		assert_int_equal(rv, VS_DEADLINE_EXCEEDED);
		assert_true(dur <= DEADLINE_MS + MARGIN_MS);
	}

	/* SIGCONT: full answers again, bounded. */
	assert_int_equal(tp_redis_cont(&s->rig.shard[VICTIM]), 0);
	t = rel_rig_wait_full(&s->rig, COLL, K, RECOVER_MS);
	fprintf(stderr, "# after SIGCONT: full answers in %lld ms\n",
	    (long long)t);
	assert_true(t >= 0);

	/* The calls that really wait, over stop/continue cycles (each call
	 * after a SIGSTOP waits for its deadline). */
	nw = 0;
	for (c = 0; c < NCYCLES; c++) {
		assert_int_equal(tp_redis_stop(&s->rig.shard[VICTIM]), 0);
		vs_set_timeout(s->rig.cli, DEADLINE_MS);
		for (i = 0; i < 10; i++) {
			rel_search_params(&sp, s->rig.d, COLL, i, K);
			res = NULL;
			t = tp_now_ms();
			rv = vs_search(s->rig.cli, &sp, &res);
			dur = tp_now_ms() - t;
			assert_int_equal(rv, VS_OK);
			assert_int_equal(res->partial, 1);
			vs_search_result_free(res);
			assert_true(dur <= DEADLINE_MS + MARGIN_MS);
			if (dur >= DEADLINE_MS * 9 / 10 && nw < MAX_WAITED)
				wover[nw++] = (double)(dur - DEADLINE_MS);
		}
		assert_int_equal(tp_redis_cont(&s->rig.shard[VICTIM]), 0);
		assert_true(rel_rig_wait_full(&s->rig, COLL, K, RECOVER_MS) >= 0);
	}
	assert_true(nw > 0);
	p50 = rel_quantile(wover, nw, 0.50);
	p99 = rel_quantile(wover, nw, 0.99);
	fprintf(stderr, "# waited overshoot p50=%.0fms p99=%.0fms max=%.0fms "
	    "(%d calls that waited the %d ms deadline)\n", p50, p99,
	    wover[nw - 1], nw, DEADLINE_MS);

	assert_true(tp_proc_alive(&s->rig.v.p));
	assert_int_equal(tp_vsetd_term(&s->rig.v, 5000), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sigstop_deadline),
	};

	return cmocka_run_group_tests(tests, group_setup,
	    rel_rig_teardown);
}
