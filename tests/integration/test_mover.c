/*
 * test_mover.c - the server side of online resharding (issue 10,
 * src/fanout/mover.h): ReshardStart/Step/Status/Abort through a real
 * router, against real Redis 8 shards, with the outcome checked in Redis.
 *
 * Four Redis servers: shards 0..2 are the layout, shard 3 the spare.
 * Three collections with attributes (Q8, NOQUANT, BIN).  What an operator
 * relies on:
 *   - ADD the spare, driven by Start + Steps to done: every element on
 *     exactly its owner (jump hash over 4), with the same stored bytes
 *     (VEMB RAW) and attributes as before, nothing twice, the mover's keys
 *     gone, the record stable at epoch 3; the top-10 of fixed queries is
 *     the same before and after; then REMOVE back to 3 the same way;
 *   - ABORT in DUAL (of an add, and of a remove) returns to the old layout
 *     with nothing lost and the copies gone;
 *   - a driver stopped half-way resumes through a NEW router process:
 *     ReshardStart with the same move answers where it stands and steps
 *     complete the move;
 *   - refusals: a REDUCE collection (FAILED_PRECONDITION), REMOVE naming a
 *     shard (INVALID_ARGUMENT), ADD of a shard already in the layout
 *     (FAILED_PRECONDITION), ADD of a shard that does not answer
 *     (UNAVAILABLE), a second move while one is open;
 *   - ReshardStatus lists the router (its heartbeat) and its epoch.
 * And the scripts the correctness argument rests on (mover.h), sent
 * exactly as the server sends them (fence_lua.c), in the interleavings
 * that lose writes without them: a delete on the new owner is never
 * undone by a copy; an insert with attributes is kept as it is; an insert
 * without attributes gets the source's; a write between the mover's read
 * and its copy makes the copy retry; the listing names every id once.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/wait.h>

#include <cmocka.h>

#include "fence_lua.h"
#include "harness.h"
#include "testutil.h"
#include "tp_redis.h"
#include "tp_vsetd.h"
#include "vs_hash.h"
#include "vsetd.h"
#include "vsetd.pb-c.h"

#define NREDIS 4                 /* 3 in the layout + the spare */
#define NLAYOUT 3
#define NCOLL 3
#define NELEM 200                /* per collection */
#define DIM 16
#define BIN_DIM 64
#define NQUERY 8
#define TOPK 10
#define EXACT_EF 1000            /* with NELEM per collection: exact */
#define MAX_STEPS 2000
#define RPC_MS 10000
#define SMALL_BATCH 40
#define LIST_N 2500              /* > 2 RPUSH chunks of the listing */
#define ID_LEN 32

static const char *const coll_names[NCOLL] = { "q8", "nq", "bin" };
static const int coll_quant[NCOLL] = { VS_QUANT_Q8, VS_QUANT_NOQUANT,
    VS_QUANT_BIN };
static const uint32_t coll_dim[NCOLL] = { DIM, DIM, BIN_DIM };

struct elem {
	char id[ID_LEN];
	char *raw;                   /* VEMB RAW's bytes */
	size_t rawlen;
	char *attrs;                 /* NULL: none */
};

struct fx {
	h_cluster *cl;
	char addr[NREDIS][TU_ADDR_LEN];
	redisContext *rc[NREDIS];
	char dir[PATH_MAX - 64];
	int runs;
	struct tp_vsetd v;
	int up;
	vs_client *cli;
	struct elem el[NCOLL][NELEM];
	char top[NCOLL][NQUERY][TOPK][ID_LEN];
	double score[NCOLL][NQUERY][TOPK];
};

/* ------------------------------------------------------------ fixture */

/* A command straight to shard s of the fixture t (testutil.h). */
#define cmd(t, s, ...) tu_cmd((t)->rc[s], (s), __VA_ARGS__)

static redisReply *
cmdv(struct fx *t, int s, int argc, const char **argv, const size_t *len)
{
	redisReply *r = redisCommandArgv(t->rc[s], argc, argv, len);

	if (r == NULL)
		fail_msg("shard %d: %s", s, t->rc[s]->errstr);
	return r;
}

static void
router_start(struct fx *t, int n)
{
	const char *args[4 + 2 * NREDIS + 1];
	char tag[32];
	int i, a = 0;

	args[a++] = "--listen";
	args[a++] = "tcp://127.0.0.1:0";
	for (i = 0; i < n; i++) {
		args[a++] = "--shard";
		args[a++] = t->addr[i];
	}
	args[a] = NULL;
	snprintf(tag, sizeof(tag), "m%d", t->runs++);
	if (tp_vsetd_start(&t->v, t->dir, tag, args, NULL) != 0)
		fail_msg("vsetd did not start");
	t->up = 1;
	if (vs_connect(&t->cli, t->v.url, RPC_MS) != VS_OK)
		fail_msg("vs_connect: %s", vs_errmsg());
}

static void
router_stop(struct fx *t, int sig)
{
	if (t->cli != NULL)
		vs_close(t->cli);
	t->cli = NULL;
	if (!t->up)
		return;
	if (sig == SIGKILL) {
		tp_proc_kill(&t->v.p);
	} else if (tp_vsetd_term(&t->v, 5000) != 0) {
		tp_log_tail(t->v.p.log, 3000);
		fail_msg("vsetd did not stop cleanly");
	}
	t->up = 0;
}

static int
group_setup(void **state)
{
	struct fx *t = calloc(1, sizeof(*t));

	if (t == NULL || h_cluster_start(&t->cl, NREDIS, NULL) != 0)
		return -1;
	if (tu_shards_open(t->cl, NREDIS, t->addr, t->rc, RPC_MS) != 0)
		return -1;
	snprintf(t->dir, sizeof(t->dir), "%s", h_shard_dir(t->cl, 0));
	*state = t;
	return 0;
}

static void
elems_free(struct fx *t)
{
	int c, i;

	for (c = 0; c < NCOLL; c++)
		for (i = 0; i < NELEM; i++) {
			free(t->el[c][i].raw);
			free(t->el[c][i].attrs);
			t->el[c][i].raw = t->el[c][i].attrs = NULL;
		}
}

static int
group_teardown(void **state)
{
	struct fx *t = *state;

	if (t->cli != NULL)
		vs_close(t->cli);
	if (t->up)
		tp_proc_kill(&t->v.p);
	elems_free(t);
	tu_shards_close(t->rc, NREDIS);
	h_cluster_destroy(t->cl);
	free(t);
	return 0;
}

/* Each test: empty shards, a router on the 3-shard layout. */
static int
test_setup(void **state)
{
	struct fx *t = *state;

	if (tu_shards_run(t->rc, NREDIS, "FLUSHALL") != 0 ||
	    tu_shards_run(t->rc, NREDIS, "SCRIPT FLUSH") != 0)
		return -1;
	elems_free(t);
	router_start(t, NLAYOUT);
	return 0;
}

static int
test_teardown(void **state)
{
	struct fx *t = *state;

	if (t->up && t->cli != NULL)
		router_stop(t, SIGTERM);
	return 0;
}

/* ------------------------------------------------------------ RPCs */

/* Call method with the packed request; the response (caller frees it) or
 * NULL with *code set. */
