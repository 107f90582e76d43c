/*
 * test_replica.c - shards with a Redis replica: WAIT-acknowledged writes,
 * reads that survive the primary's death, hedged reads.
 *
 * Setup: 2 shards, each a primary Pi plus a replica Ri (redis-server
 * --replicaof Pi), up only once INFO replication says master_link_status:up.
 * vsetd A serves "--shard P0,R0 --shard P1,R1 --wait-replicas 1".
 *
 * The tests run in order and build on each other (one cluster):
 *   1. wait_ack: every insert A acknowledges is already on the replica
 *      (VEMB on Ri right after the ack).
 *   2. wait_refused: with R1 stopped, WAIT cannot be satisfied: the
 *      shard-1 item is not acknowledged (WRITE_FAILED), the shard-0 item
 *      is, and the call does not hang.
 *   3. primary_down: kill -9 P0.  Searches stay full (not partial) and say
 *      shard 0 answered from its replica (from_replica == 1); writes owned
 *      by shard 0 fail UNAVAILABLE item by item, shard 1's succeed.
 *   4. hedge: vsetd B (same shards, --hedge-ms) with P1 stopped as well:
 *      answers are still full, both shards from replicas.
 * Finally both vsetd must exit 0 on SIGTERM (they never crashed).
 */
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
#define COLL "repl"
#define K 30
#define BATCH 20
#define WAIT_MS "1000"
#define CALL_MS 3000
#define MARGIN_MS 250

struct state {
	char dir[4096];
	struct tp_redis prim[NSHARDS], repl[NSHARDS];
	char shardarg[NSHARDS][96];
	struct tp_vsetd a, b;
	struct rel_data *d, *extra;
	vs_client *cli;
};

static int
group_setup(void **st)
{
	struct state *s;
	/* No 5 s wait before a diskless full sync: replicas up at once. */
	static const char *const pextra[] = { "--repl-diskless-sync-delay",
	    "0", NULL };
	const char *extra[4] = { "--replicaof", "127.0.0.1", NULL, NULL };
	const char *args[16];
	char sub[4200], port[16];
	int i, a = 0;

	if ((s = calloc(1, sizeof(*s))) == NULL)
		return -1;
	*st = s;
	if (tp_tmpdir(s->dir, sizeof(s->dir), "replica") != 0)
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
	args[a++] = "--wait-replicas";
	args[a++] = "1";
	args[a++] = "--wait-ms";
	args[a++] = WAIT_MS;
	args[a] = NULL;
	if (tp_vsetd_start(&s->a, s->dir, "a", args, NULL) != 0)
		return -1;
	if ((s->d = rel_data_new("p", NITEMS, DIM, NSHARDS, 0x4e91)) == NULL ||
	    (s->extra = rel_data_new("x", 40, DIM, NSHARDS, 0x4e92)) == NULL)
		return -1;
	return rel_connect(&s->cli, s->a.url, CALL_MS) == VS_OK ? 0 : -1;
}

static int
group_teardown(void **st)
{
	struct state *s = *st;
	int i;

	if (s == NULL)
		return 0;
	vs_close(s->cli);
	tp_proc_kill(&s->a.p);
	tp_proc_kill(&s->b.p);
	for (i = 0; i < NSHARDS; i++) {
		tp_redis_kill(&s->repl[i]);
		tp_redis_kill(&s->prim[i]);
	}
	rel_data_free(s->d);
	rel_data_free(s->extra);
	tp_rmtree(s->dir);
	free(s);
	return 0;
}

/* 1. An acknowledged insert is on the replica when the ack arrives. */
static void
test_wait_ack(void **st)
{
	struct state *s = *st;
	redisContext *rc[NSHARDS];
	vs_write_result *wr;
	size_t off, i;
	int rv, sh;

	for (sh = 0; sh < NSHARDS; sh++)
		assert_non_null(rc[sh] = tp_redis_connect(&s->repl[sh], 2000));
	for (off = 0; off < NITEMS; off += BATCH) {
		wr = NULL;
		rv = vs_insert(s->cli, COLL, s->d->items + off, BATCH, &wr);
		if (rv != VS_OK)
			fprintf(stderr, "# insert: %s %s\n", vs_code_name(rv),
			    vs_errmsg());
		assert_int_equal(rv, VS_OK);
		assert_int_equal(wr->added, BATCH);
		vs_write_result_free(wr);
		/* Right after the ack, before anything else: on the replica. */
		for (i = off; i < off + BATCH; i++)
			assert_int_equal(tp_vemb(rc[s->d->owner[i]], COLL,
			    s->d->ids[i], NULL, 0), 1);
	}
	for (sh = 0; sh < NSHARDS; sh++)
		redisFree(rc[sh]);
}

/* Index of the first item of d owned by shard, or -1. */
static int
first_owned(const struct rel_data *d, uint32_t shard, int after)
{
	int i;

	for (i = after + 1; i < (int)d->n; i++)
		if (d->owner[i] == shard)
			return i;
	return -1;
}

