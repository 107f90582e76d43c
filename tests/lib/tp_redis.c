/*
 * tp_redis.c - start, fault and query a real Redis for the tests.
 *
 * Design note.  Free ports are found by binding 127.0.0.1:0 and closing;
 * another process can take the port in between, so a Redis started on a
 * probed port that dies at start is retried on a fresh one.  A restart
 * reuses port and directory (Redis sets SO_REUSEADDR), retried for a
 * bounded while since a just-killed listener's port may be busy briefly.
 */
#include "tp_redis.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define TP_PING_WAIT_MS 15000

static redisContext *
tp_connect_port(int port, const char *password, int timeout_ms)
{
	struct timeval tv = { timeout_ms / 1000, (timeout_ms % 1000) * 1000 };
	redisContext *rc;
	redisReply *r;

	rc = redisConnectWithTimeout("127.0.0.1", port, tv);
	if (rc == NULL)
		return NULL;
	if (rc->err != 0 || redisSetTimeout(rc, tv) != REDIS_OK)
		goto fail;
	if (password != NULL && password[0] != '\0') {
		r = redisCommand(rc, "AUTH %s", password);
		if (r == NULL || r->type == REDIS_REPLY_ERROR) {
			if (r != NULL)
				freeReplyObject(r);
			goto fail;
		}
		freeReplyObject(r);
	}
	return rc;
fail:
	redisFree(rc);
	return NULL;
}

redisContext *
tp_redis_connect(const struct tp_redis *r, int timeout_ms)
{
	return tp_connect_port(r->port, r->password, timeout_ms);
}

redisReply *
tp_redis_cmd(const struct tp_redis *r, const char *fmt, ...)
{
	redisContext *rc;
	redisReply *rep;
	va_list ap;

	if ((rc = tp_redis_connect(r, 2000)) == NULL) {
		tp_log("cannot connect to redis port %d", r->port);
		return NULL;
	}
	va_start(ap, fmt);
	rep = redisvCommand(rc, fmt, ap);
	va_end(ap);
	if (rep == NULL)
		tp_log("redis port %d: %s", r->port, rc->errstr);
	redisFree(rc);
	return rep;
}

/* Bounded wait for PONG (not -LOADING: an AOF is being replayed). */
static int
tp_redis_wait_ping(struct tp_redis *r)
{
	int64_t end = tp_now_ms() + TP_PING_WAIT_MS;
	redisContext *rc;
	redisReply *rep;
	int ok;

	while (tp_now_ms() < end) {
		if (!tp_proc_alive(&r->p)) {
			tp_log("redis on port %d exited, see %s", r->port,
			    r->p.log);
			tp_log_tail(r->p.log, 1500);
			return -1;
		}
		rc = tp_redis_connect(r, 200);
		if (rc != NULL) {
			rep = redisCommand(rc, "PING");
			ok = rep != NULL && rep->type == REDIS_REPLY_STATUS &&
			    strcmp(rep->str, "PONG") == 0;
			if (rep != NULL)
				freeReplyObject(rep);
			redisFree(rc);
			if (ok)
				return 0;
		}
		tp_sleep_ms(20);
	}
	tp_log("redis on port %d did not answer PING in %d ms", r->port,
	    TP_PING_WAIT_MS);
	tp_proc_kill(&r->p);
	return -1;
}

int
tp_redis_start(struct tp_redis *r, int port, const char *dir,
    const char *const *extra, const char *password)
{
	const char *bin = getenv("REDIS_SERVER");
	const char *argv[TP_MAX_ARGS + 1];
	char portstr[16], log[PATH_MAX];
	int argc = 0, i, tries;

	if (bin == NULL || *bin == '\0') {
		tp_log("REDIS_SERVER is not set");
		return -1;
	}
	memset(r, 0, sizeof(*r));
	snprintf(r->dir, sizeof(r->dir), "%s", dir);
	snprintf(r->password, sizeof(r->password), "%s",
	    password != NULL ? password : "");
	snprintf(log, sizeof(log), "%s/redis.log", dir);
	/* A free port can be taken between our probe and Redis's bind: retry
	 * on a fresh one (only when the caller did not fix the port). */
	for (tries = 0; tries < 5; tries++) {
		r->port = port > 0 ? port : tp_free_port();
		snprintf(portstr, sizeof(portstr), "%d", r->port);
		argc = 0;
		argv[argc++] = bin;
		argv[argc++] = "--port";
		argv[argc++] = portstr;
		argv[argc++] = "--bind";
		argv[argc++] = "127.0.0.1";
		argv[argc++] = "--save";
		argv[argc++] = "";
		argv[argc++] = "--daemonize";
		argv[argc++] = "no";
		argv[argc++] = "--dir";
		argv[argc++] = dir;
		for (i = 0; extra != NULL && extra[i] != NULL; i++) {
			if (argc >= TP_MAX_ARGS) {
				tp_log("too many redis arguments");
				return -1;
			}
			argv[argc++] = extra[i];
		}
		argv[argc] = NULL;
		if (tp_proc_start(&r->p, argv, NULL, dir, log) != 0)
			return -1;
		if (tp_redis_wait_ping(r) == 0)
			return 0;
		if (port > 0)
			break;
		tp_sleep_ms(100);
	}
	return -1;
}

