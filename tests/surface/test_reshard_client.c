/*
 * test_reshard_client.c - the vs_reshard_* calls of libvsetd-client
 * against a real router and real Redis 8 shards (issue 10).
 *
 * Three Redis servers; the router is started with the first two, the
 * third is the spare a move adds.  What a program driving a move with the
 * C API relies on:
 *   - arguments that make the request ambiguous are refused locally with
 *     VS_INVALID_ARGUMENT and a message, and *out stays NULL;
 *   - status names the layout, the phase, the move and this router with
 *     the epoch it routes by;
 *   - start + steps (waiting retry_after_ms) reach done; every state on
 *     the way is consistent (DUAL then SWITCHED then STABLE, epochs going
 *     up, the new layout = the old one + the new shard, the old one in
 *     `from`); the final progress counts the ids that changed owner, as
 *     the routing contract (vs_shard_of) computes them; and Redis holds
 *     every element exactly on its owner;
 *   - remove with expect_last brings everything back; a wrong
 *     expect_last is refused;
 *   - abort outside DUAL is VS_FAILED_PRECONDITION with a message; abort
 *     in DUAL then steps returns to the old layout with the spare empty.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "testutil.h"
#include "tp_redis.h"
#include "tp_vsetd.h"
#include "vs_hash.h"
#include "vsetd.h"

#define NREDIS 3                 /* the layout's 2 and the spare */
#define NLAYOUT 2
#define SPARE 2
#define DIM 4
#define NELEMS 600
#define COLL "rc"
#define BATCH 100
/* Before the abort: two steps this small leave most ids uncopied (about a
 * third of NELEMS move), so the move is still in DUAL. */
#define ABORT_BATCH 10
/* Steps a move of NELEMS may take at BATCH per step, with room for
 * listing steps and phase changes. */
#define MAX_STEPS 200
/* The router's heartbeat is once a second. */
#define ROUTER_WAIT_MS 5000
#define TERM_WAIT_MS 5000

struct rc_state {
	struct tp_redis redis[NREDIS];
	char hosts[NREDIS][40];
	char dir[256];
	struct tp_vsetd v;
	vs_client *cli;
};

static struct rc_state S;

#define EXPECT(call, code) do {						\
	int rv_ = (call);						\
	if (rv_ != (code))						\
		fail_msg("%s: got %s (%s), want %s", #call,		\
		    vs_code_name(rv_), vs_errmsg(), vs_code_name(code));\
} while (0)

static int
group_setup(void **state)
{
	const char *argv[2 * NREDIS], *args[4 + 2 * NLAYOUT];
	int i, n = 0;

	(void)state;
	if (tp_tmpdir(S.dir, sizeof(S.dir), "reshard-client") != 0)
		return -1;
	if (tp_shards_start(S.redis, NREDIS, S.dir, NULL, NULL, argv,
	    S.hosts) != 0)
		return -1;
	args[n++] = "--listen";
	args[n++] = "tcp://127.0.0.1:0";
	for (i = 0; i < NLAYOUT; i++) {
		args[n++] = "--shard";
		args[n++] = S.hosts[i];
	}
	args[n] = NULL;
	if (tp_vsetd_start(&S.v, S.dir, "router", args, NULL) != 0)
		return -1;
	if (vs_connect(&S.cli, S.v.url, TU_TIMEOUT_MS) != VS_OK) {
		fprintf(stderr, "# vs_connect: %s\n", vs_errmsg());
		return -1;
	}
	return 0;
}

static int
group_teardown(void **state)
{
	int i;

	(void)state;
	vs_close(S.cli);
	if (S.v.p.pid > 0)
		tp_vsetd_term(&S.v, TERM_WAIT_MS);
	for (i = 0; i < NREDIS; i++)
		tp_redis_kill(&S.redis[i]);
	tp_rmtree(S.dir);
	return 0;
}

static void
elem_id(char *buf, size_t size, int i)
{
	snprintf(buf, size, "e-%d", i);
}

/* Redis: every element on exactly its owner among the first n servers,
 * and the others hold none of it. */
static void
check_placement(uint32_t n)
{
	redisContext *rc[NREDIS];
	char id[32];
	int i, s, present;

	for (s = 0; s < NREDIS; s++)
		assert_non_null(rc[s] = tp_redis_connect(&S.redis[s], 2000));
	for (i = 0; i < NELEMS; i++) {
		uint32_t owner;

		elem_id(id, sizeof(id), i);
		owner = vs_shard_of(id, strlen(id), n);
		for (s = 0; s < NREDIS; s++) {
			present = tp_vemb(rc[s], COLL, id, NULL, 0);
			if (present != ((uint32_t)s == owner))
				fail_msg("%s: on shard %d: %d, owner %u of %u",
				    id, s, present, owner, n);
		}
	}
	for (s = 0; s < NREDIS; s++)
		redisFree(rc[s]);
}

/* How many ids change owner between a layout of a and one of b shards. */
static uint64_t
count_moving(uint32_t a, uint32_t b)
{
	char id[32];
	uint64_t n = 0;
	int i;

	for (i = 0; i < NELEMS; i++) {
		elem_id(id, sizeof(id), i);
		if (vs_shard_of(id, strlen(id), a) !=
		    vs_shard_of(id, strlen(id), b))
			n++;
	}
	return n;
}

