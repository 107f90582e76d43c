/*
 * tp_redis.h - a real Redis 8 server for the tests.
 *
 * Design.  A tp_redis is a redis-server ($REDIS_SERVER) on a loopback port
 * and its own directory, with any extra arguments (--replicaof,
 * --appendonly, --requirepass); it can be killed, stopped, continued and
 * started again on the same port and directory with the same arguments
 * (kill -9 + restart keeps its AOF).  Every start waits, bounded, until it
 * answers PING (not -LOADING).
 *
 * Ownership.  A tp_redis is caller-owned and must not move while running
 * (it holds a tp_proc).  tp_redis_connect() returns a redisContext the
 * caller frees with redisFree(); every redisReply is the caller's
 * (freeReplyObject).
 */
#ifndef TP_REDIS_H
#define TP_REDIS_H

#include <limits.h>
#include <stddef.h>

#include <hiredis/hiredis.h>

#include "tp_proc.h"

struct tp_redis {
	struct tp_proc p;
	int port;
	char dir[PATH_MAX];
	char password[64];           /* AUTH for tp_redis_* checks; "" none */
};

/* Start $REDIS_SERVER on a free port (port 0, retried on a fresh port if
 * it was taken meanwhile) or on port, in dir (created by the caller), no
 * RDB snapshots, output to dir/redis.log, extra (NULL-terminated, may be
 * NULL) appended; wait until it answers PING (loading done).
 * password: for our own checks, when extra has --requirepass. */
int tp_redis_start(struct tp_redis *r, int port, const char *dir,
    const char *const *extra, const char *password);
/* n Redis servers in dir/shard0 .. dir/shard<n-1> (created here), each
 * with extra; argv gets "--shard" "127.0.0.1:PORT" pairs (2n entries, the
 * strings in hosts[i], which must stay alive while argv is used). */
int tp_shards_start(struct tp_redis *r, int n, const char *dir,
    const char *const *extra, const char *password, const char **argv,
    char (*hosts)[40]);
/* A Redis Sentinel (redis-server dir/sentinel.conf --sentinel) on a free
 * loopback port, with conf (its "sentinel monitor ..." and other lines)
 * after port/bind/dir; Sentinel rewrites the file, so each Sentinel needs
 * its own dir.  tp_redis_kill/restart/stop/cont work on it as on a Redis;
 * password: for our own checks when conf sets requirepass. */
int tp_sentinel_start(struct tp_redis *r, const char *dir, const char *conf,
    const char *password);
/* kill -9 (its data survives only in its AOF). */
void tp_redis_kill(struct tp_redis *r);
/* Start again on the same port and dir with the same arguments (kills it
 * first if it still runs). */
int tp_redis_restart(struct tp_redis *r);
int tp_redis_stop(struct tp_redis *r);    /* SIGSTOP */
int tp_redis_cont(struct tp_redis *r);    /* SIGCONT */
/* A connection (authenticated when r->password is set), commands bounded
 * by timeout_ms; NULL on failure. */
redisContext *tp_redis_connect(const struct tp_redis *r, int timeout_ms);
/* One command on a fresh connection; the reply or NULL. */
redisReply *tp_redis_cmd(const struct tp_redis *r, const char *fmt, ...);
/* VEMB vsetd:coll id -> 1 present, 0 absent, -1 error.  The vector goes to
 * out[0..dim) when out is not NULL and it is present. */
int tp_vemb(redisContext *rc, const char *coll, const char *id, float *out,
    size_t dim);
/* Wait (bounded) until replica r reports master_link_status:up. */
int tp_redis_wait_link_up(const struct tp_redis *r, int timeout_ms);

#endif