int
tp_shards_start(struct tp_redis *r, int n, const char *dir,
    const char *const *extra, const char *password, const char **argv,
    char (*hosts)[40])
{
	char sdir[PATH_MAX];
	int i;

	for (i = 0; i < n; i++) {
		snprintf(sdir, sizeof(sdir), "%s/shard%d", dir, i);
		if (mkdir(sdir, 0700) != 0 && errno != EEXIST) {
			tp_log("mkdir %s: %s", sdir, strerror(errno));
			return -1;
		}
		if (tp_redis_start(&r[i], 0, sdir, extra, password) != 0)
			return -1;
		snprintf(hosts[i], 40, "127.0.0.1:%d", r[i].port);
		argv[2 * i] = "--shard";
		argv[2 * i + 1] = hosts[i];
	}
	return 0;
}

void
tp_redis_kill(struct tp_redis *r)
{
	tp_proc_kill(&r->p);
}

int
tp_redis_restart(struct tp_redis *r)
{
	int64_t end = tp_now_ms() + 3000;

	tp_proc_kill(&r->p);
	/* Redis sets SO_REUSEADDR, but a just-killed listener's port may be
	 * busy for a moment: retry the same port, bounded. */
	while (tp_now_ms() < end) {
		if (tp_proc_respawn(&r->p) != 0)
			return -1;
		if (tp_redis_wait_ping(r) == 0)
			return 0;
		tp_sleep_ms(100);
	}
	return -1;
}

int
tp_redis_stop(struct tp_redis *r)
{
	return tp_proc_signal(&r->p, SIGSTOP);
}

int
tp_redis_cont(struct tp_redis *r)
{
	return tp_proc_signal(&r->p, SIGCONT);
}

int
tp_vemb(redisContext *rc, const char *coll, const char *id, float *out,
    size_t dim)
{
	redisReply *rep;
	size_t i;
	int rv = -1;

	rep = redisCommand(rc, "VEMB vsetd:%s %s", coll, id);
	if (rep == NULL) {
		tp_log("VEMB %s: %s", id, rc->errstr);
		return -1;
	}
	if (rep->type == REDIS_REPLY_NIL) {
		rv = 0;
	} else if (rep->type == REDIS_REPLY_ARRAY && rep->elements > 0) {
		rv = 1;
		for (i = 0; out != NULL && i < dim && i < rep->elements; i++)
			out[i] = rep->element[i]->str != NULL ?
			    strtof(rep->element[i]->str, NULL) : 0.0f;
	} else {
		tp_log("VEMB %s: reply type %d %s", id, rep->type,
		    rep->type == REDIS_REPLY_ERROR ? rep->str : "");
	}
	freeReplyObject(rep);
	return rv;
}

int
tp_redis_wait_link_up(const struct tp_redis *r, int timeout_ms)
{
	int64_t end = tp_now_ms() + timeout_ms;
	redisReply *rep;
	int up;

	while (tp_now_ms() < end) {
		rep = tp_redis_cmd(r, "INFO replication");
		up = rep != NULL && rep->type == REDIS_REPLY_STRING &&
		    strstr(rep->str, "master_link_status:up") != NULL;
		if (rep != NULL)
			freeReplyObject(rep);
		if (up)
			return 0;
		tp_sleep_ms(50);
	}
	tp_log("replica on port %d: master link not up in %d ms", r->port,
	    timeout_ms);
	return -1;
}

int
tp_sentinel_start(struct tp_redis *r, const char *dir, const char *conf,
    const char *password)
{
	const char *bin = getenv("REDIS_SERVER");
	const char *argv[4];
	char path[PATH_MAX], log[PATH_MAX], *text;
	int tries;

	if (bin == NULL || *bin == '\0') {
		tp_log("REDIS_SERVER is not set");
		return -1;
	}
	memset(r, 0, sizeof(*r));
	snprintf(r->dir, sizeof(r->dir), "%s", dir);
	snprintf(r->password, sizeof(r->password), "%s",
	    password != NULL ? password : "");
	snprintf(path, sizeof(path), "%s/sentinel.conf", dir);
	snprintf(log, sizeof(log), "%s/sentinel.log", dir);
	for (tries = 0; tries < 5; tries++) {
		r->port = tp_free_port();
		if (asprintf(&text, "port %d\nbind 127.0.0.1\ndaemonize no\n"
		    "dir %s\n%s", r->port, dir, conf) < 0)
			return -1;
		/* Sentinel rewrites this file: it is this Sentinel's own. */
		if (tp_write_file(path, text) != 0) {
			free(text);
			return -1;
		}
		free(text);
		argv[0] = bin;
		argv[1] = path;
		argv[2] = "--sentinel";
		argv[3] = NULL;
		if (tp_proc_start(&r->p, argv, NULL, dir, log) != 0)
			return -1;
		if (tp_redis_wait_ping(r) == 0)
			return 0;
		tp_sleep_ms(100);
	}
	return -1;
}