static Vsetd__V1__ReshardResponse *
rpc(struct fx *t, const char *method, const ProtobufCMessage *req, int *code)
{
	size_t len = protobuf_c_message_get_packed_size(req), rlen = 0;
	uint8_t *buf = malloc(len + 1);
	void *reply = NULL;
	char full[96];
	Vsetd__V1__ReshardResponse *r;

	assert_non_null(buf);
	protobuf_c_message_pack(req, buf);
	snprintf(full, sizeof(full), "/vsetd.v1.VectorService/%s", method);
	*code = vs_call_raw(t->cli, full, buf, len, &reply, &rlen);
	free(buf);
	if (*code != VS_OK)
		return NULL;
	r = vsetd__v1__reshard_response__unpack(NULL, rlen, reply);
	free(reply);
	assert_non_null(r);
	return r;
}

static Vsetd__V1__ReshardResponse *
start(struct fx *t, int move, const char *shard, const char *expect,
    int *code)
{
	Vsetd__V1__ReshardStartRequest q = VSETD__V1__RESHARD_START_REQUEST__INIT;

	q.move = (Vsetd__V1__ReshardMove)move;
	q.shard = (char *)shard;
	q.expect_last = (char *)expect;
	return rpc(t, "ReshardStart", &q.base, code);
}

static Vsetd__V1__ReshardResponse *
step(struct fx *t, uint32_t batch, int *code)
{
	Vsetd__V1__ReshardStepRequest q = VSETD__V1__RESHARD_STEP_REQUEST__INIT;

	q.batch = batch;
	return rpc(t, "ReshardStep", &q.base, code);
}

static Vsetd__V1__ReshardResponse *
status(struct fx *t, int *code)
{
	Vsetd__V1__ReshardStatusRequest q =
	    VSETD__V1__RESHARD_STATUS_REQUEST__INIT;

	return rpc(t, "ReshardStatus", &q.base, code);
}

static Vsetd__V1__ReshardResponse *
abort_move(struct fx *t, int *code)
{
	Vsetd__V1__ReshardAbortRequest q =
	    VSETD__V1__RESHARD_ABORT_REQUEST__INIT;

	return rpc(t, "ReshardAbort", &q.base, code);
}

static void
start_ok(struct fx *t, int move, const char *shard, const char *expect)
{
	Vsetd__V1__ReshardResponse *r;
	int code;

	r = start(t, move, shard, expect, &code);
	if (r == NULL) {
		tp_log_tail(t->v.p.log, 3000);
		fail_msg("ReshardStart: %s %s", vs_code_name(code),
		    vs_errmsg());
	}
	assert_int_equal(r->phase, VSETD__V1__RESHARD_PHASE__RESHARD_DUAL);
	assert_int_equal(r->move, move);
	vsetd__v1__reshard_response__free_unpacked(r, NULL);
}

/* Step n times (or until done): 1 when done. */
static int
steps(struct fx *t, uint32_t batch, int n)
{
	Vsetd__V1__ReshardResponse *r;
	int i, code, done = 0;

	for (i = 0; i < n && !done; i++) {
		if ((r = step(t, batch, &code)) == NULL) {
			tp_log_tail(t->v.p.log, 3000);
			fail_msg("ReshardStep %d: %s %s", i,
			    vs_code_name(code), vs_errmsg());
		}
		done = r->done;
		if (r->retry_after_ms > 0)
			tu_sleep_ms((int)r->retry_after_ms);
		vsetd__v1__reshard_response__free_unpacked(r, NULL);
	}
	return done;
}

/* ------------------------------------------------------------ data */

static void
make_data(struct fx *t, int with_reduce)
{
	uint64_t seed = 42;
	int c, i;

	for (c = 0; c < NCOLL; c++) {
		vs_collection_params p = { coll_dim[c], coll_quant[c], 0, 0,
		    0 };
		vs_item *items = calloc(NELEM, sizeof(*items));
		float *vec = calloc((size_t)NELEM * coll_dim[c], sizeof(float));
		char (*attrs)[48] = calloc(NELEM, sizeof(*attrs));

		assert_non_null(items);
		assert_non_null(vec);
		assert_non_null(attrs);
		assert_int_equal(vs_create_collection(t->cli, coll_names[c],
		    &p, NULL), VS_OK);
		for (i = 0; i < NELEM; i++) {
			snprintf(t->el[c][i].id, ID_LEN, "%s-%d", coll_names[c],
			    i);
			tu_rand_vec(&seed, vec + (size_t)i * coll_dim[c],
			    coll_dim[c]);
			items[i].id = t->el[c][i].id;
			items[i].vector = vec + (size_t)i * coll_dim[c];
			items[i].dim = coll_dim[c];
			/* two of three with attributes */
			if (i % 3 != 0) {
				snprintf(attrs[i], sizeof(attrs[i]),
				    "{\"n\":%d,\"c\":\"%s\"}", i,
				    coll_names[c]);
				items[i].attrs_json = attrs[i];
			}
		}
		assert_int_equal(tu_insert_new(t->cli, coll_names[c], items,
		    NELEM), 0);
		free(items);
		free(vec);
		free(attrs);
	}
	if (with_reduce) {
		vs_collection_params p = { DIM, VS_QUANT_Q8, 0, DIM / 2, 0 };
		float v[DIM];
		vs_item it = { "r0", v, DIM, NULL };

		tu_rand_vec(&seed, v, DIM);
		assert_int_equal(vs_create_collection(t->cli, "red", &p,
		    NULL), VS_OK);
		assert_int_equal(tu_insert_new(t->cli, "red", &it, 1), 0);
	}
}

/* Which of shards 0..n-1 hold id (VEMB RAW): a bit set. */
static unsigned
where(struct fx *t, int c, const char *id, int n, char **raw, size_t *rawlen)
{
	unsigned bits = 0;
	int s;

	for (s = 0; s < n; s++) {
		redisReply *r = cmd(t, s, "VEMB vsetd:%s %s RAW",
		    coll_names[c], id);

		if (r->type == REDIS_REPLY_ARRAY && r->elements >= 3) {
			bits |= 1u << s;
			if (raw != NULL && *raw == NULL) {
				*rawlen = r->element[1]->len;
				*raw = malloc(*rawlen + 1);
				assert_non_null(*raw);
				memcpy(*raw, r->element[1]->str, *rawlen);
			}
		}
		freeReplyObject(r);
	}
	return bits;
}

static char *
attrs_of(struct fx *t, int s, int c, const char *id)
{
	redisReply *r = cmd(t, s, "VGETATTR vsetd:%s %s", coll_names[c], id);
	char *a = r->type == REDIS_REPLY_STRING ? strdup(r->str) : NULL;

	freeReplyObject(r);
	return a;
}

/* Remember every element's stored bytes and attributes (layout of n). */
static void
snapshot(struct fx *t, int n)
{
	int c, i;

	for (c = 0; c < NCOLL; c++)
		for (i = 0; i < NELEM; i++) {
			struct elem *e = &t->el[c][i];
			unsigned b;

			free(e->raw);
			free(e->attrs);
			e->raw = NULL;
			b = where(t, c, e->id, n, &e->raw, &e->rawlen);
			assert_int_equal(b, 1u << vs_shard_of(e->id,
			    strlen(e->id), (uint32_t)n));
			e->attrs = attrs_of(t, vs_shard_of(e->id,
			    strlen(e->id), (uint32_t)n), c, e->id);
		}
}

/* Every element exactly on its owner among n (and on no other of the
 * NREDIS servers), with the remembered bytes and attributes. */
