/*
 * test_shard_reply.c - a shard's reply is untrusted input (shard_reply.h),
 * and a command that outgrows its argument vector is never sent (round.h).
 *
 * What vsetd relies on: the reader refuses an array header over the
 * element cap before allocating it, arrays nested past the depth limit, a
 * reply over its byte budget, and a reader holding more unparsed bytes
 * than allowed, each with a "protocol error: ..." naming the limit; the
 * VSIM check refuses more hits than COUNT, NaN/Inf/out-of-range scores,
 * ids that are not ids, and appends nothing from a bad reply; a VEMB must
 * be finite numbers of the right dimension; counts are non-negative.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "call.h"
#include "round.h"
#include "shard_reply.h"

#define MSG_BYTES "1024"        /* --max-message-bytes: budget 4 KiB */

static struct vsd_config cfg;
static struct vsd_limits lim;

static int
setup(void **state)
{
	static char a0[] = "t", a1[] = "--shard", a2[] = "127.0.0.1:1",
	    a3[] = "--shard", a4[] = "127.0.0.1:2", a5[] = "--max-message-bytes",
	    a6[] = MSG_BYTES, a7[] = "--max-id-bytes", a8[] = "8";
	char *argv[] = { a0, a1, a2, a3, a4, a5, a6, a7, a8, NULL };

	(void)state;
	if (vsd_config_parse(&cfg, 9, argv) != VSD_CONFIG_RUN)
		return -1;
	lim.max_batch = cfg.max_batch;
	lim.max_k = cfg.max_k;
	lim.max_dim = cfg.max_dim;
	lim.max_id_bytes = cfg.max_id_bytes;
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	vsd_config_fini(&cfg);
	return 0;
}

/* Parse bytes with the limits: the reply (caller frees), or NULL with the
 * error text in msg. */
static redisReply *
parse(const char *bytes, size_t n, char *msg, size_t msglen)
{
	redisReader *r = redisReaderCreate();
	void *reply = NULL;

	assert_non_null(r);
	vsd_reply_reader_limit(r, &cfg);
	msg[0] = '\0';
	assert_int_equal(redisReaderFeed(r, bytes, n), REDIS_OK);
	if (redisReaderGetReply(r, &reply) != REDIS_OK) {
		vsd_reply_error_text(r->errstr, msg, msglen);
		reply = NULL;
	}
	redisReaderFree(r);
	return reply;
}

#define PARSE(s, msg) parse((s), sizeof(s) - 1, (msg), sizeof(msg))

static void
test_huge_array_header(void **state)
{
	char msg[256];

	(void)state;
	assert_null(PARSE("*2000000000\r\n", msg));
	assert_non_null(strstr(msg, "protocol error: an array of 2000000000 "
	    "elements"));
	/* At the cap is fine. */
	assert_int_equal(vsd_reply_max_elements(&cfg), cfg.max_dim);
}

static void
test_nesting(void **state)
{
	redisReply *r;
	char msg[256];

	(void)state;
	r = PARSE("*1\r\n*2\r\n$1\r\na\r\n:3\r\n", msg);
	assert_non_null(r);
	assert_int_equal(r->element[0]->element[1]->integer, 3);
	freeReplyObject(r);
	assert_null(PARSE("*1\r\n*1\r\n*1\r\n:1\r\n", msg));
	assert_non_null(strstr(msg, "nested"));
}

static void
test_reply_budget(void **state)
{
	char *buf, msg[256];
	size_t n = 0, i;
	redisReply *r;

	(void)state;
	assert_non_null(buf = malloc(16384));
	/* 40 strings of 100 bytes: 40 * (64 + 100) + 64 + 320 = 6944 bytes
	 * of objects, over the 4096 of a 1024-byte message limit. */
	n += (size_t)sprintf(buf + n, "*40\r\n");
	for (i = 0; i < 40; i++)
		n += (size_t)sprintf(buf + n, "$100\r\n%0100d\r\n", 0);
	r = parse(buf, n, msg, sizeof(msg));
	assert_null(r);
	assert_non_null(strstr(msg, "protocol error: a reply of more than "
	    "4096 bytes"));
	/* 10 of them fit. */
	n = (size_t)sprintf(buf, "*10\r\n");
	for (i = 0; i < 10; i++)
		n += (size_t)sprintf(buf + n, "$100\r\n%0100d\r\n", 0);
	r = parse(buf, n, msg, sizeof(msg));
	assert_non_null(r);
	assert_int_equal(r->elements, 10);
	freeReplyObject(r);
	free(buf);
}

