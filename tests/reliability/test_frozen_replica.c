/*
 * test_frozen_replica.c - a frozen primary with a read replica: reads
 * never wait for it once it is known not to answer, and the calls that
 * did wait fail over to the replica at the shard timeout (GitHub issue
 * 12, finding 2).
 *
 * Setup: 2 shards, each a primary Pi and a replica Ri (--replicaof Pi);
 * vsetd with its default 4 workers and --shard-timeout-ms SHARD_TIMEOUT_MS,
 * no hedging.  P0 is stopped (SIGSTOP) while WORKERS/2 Searches with a
 * long deadline wait on it.  Users rely on:
 *   - a Search sent then answers at once from R0: OK, not partial, shard 0
 *     listed in from_replica, a full K of hits;
 *   - an Insert of an item shard 0 owns fails at once with UNAVAILABLE
 *     (writes go to the primary only; it is not answering), and one shard
 *     1 owns is written;
 *   - the long Searches give up on P0 at the shard timeout and answer from
 *     R0: OK, not partial, well before their own deadline.
 * P0 is always continued (SIGCONT) before the assertions.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "rel_data.h"
#include "tp_redis.h"
#include "tp_vsetd.h"
#include "vsetd.h"

#define NSHARDS 2
#define NITEMS 200
#define DIM 16
#define COLL "frepl"
#define K 10
#define WORKERS 4               /* vsetd's default --workers */
#define NLONG (WORKERS / 2)     /* as many as the stall rule lets wait */
#define LONG_DEADLINE_MS 5000
#define CALL_MS 2000
#define SHARD_TIMEOUT_MS 1000
#define SHARD_TIMEOUT_ARG "1000"
#define STALL_MS 250            /* --shard-stall-ms's default */
#define SETTLE_MS (STALL_MS + 150)
#define FAST_MS 200             /* "at once" */
#define MARGIN_MS 250
#define REPL_SETTLE_MS 300

struct state {
	char dir[4096];
	struct tp_redis prim[NSHARDS], repl[NSHARDS];
	char shardarg[NSHARDS][96];
	struct tp_vsetd v;
	struct rel_data *d;
	vs_client *cli;
};

struct waiter {
	pthread_t th;
	const struct state *s;
	int idx, rv, partial;
	uint32_t ok, from_replica;
	int64_t dur_ms;
};

static int
group_setup(void **st)
{
	static const char *const pextra[] = { "--repl-diskless-sync-delay",
	    "0", NULL };
	const char *extra[4] = { "--replicaof", "127.0.0.1", NULL, NULL };
	const char *args[16];
	char sub[4200], port[16];
	struct state *s;
	int i, a = 0;

	if ((s = calloc(1, sizeof(*s))) == NULL)
		return -1;
	*st = s;
	if (tp_tmpdir(s->dir, sizeof(s->dir), "frepl") != 0)
		return -1;
	args[a++] = "--listen";
	args[a++] = "tcp://127.0.0.1:0";
	for (i = 0; i < NSHARDS; i++) {
		snprintf(sub, sizeof(sub), "%s/p%d", s->dir, i);
		if (mkdir(sub, 0700) != 0 ||
		    tp_redis_start(&s->prim[i], 0, sub, pextra, NULL) != 0)
			return -1;
		snprintf(sub, sizeof(sub), "%s/r%d", s->dir, i);
		snprintf(port, sizeof(port), "%d", s->prim[i].port);
		extra[2] = port;
		if (mkdir(sub, 0700) != 0 ||
		    tp_redis_start(&s->repl[i], 0, sub, extra, NULL) != 0 ||
		    tp_redis_wait_link_up(&s->repl[i], 10000) != 0)
			return -1;
		snprintf(s->shardarg[i], sizeof(s->shardarg[i]),
		    "127.0.0.1:%d,127.0.0.1:%d", s->prim[i].port,
		    s->repl[i].port);
		args[a++] = "--shard";
		args[a++] = s->shardarg[i];
	}
	args[a++] = "--shard-timeout-ms";
	args[a++] = SHARD_TIMEOUT_ARG;
	args[a] = NULL;
	if (tp_vsetd_start(&s->v, s->dir, "v", args, NULL) != 0)
		return -1;
	if ((s->d = rel_data_new("r", NITEMS, DIM, NSHARDS, 0xf4e9)) == NULL)
		return -1;
	if (rel_connect(&s->cli, s->v.url, CALL_MS) != VS_OK ||
	    rel_data_load(s->cli, COLL, s->d) != 0)
		return -1;
	tp_sleep_ms(REPL_SETTLE_MS);    /* the replicas catch up */
	return 0;
}

static int
group_teardown(void **st)
{
	struct state *s = *st;
	int i;

	if (s == NULL)
		return 0;
	vs_close(s->cli);
	tp_proc_kill(&s->v.p);
	for (i = 0; i < NSHARDS; i++) {
		tp_redis_kill(&s->repl[i]);
		tp_redis_kill(&s->prim[i]);
	}
	rel_data_free(s->d);
	tp_rmtree(s->dir);
	free(s);
	return 0;
}

