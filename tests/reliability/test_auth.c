/*
 * test_auth.c - Redis AUTH to the shards: a wrong password degrades
 * answers (never the server), the right one from a config file works, and
 * the password is never visible on vsetd's command line.
 *
 * Shards run with --requirepass secret and an ACL user "vsuser" (password
 * "userpw", keys vsetd:* only).
 *   1. wrong_password: VSETD_REDIS_PASSWORD=wrong in vsetd's environment.
 *      Searches answer UNAVAILABLE, or OK flagged partial with shard errors
 *      naming the refusal (WRONGPASS / AUTH); inserts are not acknowledged;
 *      every call is bounded; vsetd stays up and exits 0 on SIGTERM.
 *   2. config_password: "redis-password = secret" (and listen, shards) in a
 *      0600 --config file, nothing secret in argv or the environment:
 *      inserts and searches work, and /proc/PID/cmdline and /proc/PID/environ
 *      do not contain the password.
 *   3. acl_user: "redis-user = vsuser" / "redis-password = userpw" in the
 *      file, whose shard list names a dead port while the command line's
 *      --shard flags name the real ones: flags win (the file's list is
 *      replaced), and the ACL user works.
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

#define NSHARDS 2
#define NITEMS 60
#define DIM 8
#define COLL "auth"
#define K 10
#define CALL_MS 2000
#define MARGIN_MS 250
#define PASSWORD "secret"

struct state {
	struct rel_rig rig;          /* shards and data; no vsetd of its own */
	struct tp_vsetd v[3];        /* one per test; tracked: not on a stack */
};

static int
group_setup(void **st)
{
	static const char *const extra[] = { "--requirepass", PASSWORD, NULL };
	struct state *s;
	redisReply *r;
	int i, ok;

	if (rel_rig_new(st, sizeof(*s), "auth", NSHARDS,
	    extra, PASSWORD, NULL) != 0)
		return -1;
	s = *st;
	for (i = 0; i < NSHARDS; i++) {
		r = tp_redis_cmd(&s->rig.shard[i], "ACL SETUSER vsuser on "
		    ">userpw ~vsetd:* +@all");
		ok = r != NULL && r->type == REDIS_REPLY_STATUS;
		if (r != NULL)
			freeReplyObject(r);
		if (!ok)
			return -1;
	}
	s->rig.d = rel_data_new("u", NITEMS, DIM, NSHARDS, 0xa07);
	return s->rig.d != NULL ? 0 : -1;
}

static int
group_teardown(void **st)
{
	struct state *s = *st;
	int i;

	if (s == NULL)
		return 0;
	for (i = 0; i < 3; i++)
		tp_proc_kill(&s->v[i].p);
	rel_rig_free(s);
	return 0;
}

/* Whether /proc/PID/environ of p contains needle. */
static int
environ_contains(const struct tp_proc *p, const char *needle)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/environ", (int)p->pid);
	return tp_file_contains(path, needle);
}

/* The data loads, searches are full: the shards accepted our AUTH. */
static void
check_works(struct state *s, const struct tp_vsetd *v)
{
	vs_search_result *res = NULL;
	vs_client *cli = NULL;
	vs_search_params sp;

	assert_int_equal(rel_connect(&cli, v->url, CALL_MS), VS_OK);
	assert_int_equal(rel_data_load(cli, COLL, s->rig.d), 0);
	rel_search_params(&sp, s->rig.d, COLL, 0, K);
	assert_int_equal(vs_search(cli, &sp, &res), VS_OK);
	assert_int_equal(res->partial, 0);
	assert_int_equal(res->shards.ok, NSHARDS);
	assert_int_equal(res->n_hits, K);
	assert_string_equal(res->hits[0].id, s->rig.d->ids[0]);
	vs_search_result_free(res);
	vs_close(cli);
}