static void
check_placement(struct fx *t, int n)
{
	int c, i;

	for (c = 0; c < NCOLL; c++)
		for (i = 0; i < NELEM; i++) {
			struct elem *e = &t->el[c][i];
			uint32_t owner = vs_shard_of(e->id, strlen(e->id),
			    (uint32_t)n);
			char *raw = NULL, *a;
			size_t rawlen = 0;
			unsigned b = where(t, c, e->id, NREDIS, &raw, &rawlen);

			if (b != 1u << owner)
				fail_msg("%s: on shards 0x%x, owner %u of %d",
				    e->id, b, owner, n);
			assert_int_equal(rawlen, e->rawlen);
			assert_memory_equal(raw, e->raw, rawlen);
			free(raw);
			a = attrs_of(t, (int)owner, c, e->id);
			if (e->attrs == NULL)
				assert_null(a);
			else
				assert_string_equal(a, e->attrs);
			free(a);
		}
}

/* The top-10 of fixed queries (exact: EF above the count). */
static void
top10(struct fx *t, char out[NCOLL][NQUERY][TOPK][ID_LEN],
    double sc[NCOLL][NQUERY][TOPK])
{
	uint64_t seed = 7;
	int c, q;
	size_t i;

	for (c = 0; c < NCOLL; c++)
		for (q = 0; q < NQUERY; q++) {
			float v[BIN_DIM];
			vs_search_params p = { coll_names[c], v, coll_dim[c],
			    TOPK, EXACT_EF, 1 };
			vs_search_result *r = NULL;

			tu_rand_vec(&seed, v, coll_dim[c]);
			if (vs_search(t->cli, &p, &r) != VS_OK)
				fail_msg("search %s: %s", coll_names[c],
				    vs_errmsg());
			assert_int_equal(r->n_hits, TOPK);
			for (i = 0; i < TOPK; i++) {
				snprintf(out[c][q][i], ID_LEN, "%s",
				    r->hits[i].id);
				sc[c][q][i] = r->hits[i].score;
			}
			vs_search_result_free(r);
		}
}

static void
check_top10(struct fx *t)
{
	static char now[NCOLL][NQUERY][TOPK][ID_LEN];
	static double sc[NCOLL][NQUERY][TOPK];
	int c, q, i;

	top10(t, now, sc);
	for (c = 0; c < NCOLL; c++)
		for (q = 0; q < NQUERY; q++)
			for (i = 0; i < TOPK; i++) {
				/* the same scores, bit for bit (identical
				 * stored bytes) ... */
				assert_true(sc[c][q][i] == t->score[c][q][i]);
				/* ... and ids, but among ties at the 10th
				 * score (BIN scores are fractions of bits)
				 * which ones make the cut is each shard's
				 * choice */
				if (sc[c][q][i] > sc[c][q][TOPK - 1])
					assert_string_equal(now[c][q][i],
					    t->top[c][q][i]);
			}
}

/* No mover key on any server, no vsetd:@move. */
static void
check_no_mover_keys(struct fx *t)
{
	int s;

	for (s = 0; s < NREDIS; s++) {
		redisReply *r = cmd(t, s, "KEYS vsetd:@mv*");

		assert_int_equal(r->type, REDIS_REPLY_ARRAY);
		if (r->elements != 0)
			fail_msg("shard %d still holds %s", s,
			    r->element[0]->str);
		freeReplyObject(r);
		r = cmd(t, s, "EXISTS vsetd:@move");
		assert_int_equal(r->integer, 0);
		freeReplyObject(r);
	}
}

static void
check_record(struct fx *t, int s, const char *epoch, const char *phase)
{
	redisReply *r = cmd(t, s, "HMGET vsetd:@topology epoch phase");

	assert_int_equal(r->type, REDIS_REPLY_ARRAY);
	assert_int_equal(r->element[0]->type, REDIS_REPLY_STRING);
	assert_string_equal(r->element[0]->str, epoch);
	assert_string_equal(r->element[1]->str, phase);
	freeReplyObject(r);
}

/* No vsetd key at all on server s. */
static void
check_empty(struct fx *t, int s)
{
	redisReply *r = cmd(t, s, "KEYS vsetd:*");

	assert_int_equal(r->type, REDIS_REPLY_ARRAY);
	if (r->elements != 0)
		fail_msg("shard %d still holds %s", s, r->element[0]->str);
	freeReplyObject(r);
}

/* A finished move onto the first n servers: every element where the
 * layout of n shards puts it, no mover key left, and the record of each
 * of the n shards at epoch, stable. */
static void
check_settled(struct fx *t, int n, const char *epoch)
{
	int s;

	check_placement(t, n);
	check_no_mover_keys(t);
	for (s = 0; s < n; s++)
		check_record(t, s, epoch, "stable");
}

/* ------------------------------------------------------------ tests */

static void
test_add_then_remove(void **state)
{
	struct fx *t = *state;

	make_data(t, 0);
	snapshot(t, NLAYOUT);
	top10(t, t->top, t->score);
	start_ok(t, VSETD__V1__RESHARD_MOVE__RESHARD_ADD, t->addr[3], "");
	assert_true(steps(t, 0, MAX_STEPS));
	check_settled(t, NLAYOUT + 1, "3");
	check_top10(t);
	/* the same command again (its driver died at the very end) */
	{
		Vsetd__V1__ReshardResponse *r;
		int code;

		r = start(t, VSETD__V1__RESHARD_MOVE__RESHARD_ADD, t->addr[3],
		    "", &code);
		assert_non_null(r);
		assert_true(r->done);
		assert_true(tu_has(r->step, "nothing to do"));
		vsetd__v1__reshard_response__free_unpacked(r, NULL);
		check_record(t, 0, "3", "stable");
	}

	start_ok(t, VSETD__V1__RESHARD_MOVE__RESHARD_REMOVE, "", t->addr[3]);
	assert_true(steps(t, 0, MAX_STEPS));
	check_settled(t, NLAYOUT, "6");
	/* the removed shard holds nothing of vsetd any more */
	check_empty(t, 3);
	check_top10(t);
}

static void
test_abort_add(void **state)
{
	struct fx *t = *state;
	Vsetd__V1__ReshardResponse *r;
	int code;

	make_data(t, 0);
	snapshot(t, NLAYOUT);
	start_ok(t, VSETD__V1__RESHARD_MOVE__RESHARD_ADD, t->addr[3], "");
	assert_false(steps(t, SMALL_BATCH, 2));
	/* some copies exist on the new shard */
	{
		redisReply *x = cmd(t, 3, "VCARD vsetd:bin");

		assert_true(x->integer > 0);
		freeReplyObject(x);
	}
	r = abort_move(t, &code);
	if (r == NULL)
		fail_msg("ReshardAbort: %s %s", vs_code_name(code),
		    vs_errmsg());
	assert_int_equal(r->phase, VSETD__V1__RESHARD_PHASE__RESHARD_STABLE);
	assert_int_equal(r->n_shards, NLAYOUT);
	vsetd__v1__reshard_response__free_unpacked(r, NULL);
	assert_true(steps(t, 0, MAX_STEPS));
	check_settled(t, NLAYOUT, "2");
	check_empty(t, 3);
}

