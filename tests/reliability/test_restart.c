/*
 * test_restart.c - a restarted shard is back in full results within 2 s,
 * with no restart of vsetd.
 *
 * Each of NCYCLES cycles: kill -9 shard VICTIM, keep searching for DOWN_MS
 * (long enough for the circuit breaker's backoff to reach its 1 s maximum:
 * the worst case for recovery), restart the shard on the same port and
 * directory (its AOF brings its data back), and search until an answer is
 * full again (not partial, every shard ok, hits from VICTIM present).  The
 * recovery time is counted from the moment the restarted Redis answers
 * PING, since Redis's own start-up is not vsetd's to speed up; both that
 * and the time from the spawn are printed ("# recovery ...").
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
#define VICTIM 2
#define NITEMS 300
#define DIM 16
#define COLL "restart"
#define K 30
#define NCYCLES 3
#define DOWN_MS 2500
#define RECOVER_BOUND_MS 2000   /* the promise: back within 2 s */
#define GIVE_UP_MS 5000         /* stop looking (the test then fails) */
#define CALL_DEADLINE_MS 1000
#define MARGIN_MS 250

struct state {
	struct rel_rig rig;
};

static int
group_setup(void **st)
{
	static const char *const aof[] = { "--appendonly", "yes",
	    "--appendfsync", "always", NULL };
	static const char *const none[] = { NULL };
	struct state *s;

	if (rel_rig_new(st, sizeof(*s), "restart", NSHARDS,
	    aof, NULL, none) != 0)
		return -1;
	s = *st;
	s->rig.d = rel_data_new("r", NITEMS, DIM, NSHARDS, 0x7e57);
	return rel_rig_load(&s->rig, COLL, CALL_DEADLINE_MS);
}

/* One bounded search: 1 full answer (with VICTIM's hits), 0 partial.  Fails
 * the test on a wrong status, wrong flags or a hang. */
static int
search_once(struct state *s, int i)
{
	vs_search_result *res = NULL;
	vs_search_params sp;
	int64_t t;
	int rv, full, victim = 0;
	size_t h;

	rel_search_params(&sp, s->rig.d, COLL, (size_t)i, K);
	t = tp_now_ms();
	rv = vs_search(s->rig.cli, &sp, &res);
	t = tp_now_ms() - t;
	if (rv != VS_OK)
		fprintf(stderr, "# search: %s %s\n", vs_code_name(rv),
		    vs_errmsg());
	assert_int_equal(rv, VS_OK);
	assert_true(t <= CALL_DEADLINE_MS + MARGIN_MS);
	/* The flags must agree with the counts, whichever the answer is. */
	assert_int_equal(res->partial, res->shards.ok != NSHARDS);
	for (h = 0; h < res->n_hits; h++)
		if (res->hits[h].shard == VICTIM)
			victim = 1;
	full = !res->partial;
	if (!full)
		assert_int_equal(victim, 0);
	vs_search_result_free(res);
	/* K = 30 of 300 items over 3 shards: a full top K has VICTIM's. */
	return full && victim;
}

static void
test_restart_recovery(void **st)
{
	struct state *s = *st;
	int64_t t, spawn_ms, ready_ms, rec, worst = 0;
	int c, i, full;
	long long vcard;
	redisReply *r;
	size_t owned = 0;

	for (i = 0; i < NITEMS; i++)
		owned += s->rig.d->owner[i] == VICTIM;
	for (c = 0; c < NCYCLES; c++) {
		assert_int_equal(search_once(s, c), 1);
		tp_redis_kill(&s->rig.shard[VICTIM]);
		t = tp_now_ms();
		for (i = 0; tp_now_ms() - t < DOWN_MS; i++) {
			assert_int_equal(search_once(s, i), 0);
			tp_sleep_ms(5);
		}
		spawn_ms = tp_now_ms();
		assert_int_equal(tp_redis_restart(&s->rig.shard[VICTIM]), 0);
		ready_ms = tp_now_ms();
		full = 0;
		for (i = 0; !full && tp_now_ms() - ready_ms < GIVE_UP_MS; i++) {
			full = search_once(s, i);
			if (!full)
				tp_sleep_ms(5);
		}
		rec = tp_now_ms() - ready_ms;
		fprintf(stderr, "# recovery cycle %d: full answers %lld ms after "
		    "the shard answered PING (%lld ms after its spawn)\n", c,
		    (long long)rec, (long long)(tp_now_ms() - spawn_ms));
		assert_int_equal(full, 1);
		if (rec > worst)
			worst = rec;
		/* The AOF brought every item of the shard back. */
		r = tp_redis_cmd(&s->rig.shard[VICTIM], "VCARD vsetd:%s", COLL);
		assert_non_null(r);
		vcard = r->type == REDIS_REPLY_INTEGER ? r->integer : -1;
		freeReplyObject(r);
		assert_int_equal(vcard, (long long)owned);
	}
	fprintf(stderr, "# recovery worst=%lldms over %d restarts (bound %d ms)"
	    "\n", (long long)worst, NCYCLES, RECOVER_BOUND_MS);
	assert_true(worst <= RECOVER_BOUND_MS);
	assert_true(tp_proc_alive(&s->rig.v.p));
	assert_int_equal(tp_vsetd_term(&s->rig.v, 5000), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_restart_recovery),
	};

	return cmocka_run_group_tests(tests, group_setup,
	    rel_rig_teardown);
}
