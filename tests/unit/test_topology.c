/*
 * test_topology.c - the topology record read from a shard is untrusted
 * (issue 10, src/fanout/topology.h): vsd_topo_parse() accepts the records vsetd
 * writes and refuses every malformed field with a reason naming it;
 * addresses and lists are strict and round-trip through formatting; and
 * vsd_topo_reconcile() adopts the highest consistent epoch, accepts an
 * out-of-date --shard list that is a prefix, and refuses contradictions
 * naming the index.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "topology.h"

#define MAXF 40
#define NREC 4

/* Parse "f1", "v1", ..., NULL into *t; returns vsd_topo_parse's value. */
static int
parse_kv(const char *const *kv, struct vsd_topo *t, char *err, size_t errlen)
{
	const char *f[MAXF], *v[MAXF];
	size_t fl[MAXF], vl[MAXF], n = 0;

	for (; kv[2 * n] != NULL; n++) {
		f[n] = kv[2 * n];
		fl[n] = strlen(f[n]);
		v[n] = kv[2 * n + 1];
		vl[n] = strlen(v[n]);
	}
	err[0] = '\0';
	return vsd_topo_parse(f, fl, v, vl, n, t, err, errlen);
}

static struct vsd_topo *
topo_new(void)
{
	struct vsd_topo *t = calloc(1, sizeof(*t));

	assert_non_null(t);
	return t;
}

static void
test_addr(void **state)
{
	static const char *const good[] = { "127.0.0.1:7001", "redis-a.example"
	    ".com:6379", "h_1:1", "[::1]:65535", "[fe80::1]:6379" };
	static const char *const bad[] = { "", "host", ":6379", "host:",
	    "host:0", "host:65536", "host:007", "host:12a", "ho st:1",
	    "[::1:1", "[]:1", "[::g]:1", "a,b:1", "host:-1", "host:+1",
	    "h\xc3\xa9:1" };
	struct vsd_topo_addr a;
	char err[200], big[VSD_TOPO_MAX_ADDR + 10];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		assert_int_equal(vsd_topo_parse_addr(good[i], strlen(good[i]),
		    &a, err, sizeof(err)), 0);
		assert_string_equal(a.s, good[i]);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		if (vsd_topo_parse_addr(bad[i], strlen(bad[i]), &a, err,
		    sizeof(err)) != -1)
			fail_msg("accepted \"%s\"", bad[i]);
		assert_true(strlen(err) > 0);
	}
	/* a host over 253 bytes */
	memset(big, 'a', sizeof(big));
	memcpy(big + 254, ":1", 2);
	assert_int_equal(vsd_topo_parse_addr(big, 256, &a, err, sizeof(err)),
	    -1);
	assert_int_equal(vsd_topo_parse_addr(big, sizeof(big), &a, err,
	    sizeof(err)), -1);
}

static void
test_list(void **state)
{
	struct vsd_topo *t = topo_new();
	char err[200], buf[200];
	const char *s = "127.0.0.1:7001,127.0.0.1:7002,[::1]:7003";
	uint32_t n;

	(void)state;
	assert_int_equal(vsd_topo_parse_list(s, strlen(s), t->shards, &n, err,
	    sizeof(err)), 0);
	assert_int_equal(n, 3);
	assert_string_equal(t->shards[2].s, "[::1]:7003");
	assert_int_equal(vsd_topo_format_list(t->shards, n, buf, sizeof(buf)),
	    strlen(s));
	assert_string_equal(buf, s);
	/* too small a buffer: nothing, not a truncated list */
	assert_int_equal(vsd_topo_format_list(t->shards, n, buf, 20), 0);
	assert_string_equal(buf, "");
	/* empty elements, duplicates */
	assert_int_equal(vsd_topo_parse_list("a:1,,b:2", 8, t->shards, &n,
	    err, sizeof(err)), -1);
	assert_int_equal(vsd_topo_parse_list("a:1,", 4, t->shards, &n,
	    err, sizeof(err)), -1);
	assert_int_equal(vsd_topo_parse_list("", 0, t->shards, &n,
	    err, sizeof(err)), -1);
	assert_int_equal(vsd_topo_parse_list("a:1,b:2,a:1", 11, t->shards, &n,
	    err, sizeof(err)), -1);
	assert_non_null(strstr(err, "a:1"));
	free(t);
}