static void
test_abort_remove(void **state)
{
	struct fx *t = *state;
	Vsetd__V1__ReshardResponse *r;
	int code;

	make_data(t, 0);
	start_ok(t, VSETD__V1__RESHARD_MOVE__RESHARD_ADD, t->addr[3], "");
	assert_true(steps(t, 0, MAX_STEPS));
	snapshot(t, NLAYOUT + 1);
	start_ok(t, VSETD__V1__RESHARD_MOVE__RESHARD_REMOVE, "", "");
	assert_false(steps(t, SMALL_BATCH, 2));
	r = abort_move(t, &code);
	if (r == NULL)
		fail_msg("ReshardAbort: %s %s", vs_code_name(code),
		    vs_errmsg());
	assert_int_equal(r->n_shards, NLAYOUT + 1);
	vsetd__v1__reshard_response__free_unpacked(r, NULL);
	/* a second abort is harmless */
	r = abort_move(t, &code);
	assert_non_null(r);
	vsetd__v1__reshard_response__free_unpacked(r, NULL);
	assert_true(steps(t, SMALL_BATCH, MAX_STEPS));
	check_settled(t, NLAYOUT + 1, "5");
}

static void
test_resume_new_router(void **state)
{
	struct fx *t = *state;
	Vsetd__V1__ReshardResponse *r;
	int code;

	make_data(t, 0);
	snapshot(t, NLAYOUT);
	start_ok(t, VSETD__V1__RESHARD_MOVE__RESHARD_ADD, t->addr[3], "");
	assert_false(steps(t, SMALL_BATCH, 3));
	/* The driver and its router die; a new router, started with the
	 * old --shard list, adopts the move under way. */
	router_stop(t, SIGKILL);
	router_start(t, NLAYOUT);
	r = start(t, VSETD__V1__RESHARD_MOVE__RESHARD_ADD, t->addr[3], "",
	    &code);
	if (r == NULL)
		fail_msg("resume: %s %s", vs_code_name(code), vs_errmsg());
	assert_int_equal(r->phase, VSETD__V1__RESHARD_PHASE__RESHARD_DUAL);
	assert_true(r->progress->copied > 0);
	assert_true(tu_has(r->step, "resumed"));
	vsetd__v1__reshard_response__free_unpacked(r, NULL);
	/* another move is refused meanwhile */
	r = start(t, VSETD__V1__RESHARD_MOVE__RESHARD_REMOVE, "", "", &code);
	assert_null(r);
	assert_int_equal(code, VS_FAILED_PRECONDITION);
	assert_true(tu_has(vs_errmsg(), "a move is open"));
	assert_true(steps(t, 0, MAX_STEPS));
	check_settled(t, NLAYOUT + 1, "3");
}

static void
test_refusals(void **state)
{
	struct fx *t = *state;
	Vsetd__V1__ReshardResponse *r;
	int code, s;

	make_data(t, 1);
	r = start(t, VSETD__V1__RESHARD_MOVE__RESHARD_ADD, t->addr[3], "",
	    &code);
	assert_null(r);
	assert_int_equal(code, VS_FAILED_PRECONDITION);
	assert_true(tu_has(vs_errmsg(), "REDUCE"));
	assert_true(tu_has(vs_errmsg(), "\"red\""));
	r = start(t, VSETD__V1__RESHARD_MOVE__RESHARD_REMOVE, t->addr[2], "",
	    &code);
	assert_null(r);
	assert_int_equal(code, VS_INVALID_ARGUMENT);
	assert_true(tu_has(vs_errmsg(), "last shard"));
	r = start(t, VSETD__V1__RESHARD_MOVE__RESHARD_ADD, t->addr[1], "",
	    &code);
	assert_null(r);
	assert_int_equal(code, VS_FAILED_PRECONDITION);
	assert_true(tu_has(vs_errmsg(), "already in the layout, at index 1"));
	r = start(t, VSETD__V1__RESHARD_MOVE__RESHARD_ADD, "127.0.0.1:1", "",
	    &code);
	assert_null(r);
	assert_int_equal(code, VS_UNAVAILABLE);
	assert_true(tu_has(vs_errmsg(), "127.0.0.1:1"));
	r = start(t, VSETD__V1__RESHARD_MOVE__RESHARD_ADD, "no port", "",
	    &code);
	assert_null(r);
	assert_int_equal(code, VS_INVALID_ARGUMENT);
	r = start(t, VSETD__V1__RESHARD_MOVE__RESHARD_REMOVE, "", t->addr[1],
	    &code);
	assert_null(r);
	assert_int_equal(code, VS_FAILED_PRECONDITION);
	assert_true(tu_has(vs_errmsg(), "the last shard is"));
	r = abort_move(t, &code);
	assert_null(r);
	assert_int_equal(code, VS_FAILED_PRECONDITION);
	assert_true(tu_has(vs_errmsg(), "no move"));
	/* nothing was written anywhere */
	for (s = 0; s < NREDIS; s++) {
		redisReply *x = cmd(t, s, "EXISTS vsetd:@topology vsetd:@move");

		assert_int_equal(x->integer, 0);
		freeReplyObject(x);
	}
	/* a shard holding vsetd data is not a fresh one */
	{
		redisReply *x = cmd(t, 3, "HSET vsetd:@meta:other dim 4");

		freeReplyObject(x);
	}
	for (s = 0; s < NLAYOUT; s++)
		freeReplyObject(cmd(t, s, "DEL vsetd:red vsetd:@meta:red"));
	r = start(t, VSETD__V1__RESHARD_MOVE__RESHARD_ADD, t->addr[3], "",
	    &code);
	assert_null(r);
	assert_int_equal(code, VS_FAILED_PRECONDITION);
	assert_true(tu_has(vs_errmsg(), "already holds vsetd data"));
}

static void
test_status_lists_router(void **state)
{
	struct fx *t = *state;
	Vsetd__V1__ReshardResponse *r = NULL;
	int code, i, tries;
	uint64_t want;

	make_data(t, 0);
	start_ok(t, VSETD__V1__RESHARD_MOVE__RESHARD_ADD, t->addr[3], "");
	/* the router's heartbeat comes once a second */
	for (tries = 0; tries < 50; tries++) {
		r = status(t, &code);
		if (r == NULL)
			fail_msg("ReshardStatus: %s %s", vs_code_name(code),
			    vs_errmsg());
		if (r->n_routers > 0 && r->routers[0]->epoch == 1)
			break;
		vsetd__v1__reshard_response__free_unpacked(r, NULL);
		r = NULL;
		tu_sleep_ms(100);
	}
	assert_non_null(r);
	assert_int_equal(r->move, VSETD__V1__RESHARD_MOVE__RESHARD_ADD);
	assert_int_equal(r->n_shards, NLAYOUT + 1);
	assert_int_equal(r->n_from, NLAYOUT);
	assert_int_equal(r->progress->sources_total, NCOLL * NLAYOUT);
	assert_true(tu_has(r->routers[0]->id, t->v.url));
	assert_true(r->routers[0]->seen_ms_ago < 10000);
	vsetd__v1__reshard_response__free_unpacked(r, NULL);
	/* Step until every id is copied: to_move counts exactly the ids
	 * whose owner changes, each copied once. */
	for (i = 0, want = 0; i < NCOLL * NELEM; i++) {
		const char *id = t->el[i / NELEM][i % NELEM].id;

		want += vs_shard_of(id, strlen(id), NLAYOUT) !=
		    vs_shard_of(id, strlen(id), NLAYOUT + 1);
	}
	for (i = 0; i < MAX_STEPS; i++) {
		int phase;

		r = step(t, SMALL_BATCH, &code);
		assert_non_null(r);
		phase = r->phase;
		vsetd__v1__reshard_response__free_unpacked(r, NULL);
		if (phase == VSETD__V1__RESHARD_PHASE__RESHARD_SWITCHED)
			break;
	}
	r = status(t, &code);
	assert_non_null(r);
	assert_int_equal(r->progress->to_move, want);
	assert_int_equal(r->progress->copied, want);
	assert_int_equal(r->progress->skipped, 0);
	assert_int_equal(r->progress->sources_copied, NCOLL * NLAYOUT);
	vsetd__v1__reshard_response__free_unpacked(r, NULL);
	assert_true(steps(t, 0, MAX_STEPS));
	r = status(t, &code);
	assert_non_null(r);
	assert_int_equal(r->move, VSETD__V1__RESHARD_MOVE__RESHARD_MOVE_NONE);
	assert_true(r->done);
	for (i = 0; i < (int)r->n_shards; i++)
		assert_string_equal(r->shards[i], t->addr[i]);
	vsetd__v1__reshard_response__free_unpacked(r, NULL);
}