static void
assert_layout(const vs_reshard_state *s, char *const *want, size_t n)
{
	size_t i;

	assert_int_equal(s->n_shards, n);
	for (i = 0; i < n; i++)
		assert_string_equal(s->shards[i], want[i]);
}

/*
 * Step until done, checking each state against the one before: phases
 * only go forward, epochs never go down, the layouts stay those of the
 * move.  The final state is left in *last (the caller's).
 */
static void
step_to_done(vs_reshard_state *first, int aborting, vs_reshard_state **last)
{
	vs_reshard_state *prev = first, *s = NULL;
	int n;

	for (n = 0; !prev->done; n++) {
		if (n == MAX_STEPS)
			fail_msg("not done after %d steps (phase %s, step '%s')",
			    MAX_STEPS, vs_reshard_phase_name(prev->phase),
			    prev->step);
		if (prev->retry_after_ms > 0)
			tu_sleep_ms((int)prev->retry_after_ms);
		EXPECT(vs_reshard_step(S.cli, BATCH, &s), VS_OK);
		assert_non_null(s);
		assert_true(s->epoch >= prev->epoch);
		if (!aborting && !s->done)
			assert_true(s->phase >= prev->phase);
		if (!aborting)
			assert_true(s->progress.copied + s->progress.skipped >=
			    prev->progress.copied + prev->progress.skipped);
		if (prev != first)
			vs_reshard_state_free(prev);
		prev = s;
	}
	*last = prev;
}

static void
insert_data(void)
{
	vs_item items[NELEMS];
	float v[NELEMS][DIM];
	char ids[NELEMS][32];
	uint64_t seed = 10;
	vs_write_result *w = NULL;
	int i, j;

	for (i = 0; i < NELEMS; i++) {
		elem_id(ids[i], sizeof(ids[i]), i);
		for (j = 0; j < DIM; j++)
			v[i][j] = tu_randf(&seed);
		items[i].id = ids[i];
		items[i].vector = v[i];
		items[i].dim = DIM;
		items[i].attrs_json = i % 2 ? "{\"n\":1}" : NULL;
	}
	EXPECT(vs_insert(S.cli, COLL, items, NELEMS, &w), VS_OK);
	assert_int_equal(w->added + w->updated, NELEMS);
	vs_write_result_free(w);
}

/* ------------------------------------------------------------ tests */

static void
test_ambiguous_requests_refused_locally(void **state)
{
	vs_reshard_state *s = (vs_reshard_state *)&s;

	(void)state;
	EXPECT(vs_reshard_start(S.cli, VS_RESHARD_ADD, NULL, NULL, &s),
	    VS_INVALID_ARGUMENT);
	assert_null(s);
	assert_non_null(strstr(vs_errmsg(), "host:port"));
	EXPECT(vs_reshard_start(S.cli, VS_RESHARD_ADD, "h:1", "h:2", &s),
	    VS_INVALID_ARGUMENT);
	EXPECT(vs_reshard_start(S.cli, VS_RESHARD_REMOVE, "h:1", NULL, &s),
	    VS_INVALID_ARGUMENT);
	assert_non_null(strstr(vs_errmsg(), "last"));
	EXPECT(vs_reshard_start(S.cli, 7, NULL, NULL, &s),
	    VS_INVALID_ARGUMENT);
	assert_null(s);
	assert_string_equal(vs_reshard_move_name(VS_RESHARD_REMOVE), "remove");
	assert_string_equal(vs_reshard_phase_name(VS_RESHARD_SWITCHED),
	    "switched");
	assert_string_equal(vs_reshard_phase_name(9), "unknown");
}

static void
test_status_names_layout_and_router(void **state)
{
	char *const two[] = { S.hosts[0], S.hosts[1] };
	vs_reshard_state *s = NULL;
	int64_t end = tu_now_ms() + ROUTER_WAIT_MS;
	size_t i;
	int seen = 0;

	(void)state;
	for (;;) {
		EXPECT(vs_reshard_status(S.cli, &s), VS_OK);
		assert_int_equal(s->phase, VS_RESHARD_STABLE);
		assert_int_equal(s->move, VS_RESHARD_NONE);
		assert_int_equal(s->n_from, 0);
		assert_false(s->done && s->move != VS_RESHARD_NONE);
		for (i = 0; i < s->n_routers; i++)
			if (strstr(s->routers[i].id, S.v.url) != NULL) {
				seen = 1;
				assert_true(s->routers[i].epoch == s->epoch);
			}
		if (seen || tu_now_ms() > end)
			break;
		vs_reshard_state_free(s);
		tu_sleep_ms(200);
	}
	if (!seen)
		fail_msg("router %s not in status after %d ms (%zu routers)",
		    S.v.url, ROUTER_WAIT_MS, s->n_routers);
	if (s->n_shards > 0)        /* no record yet: the --shard list */
		assert_layout(s, two, NLAYOUT);
	vs_reshard_state_free(s);
}

