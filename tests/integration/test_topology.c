/*
 * test_topology.c - routers agree on the shard layout through the
 * topology record stored on every shard (issue 10, src/topology.h).
 *
 * Three real Redis shards; real vsetd routers started with various
 * --shard lists.  What an operator relies on:
 *   - with no record, the --shard list is the layout and nothing is
 *     written to the shards;
 *   - a router started with an out-of-date (shorter) --shard list adopts
 *     the stored layout, says so in its log, and routes by it;
 *   - a --shard list that contradicts the record (another shard at the
 *     same index, or more shards than the record) refuses to start with
 *     exit status 3 and a message naming the index; so does a malformed
 *     record, two different records at one epoch, or a move under way;
 *   - shards holding different epochs: the highest wins when the others
 *     are consistent with it;
 *   - a shard that does not answer delays start-up by a bounded time only.
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
#include "testutil.h"
#include "tp_vsetd.h"
#include "vs_hash.h"
#include "vsetd.h"

#define NSHARDS 3
#define DIM 4
#define EXIT_TOPOLOGY 3
/* A refusing vsetd exits after reading every shard (1 s each at most). */
#define EXIT_WAIT_MS 8000
/* Start-up with one silent shard: its 1 s read timeout plus margin for a
 * busy 2-core machine. */
#define SILENT_START_MS 6000

struct fx {
	h_cluster *cl;
	char addr[NSHARDS][40];
	redisContext *rc[NSHARDS];
	char dir[PATH_MAX - 64];    /* room for a log's name */
	int runs;                    /* distinct log names */
};

static int
group_setup(void **state)
{
	struct fx *t = calloc(1, sizeof(*t));
	int i;

	if (t == NULL || h_cluster_start(&t->cl, NSHARDS, NULL) != 0)
		return -1;
	for (i = 0; i < NSHARDS; i++) {
		snprintf(t->addr[i], sizeof(t->addr[i]), "127.0.0.1:%d",
		    h_shard_port(t->cl, i));
		if ((t->rc[i] = h_shard_connect(t->cl, i, TU_TIMEOUT_MS)) ==
		    NULL)
			return -1;
	}
	snprintf(t->dir, sizeof(t->dir), "%s", h_shard_dir(t->cl, 0));
	*state = t;
	return 0;
}

static int
group_teardown(void **state)
{
	struct fx *t = *state;
	int i;

	for (i = 0; i < NSHARDS; i++)
		if (t->rc[i] != NULL)
			redisFree(t->rc[i]);
	h_cluster_destroy(t->cl);
	free(t);
	return 0;
}

/* Each test starts with empty shards. */
static int
test_setup(void **state)
{
	struct fx *t = *state;
	redisReply *r;
	int i;

	for (i = 0; i < NSHARDS; i++) {
		if ((r = redisCommand(t->rc[i], "FLUSHALL")) == NULL)
			return -1;
		freeReplyObject(r);
	}
	return 0;
}

/* ------------------------------------------------------------ helpers */

static redisReply *
cmd(struct fx *t, int s, const char *fmt, ...)
{
	redisReply *r;
	va_list ap;

	va_start(ap, fmt);
	r = redisvCommand(t->rc[s], fmt, ap);
	va_end(ap);
	if (r == NULL)
		fail_msg("shard %d: %s", s, t->rc[s]->errstr);
	return r;
}

static void
cmd_ok(struct fx *t, int s, const char *fmt, ...)
{
	redisReply *r;
	va_list ap;

	va_start(ap, fmt);
	r = redisvCommand(t->rc[s], fmt, ap);
	va_end(ap);
	if (r == NULL || r->type == REDIS_REPLY_ERROR)
		fail_msg("shard %d: %s", s, r != NULL ? r->str :
		    t->rc[s]->errstr);
	freeReplyObject(r);
}

/* "a0,a1,...,a<n-1>" of the shards' addresses. */
static void
list_of(struct fx *t, int n, char *buf, size_t size)
{
	size_t used = 0;
	int i;

	buf[0] = '\0';
	for (i = 0; i < n; i++)
		used += (size_t)snprintf(buf + used, size - used, "%s%s",
		    i ? "," : "", t->addr[i]);
}

/* A stable record at epoch with the first n shards, on shard s. */
static void
put_record(struct fx *t, int s, const char *epoch, int n)
{
	char list[200];

	list_of(t, n, list, sizeof(list));
	cmd_ok(t, s, "DEL vsetd:@topology");
	cmd_ok(t, s, "HSET vsetd:@topology version 1 epoch %s shards %s "
	    "phase stable", epoch, list);
}

/* argv of a router on the shards idx[0..n) (indexes into t->addr). */
static int
router_args(struct fx *t, const int *idx, int n, const char **args)
{
	int i, a = 0;

	args[a++] = "--listen";
	args[a++] = "tcp://127.0.0.1:0";
	for (i = 0; i < n; i++) {
		args[a++] = "--shard";
		args[a++] = t->addr[idx[i]];
	}
	args[a] = NULL;
	return a;
}