/* ------------------------------------------------------------ scripts
 * On the spare server directly: the exact scripts (fence_lua.c). */

#define META "vsetd:@meta:s"
#define DATA "vsetd:s"
#define MARKS "vsetd:@mv:s"
#define TOPO "vsetd:@topology"
#define GEN "g1"

/* Run script which with keys meta topo data marks and args. */
static redisReply *
script4(struct fx *t, int which, int argc, const char **args,
    const size_t *alen)
{
	const char *argv[32];
	size_t len[32];
	int i, n = 0;

	argv[n] = "EVAL";
	len[n++] = 4;
	argv[n] = vsd_script_text(which);
	len[n++] = strlen(argv[1]);
	argv[n] = "4";
	len[n++] = 1;
	argv[n++] = META;
	argv[n++] = TOPO;
	argv[n++] = DATA;
	argv[n++] = MARKS;
	for (i = 3; i < 7; i++)
		len[i] = strlen(argv[i]);
	for (i = 0; i < argc; i++) {
		argv[n] = args[i];
		len[n++] = alen != NULL && alen[i] != 0 ? alen[i] :
		    strlen(args[i]);
	}
	return cmdv(t, 3, n, argv, len);
}

/* The new owner's write: kind, then the command and its arguments after
 * the key. */
static redisReply *
mwrite(struct fx *t, const char *id, const char *kind, int argc,
    const char **args)
{
	const char *a[16] = { GEN, "1", id, kind };
	int i;

	for (i = 0; i < argc; i++)
		a[4 + i] = args[i];
	return script4(t, VSD_SCRIPT_MOVE_WRITE, 4 + argc, a, NULL);
}

/* The mover's copy of id (vector v) with the counter it read and the
 * source's attributes. */
static redisReply *
mcopy(struct fx *t, const char *id, const char *counter, const char *attrs,
    const float *v, const char *epoch)
{
	const char *a[14] = { GEN, epoch, id, counter, attrs, "FP32",
	    (const char *)v, id, "NOQUANT", "M", "16", "SETATTR", attrs };
	size_t len[14] = { 0 };

	/* as the mover sends it: SETATTR when the source has attributes */
	len[6] = 4 * sizeof(float);
	return script4(t, VSD_SCRIPT_MOVE_COPY, attrs[0] != '\0' ? 13 : 11,
	    a, len);
}

static const char *
str_of(redisReply *r)
{
	assert_true(r->type == REDIS_REPLY_STRING ||
	    r->type == REDIS_REPLY_STATUS || r->type == REDIS_REPLY_ERROR);
	return r->str;
}

static void
expect_copy(struct fx *t, const char *id, const char *counter,
    const char *attrs, const float *v, const char *want)
{
	redisReply *r = mcopy(t, id, counter, attrs, v, "1");

	assert_string_equal(str_of(r), want);
	freeReplyObject(r);
}

static void
test_scripts_race(void **state)
{
	struct fx *t = *state;
	const float v1[4] = { 1, 0, 0, 0 }, v2[4] = { 0, 1, 0, 0 };
	redisReply *r;

	freeReplyObject(cmd(t, 3, "HSET " META " dim 4 gen " GEN));
	freeReplyObject(cmd(t, 3, "HSET " TOPO " epoch 1"));
	/* 1. delete on the new owner (absent there): a copy read before
	 * it must not bring the id back, even with a fresh counter. */
	r = mwrite(t, "d", "r", 2, (const char *[]){ "VREM", "d" });
	freeReplyObject(r);
	expect_copy(t, "d", "0", "", v1, "retry");
	expect_copy(t, "d", "1", "", v1, "deleted");
	r = cmd(t, 3, "VISMEMBER " DATA " d");
	assert_int_equal(r->integer, 0);
	freeReplyObject(r);
	/* 2. an insert with attributes is a full state: kept as it is */
	r = mwrite(t, "f", "a", 11, (const char *[]){ "VADD", "VALUES", "4",
	    "0", "1", "0", "0", "f", "NOQUANT", "SETATTR", "{\"w\":0}" });
	assert_int_equal(r->type, REDIS_REPLY_INTEGER);
	freeReplyObject(r);
	r = mwrite(t, "f", "s", 3, (const char *[]){ "VSETATTR", "f",
	    "{\"w\":1}" });
	assert_int_equal(r->type, REDIS_REPLY_INTEGER);
	freeReplyObject(r);
	expect_copy(t, "f", "2", "{\"old\":1}", v1, "present");
	/* an update without attributes keeps them (it is redone as VREM +
	 * VADD, which Redis logs and replicates, unlike a VADD update) */
	r = mwrite(t, "f", "n", 9, (const char *[]){ "VADD", "VALUES", "4",
	    "0", "0", "1", "0", "f", "NOQUANT" });
	assert_int_equal(r->type, REDIS_REPLY_INTEGER);
	freeReplyObject(r);
	r = cmd(t, 3, "VGETATTR " DATA " f");
	assert_string_equal(r->str, "{\"w\":1}");
	freeReplyObject(r);
	r = cmd(t, 3, "VEMB " DATA " f");
	assert_true(atof(r->element[2]->str) > 0.99);
	freeReplyObject(r);
	expect_copy(t, "f", "3", "{\"old\":1}", v1, "present");
	r = cmd(t, 3, "VGETATTR " DATA " f");
	assert_string_equal(r->str, "{\"w\":1}");
	freeReplyObject(r);
	/* 3. an insert without attributes on an absent id: the copy gives
	 * it the source's attributes, and keeps the new vector */
	r = mwrite(t, "n", "n", 9, (const char *[]){ "VADD", "VALUES", "4",
	    "0", "1", "0", "0", "n", "NOQUANT" });
	assert_int_equal(r->type, REDIS_REPLY_INTEGER);
	freeReplyObject(r);
	expect_copy(t, "n", "1", "{\"src\":2}", v1, "attrs");
	r = cmd(t, 3, "VGETATTR " DATA " n");
	assert_string_equal(r->str, "{\"src\":2}");
	freeReplyObject(r);
	r = cmd(t, 3, "VEMB " DATA " n");
	assert_int_equal(r->type, REDIS_REPLY_ARRAY);
	assert_true(atof(r->element[1]->str) > 0.99);    /* v2, not v1 */
	freeReplyObject(r);
	/* ... and a second copy leaves it alone */
	expect_copy(t, "n", "1", "{\"other\":3}", v1, "present");
	/* 4. an attribute update of an absent id cannot apply: it bumps the
	 * counter, so a copy read before it retries */
	r = mwrite(t, "s", "s", 3, (const char *[]){ "VSETATTR", "s",
	    "{\"new\":1}" });
	freeReplyObject(r);
	expect_copy(t, "s", "0", "{\"old\":1}", v1, "retry");
	expect_copy(t, "s", "1", "{\"new\":1}", v1, "copied");
	r = cmd(t, 3, "VGETATTR " DATA " s");
	assert_string_equal(r->str, "{\"new\":1}");
	freeReplyObject(r);
	/* 5. a plain copy, then idempotent */
	expect_copy(t, "p", "0", "", v2, "copied");
	expect_copy(t, "p", "0", "", v2, "present");
	/* 6. the fence: another epoch (an abort) or generation (a drop) */
	r = mcopy(t, "q", "0", "", v1, "2");
	assert_int_equal(r->type, REDIS_REPLY_ERROR);
	assert_true(tu_has(r->str, "VSETDSTALE epoch 1 expected 2"));
	freeReplyObject(r);
	r = mwrite(t, "q", "r", 2, (const char *[]){ "VREM", "q" });
	freeReplyObject(r);
	freeReplyObject(cmd(t, 3, "HSET " META " gen g2"));
	r = mcopy(t, "z", "0", "", v1, "1");
	assert_int_equal(r->type, REDIS_REPLY_ERROR);
	assert_true(tu_has(r->str, "VSETDSTALE generation g2 expected g1"));
	freeReplyObject(r);
	r = cmd(t, 3, "VISMEMBER " DATA " z");
	assert_int_equal(r->integer, 0);
	freeReplyObject(r);
	/* a write on the new owner's error (dimension) comes back as is */
	freeReplyObject(cmd(t, 3, "HSET " META " gen " GEN));
	r = mwrite(t, "x", "n", 7, (const char *[]){ "VADD", "VALUES", "2",
	    "0", "1", "x", "NOQUANT" });
	assert_int_equal(r->type, REDIS_REPLY_ERROR);
	assert_true(tu_has(r->str, "dimension"));
	freeReplyObject(r);
}