static void *
long_search(void *arg)
{
	struct waiter *w = arg;
	vs_search_result *res = NULL;
	vs_search_params sp;
	vs_client *cli = NULL;
	int64_t t;

	if ((w->rv = rel_connect(&cli, w->s->v.url, LONG_DEADLINE_MS)) != VS_OK)
		return NULL;
	rel_search_params(&sp, w->s->d, COLL, (size_t)w->idx, K);
	t = tp_now_ms();
	w->rv = vs_search(cli, &sp, &res);
	w->dur_ms = tp_now_ms() - t;
	if (res != NULL) {
		w->partial = res->partial;
		w->ok = res->shards.ok;
		w->from_replica = res->shards.from_replica;
	}
	vs_search_result_free(res);
	vs_close(cli);
	return NULL;
}

static void
test_frozen_primary_reads_replica(void **st)
{
	struct state *s = *st;
	struct waiter w[NLONG];
	vs_search_result *res = NULL;
	vs_write_result *wr = NULL;
	vs_search_params sp;
	int64_t t, srch_ms, ins_ms;
	int i, srch_rv, ins_rv, partial = -1;
	uint32_t from_replica = 0, ok = 0;
	size_t nhits = 0, own0 = NITEMS, own1 = NITEMS, j;
	vs_item items[2];

	for (j = 0; j < NITEMS; j++) {
		if (s->d->owner[j] == 0 && own0 == NITEMS)
			own0 = j;
		if (s->d->owner[j] == 1 && own1 == NITEMS)
			own1 = j;
	}
	assert_true(own0 < NITEMS && own1 < NITEMS);
	items[0] = s->d->items[own0];
	items[1] = s->d->items[own1];

	assert_int_equal(tp_redis_stop(&s->prim[0]), 0);
	for (i = 0; i < NLONG; i++) {
		memset(&w[i], 0, sizeof(w[i]));
		w[i].s = s;
		w[i].idx = i;
		if (pthread_create(&w[i].th, NULL, long_search, &w[i]) != 0) {
			tp_redis_cont(&s->prim[0]);
			fail_msg("pthread_create");
		}
	}
	tp_sleep_ms(SETTLE_MS);         /* P0 is "not answering" now */

	vs_set_timeout(s->cli, CALL_MS);
	rel_search_params(&sp, s->d, COLL, 3, K);
	t = tp_now_ms();
	srch_rv = vs_search(s->cli, &sp, &res);
	srch_ms = tp_now_ms() - t;
	if (res != NULL) {
		partial = res->partial;
		ok = res->shards.ok;
		from_replica = res->shards.from_replica;
		nhits = res->n_hits;
	}
	vs_search_result_free(res);

	t = tp_now_ms();
	ins_rv = vs_insert(s->cli, COLL, items, 2, &wr);
	ins_ms = tp_now_ms() - t;
	fprintf(stderr, "# frozen primary: search %s in %lld ms (partial %d, "
	    "%u from replica); insert %s in %lld ms: %s\n",
	    vs_code_name(srch_rv), (long long)srch_ms, partial, from_replica,
	    vs_code_name(ins_rv), (long long)ins_ms, vs_errmsg());

	for (i = 0; i < NLONG; i++)
		pthread_join(w[i].th, NULL);
	assert_int_equal(tp_redis_cont(&s->prim[0]), 0);
	for (i = 0; i < NLONG; i++)
		fprintf(stderr, "# frozen primary: long search %d: %s partial "
		    "%d, %u from replica, after %lld ms\n", i,
		    vs_code_name(w[i].rv), w[i].partial, w[i].from_replica,
		    (long long)w[i].dur_ms);

	assert_int_equal(srch_rv, VS_OK);
	assert_int_equal(partial, 0);
	assert_int_equal(ok, NSHARDS);
	assert_int_equal(from_replica, 1);
	assert_int_equal(nhits, K);
	assert_true(srch_ms < FAST_MS);

	assert_int_equal(ins_rv, VS_UNAVAILABLE);
	assert_non_null(wr);
	assert_int_equal(wr->n_items, 2);
	assert_int_equal(wr->items[0].outcome, VS_WRITE_FAILED);
	assert_int_equal(wr->items[0].code, VS_UNAVAILABLE);
	assert_non_null(strstr(wr->items[0].message, "not answering"));
	assert_true(wr->items[1].outcome == VS_WRITE_ADDED ||
	    wr->items[1].outcome == VS_WRITE_UPDATED);
	assert_true(ins_ms < FAST_MS);
	vs_write_result_free(wr);

	for (i = 0; i < NLONG; i++) {
		assert_int_equal(w[i].rv, VS_OK);
		assert_int_equal(w[i].partial, 0);
		assert_int_equal(w[i].ok, NSHARDS);
		assert_int_equal(w[i].from_replica, 1);
		assert_true(w[i].dur_ms >= SHARD_TIMEOUT_MS - MARGIN_MS);
		assert_true(w[i].dur_ms <= SHARD_TIMEOUT_MS + MARGIN_MS);
	}
	assert_true(tp_proc_alive(&s->v.p));
	assert_int_equal(tp_vsetd_term(&s->v, 5000), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_frozen_primary_reads_replica),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