static void
test_list_bound(void **state)
{
	struct vsd_topo *t = topo_new();
	size_t cap = (VSD_MAX_SHARDS + 1) * 16, len = 0;
	char *s = malloc(cap), err[200];
	uint32_t n, i;

	(void)state;
	assert_non_null(s);
	for (i = 0; i < VSD_MAX_SHARDS; i++)
		len += (size_t)snprintf(s + len, cap - len, "%sh:%u",
		    i ? "," : "", i + 1);
	assert_int_equal(vsd_topo_parse_list(s, len, t->shards, &n, err,
	    sizeof(err)), 0);
	assert_int_equal(n, VSD_MAX_SHARDS);
	len += (size_t)snprintf(s + len, cap - len, ",h:%u",
	    VSD_MAX_SHARDS + 1);
	assert_int_equal(vsd_topo_parse_list(s, len, t->shards, &n, err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "more than"));
	free(s);
	free(t);
}

static void
test_parse_good(void **state)
{
	static const char *const stable[] = { "version", "1", "epoch", "7",
	    "shards", "a:1,b:2", "phase", "stable", NULL };
	static const char *const dual[] = { "epoch", "8", "shards",
	    "a:1,b:2,c:3", "phase", "dual", "from", "a:1,b:2", "move", "add",
	    "color", "blue", NULL };
	static const char *const removing[] = { "epoch", "18446744073709551615",
	    "shards", "a:1", "phase", "switched", "from", "a:1,b:2", "move",
	    "remove", NULL };
	struct vsd_topo *t = topo_new();
	char err[200];

	(void)state;
	assert_int_equal(parse_kv(stable, t, err, sizeof(err)), 0);
	assert_int_equal(t->epoch, 7);
	assert_int_equal(t->phase, VSD_PHASE_STABLE);
	assert_int_equal(t->nshards, 2);
	assert_string_equal(t->shards[1].s, "b:2");
	assert_int_equal(t->nfrom, 0);
	assert_int_equal(parse_kv(dual, t, err, sizeof(err)), 0);
	assert_int_equal(t->phase, VSD_PHASE_DUAL);
	assert_int_equal(t->move, VSD_MOVE_ADD);
	assert_int_equal(t->nfrom, 2);
	assert_int_equal(parse_kv(removing, t, err, sizeof(err)), 0);
	assert_true(t->epoch == UINT64_MAX);
	assert_int_equal(t->move, VSD_MOVE_REMOVE);
	assert_string_equal(vsd_topo_phase_name(t->phase), "switched");
	/* no hash at all */
	assert_int_equal(parse_kv((const char *const[]){ NULL }, t, err,
	    sizeof(err)), 1);
	assert_int_equal(t->epoch, 0);
	assert_int_equal(t->nshards, 0);
	free(t);
}

struct bad_case {
	const char *kv[16];
	const char *why;             /* a word the message must contain */
};