static void
test_scripts_list_and_record(void **state)
{
	struct fx *t = *state;
	const char *argv[12];
	size_t len[12];
	redisReply *r;
	int i, n, chunk = 1000;
	char *seen, chunkstr[16];

	/* LIST_N elements, listed once per pass, every id once */
	for (i = 0; i < LIST_N; i++)
		freeReplyObject(cmd(t, 3, "VADD " DATA " VALUES 2 %d 1 e%d",
		    i + 1, i));
	for (n = 0; n < 2; n++) {
		snprintf(chunkstr, sizeof(chunkstr), "%d", chunk);
		argv[0] = "EVAL";
		argv[1] = vsd_script_text(VSD_SCRIPT_MOVE_LIST);
		argv[2] = "3";
		argv[3] = DATA;
		argv[4] = "vsetd:@mvl:s";
		argv[5] = "vsetd:@mvc";
		argv[6] = "s";
		argv[7] = "copy";
		argv[8] = chunkstr;
		for (i = 0; i < 9; i++)
			len[i] = strlen(argv[i]);
		if (n == 1)
			freeReplyObject(cmd(t, 3, "VREM " DATA " e0"));
		r = cmdv(t, 3, 9, argv, len);
		assert_int_equal(r->type, REDIS_REPLY_INTEGER);
		/* the second call of the same pass lists nothing new */
		assert_int_equal(r->integer, LIST_N);
		freeReplyObject(r);
	}
	r = cmd(t, 3, "LRANGE vsetd:@mvl:s 0 -1");
	assert_int_equal(r->elements, LIST_N);
	seen = calloc(LIST_N, 1);
	assert_non_null(seen);
	for (i = 0; i < (int)r->elements; i++) {
		int k = atoi(r->element[i]->str + 1);

		assert_false(seen[k]);
		seen[k] = 1;
	}
	free(seen);
	freeReplyObject(r);
	/* a new pass lists again (e0 is gone now) */
	argv[7] = "clean";
	len[7] = strlen("clean");
	r = cmdv(t, 3, 9, argv, len);
	assert_int_equal(r->integer, LIST_N - 1);
	freeReplyObject(r);

	/* the record is written only over the epoch seen there */
	freeReplyObject(cmd(t, 3, "DEL " TOPO));
	argv[0] = "EVAL";
	argv[1] = vsd_script_text(VSD_SCRIPT_TOPO_PUT);
	argv[2] = "1";
	argv[3] = TOPO;
	argv[4] = "0";
	argv[5] = "1";
	argv[6] = "epoch";
	argv[7] = "1";
	argv[8] = "phase";
	argv[9] = "dual";
	for (i = 0; i < 10; i++)
		len[i] = strlen(argv[i]);
	r = cmdv(t, 3, 10, argv, len);
	assert_int_equal(r->integer, 1);
	freeReplyObject(r);
	r = cmdv(t, 3, 10, argv, len);           /* the same: no-op */
	assert_int_equal(r->integer, 0);
	freeReplyObject(r);
	argv[9] = "stable";                      /* another at epoch 1 */
	len[9] = strlen("stable");
	r = cmdv(t, 3, 10, argv, len);
	assert_int_equal(r->type, REDIS_REPLY_ERROR);
	assert_true(tu_has(r->str, "another layout"));
	freeReplyObject(r);
	argv[4] = "1";                           /* 1 -> 2 */
	argv[5] = "2";
	argv[7] = "2";
	r = cmdv(t, 3, 10, argv, len);
	assert_int_equal(r->integer, 1);
	freeReplyObject(r);
	argv[4] = "1";                           /* a stale writer */
	argv[5] = "2";
	argv[9] = "dual";
	len[9] = 4;
	r = cmdv(t, 3, 10, argv, len);
	assert_int_equal(r->type, REDIS_REPLY_ERROR);
	freeReplyObject(r);
	r = cmd(t, 3, "HGET " TOPO " phase");
	assert_string_equal(r->str, "stable");
	freeReplyObject(r);
}

/* Routers' writes of moving ids while in DUAL, before the mover copied
 * them (move_write.h's marks against the copy, mover.h): every
 * acknowledged write is in the final state on the new owner. */
