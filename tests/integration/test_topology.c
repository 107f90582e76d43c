/*
 * test_topology.c - routers agree on the shard layout through the
 * topology record stored on every shard (issue 10, src/fanout/topology.h).
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
 *     record or two different records at one epoch; a record of a move
 *     under way is adopted, phase and all;
 *   - shards holding different epochs: the highest wins when the others
 *     are consistent with it;
 *   - a shard that does not answer delays start-up by a bounded time only;
 *   - with a Redis password the record is read after AUTH; without the
 *     password (NOAUTH) the shard counts as not answering, not malformed.
 * And while serving (the epoch in the write fence):
 *   - two routers at epoch 0; the epoch is bumped on the shards by hand
 *     with the same layout: each router's next write is refused at the
 *     data, the router reloads the record and the write succeeds at the
 *     new epoch; a search notices the epoch read after its VSIMs and
 *     serves at the new epoch too;
 *   - a router whose layout is out of date (the record on the shards
 *     names one more shard) never writes by it: its next write is refused
 *     at the data, it adopts the stored layout while running (the new
 *     shard joins its table) and the write lands on the owner among 3;
 *     restarted with the same old --shard list, it adopts it too;
 *   - the same while it is writing: no insert started after the record
 *     reached every shard is stored by the old layout.
 * And the phases of a move (written by hand here, as the mover writes
 * them), with a router started on the 2 old shards:
 *   - DUAL (2 -> 3): an insert, attribute update or delete of an id that
 *     moves lands on both owners; of one that stays, on its owner only;
 *     searches read the old layout (an element only on the new shard is
 *     not seen); point reads ask the old owner; a REDUCE collection
 *     cannot be created (the mover could not copy it);
 *   - SWITCHED: writes of moving ids go to the new owner only; searches
 *     read both layouts and list an id held by both once (random members
 *     too); point reads ask the new owner.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <cmocka.h>

#include "harness.h"
#include "testutil.h"
#include "tp_redis.h"
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
	char addr[NSHARDS][TU_ADDR_LEN];
	redisContext *rc[NSHARDS];
	char dir[PATH_MAX - 64];    /* room for a log's name */
	int runs;                    /* distinct log names */
};

static int
group_setup(void **state)
{
	struct fx *t = calloc(1, sizeof(*t));

	if (t == NULL || h_cluster_start(&t->cl, NSHARDS, NULL) != 0)
		return -1;
	if (tu_shards_open(t->cl, NSHARDS, t->addr, t->rc, TU_TIMEOUT_MS) !=
	    0)
		return -1;
	snprintf(t->dir, sizeof(t->dir), "%s", h_shard_dir(t->cl, 0));
	*state = t;
	return 0;
}

static int
group_teardown(void **state)
{
	struct fx *t = *state;

	tu_shards_close(t->rc, NSHARDS);
	h_cluster_destroy(t->cl);
	free(t);
	return 0;
}

/* Each test starts with empty shards. */
static int
test_setup(void **state)
{
	struct fx *t = *state;

	return tu_shards_run(t->rc, NSHARDS, "FLUSHALL");
}

/* ------------------------------------------------------------ helpers */

/* A command straight to shard s of the fixture t (testutil.h). */
#define cmd(t, s, ...) tu_cmd((t)->rc[s], (s), __VA_ARGS__)
#define cmd_ok(t, s, ...) tu_cmd_ok((t)->rc[s], (s), __VA_ARGS__)

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
	char log[PATH_MAX];

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
}

/* A record of a move under way is adopted at start-up: the router knows
 * the shards of both layouts and routes by the phase. */
