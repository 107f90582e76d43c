/*
 * harness.c - a cluster of real Redis shards and a vsetd, built on the
 * shared process core (tests/lib: tp_proc, tp_redis, tp_vsetd).
 *
 * Design note.  The core spawns, reaps and kills the processes (also from
 * its atexit and signal handlers); this file only groups them: one temp
 * directory, shards in index order, at most one vsetd at a time, and one
 * cached check connection per shard.  The live clusters sit in a small
 * table so that an atexit() handler can also remove the directories of a
 * cluster the test forgot to destroy.
 */
#include "harness.h"

#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tp_redis.h"
#include "tp_vsetd.h"

#define H_MAX_CLUSTERS 8
#define H_REAP_WAIT_MS 5000
#define H_CHECK_TIMEOUT_MS 2000

struct h_cluster {
	int nshards;
	char dir[PATH_MAX];
	struct tp_redis shard[H_MAX_SHARDS];
	redisContext *check[H_MAX_SHARDS]; /* for h_vcard/h_vemb_present */
	char hosts[H_MAX_SHARDS][40];
	const char *shard_args[2 * H_MAX_SHARDS]; /* --shard hosts[i] ... */
	struct tp_vsetd v;
	int runs;                    /* vsetd starts: names the log files */
};

static h_cluster *h_live[H_MAX_CLUSTERS];
static int h_atexit_installed;

static void
h_at_exit(void)
{
	int i;

	for (i = 0; i < H_MAX_CLUSTERS; i++) {
		if (h_live[i] != NULL)
			h_cluster_destroy(h_live[i]);
	}
}

static int
h_register(h_cluster *c)
{
	int i;

	if (!h_atexit_installed) {
		h_atexit_installed = 1;
		atexit(h_at_exit);
	}
	for (i = 0; i < H_MAX_CLUSTERS; i++) {
		if (h_live[i] == NULL) {
			h_live[i] = c;
			return 0;
		}
	}
	tp_log("more than %d clusters at once", H_MAX_CLUSTERS);
	return -1;
}

static void
h_unregister(h_cluster *c)
{
	int i;

	for (i = 0; i < H_MAX_CLUSTERS; i++) {
		if (h_live[i] == c)
			h_live[i] = NULL;
	}
}

static struct tp_redis *
h_shard_get(const h_cluster *c, int i)
{
	if (i < 0 || i >= c->nshards) {
		tp_log("no shard %d", i);
		return NULL;
	}
	return (struct tp_redis *)&c->shard[i];
}

static void
h_drop_check(h_cluster *c, int i)
{
	if (c->check[i] != NULL) {
		redisFree(c->check[i]);
		c->check[i] = NULL;
	}
}

/* ------------------------------------------------------------ cluster */

int
h_cluster_start(h_cluster **out, int nshards, const char *const *vsetd_args)
{
	static const char *const extra[] = { "--appendonly", "no", NULL };
	h_cluster *c = NULL;
	int rv = -1;

	*out = NULL;
	if (nshards < 1 || nshards > H_MAX_SHARDS) {
		tp_log("nshards %d out of range", nshards);
		goto out;
	}
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		goto out;
	if (h_register(c) != 0) {
		free(c);
		c = NULL;
		goto out;
	}
	c->nshards = nshards;
	if (tp_tmpdir(c->dir, sizeof(c->dir), "it") != 0) {
		c->dir[0] = '\0';
		goto out;
	}
	if (tp_shards_start(c->shard, nshards, c->dir, extra, NULL,
	    c->shard_args, c->hosts) != 0)
		goto out;
	if (vsetd_args != NULL && h_vsetd_start(c, vsetd_args) != 0)
		goto out;
	*out = c;
	c = NULL;
	rv = 0;
out:
	h_cluster_destroy(c);
	return rv;
}

void
h_cluster_destroy(h_cluster *c)
{
	int i;

	if (c == NULL)
		return;
	tp_proc_kill(&c->v.p);
	for (i = 0; i < c->nshards; i++) {
		h_drop_check(c, i);
		tp_redis_kill(&c->shard[i]);
	}
	h_unregister(c);
	tp_rmtree(c->dir);
	free(c);
}

int
h_nshards(const h_cluster *c)
{
	return c->nshards;
}

/* ------------------------------------------------------------- vsetd */

int
h_vsetd_start(h_cluster *c, const char *const *args)
{
	const char *argv[TP_MAX_ARGS + 1];
	char tag[32];
	int argc = 0, i;

	if (c->v.p.pid > 0) {
		tp_log("vsetd already running (pid %d)", (int)c->v.p.pid);
		return -1;
	}
	argv[argc++] = "--listen";
	argv[argc++] = "tcp://127.0.0.1:0";
	for (i = 0; i < 2 * c->nshards; i++)
		argv[argc++] = c->shard_args[i];
	for (i = 0; args != NULL && args[i] != NULL; i++) {
		if (argc >= TP_MAX_ARGS - 1) {
			tp_log("too many vsetd arguments");
			return -1;
		}
		argv[argc++] = args[i];
	}
	argv[argc] = NULL;
	snprintf(tag, sizeof(tag), "run%d", ++c->runs);
	if (tp_vsetd_start(&c->v, c->dir, tag, argv, NULL) != 0) {
		c->v.url[0] = '\0';
		return -1;
	}
	return 0;
}