#define NEW_IDS 10
static void
test_writes_during_move(void **state)
{
	struct fx *t = *state;
	struct want {
		char id[ID_LEN];
		int present;
		float v[DIM];
		char attrs[48];          /* "" none */
	} *w = calloc(NELEM + NEW_IDS, sizeof(*w));
	uint64_t seed = 99;
	int i, k = 0, n = 0, s, c = 1;    /* "nq": NOQUANT, exact floats */

	assert_non_null(w);
	make_data(t, 0);
	start_ok(t, VSETD__V1__RESHARD_MOVE__RESHARD_ADD, t->addr[3], "");
	/* one small step: "bin" is copied first (sorted), "nq" not yet */
	assert_false(steps(t, SMALL_BATCH, 1));
	for (i = 0; i < NELEM + NEW_IDS; i++) {
		struct want *x = &w[n];
		vs_item it = { x->id, x->v, DIM, NULL };
		int orig = i < NELEM;

		if (orig) {
			snprintf(x->id, ID_LEN, "%s", t->el[c][i].id);
		} else {
			do
				snprintf(x->id, ID_LEN, "nq-new-%d", k++);
			while (vs_shard_of(x->id, strlen(x->id), NLAYOUT) ==
			    vs_shard_of(x->id, strlen(x->id), NLAYOUT + 1));
		}
		if (vs_shard_of(x->id, strlen(x->id), NLAYOUT) ==
		    vs_shard_of(x->id, strlen(x->id), NLAYOUT + 1))
			continue;            /* only moving ids */
		n++;
		if (orig) {
			/* the element as it is (VEMB on its old owner) */
			redisReply *r = cmd(t, (int)vs_shard_of(x->id,
			    strlen(x->id), NLAYOUT), "VEMB vsetd:nq %s", x->id);
			int d;

			assert_int_equal(r->type, REDIS_REPLY_ARRAY);
			for (d = 0; d < DIM; d++)
				x->v[d] = (float)atof(r->element[d]->str);
			freeReplyObject(r);
			if (i % 3 != 0)
				snprintf(x->attrs, sizeof(x->attrs),
				    "{\"n\":%d,\"c\":\"nq\"}", i);
			x->present = 1;
		}
		switch (n % 5) {
		case 0:                      /* delete */
			if (!orig)
				break;
			assert_int_equal(vs_delete(t->cli, "nq",
			    (const char *[]){ x->id }, 1, NULL), VS_OK);
			x->present = 0;
			break;
		case 1:                      /* insert with attributes */
			tu_rand_vec(&seed, x->v, DIM);
			snprintf(x->attrs, sizeof(x->attrs), "{\"w\":%d}", n);
			it.attrs_json = x->attrs;
			assert_int_equal(vs_insert(t->cli, "nq", &it, 1,
			    NULL), VS_OK);
			x->present = 1;
			break;
		case 2:                      /* insert, attributes as they are */
			tu_rand_vec(&seed, x->v, DIM);
			assert_int_equal(vs_insert(t->cli, "nq", &it, 1,
			    NULL), VS_OK);
			x->present = 1;
			break;
		case 3:                      /* attributes only */
			if (!orig)
				break;
			snprintf(x->attrs, sizeof(x->attrs), "{\"s\":%d}", n);
			assert_int_equal(vs_set_attributes(t->cli, "nq", x->id,
			    x->attrs), VS_OK);
			break;
		default:                     /* delete, then insert again */
			if (orig)
				assert_int_equal(vs_delete(t->cli, "nq",
				    (const char *[]){ x->id }, 1, NULL),
				    VS_OK);
			tu_rand_vec(&seed, x->v, DIM);
			x->attrs[0] = '\0';
			assert_int_equal(vs_insert(t->cli, "nq", &it, 1,
			    NULL), VS_OK);
			x->present = 1;
			break;
		}
	}
	assert_true(n >= 30);
	assert_true(steps(t, 0, MAX_STEPS));
	for (i = 0; i < n; i++) {
		struct want *x = &w[i];
		uint32_t owner = vs_shard_of(x->id, strlen(x->id), NLAYOUT + 1);
		unsigned b = where(t, c, x->id, NREDIS, NULL, NULL);
		char *a;

		if (!x->present) {
			if (b != 0)
				fail_msg("%s: deleted in DUAL, on shards 0x%x",
				    x->id, b);
			continue;
		}
		if (b != 1u << owner)
			fail_msg("%s: on shards 0x%x, owner %u", x->id, b,
			    owner);
		{
			redisReply *r = cmd(t, (int)owner, "VEMB vsetd:nq %s",
			    x->id);
			double dot = 0, nx = 0, ny = 0;
			int d;

			for (d = 0; d < DIM; d++) {
				double y = atof(r->element[d]->str);

				dot += y * x->v[d];
				nx += (double)x->v[d] * x->v[d];
				ny += y * y;
			}
			freeReplyObject(r);
			if (dot / sqrt(nx * ny) < 1 - 1e-5)
				fail_msg("%s: not the vector last written",
				    x->id);
		}
		a = attrs_of(t, (int)owner, c, x->id);
		if (x->attrs[0] == '\0') {
			if (a != NULL)
				fail_msg("%s: attributes %s, expected none",
				    x->id, a);
		} else {
			if (a == NULL || strcmp(a, x->attrs) != 0)
				fail_msg("%s: attributes %s, expected %s",
				    x->id, a != NULL ? a : "(none)", x->attrs);
		}
		free(a);
	}
	check_no_mover_keys(t);
	for (s = 0; s < NREDIS; s++)
		check_record(t, s, "3", "stable");
	free(w);
}

/* A writer thread of its own changes moving ids of "nq" through the
 * router (deletes, inserts with and without attributes, attribute
 * updates) for the whole move, DUAL and SWITCHED included.  Its calls are
 * sequential, so the last acknowledged write of an id is its final
 * state; a failed call makes the id's state unknown until a later full
 * insert or delete.  Afterwards every id in a known state is exactly that
 * on exactly its owner: no acknowledged write lost, no delete undone.
 * Then the same while the spare is removed again. */
#define CW_IDS 100
#define CW_BATCH 20
struct cw {
	char url[128];
	_Atomic int stop;
	int n;
	char id[CW_IDS][ID_LEN];
	int state[CW_IDS];           /* -1 unknown, 0 absent, 1 present */
	float v[CW_IDS][DIM];
	char attrs[CW_IDS][48];      /* "" none */
	long ops, failed;
};

static void *
cw_writer(void *arg)
{
	struct cw *w = arg;
	vs_client *cli;
	uint64_t seed = 1234;

	if (vs_connect(&cli, w->url, RPC_MS) != VS_OK)
		return NULL;
	while (!atomic_load(&w->stop)) {
		int i = (int)(tu_rand(&seed) % (uint64_t)w->n);
		int op = (int)(tu_rand(&seed) % 4), rv;
		float v[DIM];
		char a[48];
		vs_item it = { w->id[i], v, DIM, NULL };

		tu_rand_vec(&seed, v, DIM);
		snprintf(a, sizeof(a), "{\"op\":%ld}", w->ops);
		switch (op) {
		case 0:
			rv = vs_delete(cli, "nq", (const char *[]){ w->id[i] },
			    1, NULL);
			if (rv == VS_OK)
				w->state[i] = 0;
			break;
		case 1:
			it.attrs_json = a;
			rv = vs_insert(cli, "nq", &it, 1, NULL);
			if (rv == VS_OK) {
				w->state[i] = 1;
				memcpy(w->v[i], v, sizeof(v));
				snprintf(w->attrs[i], sizeof(w->attrs[i]), "%s",
				    a);
			}
			break;
		case 2:
			rv = vs_insert(cli, "nq", &it, 1, NULL);
			if (rv == VS_OK) {
				if (w->state[i] == 0)
					w->attrs[i][0] = '\0';
				if (w->state[i] != -1)
					w->state[i] = 1;
				memcpy(w->v[i], v, sizeof(v));
			}
			break;
		default:
			rv = vs_set_attributes(cli, "nq", w->id[i], a);
			if (rv == VS_OK && w->state[i] == 1)
				snprintf(w->attrs[i], sizeof(w->attrs[i]), "%s",
				    a);
			if (rv == VS_NOT_FOUND && w->state[i] == 0)
				rv = VS_OK;  /* as expected */
			break;
		}
		w->ops++;
		if (rv != VS_OK) {
			w->failed++;
			w->state[i] = -1;
			fprintf(stderr, "# writer: op %d on %s: %s %s\n", op,
			    w->id[i], vs_code_name(rv), vs_errmsg());
		}
	}
	vs_close(cli);
	return NULL;
}