static void
test_parse_refuses(void **state)
{
	static const struct bad_case cases[] = {
		{ { "epoch", "1", "shards", "a:1", NULL }, "phase" },
		{ { "shards", "a:1", "phase", "stable", NULL }, "epoch" },
		{ { "epoch", "1", "phase", "stable", NULL }, "shards" },
		{ { "epoch", "-1", "shards", "a:1", "phase", "stable", NULL },
		    "epoch" },
		{ { "epoch", "01", "shards", "a:1", "phase", "stable", NULL },
		    "epoch" },
		{ { "epoch", "18446744073709551616", "shards", "a:1", "phase",
		    "stable", NULL }, "epoch" },
		{ { "epoch", "", "shards", "a:1", "phase", "stable", NULL },
		    "epoch" },
		{ { "epoch", "1 ", "shards", "a:1", "phase", "stable", NULL },
		    "epoch" },
		{ { "epoch", "1", "shards", "a:1", "phase", "Stable", NULL },
		    "phase" },
		{ { "epoch", "1", "shards", "a:1,b", "phase", "stable", NULL },
		    "shards" },
		{ { "epoch", "1", "shards", "a:1", "phase", "stable", "version",
		    "2", NULL }, "version" },
		{ { "epoch", "1", "shards", "a:1", "phase", "stable", "from",
		    "a:1", "move", "remove", NULL }, "stable" },
		{ { "epoch", "1", "shards", "a:1,b:2", "phase", "dual", NULL },
		    "from" },
		{ { "epoch", "1", "shards", "a:1,b:2", "phase", "dual", "from",
		    "a:1", "move", "remove", NULL }, "remove" },
		{ { "epoch", "1", "shards", "a:1,b:2,c:3", "phase", "dual",
		    "from", "a:1", "move", "add", NULL }, "add" },
		{ { "epoch", "1", "shards", "a:1,c:3", "phase", "dual", "from",
		    "b:2", "move", "add", NULL }, "add" },
		{ { "epoch", "1", "shards", "x:1,b:2", "phase", "switched",
		    "from", "a:1,b:2,c:3", "move", "remove", NULL }, "remove" },
		{ { "epoch", "1", "shards", "a:1,b:2", "phase", "dual", "from",
		    "a:1", "move", "grow", NULL }, "move" },
	};
	struct vsd_topo *t = topo_new();
	char err[200];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (parse_kv(cases[i].kv, t, err, sizeof(err)) != -1)
			fail_msg("case %zu accepted", i);
		if (strstr(err, cases[i].why) == NULL)
			fail_msg("case %zu: \"%s\" lacks \"%s\"", i, err,
			    cases[i].why);
	}
	free(t);
}

static void
test_parse_too_many_fields(void **state)
{
	const char *kv[2 * (VSD_TOPO_MAX_FIELDS + 2) + 1];
	struct vsd_topo *t = topo_new();
	char err[200];
	size_t i, n = 0;

	(void)state;
	kv[n++] = "epoch"; kv[n++] = "1";
	kv[n++] = "shards"; kv[n++] = "a:1";
	kv[n++] = "phase"; kv[n++] = "stable";
	for (i = 3; i <= VSD_TOPO_MAX_FIELDS; i++) {
		kv[n++] = "x";
		kv[n++] = "y";
	}
	kv[n] = NULL;
	assert_int_equal(parse_kv(kv, t, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "fields"));
	/* exactly the limit is fine */
	kv[n - 2] = NULL;
	assert_int_equal(parse_kv(kv, t, err, sizeof(err)), 0);
	free(t);
}

/* ---------------------------------------------------------- reconcile */

struct rc {
	struct vsd_topo_addr cli[NREC];
	uint32_t ncli;
	int answer[NREC];
	struct vsd_topo *rec[NREC];
	const char *rec_err[NREC];
	struct vsd_topo *out;
	uint32_t nabsent;
	char err[300];
};

static void
rc_init(struct rc *r, const char *cli)
{
	int i;

	memset(r, 0, sizeof(*r));
	assert_int_equal(vsd_topo_parse_list(cli, strlen(cli), r->cli,
	    &r->ncli, r->err, sizeof(r->err)), 0);
	for (i = 0; i < NREC; i++) {
		r->rec[i] = topo_new();
		r->answer[i] = VSD_TOPO_ABSENT;
	}
	r->out = topo_new();
}

static void
rc_fini(struct rc *r)
{
	int i;

	for (i = 0; i < NREC; i++)
		free(r->rec[i]);
	free(r->out);
}

static void
rc_set(struct rc *r, int i, uint64_t epoch, const char *shards)
{
	char ep[24];
	const char *kv[] = { "epoch", ep, "shards", shards, "phase", "stable",
	    NULL };

	snprintf(ep, sizeof(ep), "%llu", (unsigned long long)epoch);
	assert_int_equal(parse_kv(kv, r->rec[i], r->err, sizeof(r->err)), 0);
	r->answer[i] = VSD_TOPO_RECORD;
}

static int
rc_run(struct rc *r)
{
	r->err[0] = '\0';
	return vsd_topo_reconcile(r->cli, r->ncli, r->answer,
	    (const struct vsd_topo *const *)r->rec, r->rec_err, r->out,
	    &r->nabsent, r->err, sizeof(r->err));
}

