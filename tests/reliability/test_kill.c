/*
 * test_kill.c - kill -9 a shard while clients are searching.
 *
 * What users rely on: a shard dying under load never hangs a call or
 * crashes vsetd.  Calls in flight when it dies and every call after answer
 * OK from the live shards, flagged partial with the dead shard counted as
 * failed (never a hit from it), and once the circuit breaker has seen the
 * death a call costs no connect attempt, so it stays far below the
 * deadline.
 *
 * Setup: 3 shards, 600 items, 3 client threads (one client each) searching
 * in a loop bounded by count and time; the main thread kills shard VICTIM
 * about KILL_AFTER_MS into the run.  Every call's status, flags and
 * duration are recorded and checked afterwards on the main thread.
 */
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
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
#define NITEMS 600
#define DIM 16
#define COLL "kill"
#define K 10
#define NTHREADS 3
#define MAX_CALLS 4000          /* per thread */
#define RUN_MS 3000
#define KILL_AFTER_MS 1000
#define DEADLINE_MS 1000
#define MARGIN_MS 250           /* the client's grace past the deadline */
#define SETTLE_MS 200           /* calls this long after the kill must see it */

struct call {
	int64_t start_ms, dur_ms;
	int code, partial;
	uint32_t ok, failed, timed_out;
	int victim_hit;              /* a hit claimed to come from VICTIM */
	int n_hits;
};

struct worker {
	pthread_t th;
	const char *url;
	const struct rel_data *d;
	int64_t end_ms;
	int idx;
	struct call calls[MAX_CALLS];
	int n;
	int connect_rv;
};

struct state {
	struct rel_rig rig;
};

static void *
search_loop(void *arg)
{
	struct worker *w = arg;
	vs_client *cli = NULL;
	vs_search_result *res;
	vs_search_params sp;
	size_t h;
	int i;

	if ((w->connect_rv = rel_connect(&cli, w->url, DEADLINE_MS)) != VS_OK)
		return NULL;
	for (i = 0; i < MAX_CALLS && tp_now_ms() < w->end_ms; i++) {
		struct call *c = &w->calls[w->n++];

		rel_search_params(&sp, w->d, COLL,
		    (size_t)(i * NTHREADS + w->idx), K);
		res = NULL;
		c->start_ms = tp_now_ms();
		c->code = vs_search(cli, &sp, &res);
		c->dur_ms = tp_now_ms() - c->start_ms;
		if (res != NULL) {
			c->partial = res->partial;
			c->ok = res->shards.ok;
			c->failed = res->shards.failed;
			c->timed_out = res->shards.timed_out;
			c->n_hits = (int)res->n_hits;
			for (h = 0; h < res->n_hits; h++)
				if (res->hits[h].shard == VICTIM)
					c->victim_hit = 1;
		}
		vs_search_result_free(res);
	}
	vs_close(cli);
	return NULL;
}

static int
group_setup(void **st)
{
	static const char *const none[] = { NULL };
	struct state *s;

	if (rel_rig_new(st, sizeof(*s), "kill", NSHARDS, NULL, NULL, none) != 0)
		return -1;
	s = *st;
	s->rig.d = rel_data_new("k", NITEMS, DIM, NSHARDS, 0x4b111);
	return rel_rig_load(&s->rig, COLL, 3000);
}

static void
test_kill_under_load(void **st)
{
	struct state *s = *st;
	static struct worker w[NTHREADS];
	vs_client *cli = NULL;
	vs_search_result *res = NULL;
	vs_search_params sp;
	int64_t t0, kill_ms;
	int i, j, total = 0, before = 0, after = 0, bad = 0;
	int64_t max_after = 0;

	t0 = tp_now_ms();
	for (i = 0; i < NTHREADS; i++) {
		memset(&w[i], 0, sizeof(w[i]));
		w[i].url = s->rig.v.url;
		w[i].d = s->rig.d;
		w[i].idx = i;
		w[i].end_ms = t0 + RUN_MS;
		assert_int_equal(pthread_create(&w[i].th, NULL, search_loop,
		    &w[i]), 0);
	}
	tp_sleep_ms(KILL_AFTER_MS);
	kill_ms = tp_now_ms();
	tp_redis_kill(&s->rig.shard[VICTIM]);
	for (i = 0; i < NTHREADS; i++)
		pthread_join(w[i].th, NULL);

	for (i = 0; i < NTHREADS; i++) {
		assert_int_equal(w[i].connect_rv, VS_OK);
		for (j = 0; j < w[i].n; j++) {
			struct call *c = &w[i].calls[j];
			int64_t end = c->start_ms + c->dur_ms;

			total++;
			/* No call hangs, before, during or after the death. */
			if (c->dur_ms > DEADLINE_MS + MARGIN_MS || c->code != VS_OK) {
				if (bad++ < 10)
					fprintf(stderr, "# call t%d#%d: %s "
					    "after %lld ms\n", i, j,
					    vs_code_name(c->code),
					    (long long)c->dur_ms);
				continue;
			}
			if (end < kill_ms) {
				/* Entirely before the kill: full answers. */
				before++;
				assert_int_equal(c->partial, 0);
				assert_int_equal(c->ok, NSHARDS);
				assert_int_equal(c->n_hits, K);
			} else if (c->start_ms > kill_ms + SETTLE_MS) {
				/* Entirely after: partial, victim failed, the
				 * rest answers a full K from live shards. */
				after++;
				assert_int_equal(c->partial, 1);
				assert_int_equal(c->ok, NSHARDS - 1);
				assert_int_equal(c->failed + c->timed_out, 1);
				assert_int_equal(c->victim_hit, 0);
				assert_int_equal(c->n_hits, K);
				if (c->dur_ms > max_after)
					max_after = c->dur_ms;
			} else {
				/* In flight across the kill: either answer is
				 * right, but the flags must agree. */
				assert_int_equal(c->partial,
				    c->ok != NSHARDS);
			}
		}
	}
	fprintf(stderr, "# kill: %d calls (%d before, %d after the kill), "
	    "slowest after %lld ms\n", total, before, after,
	    (long long)max_after);
	assert_int_equal(bad, 0);
	assert_true(before > 0);
	assert_true(after > 0);

	/* vsetd is still up and answering; require_all now says UNAVAILABLE. */
	assert_true(tp_proc_alive(&s->rig.v.p));
	assert_int_equal(rel_connect(&cli, s->rig.v.url, 2000), VS_OK);
	rel_search_params(&sp, s->rig.d, COLL, 0, K);
	sp.require_all = 1;
	assert_int_equal(vs_search(cli, &sp, &res), VS_UNAVAILABLE);
	vs_search_result_free(res);
	res = NULL;
	vs_close(cli);
	assert_int_equal(tp_vsetd_term(&s->rig.v, 5000), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kill_under_load),
	};

	return cmocka_run_group_tests(tests, group_setup,
	    rel_rig_teardown);
}