/* One move under the writer, then every id in a known state checked on
 * the layout of n shards. */
static void
cw_move(struct fx *t, struct cw *w, int move, int n)
{
	pthread_t th;
	int i, c = 1, known = 0;

	atomic_store(&w->stop, 0);
	w->ops = w->failed = 0;
	assert_int_equal(pthread_create(&th, NULL, cw_writer, w), 0);
	tu_sleep_ms(100);
	start_ok(t, move, move == VSETD__V1__RESHARD_MOVE__RESHARD_ADD ?
	    t->addr[3] : "", "");
	assert_true(steps(t, CW_BATCH, MAX_STEPS));
	tu_sleep_ms(200);            /* a few writes in the new stable layout */
	atomic_store(&w->stop, 1);
	pthread_join(th, NULL);
	fprintf(stderr, "# writer: %ld calls during the move, %ld failed\n",
	    w->ops, w->failed);
	assert_true(w->ops > 100);
	for (i = 0; i < w->n; i++) {
		uint32_t owner = vs_shard_of(w->id[i], strlen(w->id[i]),
		    (uint32_t)n);
		unsigned b;
		char *a;

		if (w->state[i] < 0)
			continue;
		known++;
		b = where(t, c, w->id[i], NREDIS, NULL, NULL);
		if (w->state[i] == 0) {
			if (b != 0)
				fail_msg("%s: deleted, but on shards 0x%x",
				    w->id[i], b);
			continue;
		}
		if (b != 1u << owner)
			fail_msg("%s: on shards 0x%x, owner %u", w->id[i], b,
			    owner);
		{
			redisReply *r = cmd(t, (int)owner, "VEMB vsetd:nq %s",
			    w->id[i]);
			double dot = 0, nx = 0, ny = 0;
			int d;

			for (d = 0; d < DIM; d++) {
				double y = atof(r->element[d]->str);

				dot += y * w->v[i][d];
				nx += (double)w->v[i][d] * w->v[i][d];
				ny += y * y;
			}
			freeReplyObject(r);
			if (dot / sqrt(nx * ny) < 1 - 1e-5)
				fail_msg("%s: not the vector last written",
				    w->id[i]);
		}
		a = attrs_of(t, (int)owner, c, w->id[i]);
		if ((w->attrs[i][0] == '\0') != (a == NULL) ||
		    (a != NULL && strcmp(a, w->attrs[i]) != 0))
			fail_msg("%s: attributes %s, last written %s",
			    w->id[i], a != NULL ? a : "(none)",
			    w->attrs[i][0] != '\0' ? w->attrs[i] : "(none)");
		free(a);
	}
	assert_true(known > CW_IDS / 2);
	check_no_mover_keys(t);
}

static void
test_concurrent_writes(void **state)
{
	struct fx *t = *state;
	struct cw *w = calloc(1, sizeof(*w));
	int i, k = 0, c = 1;

	assert_non_null(w);
	make_data(t, 0);
	snprintf(w->url, sizeof(w->url), "%s", t->v.url);
	for (i = 0; i < NELEM && w->n < CW_IDS * 3 / 4; i++) {
		const char *id = t->el[c][i].id;
		redisReply *r;
		int d;

		if (vs_shard_of(id, strlen(id), NLAYOUT) ==
		    vs_shard_of(id, strlen(id), NLAYOUT + 1))
			continue;
		snprintf(w->id[w->n], ID_LEN, "%s", id);
		r = cmd(t, (int)vs_shard_of(id, strlen(id), NLAYOUT),
		    "VEMB vsetd:nq %s", id);
		for (d = 0; d < DIM; d++)
			w->v[w->n][d] = (float)atof(r->element[d]->str);
		freeReplyObject(r);
		if (i % 3 != 0)
			snprintf(w->attrs[w->n], sizeof(w->attrs[0]),
			    "{\"n\":%d,\"c\":\"nq\"}", i);
		w->state[w->n++] = 1;
	}
	while (w->n < CW_IDS) {
		do
			snprintf(w->id[w->n], ID_LEN, "nq-cw-%d", k++);
		while (vs_shard_of(w->id[w->n], strlen(w->id[w->n]),
		    NLAYOUT) == vs_shard_of(w->id[w->n], strlen(w->id[w->n]),
		    NLAYOUT + 1));
		w->state[w->n++] = 0;
	}
	/* adding the spare, then removing it again, under the same
	 * writer: the ids that move to the spare are the ones that move
	 * back */
	cw_move(t, w, VSETD__V1__RESHARD_MOVE__RESHARD_ADD, NLAYOUT + 1);
	cw_move(t, w, VSETD__V1__RESHARD_MOVE__RESHARD_REMOVE, NLAYOUT);
	free(w);
}

/* A shard stops answering in the middle of the move: the step fails
 * naming it (the mover needs every shard), nothing is half done, and
 * once it answers again the steps complete the move. */
#define STALL_RETRIES 100
static void
test_shard_stalls(void **state)
{
	struct fx *t = *state;
	Vsetd__V1__ReshardResponse *r;
	char name[64];
	int code, i, done = 0;

	make_data(t, 0);
	snapshot(t, NLAYOUT);
	start_ok(t, VSETD__V1__RESHARD_MOVE__RESHARD_ADD, t->addr[3], "");
	assert_false(steps(t, SMALL_BATCH, 1));
	assert_int_equal(h_shard_stop(t->cl, 1), 0);
	r = step(t, SMALL_BATCH, &code);
	assert_int_equal(h_shard_cont(t->cl, 1), 0);
	assert_null(r);
	assert_true(code == VS_UNAVAILABLE || code == VS_DEADLINE_EXCEEDED);
	snprintf(name, sizeof(name), "shard 1 (%s)", t->addr[1]);
	if (!tu_has(vs_errmsg(), name))
		fail_msg("the error does not name %s: %s", name, vs_errmsg());
	/* the shard's breaker may refuse it for a while: step on */
	for (i = 0; i < STALL_RETRIES && !done; i++) {
		r = step(t, 0, &code);
		if (r == NULL) {
			tu_sleep_ms(100);
			continue;
		}
		done = r->done;
		vsetd__v1__reshard_response__free_unpacked(r, NULL);
	}
	assert_true(done);
	check_placement(t, NLAYOUT + 1);
	check_no_mover_keys(t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_scripts_race, test_setup,
		    test_teardown),
		cmocka_unit_test_setup_teardown(test_scripts_list_and_record,
		    test_setup, test_teardown),
		cmocka_unit_test_setup_teardown(test_refusals, test_setup,
		    test_teardown),
		cmocka_unit_test_setup_teardown(test_add_then_remove,
		    test_setup, test_teardown),
		cmocka_unit_test_setup_teardown(test_abort_add, test_setup,
		    test_teardown),
		cmocka_unit_test_setup_teardown(test_abort_remove, test_setup,
		    test_teardown),
		cmocka_unit_test_setup_teardown(test_resume_new_router,
		    test_setup, test_teardown),
		cmocka_unit_test_setup_teardown(test_status_lists_router,
		    test_setup, test_teardown),
		cmocka_unit_test_setup_teardown(test_writes_during_move,
		    test_setup, test_teardown),
		cmocka_unit_test_setup_teardown(test_concurrent_writes,
		    test_setup, test_teardown),
		cmocka_unit_test_setup_teardown(test_shard_stalls,
		    test_setup, test_teardown),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