static void
test_buffer_cap(void **state)
{
	size_t max = vsd_reply_max_buffer(&cfg), n = max + 1;
	redisContext c;
	char *junk, msg[256];

	(void)state;
	memset(&c, 0, sizeof(c));
	assert_non_null(c.reader = redisReaderCreate());
	vsd_reply_reader_limit(c.reader, &cfg);
	assert_int_equal(redisReaderFeed(c.reader, "$999999999\r\n", 12),
	    REDIS_OK);
	assert_int_equal(vsd_reply_buffer_check(&c, &cfg, msg, sizeof(msg)), 0);
	assert_non_null(junk = malloc(n));
	memset(junk, 'x', n);
	assert_int_equal(redisReaderFeed(c.reader, junk, n), REDIS_OK);
	assert_int_equal(vsd_reply_buffer_check(&c, &cfg, msg, sizeof(msg)),
	    -1);
	assert_non_null(strstr(msg, "protocol error"));
	free(junk);
	redisReaderFree(c.reader);
}

/* Check a VSIM reply given as RESP; returns the parse result, hits and
 * count appended. */
static int
vsim(const char *resp, uint32_t count, size_t stride, struct vsd_hit *hits,
    size_t *nhits, char *why, size_t whylen, redisReply **keep)
{
	struct vsd_vsim_shape shape = { stride, count, &lim };
	char msg[256];
	redisReply *r = parse(resp, strlen(resp), msg, sizeof(msg));

	assert_non_null(r);
	*keep = r;
	return vsd_vsim_parse(r, &shape, 1, hits, nhits, why, whylen);
}

static void
test_vsim_shapes(void **state)
{
	static const struct {
		const char *resp, *why;
		uint32_t count;
		size_t stride;
	} bad[] = {
		{ "*4\r\n$1\r\na\r\n$3\r\nnan\r\n$1\r\nb\r\n$3\r\n0.5\r\n",
		    "a score is nan", 10, 2 },
		{ "*2\r\n$1\r\na\r\n$3\r\ninf\r\n", "a score is inf", 10, 2 },
		{ "*2\r\n$1\r\na\r\n$4\r\n-inf\r\n", "a score is -inf", 10, 2 },
		{ "*2\r\n$1\r\na\r\n$3\r\n1.5\r\n", "outside [0, 1]", 10, 2 },
		{ "*2\r\n$1\r\na\r\n$4\r\n0.5x\r\n", "not a number", 10, 2 },
		{ "*2\r\n$1\r\na\r\n$0\r\n\r\n", "not a number", 10, 2 },
		{ "*4\r\n$1\r\na\r\n$3\r\n0.5\r\n$1\r\nb\r\n$3\r\n0.4\r\n",
		    "2 hits for COUNT 1", 1, 2 },
		{ "*3\r\n$1\r\na\r\n$3\r\n0.5\r\n$1\r\nb\r\n",
		    "not a multiple of 2", 10, 2 },
		{ "*2\r\n:1\r\n$3\r\n0.5\r\n", "not a string", 10, 2 },
		{ "*2\r\n$2\r\n\xc0\xaf\r\n$3\r\n0.5\r\n", "UTF-8", 10, 2 },
		{ "*2\r\n$9\r\n123456789\r\n$3\r\n0.5\r\n", "limit is 8", 10, 2 },
		{ "*3\r\n$1\r\na\r\n$3\r\n0.5\r\n$1\r\n\xff\r\n", "UTF-8", 10,
		    3 },
		{ ":5\r\n", "not an array", 10, 2 },
	};
	struct vsd_hit hits[4];
	size_t i, n;
	redisReply *r;
	char why[160];

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		n = 0;
		why[0] = '\0';
		assert_int_equal(vsim(bad[i].resp, bad[i].count, bad[i].stride,
		    hits, &n, why, sizeof(why), &r), -1);
		assert_int_equal(n, 0);      /* nothing appended */
		if (strstr(why, bad[i].why) == NULL)
			fail_msg("case %zu: \"%s\" lacks \"%s\"", i, why,
			    bad[i].why);
		freeReplyObject(r);
	}
	{
		static const char nul[] = "*2\r\n$3\r\na\0b\r\n$3\r\n0.5\r\n";
		struct vsd_vsim_shape shape = { 2, 10, &lim };
		char msg[256];

		r = parse(nul, sizeof(nul) - 1, msg, sizeof(msg));
		assert_non_null(r);
		n = 0;
		assert_int_equal(vsd_vsim_parse(r, &shape, 1, hits, &n, why,
		    sizeof(why)), -1);
		assert_non_null(strstr(why, "NUL"));
		freeReplyObject(r);
	}
	n = 1;                               /* appends after what is there */
	assert_int_equal(vsim("*6\r\n$1\r\na\r\n$3\r\n0.5\r\n$1\r\nb\r\n"
	    "$1\r\n1\r\n$1\r\nc\r\n$6\r\n1.0004\r\n", 3, 2, hits, &n, why,
	    sizeof(why), &r), 0);
	assert_int_equal(n, 4);
	assert_string_equal(hits[1].id, "a");
	assert_true(hits[1].score == 0.5);
	assert_int_equal(hits[1].shard, 1);
	assert_true(hits[2].score == 1.0);
	freeReplyObject(r);
}