static void
test_abort_outside_dual_is_refused(void **state)
{
	vs_reshard_state *s = (vs_reshard_state *)&s;

	(void)state;
	EXPECT(vs_reshard_abort(S.cli, &s), VS_FAILED_PRECONDITION);
	assert_null(s);
	assert_true(strlen(vs_errmsg()) > 0);
}

static void
test_add_then_remove(void **state)
{
	char *const two[] = { S.hosts[0], S.hosts[1] };
	char *const three[] = { S.hosts[0], S.hosts[1], S.hosts[SPARE] };
	vs_reshard_state *s = NULL, *end = NULL;
	uint64_t e0, moving;

	(void)state;
	insert_data();
	check_placement(NLAYOUT);
	EXPECT(vs_reshard_status(S.cli, &s), VS_OK);
	e0 = s->epoch;
	vs_reshard_state_free(s);

	EXPECT(vs_reshard_start(S.cli, VS_RESHARD_ADD, S.hosts[SPARE], NULL,
	    &s), VS_OK);
	assert_int_equal(s->move, VS_RESHARD_ADD);
	assert_int_equal(s->phase, VS_RESHARD_DUAL);
	assert_true(s->epoch > e0);
	assert_false(s->done);
	assert_layout(s, three, 3);
	assert_int_equal(s->n_from, NLAYOUT);
	assert_string_equal(s->from[1], S.hosts[1]);
	step_to_done(s, 0, &end);
	vs_reshard_state_free(s);
	moving = count_moving(NLAYOUT, 3);
	assert_int_equal(end->phase, VS_RESHARD_STABLE);
	assert_true(end->epoch >= e0 + 3);
	assert_layout(end, three, 3);
	assert_int_equal(end->progress.to_move, moving);
	assert_int_equal(end->progress.copied + end->progress.skipped, moving);
	assert_int_equal(end->progress.cleaned, moving);
	vs_reshard_state_free(end);
	check_placement(3);

	/* A wrong expect_last is refused and changes nothing. */
	s = (vs_reshard_state *)&s;
	EXPECT(vs_reshard_start(S.cli, VS_RESHARD_REMOVE, NULL, S.hosts[0],
	    &s), VS_FAILED_PRECONDITION);
	assert_null(s);
	EXPECT(vs_reshard_start(S.cli, VS_RESHARD_REMOVE, NULL, S.hosts[SPARE],
	    &s), VS_OK);
	assert_int_equal(s->move, VS_RESHARD_REMOVE);
	assert_layout(s, two, NLAYOUT);
	assert_int_equal(s->n_from, 3);
	step_to_done(s, 0, &end);
	vs_reshard_state_free(s);
	assert_int_equal(end->phase, VS_RESHARD_STABLE);
	assert_layout(end, two, NLAYOUT);
	assert_int_equal(end->progress.copied + end->progress.skipped, moving);
	vs_reshard_state_free(end);
	check_placement(NLAYOUT);
}

static void
test_abort_in_dual_returns_to_old_layout(void **state)
{
	char *const two[] = { S.hosts[0], S.hosts[1] };
	vs_reshard_state *s = NULL, *t = NULL, *end = NULL;
	redisReply *r;

	(void)state;
	EXPECT(vs_reshard_start(S.cli, VS_RESHARD_ADD, S.hosts[SPARE], NULL,
	    &s), VS_OK);
	/* Copy some, staying in DUAL. */
	EXPECT(vs_reshard_step(S.cli, ABORT_BATCH, &t), VS_OK);
	vs_reshard_state_free(s);
	EXPECT(vs_reshard_step(S.cli, ABORT_BATCH, &s), VS_OK);
	vs_reshard_state_free(t);
	assert_int_equal(s->phase, VS_RESHARD_DUAL);
	assert_true(s->progress.copied + s->progress.skipped > 0);
	vs_reshard_state_free(s);
	EXPECT(vs_reshard_abort(S.cli, &s), VS_OK);
	assert_int_equal(s->phase, VS_RESHARD_STABLE);
	assert_layout(s, two, NLAYOUT);
	step_to_done(s, 1, &end);
	vs_reshard_state_free(s);
	assert_layout(end, two, NLAYOUT);
	vs_reshard_state_free(end);
	check_placement(NLAYOUT);
	/* The spare holds no vsetd key any more. */
	r = tp_redis_cmd(&S.redis[SPARE], "KEYS vsetd:*");
	assert_non_null(r);
	assert_int_equal(r->type, REDIS_REPLY_ARRAY);
	if (r->elements != 0)
		fail_msg("spare still has %zu vsetd keys, e.g. %s",
		    r->elements, r->element[0]->str);
	freeReplyObject(r);
	EXPECT(vs_reshard_status(S.cli, &s), VS_OK);
	assert_int_equal(s->move, VS_RESHARD_NONE);
	vs_reshard_state_free(s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ambiguous_requests_refused_locally),
		cmocka_unit_test(test_status_names_layout_and_router),
		cmocka_unit_test(test_abort_outside_dual_is_refused),
		cmocka_unit_test(test_add_then_remove),
		cmocka_unit_test(test_abort_in_dual_returns_to_old_layout),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