static void
router_start(struct fx *t, struct tp_vsetd *v, const int *idx, int n)
{
	const char *args[4 + 2 * NSHARDS + 1];
	char tag[32];

	router_args(t, idx, n, args);
	snprintf(tag, sizeof(tag), "r%d", t->runs++);
	if (tp_vsetd_start(v, t->dir, tag, args, NULL) != 0)
		fail_msg("vsetd did not start");
}

/* Start a router that must refuse: its exit status; its log to log. */
static int
router_refused(struct fx *t, const int *idx, int n, char *log, size_t size)
{
	const char *args[4 + 2 * NSHARDS + 2];
	const char *bin = getenv("VSETD_BIN");
	struct tp_proc p;
	int st = 0;

	args[0] = bin;
	router_args(t, idx, n, args + 1);
	if (snprintf(log, size, "%s/vsetd-refused%d.log", t->dir,
	    t->runs++) >= (int)size)
		fail_msg("path too long");
	assert_non_null(bin);
	assert_int_equal(tp_proc_start(&p, args, NULL, t->dir, log), 0);
	if (tp_proc_wait(&p, EXIT_WAIT_MS, &st) != 0) {
		tp_proc_kill(&p);
		tp_log_tail(log, 2000);
		fail_msg("vsetd did not exit: it should refuse to start");
	}
	if (!WIFEXITED(st))
		fail_msg("vsetd died of signal %d", WTERMSIG(st));
	return WEXITSTATUS(st);
}

static void
assert_log_has(const char *log, const char *needle)
{
	if (tp_file_contains(log, needle) != 1) {
		tp_log_tail(log, 2000);
		fail_msg("log %s lacks \"%s\"", log, needle);
	}
}

static long long
exists_topology(struct fx *t, int s)
{
	redisReply *r = cmd(t, s, "EXISTS vsetd:@topology");
	long long n = r->type == REDIS_REPLY_INTEGER ? r->integer : -1;

	freeReplyObject(r);
	return n;
}

/* An id owned by shard s among n shards. */
static void
id_on(int s, int n, const char *prefix, char *buf, size_t size)
{
	int k;

	for (k = 0; ; k++) {
		snprintf(buf, size, "%s%d", prefix, k);
		if ((int)vs_shard_of(buf, strlen(buf), (uint32_t)n) == s)
			return;
	}
}

static int
insert1(vs_client *c, const char *id)
{
	float v[DIM] = { 1, 2, 3, 4 };
	vs_item it = { id, v, DIM, NULL };

	return vs_insert(c, "topo", &it, 1, NULL);
}

static int
present(struct fx *t, int s, const char *id)
{
	redisReply *r = cmd(t, s, "VEMB vsetd:topo %s", id);
	int yes = r->type == REDIS_REPLY_ARRAY;

	freeReplyObject(r);
	return yes;
}

/* ------------------------------------------------------------ start-up */

static void
test_no_record_is_epoch0(void **state)
{
	static const int two[] = { 0, 1 };
	struct fx *t = *state;
	struct tp_vsetd v;
	vs_client *c;
	char id[32];
	int s;

	router_start(t, &v, two, 2);
	assert_log_has(v.p.log, "epoch 0");
	assert_int_equal(vs_connect(&c, v.url, TU_TIMEOUT_MS), VS_OK);
	id_on(1, 2, "n", id, sizeof(id));
	assert_int_equal(insert1(c, id), VS_OK);
	assert_true(present(t, 1, id));
	vs_close(c);
	assert_int_equal(tp_vsetd_term(&v, 3000), 0);
	/* nothing was written */
	for (s = 0; s < NSHARDS; s++)
		assert_int_equal(exists_topology(t, s), 0);
}

static void
test_short_list_adopts(void **state)
{
	static const int two[] = { 0, 1 };
	struct fx *t = *state;
	struct tp_vsetd v;
	char list[200];
	int s;

	for (s = 0; s < NSHARDS; s++)
		put_record(t, s, "3", NSHARDS);
	router_start(t, &v, two, 2);
	list_of(t, NSHARDS, list, sizeof(list));
	assert_log_has(v.p.log, "adopted epoch 3");
	assert_log_has(v.p.log, list);
	assert_log_has(v.p.log, "3 shards");
	assert_int_equal(tp_vsetd_term(&v, 3000), 0);
	/* the record is read, never rewritten */
	for (s = 0; s < NSHARDS; s++) {
		redisReply *r = cmd(t, s, "HGET vsetd:@topology epoch");

		assert_string_equal(r->str, "3");
		freeReplyObject(r);
	}
}

