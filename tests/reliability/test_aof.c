/*
 * test_aof.c - kill -9 a shard in the middle of a stream of inserts; with
 * appendonly yes + appendfsync always, no insert vsetd acknowledged is lost.
 *
 * What vsetd promises (docs/operations.md): an item is WRITE_ADDED or
 * WRITE_UPDATED only after its shard answered the VADD; with appendfsync
 * always Redis answers only after the command is in the AOF and fsynced.
 * So every acknowledged item must be back after kill -9 and a restart on
 * the same directory and port.
 *
 * A streaming thread inserts BATCH items per call (they spread over both
 * shards) until told to stop, recording per item whether it was
 * acknowledged.  The main thread kills shard VICTIM about KILL_AFTER_MS in,
 * restarts it after DOWN_MS, lets the stream run on, then checks every
 * acknowledged item with VEMB on its owner shard.  Items not acknowledged
 * (failed, or no answer) may or may not be there: not checked.  The counts
 * are printed ("# aof: ...").
 *
 * Updates too (test_aof_updates): an Insert that overwrites an id, with or
 * without attributes, must be what a restarted shard holds.  Redis 8.0.2
 * does not log a VADD that updates an element; vsetd's fence script
 * rewrites it as VREM + VADD (fanout/fence_lua.c), which are logged.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "rel_data.h"
#include "rel_rig.h"
#include "vsetd.h"

#define NSHARDS 2
#define VICTIM 1
#define MAX_ITEMS 30000          /* bounds the stream */
#define DIM 16
#define COLL "aof"
#define BATCH 4
#define KILL_AFTER_MS 800
#define DOWN_MS 300
#define AFTER_MS 800
#define CALL_MS 2000
#define MARGIN_MS 250

enum { NOT_SENT, ACKED, NOT_ACKED };

struct state {
	struct rel_rig rig;
	/* stream */
	pthread_t th;
	atomic_int stop;
	int connect_rv;
	size_t sent;
	unsigned char fate[MAX_ITEMS];
	int64_t ack_ms[MAX_ITEMS];
	long slow;
};

static void *
stream(void *arg)
{
	struct state *s = arg;
	vs_write_result *wr;
	vs_client *cli = NULL;
	size_t i, j;
	int64_t t;

	if ((s->connect_rv = rel_connect(&cli, s->rig.v.url, CALL_MS)) != VS_OK)
		return NULL;
	for (i = 0; i + BATCH <= MAX_ITEMS && !atomic_load(&s->stop);
	    i += BATCH) {
		wr = NULL;
		t = tp_now_ms();
		vs_insert(cli, COLL, s->rig.d->items + i, BATCH, &wr);
		if (tp_now_ms() - t > CALL_MS + MARGIN_MS)
			s->slow++;
		t = tp_now_ms();
		for (j = 0; j < BATCH; j++) {
			int o = wr != NULL && j < wr->n_items ?
			    wr->items[j].outcome : VS_WRITE_FAILED;

			s->fate[i + j] = o == VS_WRITE_ADDED ||
			    o == VS_WRITE_UPDATED ? ACKED : NOT_ACKED;
			s->ack_ms[i + j] = t;
		}
		vs_write_result_free(wr);
		s->sent = i + BATCH;
	}
	vs_close(cli);
	return NULL;
}

static int
group_setup(void **st)
{
	static const char *const aof[] = { "--appendonly", "yes",
	    "--appendfsync", "always", NULL };
	static const char *const none[] = { NULL };
	struct state *s;

	if (rel_rig_new(st, sizeof(*s), "aof", NSHARDS, aof, NULL, none) != 0)
		return -1;
	s = *st;
	s->rig.d = rel_data_new("a", MAX_ITEMS, DIM, NSHARDS, 0xa0f);
	return s->rig.d != NULL ? 0 : -1;
}

#define NUPD 16                  /* ids updated, half with attributes */

static void
vec_axis(float *v, int axis)
{
	memset(v, 0, DIM * sizeof(*v));
	v[axis] = 1;
}

