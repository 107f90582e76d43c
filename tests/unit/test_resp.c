/*
 * test_resp.c - the RESP request parser and reply encoder (src/net/resp.c):
 * whole and split commands, inline commands with quotes, every protocol
 * error Redis reports, the --max-message-bytes bound refused from the
 * declared length, and replies in RESP2 and RESP3 as Redis 8 writes them.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "resp.h"

#define BIG (1u << 20)

static long
parse(const char *s, size_t max, struct vsd_resp_cmd *cmd, char *err)
{
	return vsd_resp_parse((const uint8_t *)s, strlen(s), max, cmd, err,
	    160);
}

static void
test_multibulk(void **state)
{
	const char *s = "*3\r\n$4\r\nVADD\r\n$0\r\n\r\n$3\r\na\0b\r\n";
	size_t len = 4 + 10 + 6 + 9;
	struct vsd_resp_cmd cmd;
	char err[160];
	size_t cut;

	(void)state;
	assert_int_equal(vsd_resp_parse((const uint8_t *)s, len, BIG, &cmd,
	    err, sizeof(err)), (long)len);
	assert_int_equal(cmd.argc, 3);
	assert_string_equal(cmd.argv[0], "VADD");
	assert_int_equal(cmd.argl[1], 0);
	assert_int_equal(cmd.argl[2], 3);
	assert_memory_equal(cmd.argv[2], "a\0b", 3);
	vsd_resp_cmd_free(&cmd);
	/* every prefix is incomplete, never an error */
	for (cut = 0; cut < len; cut++)
		assert_int_equal(vsd_resp_parse((const uint8_t *)s, cut, BIG,
		    &cmd, err, sizeof(err)), VSD_RESP_NEED);
	/* a pipeline: one command at a time */
	assert_int_equal(parse("*1\r\n$4\r\nPING\r\n*1\r\n$4\r\nPING\r\n",
	    BIG, &cmd, err), 14);
	vsd_resp_cmd_free(&cmd);
}

static void
test_inline(void **state)
{
	struct vsd_resp_cmd cmd;
	char err[160];

	(void)state;
	assert_int_equal(parse("ECHO \"a b\\x41\\n\" 'c\\'d' e\r\nX", BIG,
	    &cmd, err), 27);
	assert_int_equal(cmd.argc, 4);
	assert_string_equal(cmd.argv[1], "a bA\n");
	assert_string_equal(cmd.argv[2], "c'd");
	assert_string_equal(cmd.argv[3], "e");
	vsd_resp_cmd_free(&cmd);
	assert_int_equal(parse("   \r\n", BIG, &cmd, err), 5);
	assert_int_equal(cmd.argc, 0);
	vsd_resp_cmd_free(&cmd);
	assert_int_equal(parse("PING", BIG, &cmd, err), VSD_RESP_NEED);
	assert_int_equal(parse("ECHO \"ab\r\n", BIG, &cmd, err),
	    VSD_RESP_ERROR);
	assert_string_equal(err, "Protocol error: unbalanced quotes in request");
	assert_int_equal(parse("ECHO \"a\"b\r\n", BIG, &cmd, err),
	    VSD_RESP_ERROR);
}

static void
test_errors(void **state)
{
	struct vsd_resp_cmd cmd;
	char err[160];
	char *big;

	(void)state;
	assert_int_equal(parse("*1\r\n+PING\r\n", BIG, &cmd, err),
	    VSD_RESP_ERROR);
	assert_string_equal(err, "Protocol error: expected '$', got '+'");
	assert_int_equal(parse("*x\r\n", BIG, &cmd, err), VSD_RESP_ERROR);
	assert_string_equal(err, "Protocol error: invalid multibulk length");
	assert_int_equal(parse("*2000000\r\n", BIG, &cmd, err),
	    VSD_RESP_ERROR);
	assert_int_equal(parse("*1\r\n$-5\r\n", BIG, &cmd, err),
	    VSD_RESP_ERROR);
	assert_string_equal(err, "Protocol error: invalid bulk length");
	assert_int_equal(parse("*1\r\n$2\r\nabc\r\n", BIG, &cmd, err),
	    VSD_RESP_ERROR);
	/* larger than the bound: refused from the declared length */
	assert_int_equal(parse("*1\r\n$2000\r\n", 1000, &cmd, err),
	    VSD_RESP_ERROR);
	assert_non_null(strstr(err, "max-message-bytes"));
	big = malloc(2000);
	memset(big, 'a', 1999);
	big[1999] = '\0';
	assert_int_equal(parse(big, 1000, &cmd, err), VSD_RESP_ERROR);
	assert_string_equal(err, "Protocol error: too big inline request");
	free(big);
	/* *0 and *-1 are ignored, as Redis does */
	assert_int_equal(parse("*0\r\n", BIG, &cmd, err), 4);
	assert_int_equal(cmd.argc, 0);
}

static void
test_encode(void **state)
{
	struct vsd_resp_buf b;
	char d[64];

	(void)state;
	memset(&b, 0, sizeof(b));
	b.proto = 2;
	vsd_resp_map(&b, 1);
	vsd_resp_str(&b, "a");
	vsd_resp_double(&b, 0.9975185990333557);
	vsd_resp_bool(&b, 1);
	vsd_resp_null(&b);
	vsd_resp_error(&b, "ERR a\r\nb");
	vsd_resp_raw(&b, "", 1);
	assert_string_equal(b.p, "*2\r\n$1\r\na\r\n$18\r\n0.9975185990333557"
	    "\r\n:1\r\n$-1\r\n-ERR a  b\r\n");
	vsd_resp_buf_free(&b);
	b.proto = 3;
	vsd_resp_map(&b, 1);
	vsd_resp_double(&b, 0.5);
	vsd_resp_double(&b, 1);
	vsd_resp_bool(&b, 0);
	vsd_resp_null(&b);
	vsd_resp_verbatim(&b, "x", 1);
	vsd_resp_raw(&b, "", 1);
	assert_string_equal(b.p, "%1\r\n,0.5\r\n,1\r\n#f\r\n_\r\n=5\r\ntxt:x\r\n");
	vsd_resp_buf_free(&b);
	vsd_resp_fmt_double(d, sizeof(d), 0.1f);
	assert_string_equal(d, "0.10000000149011612");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_multibulk),
		cmocka_unit_test(test_inline),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_encode),
	};

	return cmocka_run_group_tests_name("resp", tests, NULL, NULL);
}
