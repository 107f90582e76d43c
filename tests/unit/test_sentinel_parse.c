/*
 * test_sentinel_parse.c - Sentinel's answers are untrusted input
 * (sentinel.h): the checks on SENTINEL get-master-addr-by-name and
 * SENTINEL replicas replies, on reply trees built by hand.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "sentinel.h"

#define MAXR 4096

/* A pool of replies, so trees need no freeing. */
static redisReply pool[MAXR];
static redisReply *ptrs[MAXR];
static size_t npool, nptrs;

static redisReply *
str(const char *s)
{
	redisReply *r = &pool[npool++];

	memset(r, 0, sizeof(*r));
	r->type = REDIS_REPLY_STRING;
	r->str = (char *)s;
	r->len = strlen(s);
	return r;
}

static redisReply *
arr(size_t n, redisReply **el)
{
	redisReply *r = &pool[npool++];

	memset(r, 0, sizeof(*r));
	r->type = REDIS_REPLY_ARRAY;
	r->elements = n;
	r->element = &ptrs[nptrs];
	memcpy(&ptrs[nptrs], el, n * sizeof(*el));
	nptrs += n;
	return r;
}

/* One replica's flat description. */
static redisReply *
replica(const char *ip, const char *port, const char *flags)
{
	redisReply *kv[] = { str("name"), str("x"), str("ip"), str(ip),
	    str("port"), str(port), str("flags"), str(flags),
	    str("master-link-status"), str("err") };

	return arr(10, kv);
}

static int
reset(void **state)
{
	(void)state;
	npool = nptrs = 0;
	return 0;
}

static void
test_master_ok(void **state)
{
	struct vsd_sentinel_answer a;
	redisReply *el[] = { str("10.0.0.1"), str("6379") };

	(void)state;
	assert_int_equal(vsd_sentinel_parse_master(arr(2, el), &a), 0);
	assert_int_equal(a.nep, 1);
	assert_string_equal(a.host[0], "10.0.0.1");
	assert_int_equal(a.port[0], 6379);
}

/* Wrong shapes, bad ports, hostile host names: refused. */
static void
test_master_refused(void **state)
{
	struct vsd_sentinel_answer a;
	static char longhost[VSD_HOST_MAX + 10];
	const char *hosts[] = { "", "a b", "a\"b", "a\\b", "a,b", "a\nb",
	    longhost };
	const char *ports[] = { "0", "65536", "-1", "12x", "", "123456" };
	redisReply *el[3];
	size_t i;

	(void)state;
	memset(longhost, 'h', sizeof(longhost) - 1);
	assert_int_equal(vsd_sentinel_parse_master(NULL, &a), -1);
	el[0] = str("h");
	assert_int_equal(vsd_sentinel_parse_master(arr(1, el), &a), -1);
	el[1] = str("1");
	el[2] = str("2");
	assert_int_equal(vsd_sentinel_parse_master(arr(3, el), &a), -1);
	assert_int_equal(vsd_sentinel_parse_master(str("h:1"), &a), -1);
	for (i = 0; i < sizeof(hosts) / sizeof(hosts[0]); i++) {
		el[0] = str(hosts[i]);
		el[1] = str("6379");
		assert_int_equal(vsd_sentinel_parse_master(arr(2, el), &a), -1);
	}
	for (i = 0; i < sizeof(ports) / sizeof(ports[0]); i++) {
		el[0] = str("h");
		el[1] = str(ports[i]);
		assert_int_equal(vsd_sentinel_parse_master(arr(2, el), &a), -1);
	}
	el[0] = str("h");
	el[1] = arr(0, el);             /* a nested array as the port */
	assert_int_equal(vsd_sentinel_parse_master(arr(2, el), &a), -1);
}

/* Down replicas are left out; the one being promoted and one in use stay
 * even when Sentinel's link to them is down; new disconnected ones don't. */
static void
test_replicas_flags(void **state)
{
	struct vsd_sentinel_answer a, known;
	redisReply *el[] = {
		replica("10.0.0.2", "1", "slave"),
		replica("10.0.0.3", "2", "s_down,slave"),
		replica("10.0.0.4", "3", "slave,o_down"),
		replica("10.0.0.5", "4", "slave,disconnected"),
		replica("10.0.0.6", "5", "slave,disconnected,promoted"),
		replica("10.0.0.7", "6", "slave,disconnected"),
	};

	(void)state;
	memset(&known, 0, sizeof(known));
	strcpy(known.host[1], "10.0.0.7");
	known.port[1] = 6;
	known.nep = 2;
	memset(&a, 0, sizeof(a));
	a.nep = 1;
	strcpy(a.host[0], "10.0.0.1");
	a.port[0] = 9;
	vsd_sentinel_parse_replicas(arr(6, el), &a, &known);
	assert_int_equal(a.nep, 4);
	assert_string_equal(a.host[1], "10.0.0.2");
	assert_string_equal(a.host[2], "10.0.0.6");
	assert_string_equal(a.host[3], "10.0.0.7");
}

/* Malformed entries are skipped, duplicates and the primary itself are
 * not listed twice, and the list is bounded. */
static void
test_replicas_malformed(void **state)
{
	struct vsd_sentinel_answer a;
	redisReply *odd[] = { str("ip"), str("10.0.0.9"), str("port") };
	redisReply *el[VSD_SENTINEL_MAX_LIST + 10];
	size_t i, n = 0;

	(void)state;
	memset(&a, 0, sizeof(a));
	a.nep = 1;
	strcpy(a.host[0], "10.0.0.1");
	a.port[0] = 9;
	el[n++] = arr(3, odd);                          /* odd length */
	el[n++] = str("not an array");
	el[n++] = replica("10.0.0.1", "9", "slave");    /* the primary */
	el[n++] = replica("bad host", "1", "slave");
	el[n++] = replica("10.0.0.2", "0", "slave");    /* bad port */
	el[n++] = replica("10.0.0.3", "3", "slave");
	el[n++] = replica("10.0.0.3", "3", "slave");    /* duplicate */
	vsd_sentinel_parse_replicas(arr(n, el), &a, NULL);
	assert_int_equal(a.nep, 2);
	assert_string_equal(a.host[1], "10.0.0.3");
	/* many: at most VSD_MAX_ENDPOINTS in all */
	for (i = 0; i < VSD_SENTINEL_MAX_LIST + 10; i++)
		el[i] = replica("10.0.1.1", i % 2 ? "7" : "8", "slave");
	el[2] = replica("10.0.1.2", "9", "slave");
	el[3] = replica("10.0.1.3", "9", "slave");
	vsd_sentinel_parse_replicas(arr(VSD_SENTINEL_MAX_LIST + 10, el), &a,
	    NULL);
	assert_int_equal(a.nep, VSD_MAX_ENDPOINTS);
	vsd_sentinel_parse_replicas(NULL, &a, NULL);
	vsd_sentinel_parse_replicas(str("x"), &a, NULL);
	assert_int_equal(a.nep, VSD_MAX_ENDPOINTS);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_master_ok, reset),
		cmocka_unit_test_setup(test_master_refused, reset),
		cmocka_unit_test_setup(test_replicas_flags, reset),
		cmocka_unit_test_setup(test_replicas_malformed, reset),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