static void
test_aof_updates(void **st)
{
	struct state *s = *st;
	float a[DIM], b[DIM], got[DIM];
	char ids[NUPD][16];
	vs_item it[NUPD];
	vs_write_result *wr = NULL;
	redisContext *rc[NSHARDS];
	vs_client *cli = NULL;
	int i, sh, found;

	vec_axis(a, 0);
	vec_axis(b, 1);
	assert_int_equal(rel_connect(&cli, s->rig.v.url, CALL_MS), VS_OK);
	for (i = 0; i < NUPD; i++) {
		snprintf(ids[i], sizeof(ids[i]), "upd%d", i);
		it[i] = (vs_item){ ids[i], a, DIM, "{\"v\":1}" };
	}
	assert_int_equal(vs_insert(cli, "upd", it, NUPD, &wr), VS_OK);
	vs_write_result_free(wr);
	for (i = 0; i < NUPD; i++)
		it[i] = (vs_item){ ids[i], b, DIM, i % 2 ? "{\"v\":2}" : NULL };
	assert_int_equal(vs_insert(cli, "upd", it, NUPD, &wr), VS_OK);
	for (i = 0; i < NUPD; i++)
		assert_int_equal(wr->items[i].outcome, VS_WRITE_UPDATED);
	vs_write_result_free(wr);
	vs_close(cli);
	for (sh = 0; sh < NSHARDS; sh++) {
		tp_redis_kill(&s->rig.shard[sh]);
		assert_int_equal(tp_redis_restart(&s->rig.shard[sh]), 0);
		assert_non_null(rc[sh] = tp_redis_connect(&s->rig.shard[sh],
		    2000));
	}
	for (i = 0; i < NUPD; i++) {
		redisReply *r;

		for (found = 0, sh = 0; sh < NSHARDS; sh++) {
			if (tp_vemb(rc[sh], "upd", ids[i], got, DIM) != 1)
				continue;
			found++;
			/* the update's vector, not the first one's */
			if (!(got[1] > 0.9f && got[0] < 0.1f))
				fail_msg("%s on shard %d after a restart: the "
				    "vector before the update (%g, %g)",
				    ids[i], sh, got[0], got[1]);
			r = redisCommand(rc[sh], "VGETATTR vsetd:upd %s",
			    ids[i]);
			assert_non_null(r);
			assert_int_equal(r->type, REDIS_REPLY_STRING);
			/* set by the update, or kept from the insert */
			assert_string_equal(r->str, i % 2 ? "{\"v\":2}" :
			    "{\"v\":1}");
			freeReplyObject(r);
		}
		assert_int_equal(found, 1);
	}
	for (sh = 0; sh < NSHARDS; sh++)
		redisFree(rc[sh]);
	fprintf(stderr, "# aof: %d updates (half with attributes) all back "
	    "after kill -9 of every shard\n", NUPD);
}

static void
test_aof_kill9(void **st)
{
	struct state *s = *st;
	redisContext *rc[NSHARDS];
	int64_t kill_ms, ready_ms;
	long acked = 0, nacked = 0, lost = 0, before = 0, after = 0;
	size_t i;
	int sh, p;

	assert_int_equal(pthread_create(&s->th, NULL, stream, s), 0);
	tp_sleep_ms(KILL_AFTER_MS);
	kill_ms = tp_now_ms();
	tp_redis_kill(&s->rig.shard[VICTIM]);
	tp_sleep_ms(DOWN_MS);
	if (tp_redis_restart(&s->rig.shard[VICTIM]) != 0) {
		atomic_store(&s->stop, 1);
		pthread_join(s->th, NULL);
		fail_msg("shard %d did not restart from its AOF", VICTIM);
	}
	ready_ms = tp_now_ms();
	tp_sleep_ms(AFTER_MS);
	atomic_store(&s->stop, 1);
	pthread_join(s->th, NULL);
	assert_int_equal(s->connect_rv, VS_OK);

	for (sh = 0; sh < NSHARDS; sh++)
		assert_non_null(rc[sh] = tp_redis_connect(&s->rig.shard[sh],
		    2000));
	for (i = 0; i < s->sent; i++) {
		if (s->fate[i] != ACKED) {
			nacked++;
			continue;
		}
		acked++;
		if (s->rig.d->owner[i] == VICTIM) {
			if (s->ack_ms[i] < kill_ms)
				before++;
			else if (s->ack_ms[i] > ready_ms)
				after++;
		}
		p = tp_vemb(rc[s->rig.d->owner[i]], COLL, s->rig.d->ids[i], NULL,
		    0);
		if (p != 1) {
			if (lost < 10)
				fprintf(stderr, "# LOST: %s (shard %u) was "
				    "acknowledged, VEMB says %d\n",
				    s->rig.d->ids[i], s->rig.d->owner[i], p);
			lost++;
		}
	}
	for (sh = 0; sh < NSHARDS; sh++)
		redisFree(rc[sh]);
	fprintf(stderr, "# aof: %zu items sent, %ld acknowledged, %ld not; "
	    "on shard %d: %ld acked before the kill, %ld after the restart; "
	    "lost=%ld\n", s->sent, acked, nacked, VICTIM, before, after, lost);
	assert_int_equal(s->slow, 0);
	assert_int_equal(lost, 0);
	/* The kill really hit a live stream, and the shard came back. */
	assert_true(before > 0);
	assert_true(nacked > 0);
	assert_true(after > 0);
	assert_true(tp_proc_alive(&s->rig.v.p));
	assert_int_equal(tp_vsetd_term(&s->rig.v, 5000), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_aof_updates),
		cmocka_unit_test(test_aof_kill9),
	};

	return cmocka_run_group_tests(tests, group_setup,
	    rel_rig_teardown);
}
