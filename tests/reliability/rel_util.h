/*
 * rel_util.h - processes and checks for the fault-injection tests.
 *
 * Design.  The integration harness (tests/integration/harness.h) starts
 * plain shards and one plain-TCP vsetd.  Fault tests need more: Redis with
 * extra arguments (--replicaof, --appendonly, --requirepass) restarted with
 * the same arguments, a vsetd on a tls+tcp:// listener, with its own
 * environment (VSETD_REDIS_PASSWORD) or a --config file, and several vsetd
 * at once.  So this file manages generic child processes:
 *
 *   - rel_proc: argv + extra environment + cwd + log file; spawn, signal,
 *     bounded wait.  Every child gets PR_SET_PDEATHSIG=SIGKILL and is listed
 *     in a table that an atexit() and a SIGTERM/SIGINT/SIGHUP handler (meson
 *     sends SIGTERM on a timeout) kill, so nothing outlives the test.
 *   - rel_redis: a Redis on a fixed loopback port and directory, startable
 *     again with the same arguments (kill -9 + restart keeps its AOF).
 *   - rel_vsetd: a vsetd; waits for its "listening on URL" line and keeps
 *     the URL (tcp:// or tls+tcp://).
 *
 * Every wait is bounded; failures print "# rel: ..." (a TAP comment) and
 * return -1.  Not thread-safe: start and stop processes from one thread.
 *
 * Ownership.  All structs are caller-owned (usually static or in the test
 * state) and filled by the *_start functions; argv/env strings are copied
 * in, so the caller's arrays may be temporary.  rel_redis_connect() returns
 * a redisContext the caller frees with redisFree(); every redisReply is the
 * caller's (freeReplyObject).  rel_tmpdir() strings are the caller's buffer.
 */
#ifndef REL_UTIL_H
#define REL_UTIL_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <hiredis/hiredis.h>

#define REL_MAX_ARGS 48
#define REL_ARG_BYTES 4096

struct rel_proc {
	pid_t pid;                   /* 0 = not running */
	int stopped;                 /* SIGSTOPped by us */
	char log[PATH_MAX];
	char cwd[PATH_MAX];
	int argc, envc;
	char *argv[REL_MAX_ARGS + 1];
	char *env[REL_MAX_ARGS + 1]; /* "NAME=value", added to ours */
	char buf[REL_ARG_BYTES];     /* storage of argv/env strings */
	size_t used;
};

struct rel_redis {
	struct rel_proc p;
	int port;
	char dir[PATH_MAX];
	char password[64];           /* AUTH for rel_redis_* checks; "" none */
};

struct rel_vsetd {
	struct rel_proc p;
	char url[128];               /* "tcp://127.0.0.1:PORT" or tls+tcp:// */
};

int64_t rel_now_ms(void);
void rel_sleep_ms(int ms);

/* mkdtemp under $TMPDIR (or /tmp) named "vsetd-rel-<tag>-XXXXXX". */
int rel_tmpdir(char *buf, size_t size, const char *tag);
/* rm -rf dir, unless VSETD_TEST_KEEP is set (then it is only logged). */
void rel_rmtree(const char *dir);
/* A loopback TCP port that was free a moment ago. */
int rel_free_port(void);

/* Write text to path (mode 0600); 0 or -1. */
int rel_write_file(const char *path, const char *text);
/* Whether the file contains needle (0/1), -1 if unreadable. */
int rel_file_contains(const char *path, const char *needle);

/* ---------------------------------------------------------- processes */

/* Start argv (NULL-terminated) with env (NULL-terminated "NAME=value", may
 * be NULL) added to this process's environment, in cwd, output appended to
 * log.  p is overwritten. */
int rel_proc_start(struct rel_proc *p, const char *const *argv,
    const char *const *env, const char *cwd, const char *log);