static void
test_reconcile_none_and_adopt(void **state)
{
	struct rc r;

	(void)state;
	/* no record anywhere: the --shard list at epoch 0 */
	rc_init(&r, "a:1,b:2");
	assert_int_equal(rc_run(&r), VSD_TOPO_NONE);
	/* an unreachable shard does not count */
	r.answer[1] = VSD_TOPO_UNREACHABLE;
	assert_int_equal(rc_run(&r), VSD_TOPO_NONE);
	/* an out-of-date router: 2 of the 3 stored shards */
	rc_set(&r, 0, 5, "a:1,b:2,c:3");
	rc_set(&r, 1, 5, "a:1,b:2,c:3");
	assert_int_equal(rc_run(&r), VSD_TOPO_ADOPT);
	assert_int_equal(r.out->epoch, 5);
	assert_int_equal(r.out->nshards, 3);
	assert_string_equal(r.out->shards[2].s, "c:3");
	assert_int_equal(r.nabsent, 0);
	/* highest epoch wins when the lower one is consistent with it (a
	 * shard that missed the last change) */
	rc_set(&r, 1, 4, "a:1,b:2");
	assert_int_equal(rc_run(&r), VSD_TOPO_ADOPT);
	assert_int_equal(r.out->epoch, 5);
	rc_set(&r, 0, 3, "a:1,b:2");
	rc_set(&r, 1, 4, "a:1,b:2,c:3,d:4");
	assert_int_equal(rc_run(&r), VSD_TOPO_ADOPT);
	assert_int_equal(r.out->epoch, 4);
	assert_int_equal(r.out->nshards, 4);
	/* a shard with no record next to one with a record: adopted, and
	 * counted for a warning */
	r.answer[0] = VSD_TOPO_ABSENT;
	assert_int_equal(rc_run(&r), VSD_TOPO_ADOPT);
	assert_int_equal(r.nabsent, 1);
	rc_fini(&r);
}

static void
test_reconcile_refuses(void **state)
{
	struct rc r;

	(void)state;
	/* a different shard at the same index */
	rc_init(&r, "a:1,x:2");
	rc_set(&r, 0, 5, "a:1,b:2,c:3");
	rc_set(&r, 1, 5, "a:1,b:2,c:3");
	assert_int_equal(rc_run(&r), VSD_TOPO_REFUSE);
	assert_non_null(strstr(r.err, "index 1"));
	assert_non_null(strstr(r.err, "x:2"));
	assert_non_null(strstr(r.err, "b:2"));
	rc_fini(&r);

	/* more --shard than the stored layout */
	rc_init(&r, "a:1,b:2,c:3");
	rc_set(&r, 0, 2, "a:1,b:2");
	assert_int_equal(rc_run(&r), VSD_TOPO_REFUSE);
	assert_non_null(strstr(r.err, "c:3"));
	rc_fini(&r);

	/* two different records at the same epoch */
	rc_init(&r, "a:1,b:2");
	rc_set(&r, 0, 5, "a:1,b:2,c:3");
	rc_set(&r, 1, 5, "a:1,b:2");
	assert_int_equal(rc_run(&r), VSD_TOPO_REFUSE);
	assert_non_null(strstr(r.err, "same epoch"));
	rc_fini(&r);

	/* a lower epoch that contradicts the highest */
	rc_init(&r, "a:1,b:2");
	rc_set(&r, 0, 6, "a:1,b:2,c:3");
	rc_set(&r, 1, 5, "a:1,z:9");
	assert_int_equal(rc_run(&r), VSD_TOPO_REFUSE);
	assert_non_null(strstr(r.err, "contradicts"));
	rc_fini(&r);

	/* a malformed record anywhere */
	rc_init(&r, "a:1,b:2");
	rc_set(&r, 0, 6, "a:1,b:2");
	r.answer[1] = VSD_TOPO_MALFORMED;
	r.rec_err[1] = "epoch \"x\" is not a decimal u64";
	assert_int_equal(rc_run(&r), VSD_TOPO_REFUSE);
	assert_non_null(strstr(r.err, "shard 1 (b:2)"));
	assert_non_null(strstr(r.err, "decimal"));
	rc_fini(&r);
}