static void
test_contradiction_refused(void **state)
{
	static const int swapped[] = { 0, 2 }, three[] = { 0, 1, 2 };
	struct fx *t = *state;
	char log[PATH_MAX], needle[100];
	int s;

	for (s = 0; s < NSHARDS; s++)
		put_record(t, s, "3", NSHARDS);
	/* another shard at index 1 */
	assert_int_equal(router_refused(t, swapped, 2, log, sizeof(log)),
	    EXIT_TOPOLOGY);
	assert_log_has(log, "index 1");
	snprintf(needle, sizeof(needle), "is %s but", t->addr[2]);
	assert_log_has(log, needle);
	snprintf(needle, sizeof(needle), "has %s there", t->addr[1]);
	assert_log_has(log, needle);
	assert_log_has(log, "Growing and shrinking");
	/* more shards than the record */
	for (s = 0; s < NSHARDS; s++)
		put_record(t, s, "2", 2);
	assert_int_equal(router_refused(t, three, 3, log, sizeof(log)),
	    EXIT_TOPOLOGY);
	assert_log_has(log, "index 2");
	assert_log_has(log, t->addr[2]);
}

static void
test_bad_records_refused(void **state)
{
	static const int two[] = { 0, 1 };
	struct fx *t = *state;
	char log[PATH_MAX], list[200];

	/* malformed on one shard */
	put_record(t, 0, "3", 2);
	put_record(t, 1, "3", 2);
	cmd_ok(t, 1, "HSET vsetd:@topology epoch 3x");
	assert_int_equal(router_refused(t, two, 2, log, sizeof(log)),
	    EXIT_TOPOLOGY);
	assert_log_has(log, "shard 1");
	assert_log_has(log, "epoch \"3x\"");
	/* the key holds another type */
	cmd_ok(t, 1, "DEL vsetd:@topology");
	cmd_ok(t, 1, "SET vsetd:@topology 5");
	assert_int_equal(router_refused(t, two, 2, log, sizeof(log)),
	    EXIT_TOPOLOGY);
	assert_log_has(log, "WRONGTYPE");
	/* two different records at the same epoch */
	put_record(t, 1, "3", 3);
	assert_int_equal(router_refused(t, two, 2, log, sizeof(log)),
	    EXIT_TOPOLOGY);
	assert_log_has(log, "same epoch");
	/* a move under way: this version routes only stable layouts */
	list_of(t, 2, list, sizeof(list));
	put_record(t, 0, "4", 3);
	put_record(t, 1, "4", 3);
	cmd_ok(t, 0, "HSET vsetd:@topology phase dual from %s move add",
	    list);
	cmd_ok(t, 1, "HSET vsetd:@topology phase dual from %s move add",
	    list);
	assert_int_equal(router_refused(t, two, 2, log, sizeof(log)),
	    EXIT_TOPOLOGY);
	assert_log_has(log, "phase dual");
}

static void
test_highest_epoch_wins(void **state)
{
	static const int two[] = { 0, 1 };
	struct fx *t = *state;
	struct tp_vsetd v;

	/* shard 1 missed the last change (2 -> 3 shards) */
	put_record(t, 0, "5", 3);
	put_record(t, 1, "4", 2);
	router_start(t, &v, two, 2);
	assert_log_has(v.p.log, "adopted epoch 5");
	assert_int_equal(tp_vsetd_term(&v, 3000), 0);
	/* a lower epoch that contradicts the highest: refused */
	{
		char log[PATH_MAX];

		cmd_ok(t, 1, "HSET vsetd:@topology shards %s,%s", t->addr[2],
		    t->addr[1]);
		assert_int_equal(router_refused(t, two, 2, log, sizeof(log)),
		    EXIT_TOPOLOGY);
		assert_log_has(log, "contradicts");
	}
}

static void
test_silent_shard_bounded(void **state)
{
	static const int three[] = { 0, 1, 2 };
	struct fx *t = *state;
	struct tp_vsetd v;
	int64_t t0;
	int s;

	for (s = 0; s < NSHARDS; s++)
		put_record(t, s, "6", NSHARDS);
	assert_int_equal(h_shard_stop(t->cl, 2), 0);
	t0 = tu_now_ms();
	router_start(t, &v, three, 3);
	assert_true(tu_now_ms() - t0 < SILENT_START_MS);
	assert_int_equal(h_shard_cont(t->cl, 2), 0);
	assert_log_has(v.p.log, "did not answer");
	assert_log_has(v.p.log, "epoch 6");
	assert_int_equal(tp_vsetd_term(&v, 3000), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_no_record_is_epoch0, test_setup),
		cmocka_unit_test_setup(test_short_list_adopts, test_setup),
		cmocka_unit_test_setup(test_contradiction_refused, test_setup),
		cmocka_unit_test_setup(test_bad_records_refused, test_setup),
		cmocka_unit_test_setup(test_highest_epoch_wins, test_setup),
		cmocka_unit_test_setup(test_silent_shard_bounded, test_setup),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