/* Start p again with the same argv/env/cwd/log (after it was killed). */
int rel_proc_respawn(struct rel_proc *p);
/* 1 if p's process is running (reaps it if it exited), 0 if not. */
int rel_proc_alive(struct rel_proc *p);
int rel_proc_signal(struct rel_proc *p, int sig);
/* Wait at most timeout_ms for exit; 0 and *status (may be NULL), or -1. */
int rel_proc_wait(struct rel_proc *p, int timeout_ms, int *status);
/* SIGCONT + SIGKILL + reap.  No-op when not running. */
void rel_proc_kill(struct rel_proc *p);
/* Resident set size of p in KiB (/proc/PID/status VmRSS), -1 on error. */
long rel_proc_rss_kb(const struct rel_proc *p);
/* Whether /proc/PID/cmdline contains needle: 1/0, -1 on error. */
int rel_proc_cmdline_contains(const struct rel_proc *p, const char *needle);
/* Whether /proc/PID/maps names needle (e.g. "libasan"): 1/0, -1 error. */
int rel_proc_maps_contain(const struct rel_proc *p, const char *needle);
/* Print the last max_bytes of the log as TAP comments. */
void rel_log_tail(const char *path, size_t max_bytes);

/* ---------------------------------------------------------- redis */

/* Start $REDIS_SERVER on a free port (port 0) or on port, in dir (created
 * by the caller), no RDB snapshots, AOF off unless extra (NULL-terminated,
 * may be NULL) says otherwise; wait until it answers PING (loading done).
 * password: for our own checks, when extra has --requirepass. */
int rel_redis_start(struct rel_redis *r, int port, const char *dir,
    const char *const *extra, const char *password);
/* n Redis servers in dir/shard0 .. dir/shard<n-1> (created here), each
 * with extra; argv gets "--shard" "127.0.0.1:PORT" pairs (2n entries, the
 * strings in hosts[i], which must stay alive while argv is used). */
int rel_shards_start(struct rel_redis *r, int n, const char *dir,
    const char *const *extra, const char *password, const char **argv,
    char (*hosts)[40]);
/* kill -9 (its data survives only in its AOF). */
void rel_redis_kill(struct rel_redis *r);
/* Start again on the same port and dir with the same arguments. */
int rel_redis_restart(struct rel_redis *r);
int rel_redis_stop(struct rel_redis *r);    /* SIGSTOP */
int rel_redis_cont(struct rel_redis *r);    /* SIGCONT */
/* A connection (authenticated when r->password is set), commands bounded
 * by timeout_ms; NULL on failure. */
redisContext *rel_redis_connect(const struct rel_redis *r, int timeout_ms);
/* One command on a fresh connection; the reply or NULL. */
redisReply *rel_redis_cmd(const struct rel_redis *r, const char *fmt, ...);
/* VEMB vsetd:coll id -> 1 present, 0 absent, -1 error.  The vector goes to
 * out[0..dim) when out is not NULL and it is present. */
int rel_vemb(redisContext *rc, const char *coll, const char *id, float *out,
    size_t dim);
/* Wait (bounded) until replica r reports master_link_status:up. */
int rel_redis_wait_link_up(const struct rel_redis *r, int timeout_ms);

/* ---------------------------------------------------------- vsetd */

/* Start $VSETD_BIN with args (NULL-terminated; must include --listen and
 * the shards, or --config) and env (may be NULL), logging to
 * dir/vsetd-<tag>.log; wait at most 10 s for "listening on URL". */
int rel_vsetd_start(struct rel_vsetd *v, const char *dir, const char *tag,
    const char *const *args, const char *const *env);
/* SIGTERM, wait timeout_ms: 0 if it exited with status 0; -1 otherwise
 * (it is then killed; the reason is logged). */
int rel_vsetd_term(struct rel_vsetd *v, int timeout_ms);

/* ---------------------------------------------------------- numbers */

/* The q-quantile (0..1) of v[0..n) by nearest rank; sorts v. */
double rel_quantile(double *v, size_t n, double q);
/* Deterministic pseudo-random vector (splitmix64 state *seed). */
void rel_rand_vec(uint64_t *seed, float *v, size_t dim);

#endif
