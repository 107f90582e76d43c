/*
 * test_vsim_threads.c - --vsim-threads decides whether a search's VSIMs
 * carry NOTHREAD (src/ops/op_search.c says why).  Two real Redis shards;
 * each shard's SLOWLOG (threshold 0: every command) shows the VSIMs
 * vsetd sent.  What an operator relies on:
 *   - on: never NOTHREAD (Redis's own threads), unless the caller asks;
 *   - off: always NOTHREAD;
 *   - auto: NOTHREAD for a search running alone;
 *   - a bad value stops vsetd at start with a message naming the option.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <cmocka.h>

#include "harness.h"
#include "tp_proc.h"
#include "testutil.h"
#include "vsetd.h"

#define NSHARDS 2
#define DIM 4
#define NITEMS 8
#define SLOWLOG_LEN 128
#define EXIT_USAGE 2

/* Did every VSIM in shard i's slowlog carry NOTHREAD?  *vsims := how
 * many VSIMs; *none := 0 when one did carry it. */
static int
vsims_nothread(h_cluster *cl, int i, int *vsims, int *none)
{
	redisContext *rc = h_shard_connect(cl, i, TU_TIMEOUT_MS);
	redisReply *r;
	size_t e, a;
	int all = 1;

	assert_non_null(rc);
	*vsims = 0;
	r = redisCommand(rc, "SLOWLOG GET %d", SLOWLOG_LEN);
	assert_non_null(r);
	assert_int_equal(r->type, REDIS_REPLY_ARRAY);
	for (e = 0; e < r->elements; e++) {
		redisReply *args = r->element[e]->element[3];
		int nothread = 0;

		if (args->elements == 0 ||
		    strcasecmp(args->element[0]->str, "VSIM") != 0)
			continue;
		(*vsims)++;
		for (a = 1; a < args->elements; a++)
			if (args->element[a]->type == REDIS_REPLY_STRING &&
			    strcmp(args->element[a]->str, "NOTHREAD") == 0)
				nothread = 1;
		all &= nothread;
		if (nothread)
			*none = 0;
	}
	freeReplyObject(r);
	freeReplyObject(redisCommand(rc, "SLOWLOG RESET"));
	redisFree(rc);
	return all;
}

/* Start vsetd with --vsim-threads mode, insert, search once alone; what
 * the shards saw: 1 = every VSIM had NOTHREAD, 0 = none had. */
static int
run_mode(h_cluster *cl, const char *mode, int caller_nothread)
{
	const char *args[] = { "--vsim-threads", mode, NULL };
	float v[NITEMS][DIM];
	vs_item it[NITEMS];
	char ids[NITEMS][8];
	vs_search_params sp;
	vs_search_options o;
	vs_search_result *res = NULL;
	vs_client *c;
	int i, s, n, total = 0, every = 1, none = 1;

	assert_int_equal(h_vsetd_start(cl, args), 0);
	assert_int_equal(vs_connect(&c, h_vsetd_url(cl), TU_TIMEOUT_MS),
	    VS_OK);
	for (i = 0; i < NITEMS; i++) {
		snprintf(ids[i], sizeof(ids[i]), "e%d", i);
		v[i][0] = 1;
		v[i][1] = (float)i;
		v[i][2] = v[i][3] = 0.5f;
		it[i] = (vs_item){ ids[i], v[i], DIM, NULL };
	}
	assert_int_equal(vs_insert(c, "vt", it, NITEMS, NULL), VS_OK);
	for (s = 0; s < NSHARDS; s++)
		(void)vsims_nothread(cl, s, &n, &none);    /* reset */
	none = 1;
	memset(&o, 0, sizeof(o));
	sp = (vs_search_params){ "vt", v[0], DIM, 5, 0, 1 };
	o.nothread = caller_nothread;
	assert_int_equal(vs_search_ex(c, &sp, &o, &res), VS_OK);
	vs_search_result_free(res);
	for (s = 0; s < NSHARDS; s++) {
		int nt = vsims_nothread(cl, s, &n, &none);

		total += n;
		every &= nt;
	}
	vs_close(c);
	assert_int_equal(h_vsetd_stop(cl, SIGTERM, 5000, NULL), 0);
	assert_int_equal(total, NSHARDS);        /* one VSIM per shard */
	assert_true(every || none);              /* all or nothing */
	return every;
}

static void
test_modes(void **state)
{
	h_cluster *cl = *state;

	assert_int_equal(run_mode(cl, "off", 0), 1);
	assert_int_equal(run_mode(cl, "on", 0), 0);
	assert_int_equal(run_mode(cl, "auto", 0), 1);
	/* the caller's own NOTHREAD wins over on */
	assert_int_equal(run_mode(cl, "on", 1), 1);
}

static void
test_bad_value(void **state)
{
	h_cluster *cl = *state;
	const char *args[] = { "--vsim-threads", "sometimes", NULL };

	assert_int_not_equal(h_vsetd_start(cl, args), 0);
	assert_int_equal(tp_file_contains(h_vsetd_log(cl),
	    "--vsim-threads wants auto, on or off, not \"sometimes\""), 1);
}

static int
group_setup(void **state)
{
	h_cluster *cl;
	int s;

	if (h_cluster_start(&cl, NSHARDS, NULL) != 0)
		return -1;
	for (s = 0; s < NSHARDS; s++) {
		redisContext *rc = h_shard_connect(cl, s, TU_TIMEOUT_MS);

		if (rc == NULL)
			return -1;
		freeReplyObject(redisCommand(rc, "CONFIG SET "
		    "slowlog-log-slower-than 0"));
		freeReplyObject(redisCommand(rc, "CONFIG SET slowlog-max-len "
		    "%d", SLOWLOG_LEN));
		redisFree(rc);
	}
	*state = cl;
	return 0;
}

static int
group_teardown(void **state)
{
	h_cluster_destroy(*state);
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_modes),
		cmocka_unit_test(test_bad_value),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