static void
test_reconcile_during_remove(void **state)
{
	static const char *const kv[] = { "epoch", "9", "shards", "a:1,b:2",
	    "phase", "switched", "from", "a:1,b:2,c:3", "move", "remove",
	    NULL };
	struct rc r;

	(void)state;
	/* a router with the old (longer) list during a remove */
	rc_init(&r, "a:1,b:2,c:3");
	assert_int_equal(parse_kv(kv, r.rec[0], r.err, sizeof(r.err)), 0);
	r.answer[0] = VSD_TOPO_RECORD;
	assert_int_equal(rc_run(&r), VSD_TOPO_ADOPT);
	assert_int_equal(r.out->phase, VSD_PHASE_SWITCHED);
	/* the union (the old, longer list) is what the router must know */
	assert_int_equal(r.out->nfrom, 3);
	rc_fini(&r);
}

static void
test_addr_of(void **state)
{
	struct vsd_endpoint v4 = { "127.0.0.1", 7001 }, v6 = { "::1", 7002 };
	struct vsd_topo_addr a;

	(void)state;
	assert_int_equal(vsd_topo_addr_of(&v4, &a), 0);
	assert_string_equal(a.s, "127.0.0.1:7001");
	assert_int_equal(vsd_topo_addr_of(&v6, &a), 0);
	assert_string_equal(a.s, "[::1]:7002");
}

/* parse(to_fields(t)) == t, for a stable record and a move */
static void
test_fields_round_trip(void **state)
{
	static const char *const kvs[][13] = {
		{ "epoch", "0", "shards", "a:1", "phase", "stable", NULL },
		{ "epoch", "12", "shards", "a:1,b:2,[::1]:3", "phase", "dual",
		    "from", "a:1,b:2", "move", "add", NULL },
		{ "epoch", "13", "shards", "a:1", "phase", "switched", "from",
		    "a:1,b:2", "move", "remove", NULL },
	};
	struct vsd_topo *t = topo_new(), *u = topo_new();
	struct vsd_topo_text txt;
	const char *f[VSD_TOPO_RECORD_FIELDS], *v[VSD_TOPO_RECORD_FIELDS];
	size_t fl[VSD_TOPO_RECORD_FIELDS], vl[VSD_TOPO_RECORD_FIELDS], n, i, k;
	char err[200];

	(void)state;
	txt.shards = malloc(VSD_TOPO_MAX_LIST);
	txt.from = malloc(VSD_TOPO_MAX_LIST);
	assert_non_null(txt.shards);
	assert_non_null(txt.from);
	for (k = 0; k < sizeof(kvs) / sizeof(kvs[0]); k++) {
		assert_int_equal(parse_kv(kvs[k], t, err, sizeof(err)), 0);
		n = vsd_topo_to_fields(t, &txt, f, v, err, sizeof(err));
		assert_int_equal(n, t->phase == VSD_PHASE_STABLE ? 4 : 6);
		for (i = 0; i < n; i++) {
			fl[i] = strlen(f[i]);
			vl[i] = strlen(v[i]);
		}
		assert_int_equal(vsd_topo_parse(f, fl, v, vl, n, u, err,
		    sizeof(err)), 0);
		assert_true(vsd_topo_equal(t, u));
	}
	/* an inconsistent layout is not formatted */
	t->phase = VSD_PHASE_DUAL;
	t->nfrom = 0;
	assert_int_equal(vsd_topo_to_fields(t, &txt, f, v, err, sizeof(err)),
	    0);
	free(txt.shards);
	free(txt.from);
	free(t);
	free(u);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_addr),
		cmocka_unit_test(test_list),
		cmocka_unit_test(test_list_bound),
		cmocka_unit_test(test_parse_good),
		cmocka_unit_test(test_parse_refuses),
		cmocka_unit_test(test_parse_too_many_fields),
		cmocka_unit_test(test_reconcile_none_and_adopt),
		cmocka_unit_test(test_reconcile_refuses),
		cmocka_unit_test(test_reconcile_during_remove),
		cmocka_unit_test(test_addr_of),
		cmocka_unit_test(test_fields_round_trip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