/* 2. WAIT that cannot be met (replica stopped) is not an ack. */
static void
test_wait_refused(void **st)
{
	struct state *s = *st;
	vs_write_result *wr = NULL;
	vs_item items[2];
	int i0, i1, rv;
	int64_t t;

	i0 = first_owned(s->extra, 0, -1);
	i1 = first_owned(s->extra, 1, -1);
	assert_true(i0 >= 0 && i1 >= 0);
	items[0] = s->extra->items[i0];
	items[1] = s->extra->items[i1];
	assert_int_equal(tp_redis_stop(&s->repl[1]), 0);
	t = tp_now_ms();
	rv = vs_insert(s->cli, COLL, items, 2, &wr);
	t = tp_now_ms() - t;
	assert_int_equal(tp_redis_cont(&s->repl[1]), 0);
	fprintf(stderr, "# insert with replica 1 stopped: %s (%s) in %lld ms\n",
	    vs_code_name(rv), vs_errmsg(), (long long)t);
	assert_true(t <= CALL_MS + MARGIN_MS);
	assert_int_not_equal(rv, VS_OK);
	assert_non_null(wr);
	assert_int_equal(wr->n_items, 2);
	assert_int_equal(wr->items[0].outcome, VS_WRITE_ADDED);
	assert_int_equal(wr->items[1].outcome, VS_WRITE_FAILED);
	assert_int_not_equal(wr->items[1].code, VS_OK);
	vs_write_result_free(wr);
	assert_int_equal(tp_redis_wait_link_up(&s->repl[1], 10000), 0);
}

/* 3. Primary 0 dies: reads from its replica, writes to it refused. */
static void
test_primary_down(void **st)
{
	struct state *s = *st;
	vs_search_result *res;
	vs_write_result *wr = NULL;
	vs_search_params sp;
	vs_item items[2];
	const char *del[1];
	int i, rv, i0, i1, from0;
	size_t h;
	int64_t t;

	tp_redis_kill(&s->prim[0]);
	for (i = 0; i < 50; i++) {
		rel_search_params(&sp, s->d, COLL, i, K);
		res = NULL;
		t = tp_now_ms();
		rv = vs_search(s->cli, &sp, &res);
		t = tp_now_ms() - t;
		assert_int_equal(rv, VS_OK);
		assert_true(t <= CALL_MS + MARGIN_MS);
		if (res->partial || res->shards.from_replica != 1)
			fprintf(stderr, "# search %d: partial=%d ok=%u failed=%u"
			    " timed_out=%u from_replica=%u\n", i, res->partial,
			    res->shards.ok, res->shards.failed,
			    res->shards.timed_out, res->shards.from_replica);
		assert_int_equal(res->partial, 0);
		assert_int_equal(res->shards.ok, NSHARDS);
		assert_int_equal(res->shards.from_replica, 1);
		assert_int_equal(res->n_hits, K);
		from0 = 0;
		for (h = 0; h < res->n_hits; h++)
			from0 |= res->hits[h].shard == 0;
		assert_true(from0);   /* 30 of 200 over 2 shards: both appear */
		vs_search_result_free(res);
	}

	/* Writes go to the primary only: shard 0's items fail UNAVAILABLE. */
	i0 = first_owned(s->extra, 0, first_owned(s->extra, 0, -1));
	i1 = first_owned(s->extra, 1, first_owned(s->extra, 1, -1));
	assert_true(i0 >= 0 && i1 >= 0);
	items[0] = s->extra->items[i0];
	items[1] = s->extra->items[i1];
	rv = vs_insert(s->cli, COLL, items, 2, &wr);
	assert_int_equal(rv, VS_UNAVAILABLE);
	assert_non_null(wr);
	assert_int_equal(wr->items[0].outcome, VS_WRITE_FAILED);
	assert_int_equal(wr->items[0].code, VS_UNAVAILABLE);
	assert_int_equal(wr->items[1].outcome, VS_WRITE_ADDED);
	vs_write_result_free(wr);
	wr = NULL;
	del[0] = s->d->ids[first_owned(s->d, 0, -1)];
	rv = vs_delete(s->cli, COLL, del, 1, &wr);
	assert_int_equal(rv, VS_UNAVAILABLE);
	assert_non_null(wr);
	assert_int_equal(wr->items[0].outcome, VS_WRITE_FAILED);
	assert_int_equal(wr->items[0].code, VS_UNAVAILABLE);
	vs_write_result_free(wr);
	assert_true(tp_proc_alive(&s->a.p));
}

/* 4. Hedged reads: P1 frozen too, vsetd B asks R1 after --hedge-ms. */
static void
test_hedge(void **st)
{
	struct state *s = *st;
	const char *args[] = { "--listen", "tcp://127.0.0.1:0",
	    "--shard", s->shardarg[0], "--shard", s->shardarg[1],
	    "--hedge-ms", "20", NULL };
	vs_client *cb = NULL;
	vs_search_result *res;
	vs_search_params sp;
	int i, rv;

	assert_int_equal(tp_vsetd_start(&s->b, s->dir, "b", args, NULL), 0);
	assert_int_equal(rel_connect(&cb, s->b.url, CALL_MS), VS_OK);
	assert_int_equal(tp_redis_stop(&s->prim[1]), 0);
	for (i = 0; i < 20; i++) {
		rel_search_params(&sp, s->d, COLL, i, K);
		res = NULL;
		rv = vs_search(cb, &sp, &res);
		if (rv != VS_OK)
			fprintf(stderr, "# hedged search: %s %s\n",
			    vs_code_name(rv), vs_errmsg());
		assert_int_equal(rv, VS_OK);
		assert_int_equal(res->partial, 0);
		assert_int_equal(res->shards.from_replica, NSHARDS);
		assert_int_equal(res->n_hits, K);
		vs_search_result_free(res);
	}
	assert_int_equal(tp_redis_cont(&s->prim[1]), 0);
	vs_close(cb);
	assert_int_equal(tp_vsetd_term(&s->b, 5000), 0);
	assert_int_equal(tp_vsetd_term(&s->a, 5000), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_wait_ack),
		cmocka_unit_test(test_wait_refused),
		cmocka_unit_test(test_primary_down),
		cmocka_unit_test(test_hedge),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