static void
test_move_record_adopted(void **state)
{
	static const int two[] = { 0, 1 };
	struct fx *t = *state;
	struct tp_vsetd r;
	char list[200];
	int s;

	list_of(t, 2, list, sizeof(list));
	for (s = 0; s < NSHARDS; s++) {
		put_record(t, s, "4", 3);
		cmd_ok(t, s, "HSET vsetd:@topology phase dual from %s move add",
		    list);
	}
	router_start(t, &r, two, 2);
	assert_log_has(r.p.log, "phase dual");
	assert_log_has(r.p.log, "adopted epoch 4");
	assert_int_equal(tp_vsetd_term(&r, 3000), 0);
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

static void
test_auth(void **state)
{
	static const char *const extra[] = { "--requirepass", "topo-pw", NULL };
	static const char *const env[] = { "VSETD_REDIS_PASSWORD=topo-pw",
	    NULL };
	struct fx *t = *state;
	struct tp_redis r;
	struct tp_vsetd v;
	redisReply *rep;
	char dir[PATH_MAX], addr[40], tag[16];
	const char *args[] = { "--listen", "tcp://127.0.0.1:0", "--shard",
	    addr, NULL };

	if (snprintf(dir, sizeof(dir), "%s/auth", t->dir) >= (int)sizeof(dir))
		fail_msg("path too long");
	assert_int_equal(mkdir(dir, 0700), 0);
	assert_int_equal(tp_redis_start(&r, 0, dir, extra, "topo-pw"), 0);
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", r.port);
	rep = tp_redis_cmd(&r, "HSET vsetd:@topology epoch 2 shards %s phase "
	    "stable", addr);
	assert_non_null(rep);
	assert_int_equal(rep->type, REDIS_REPLY_INTEGER);
	freeReplyObject(rep);
	snprintf(tag, sizeof(tag), "a%d", t->runs++);
	assert_int_equal(tp_vsetd_start(&v, t->dir, tag, args, env), 0);
	assert_log_has(v.p.log, "epoch 2");
	assert_int_equal(tp_vsetd_term(&v, 3000), 0);
	/* no password: NOAUTH is "did not answer", and it starts */
	snprintf(tag, sizeof(tag), "a%d", t->runs++);
	assert_int_equal(tp_vsetd_start(&v, t->dir, tag, args, NULL), 0);
	assert_log_has(v.p.log, "NOAUTH");
	assert_int_equal(tp_vsetd_term(&v, 3000), 0);
	tp_proc_kill(&r.p);
}

/* ------------------------------------------------------------ serving */

static void
assert_log_eventually(const char *log, const char *needle)
{
	int i;

	for (i = 0; i < 100 && tp_file_contains(log, needle) != 1; i++)
		tu_sleep_ms(20);
	assert_log_has(log, needle);
}

static int
search_finds(vs_client *c, const char *id, int *code)
{
	float v[DIM] = { 1, 2, 3, 4 };
	vs_search_params p = { "topo", v, DIM, 100, 0, 1 };
	vs_search_result *r = NULL;
	size_t i;
	int found = 0;

	*code = vs_search(c, &p, &r);
	if (*code != VS_OK)
		return 0;
	for (i = 0; i < r->n_hits; i++)
		if (strcmp(r->hits[i].id, id) == 0)
			found = 1;
	vs_search_result_free(r);
	return found;
}

static void
test_epoch_bump_reload(void **state)
{
	static const int three[] = { 0, 1, 2 };
	struct fx *t = *state;
	struct tp_vsetd a, b;
	vs_client *ca, *cb;
	const char *ids[1];
	char id0[32], id1[32], id2[32];
	int s, code;

	router_start(t, &a, three, 3);
	router_start(t, &b, three, 3);
	assert_int_equal(vs_connect(&ca, a.url, TU_TIMEOUT_MS), VS_OK);
	assert_int_equal(vs_connect(&cb, b.url, TU_TIMEOUT_MS), VS_OK);
	id_on(0, 3, "e", id0, sizeof(id0));
	id_on(1, 3, "e", id1, sizeof(id1));
	id_on(2, 3, "e", id2, sizeof(id2));
	assert_int_equal(insert1(ca, id0), VS_OK);
	assert_true(search_finds(cb, id0, &code));

	/* an operator bumps the epoch, same layout */
	for (s = 0; s < NSHARDS; s++)
		put_record(t, s, "1", NSHARDS);
	/* a's next write is refused at epoch 0, reloads, succeeds at 1 */
	assert_int_equal(insert1(ca, id1), VS_OK);
	assert_true(present(t, 1, id1));
	assert_log_eventually(a.p.log, "now at epoch 1");
	/* b's search sees epoch 1 after its VSIMs, reloads, serves */
	assert_true(search_finds(cb, id1, &code));
	assert_int_equal(code, VS_OK);
	assert_log_eventually(b.p.log, "now at epoch 1");
	/* b writes at epoch 1 directly; attributes and deletes too */
	assert_int_equal(insert1(cb, id2), VS_OK);
	assert_true(present(t, 2, id2));
	for (s = 0; s < NSHARDS; s++)
		put_record(t, s, "2", NSHARDS);
	assert_int_equal(vs_set_attributes(cb, "topo", id2, "{\"a\":1}"),
	    VS_OK);
	{
		redisReply *r = cmd(t, 2, "VGETATTR vsetd:topo %s", id2);

		assert_int_equal(r->type, REDIS_REPLY_STRING);
		assert_non_null(strstr(r->str, "\"a\""));
		freeReplyObject(r);
	}
	ids[0] = id0;
	assert_int_equal(vs_delete(ca, "topo", ids, 1, NULL), VS_OK);
	assert_false(present(t, 0, id0));
	assert_log_eventually(a.p.log, "now at epoch 2");
	assert_log_eventually(b.p.log, "now at epoch 2");
	vs_close(ca);
	vs_close(cb);
	assert_int_equal(tp_vsetd_term(&a, 3000), 0);
	assert_int_equal(tp_vsetd_term(&b, 3000), 0);
}

#define STALE_TRIES 30

static void
test_stale_layout_followed(void **state)
{
	static const int two[] = { 0, 1 }, three[] = { 0, 1, 2 };
	struct fx *t = *state;
	struct tp_vsetd old, fresh;
	vs_client *co, *cf;
	const char *ids[1];
	char id[32], keep[32];
	int s, i, code;

	router_start(t, &old, two, 2);
	assert_int_equal(vs_connect(&co, old.url, TU_TIMEOUT_MS), VS_OK);
	id_on(1, 2, "k", keep, sizeof(keep));
	assert_int_equal(insert1(co, keep), VS_OK);
	/* the layout grows to 3 shards, recorded at epoch 1 on every shard
	 * (as the mover will do); `old` is never told */
	for (s = 0; s < NSHARDS; s++)
		put_record(t, s, "1", NSHARDS);
	/* the next writes are refused at the data; the router adopts the
	 * layout while running and each lands on its owner among 3 */
	for (i = 0; i < STALE_TRIES; i++) {
		snprintf(id, sizeof(id), "x%d", i);
		if ((code = insert1(co, id)) != VS_OK)
			fail_msg("insert %s through the stale router: %s %s",
			    id, vs_code_name(code), vs_errmsg());
		for (s = 0; s < NSHARDS; s++)
			assert_int_equal(present(t, s, id),
			    s == (int)vs_shard_of(id, strlen(id), NSHARDS));
	}
	assert_log_eventually(old.p.log, "now at epoch 1");
	ids[0] = keep;
	assert_int_equal(vs_delete(co, "topo", ids, 1, NULL), VS_OK);
	assert_false(present(t, (int)vs_shard_of(keep, strlen(keep), NSHARDS),
	    keep));
	vs_close(co);
	assert_int_equal(tp_vsetd_term(&old, 3000), 0);

	/* restarted with the same old list: adopts 3 shards, writes land on
	 * their owner among 3 */
	router_start(t, &old, two, 2);
	assert_log_has(old.p.log, "adopted epoch 1");
	assert_int_equal(vs_connect(&co, old.url, TU_TIMEOUT_MS), VS_OK);
	id_on(2, 3, "y", id, sizeof(id));
	assert_int_equal(insert1(co, id), VS_OK);
	assert_true(present(t, 2, id));
	/* a router started with the full list agrees */
	router_start(t, &fresh, three, 3);
	assert_int_equal(vs_connect(&cf, fresh.url, TU_TIMEOUT_MS), VS_OK);
	assert_true(search_finds(cf, id, &code));
	vs_close(cf);
	vs_close(co);
	assert_int_equal(tp_vsetd_term(&fresh, 3000), 0);
	assert_int_equal(tp_vsetd_term(&old, 3000), 0);
}

#define RACE_MAX 20000
#define RACE_BEFORE_MS 300
#define RACE_AFTER_MS 300

struct race {
	vs_client *c;
	int stop;                    /* set by the main thread (atomic) */
	int n;
	int64_t start_ms[RACE_MAX];
	int code[RACE_MAX];
};

static void *
race_writer(void *arg)
{
	struct race *r = arg;
	char id[32];

	while (!__atomic_load_n(&r->stop, __ATOMIC_ACQUIRE) &&
	    r->n < RACE_MAX) {
		snprintf(id, sizeof(id), "r%d", r->n);
		r->start_ms[r->n] = tu_now_ms();
		r->code[r->n] = insert1(r->c, id);
		r->n++;
	}
	return NULL;
}

static void
test_stale_router_racing(void **state)
{
	static const int two[] = { 0, 1 };
	struct fx *t = *state;
	struct tp_vsetd old;
	struct race *r = calloc(1, sizeof(*r));
	pthread_t th;
	int64_t bumped;
	int i, s, before_ok = 0, after = 0;
	char id[32];

	assert_non_null(r);
	router_start(t, &old, two, 2);
	assert_int_equal(vs_connect(&r->c, old.url, TU_TIMEOUT_MS), VS_OK);
	assert_int_equal(pthread_create(&th, NULL, race_writer, r), 0);
	tu_sleep_ms(RACE_BEFORE_MS);
	for (s = 0; s < NSHARDS; s++)
		put_record(t, s, "1", NSHARDS);
	bumped = tu_now_ms();
	tu_sleep_ms(RACE_AFTER_MS);
	__atomic_store_n(&r->stop, 1, __ATOMIC_RELEASE);
	pthread_join(th, NULL);
	for (i = 0; i < r->n; i++) {
		snprintf(id, sizeof(id), "r%d", i);
		int o2 = (int)vs_shard_of(id, strlen(id), 2);
		int o3 = (int)vs_shard_of(id, strlen(id), NSHARDS);

		if (r->start_ms[i] > bumped) {
			after++;
			/* refused at the data, then written by the new
			 * layout: only ever on its owner among 3 */
			if (r->code[i] != VS_OK)
				fail_msg("insert %s started %lld ms after the "
				    "change failed: %s", id, (long long)(
				    r->start_ms[i] - bumped),
				    vs_code_name(r->code[i]));
			for (s = 0; s < NSHARDS; s++)
				assert_int_equal(present(t, s, id), s == o3);
		} else if (r->code[i] == VS_OK) {
			before_ok++;
			/* acknowledged under one layout or the other */
			assert_true(present(t, o2, id) || present(t, o3, id));
		}
	}
	printf("# %d inserts acknowledged before the change, %d after it "
	    "(each on its owner among %d)\n", before_ok, after, NSHARDS);
	assert_true(before_ok > 0);
	assert_true(after > 0);
	vs_close(r->c);
	free(r);
	assert_int_equal(tp_vsetd_term(&old, 3000), 0);
}

/* "shards" and "from" lists of a move record, and the record on every
 * shard of the union. */
static void
put_move(struct fx *t, const char *epoch, const char *phase, int nold,
    int nnew)
{
	char from[200], to[200];
	int s, nall = nold > nnew ? nold : nnew;

	list_of(t, nold, from, sizeof(from));
	list_of(t, nnew, to, sizeof(to));
	for (s = 0; s < nall; s++) {
		cmd_ok(t, s, "DEL vsetd:@topology");
		cmd_ok(t, s, "HSET vsetd:@topology version 1 epoch %s shards %s "
		    "phase %s from %s move %s", epoch, to, phase, from,
		    nnew > nold ? "add" : "remove");
	}
}

/* Copy collection topo's metadata from shard 0 to shard s, as the mover
 * does before the DUAL record. */
static void
copy_meta(struct fx *t, int s)
{
	redisReply *r = cmd(t, 0, "HGETALL vsetd:@meta:topo");
	size_t i;

	assert_int_equal(r->type, REDIS_REPLY_ARRAY);
	for (i = 0; i + 1 < r->elements; i += 2)
		cmd_ok(t, s, "HSET vsetd:@meta:topo %b %b",
		    r->element[i]->str, (size_t)r->element[i]->len,
		    r->element[i + 1]->str, (size_t)r->element[i + 1]->len);
	freeReplyObject(r);
}

/* An id whose owner among 2 is `from` and among 3 is `to`. */
static void
id_moving(int from, int to, const char *prefix, char *buf, size_t size)
{
	int k;

	for (k = 0; ; k++) {
		snprintf(buf, size, "%s%d", prefix, k);
		if ((int)vs_shard_of(buf, strlen(buf), 2) == from &&
		    (int)vs_shard_of(buf, strlen(buf), 3) == to)
			return;
	}
}

static char *
attr_on(struct fx *t, int s, const char *id)
{
	redisReply *r = cmd(t, s, "VGETATTR vsetd:topo %s", id);
	char *a = r->type == REDIS_REPLY_STRING ? strdup(r->str) : NULL;

	freeReplyObject(r);
	return a;
}

/* How many hits of a k=100 search list id (-1: the search failed). */
static int
search_count(vs_client *c, const char *id)
{
	float v[DIM] = { 1, 2, 3, 4 };
	vs_search_params p = { "topo", v, DIM, 100, 0, 1 };
	vs_search_result *r = NULL;
	size_t i;
	int n = 0;

	if (vs_search(c, &p, &r) != VS_OK)
		return -1;
	for (i = 0; i < r->n_hits; i++)
		n += strcmp(r->hits[i].id, id) == 0;
	vs_search_result_free(r);
	return n;
}

static void
test_phases_route(void **state)
{
	static const int two[] = { 0, 1 };
	struct fx *t = *state;
	struct tp_vsetd r;
	vs_client *c;
	vs_element *e = NULL;
	const char *ids[1];
	char mv[32], stay[32], gone[32], only_new[32], both[32], late[32];
	char *a;
	int s;

	router_start(t, &r, two, 2);
	assert_int_equal(vs_connect(&c, r.url, TU_TIMEOUT_MS), VS_OK);
	id_moving(0, 2, "m", mv, sizeof(mv));
	id_moving(1, 1, "s", stay, sizeof(stay));
	id_moving(1, 2, "g", gone, sizeof(gone));
	id_moving(0, 2, "n", only_new, sizeof(only_new));
	id_moving(1, 2, "b", both, sizeof(both));
	id_moving(0, 2, "l", late, sizeof(late));
	assert_int_equal(insert1(c, gone), VS_OK);
	assert_int_equal(insert1(c, both), VS_OK);

	/* DUAL, 2 -> 3 */
	copy_meta(t, 2);
	put_move(t, "1", "dual", 2, 3);
	assert_int_equal(insert1(c, mv), VS_OK);      /* refused, reloads */
	assert_log_eventually(r.p.log, "phase dual");
	assert_true(present(t, 0, mv));
	assert_true(present(t, 2, mv));
	assert_int_equal(insert1(c, stay), VS_OK);
	assert_true(present(t, 1, stay));
	assert_false(present(t, 2, stay));
	assert_int_equal(vs_set_attributes(c, "topo", mv, "{\"p\":1}"),
	    VS_OK);
	for (s = 0; s < 3; s += 2) {
		a = attr_on(t, s, mv);
		assert_non_null(a);
		assert_string_equal(a, "{\"p\":1}");
		free(a);
	}
	/* a delete reaches the new owner too (the mover's copy of `gone`) */
	cmd_ok(t, 2, "VADD vsetd:topo VALUES 4 1 2 3 4 %s Q8", gone);
	ids[0] = gone;
	assert_int_equal(vs_delete(c, "topo", ids, 1, NULL), VS_OK);
	assert_false(present(t, 1, gone));
	assert_false(present(t, 2, gone));
	/* reads use the old layout: an element only on shard 2 is unseen */
	cmd_ok(t, 2, "VADD vsetd:topo VALUES 4 1 2 3 4 %s Q8", only_new);
	assert_int_equal(search_count(c, only_new), 0);
	assert_int_equal(search_count(c, mv), 1);
	assert_int_equal(vs_get(c, "topo", only_new, 0, &e), VS_NOT_FOUND);
	{
		vs_collection_params cp = { 8, 0, 0, 4, 0 };
		int created = 0;

		/* the mover could not copy a REDUCE set: refused */
		assert_int_equal(vs_create_collection(c, "red", &cp, &created),
		    VS_FAILED_PRECONDITION);
		assert_non_null(strstr(vs_errmsg(), "REDUCE"));
	}

	/* SWITCHED: `both` is on its old owner and (copied) on shard 2 */
	cmd_ok(t, 2, "VADD vsetd:topo VALUES 4 1 2 3 4 %s Q8", both);
	put_move(t, "2", "switched", 2, 3);
	assert_int_equal(search_count(c, both), 1);   /* reloads, reruns */
	assert_log_eventually(r.p.log, "phase switched");
	assert_int_equal(search_count(c, only_new), 1);
	{
		char **got = NULL;
		size_t n = 0, i, j;

		/* distinct random members: `both` is on two shards, once here */
		assert_int_equal(vs_random_members(c, "topo", 100, &got, &n),
		    VS_OK);
		for (i = 0; i < n; i++)
			for (j = i + 1; j < n; j++)
				assert_string_not_equal(got[i], got[j]);
		assert_true(n >= 4);
		vs_strings_free(got, n);
	}
	assert_int_equal(vs_get(c, "topo", only_new, 0, &e), VS_OK);
	vs_element_free(e);
	e = NULL;
	assert_int_equal(insert1(c, late), VS_OK);
	assert_false(present(t, 0, late));
	assert_true(present(t, 2, late));

	vs_close(c);
	assert_int_equal(tp_vsetd_term(&r, 3000), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_no_record_is_epoch0, test_setup),
		cmocka_unit_test_setup(test_short_list_adopts, test_setup),
		cmocka_unit_test_setup(test_contradiction_refused, test_setup),
		cmocka_unit_test_setup(test_bad_records_refused, test_setup),
		cmocka_unit_test_setup(test_move_record_adopted, test_setup),
		cmocka_unit_test_setup(test_highest_epoch_wins, test_setup),
		cmocka_unit_test_setup(test_silent_shard_bounded, test_setup),
		cmocka_unit_test_setup(test_auth, test_setup),
		cmocka_unit_test_setup(test_epoch_bump_reload, test_setup),
		cmocka_unit_test_setup(test_stale_layout_followed,
		    test_setup),
		cmocka_unit_test_setup(test_stale_router_racing, test_setup),
		cmocka_unit_test_setup(test_phases_route, test_setup),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