int
h_vsetd_stop(h_cluster *c, int sig, int timeout_ms, int *status)
{
	int st = 0, rv = -1;

	if (c->v.p.pid <= 0) {
		tp_log("no vsetd to stop");
		return -1;
	}
	tp_proc_signal(&c->v.p, sig);
	if (tp_proc_wait(&c->v.p, timeout_ms, &st) == 0) {
		rv = 0;
	} else {
		tp_log("vsetd did not exit within %d ms of signal %d",
		    timeout_ms, sig);
		tp_proc_signal(&c->v.p, SIGKILL);
		if (tp_proc_wait(&c->v.p, H_REAP_WAIT_MS, &st) != 0)
			tp_log("vsetd did not die after SIGKILL");
	}
	if (status != NULL)
		*status = st;
	c->v.url[0] = '\0';
	return rv;
}

const char *
h_vsetd_url(const h_cluster *c)
{
	return c->v.url;
}

const char *
h_vsetd_log(const h_cluster *c)
{
	return c->v.p.log;
}

pid_t
h_vsetd_pid(const h_cluster *c)
{
	return c->v.p.pid;
}

void
h_vsetd_log_tail(const h_cluster *c, size_t max_bytes)
{
	if (c->v.p.log[0] != '\0')
		tp_log_tail(c->v.p.log, max_bytes);
}

/* ------------------------------------------------------------ shards */

int
h_shard_port(const h_cluster *c, int i)
{
	struct tp_redis *s = h_shard_get(c, i);

	return s != NULL ? s->port : -1;
}

const char *
h_shard_dir(const h_cluster *c, int i)
{
	struct tp_redis *s = h_shard_get(c, i);

	return s != NULL ? s->dir : "";
}

/* The shard i, when it runs; NULL (logged) otherwise. */
static struct tp_redis *
h_shard_running(h_cluster *c, int i)
{
	struct tp_redis *s = h_shard_get(c, i);

	if (s == NULL || s->p.pid <= 0) {
		tp_log("shard %d is not running", i);
		return NULL;
	}
	return s;
}

int
h_shard_kill(h_cluster *c, int i)
{
	struct tp_redis *s = h_shard_running(c, i);

	if (s == NULL)
		return -1;
	h_drop_check(c, i);
	tp_redis_kill(s);
	return 0;
}

int
h_shard_stop(h_cluster *c, int i)
{
	struct tp_redis *s = h_shard_running(c, i);

	if (s == NULL)
		return -1;
	/* A stopped shard would hang a check on the cached connection. */
	h_drop_check(c, i);
	return tp_redis_stop(s);
}

int
h_shard_cont(h_cluster *c, int i)
{
	struct tp_redis *s = h_shard_running(c, i);

	return s != NULL ? tp_redis_cont(s) : -1;
}

int
h_shard_restart(h_cluster *c, int i)
{
	struct tp_redis *s = h_shard_get(c, i);

	if (s == NULL)
		return -1;
	h_drop_check(c, i);
	return tp_redis_restart(s);
}

int
h_shards_heal(h_cluster *c)
{
	int i, rv = 0;

	for (i = 0; i < c->nshards; i++) {
		struct tp_redis *s = &c->shard[i];

		/* tp_proc_alive() also reaps a shard that died on its own. */
		if (tp_proc_alive(&s->p) && s->p.stopped &&
		    h_shard_cont(c, i) != 0)
			rv = -1;
		if (s->p.pid <= 0 && h_shard_restart(c, i) != 0)
			rv = -1;
	}
	return rv;
}

redisContext *
h_shard_connect(const h_cluster *c, int i, int timeout_ms)
{
	struct tp_redis *s = h_shard_get(c, i);

	return s != NULL ? tp_redis_connect(s, timeout_ms) : NULL;
}

/* Shard i's cached check connection, connected on first use; NULL on
 * failure (logged). */
static redisContext *
h_check_conn(h_cluster *c, int i)
{
	struct tp_redis *s = h_shard_get(c, i);

	if (s == NULL)
		return NULL;
	if (c->check[i] == NULL) {
		c->check[i] = tp_redis_connect(s, H_CHECK_TIMEOUT_MS);
		if (c->check[i] == NULL)
			tp_log("cannot connect to shard %d (port %d)", i,
			    s->port);
	}
	return c->check[i];
}

/* Run one command on shard i's cached connection; the reply is the
 * caller's (freeReplyObject), NULL on error (the connection is dropped). */
static redisReply *
h_check_cmd(h_cluster *c, int i, const char *fmt, ...)
{
	redisContext *rc = h_check_conn(c, i);
	redisReply *r;
	va_list ap;

	if (rc == NULL)
		return NULL;
	va_start(ap, fmt);
	r = redisvCommand(rc, fmt, ap);
	va_end(ap);
	if (r == NULL) {
		tp_log("shard %d: %s", i, rc->errstr);
		h_drop_check(c, i);
	}
	return r;
}

long long
h_vcard(h_cluster *c, int i, const char *collection)
{
	redisReply *r;
	long long n = -1;

	r = h_check_cmd(c, i, "VCARD vsetd:%s", collection);
	if (r == NULL)
		return -1;
	if (r->type == REDIS_REPLY_INTEGER)
		n = r->integer;
	else
		tp_log("VCARD on shard %d: unexpected reply type %d (%s)", i,
		    r->type, r->type == REDIS_REPLY_ERROR ? r->str : "");
	freeReplyObject(r);
	return n;
}

int
h_vemb_present(h_cluster *c, int i, const char *collection, const char *id)
{
	redisContext *rc = h_check_conn(c, i);
	int rv;

	if (rc == NULL)
		return -1;
	rv = tp_vemb(rc, collection, id, NULL, 0);
	/* A broken connection is dropped, as in h_check_cmd. */
	if (rv < 0 && rc->err != 0)
		h_drop_check(c, i);
	return rv;
}