static void
test_vemb_and_count(void **state)
{
	redisReply *r, i = { .type = REDIS_REPLY_INTEGER };
	char msg[256], why[160];
	float v[3];
	uint64_t c;

	(void)state;
	r = PARSE("*3\r\n$3\r\n0.5\r\n$2\r\n-1\r\n$1\r\n0\r\n", msg);
	assert_non_null(r);
	assert_int_equal(vsd_vemb_parse(r, &lim, 0, v, why, sizeof(why)), 0);
	assert_true(v[0] == 0.5f && v[1] == -1.0f);
	assert_int_equal(vsd_vemb_parse(r, &lim, 3, NULL, why, sizeof(why)), 0);
	assert_int_equal(vsd_vemb_parse(r, &lim, 4, NULL, why, sizeof(why)),
	    -1);
	freeReplyObject(r);
	r = PARSE("*2\r\n$3\r\nnan\r\n$1\r\n0\r\n", msg);
	assert_int_equal(vsd_vemb_parse(r, &lim, 0, v, why, sizeof(why)), -1);
	freeReplyObject(r);
	r = PARSE("*1\r\n$6\r\n1e+300\r\n", msg);
	assert_int_equal(vsd_vemb_parse(r, &lim, 0, v, why, sizeof(why)), -1);
	freeReplyObject(r);

	i.integer = 42;
	assert_int_equal(vsd_reply_count(&i, &c, why, sizeof(why)), 0);
	assert_int_equal(c, 42);
	i.integer = -1;
	assert_int_equal(vsd_reply_count(&i, &c, why, sizeof(why)), -1);
	i.integer = INT64_MAX;
	assert_int_equal(vsd_reply_count(&i, &c, why, sizeof(why)), -1);
}

/* An argument vector that overflows is never sent: the call gets an
 * INTERNAL status naming the command, the command is poisoned, and the
 * round reports its shards failed without touching any connection (the
 * worker here has none: sending would crash). */
static void
test_argv_overflow(void **state)
{
	struct vsd_lane w;
	struct vsd_shard_result res[2];
	struct vsd_call call;
	struct vsd_argv a;
	struct vsd_cmd cmd[2];

	(void)state;
	memset(&w, 0, sizeof(w));
	memset(&call, 0, sizeof(call));
	w.cfg = &cfg;
	w.res = res;
	vsd_arena_init(&w.arena, 4096);
	call.w = &w;
	call.view.nall = 2;

	assert_int_equal(vsd_argv_init(&call, &a, 2), 0);
	vsd_argv_str(&a, "VCARD");
	vsd_argv_str(&a, "vsetd:c");
	assert_int_equal(a.overflow, 0);
	assert_int_equal(call.st.code, VSD_OK);
	vsd_argv_to_cmd(&a, &cmd[0], 0);
	assert_int_equal(cmd[0].argc, 2);

	assert_int_equal(vsd_argv_init(&call, &a, 2), 0);
	vsd_argv_str(&a, "VSIM");
	vsd_argv_str(&a, "vsetd:c");
	vsd_argv_str(&a, "FP32");
	assert_int_equal(a.overflow, 1);
	assert_int_equal(a.argc, 2);
	assert_int_equal(call.st.code, VSD_INTERNAL);
	assert_non_null(strstr(call.st.msg, "VSIM"));
	vsd_argv_to_cmd(&a, &cmd[1], 1);
	assert_int_equal(cmd[1].argc, -1);

	vsd_round_run(&call, cmd, 2, VSD_RUN_READ, 0);
	assert_int_equal(res[0].state, VSD_SHARD_FAILED);
	assert_int_equal(res[1].state, VSD_SHARD_FAILED);
	assert_null(cmd[0].reply);
	assert_null(cmd[1].reply);
	assert_non_null(strstr(res[1].error, "internal error"));
	vsd_arena_fini(&w.arena);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_huge_array_header),
		cmocka_unit_test(test_nesting),
		cmocka_unit_test(test_reply_budget),
		cmocka_unit_test(test_buffer_cap),
		cmocka_unit_test(test_vsim_shapes),
		cmocka_unit_test(test_vemb_and_count),
		cmocka_unit_test(test_argv_overflow),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