static void
test_wrong_password(void **st)
{
	struct state *s = *st;
	const char *args[2 * NSHARDS + 4] = { "--listen", "tcp://127.0.0.1:0" };
	const char *env[] = { "VSETD_REDIS_PASSWORD=wrong", NULL };
	struct tp_vsetd *v = &s->v[0];
	vs_search_result *res;
	vs_write_result *wr;
	vs_client *cli = NULL;
	vs_search_params sp;
	size_t e;
	int i, rv, named;
	int64_t t;

	for (i = 0; i < 2 * NSHARDS; i++)
		args[2 + i] = s->rig.shard_args[i];
	args[2 + 2 * NSHARDS] = NULL;
	assert_int_equal(tp_vsetd_start(v, s->rig.dir, "wrong", args, env), 0);
	assert_int_equal(tp_proc_cmdline_contains(&v->p, "wrong"), 0);
	assert_int_equal(rel_connect(&cli, v->url, CALL_MS), VS_OK);
	for (i = 0; i < 10; i++) {
		rel_search_params(&sp, s->rig.d, COLL, i, K);
		res = NULL;
		t = tp_now_ms();
		rv = vs_search(cli, &sp, &res);
		t = tp_now_ms() - t;
		assert_true(t <= CALL_MS + MARGIN_MS);
		if (i == 0)
			fprintf(stderr, "# wrong password: search %s %s\n",
			    vs_code_name(rv), vs_errmsg());
		if (rv == VS_OK) {
			assert_int_equal(res->partial, 1);
			assert_int_equal(res->shards.ok, 0);
			assert_int_equal(res->n_hits, 0);
			named = 0;
			for (e = 0; e < res->n_shard_errors; e++) {
				const char *m = res->shard_errors[e].message;

				if (i == 0 && e == 0)
					fprintf(stderr, "# shard error: %s\n",
					    m);
				named |= strstr(m, "WRONGPASS") != NULL ||
				    strstr(m, "AUTH") != NULL;
			}
			assert_true(named);
		} else {
			assert_int_equal(rv, VS_UNAVAILABLE);
			assert_true(strstr(vs_errmsg(), "WRONGPASS") != NULL ||
			    strstr(vs_errmsg(), "AUTH") != NULL);
		}
		vs_search_result_free(res);
	}
	wr = NULL;
	rv = vs_insert(cli, COLL, s->rig.d->items, 4, &wr);
	fprintf(stderr, "# wrong password: insert %s %s\n", vs_code_name(rv),
	    vs_errmsg());
	assert_int_not_equal(rv, VS_OK);
	if (wr != NULL) {
		for (e = 0; e < wr->n_items; e++)
			assert_int_equal(wr->items[e].outcome, VS_WRITE_FAILED);
	}
	vs_write_result_free(wr);
	vs_close(cli);
	assert_true(tp_proc_alive(&v->p));
	assert_int_equal(tp_vsetd_term(v, 5000), 0);
}

static void
test_config_password(void **st)
{
	struct state *s = *st;
	char conf[4200], text[1024];
	const char *args[] = { "--config", conf, NULL };
	struct tp_vsetd *v = &s->v[1];

	snprintf(conf, sizeof(conf), "%s/vsetd.conf", s->rig.dir);
	snprintf(text, sizeof(text), "# test config\nlisten = "
	    "tcp://127.0.0.1:0\nshard = %s\nshard = %s\nredis-password = %s\n",
	    s->rig.hosts[0], s->rig.hosts[1], PASSWORD);
	assert_int_equal(tp_write_file(conf, text), 0);
	assert_int_equal(tp_vsetd_start(v, s->rig.dir, "conf", args, NULL), 0);
	assert_int_equal(tp_proc_cmdline_contains(&v->p, PASSWORD), 0);
	assert_int_equal(environ_contains(&v->p, PASSWORD), 0);
	check_works(s, v);
	assert_int_equal(tp_vsetd_term(v, 5000), 0);
}

static void
test_acl_user(void **st)
{
	struct state *s = *st;
	char conf[4200], text[1024];
	const char *args[2 * NSHARDS + 4] = { "--config", conf };
	struct tp_vsetd *v = &s->v[2];
	int i;

	for (i = 0; i < 2 * NSHARDS; i++)
		args[2 + i] = s->rig.shard_args[i];
	args[2 + 2 * NSHARDS] = NULL;
	snprintf(conf, sizeof(conf), "%s/acl.conf", s->rig.dir);
	/* Port 1 is nothing: only the command line's shards may be used. */
	snprintf(text, sizeof(text), "listen = tcp://127.0.0.1:0\n"
	    "shard = 127.0.0.1:1\nredis-user = vsuser\n"
	    "redis-password = userpw\n");
	assert_int_equal(tp_write_file(conf, text), 0);
	assert_int_equal(tp_vsetd_start(v, s->rig.dir, "acl", args, NULL), 0);
	assert_int_equal(tp_proc_cmdline_contains(&v->p, "userpw"), 0);
	check_works(s, v);
	assert_int_equal(tp_vsetd_term(v, 5000), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_wrong_password),
		cmocka_unit_test(test_config_password),
		cmocka_unit_test(test_acl_user),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
