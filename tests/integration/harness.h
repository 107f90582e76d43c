/*
 * harness.h - real Redis 8 shards and a real vsetd for integration tests.
 *
 * Design.  A test starts one h_cluster: N redis-server processes
 * ($REDIS_SERVER), each on a free loopback port in its own directory under
 * one mkdtemp() directory, and optionally one vsetd ($VSETD_BIN) listening
 * on an ephemeral port in front of them.  Every wait (PING, "listening on",
 * exit) is bounded, so a broken binary fails the test instead of hanging it.
 * The processes themselves are the shared test core's (tests/lib: tp_proc.h,
 * tp_redis.h, tp_vsetd.h), which tests needing more than a plain cluster
 * (extra Redis arguments, TLS, several vsetd) use directly.
 *
 * Nothing may outlive the test process, whichever way it ends:
 *   - h_cluster_destroy() (call it from the cmocka group teardown) kills
 *     everything and removes the directories;
 *   - an atexit() handler destroys clusters the test forgot (e.g. a failed
 *     setup), and a SIGTERM/SIGINT/SIGHUP handler (meson's timeout sends
 *     SIGTERM) kills the children before the process dies;
 *   - every child is started with PR_SET_PDEATHSIG=SIGKILL, so even an
 *     abort() or SIGKILL of the test takes its servers with it.
 * Children stay in the test's process group (meson kills the group on a
 * timeout) and never inherit the test's sockets.
 *
 * Set VSETD_TEST_KEEP=1 to keep the directories (logs) after the run.
 *
 * Errors.  Functions returning int give 0 on success and -1 on failure,
 * after printing the reason to stderr as a TAP comment ("# tp: ...").
 *
 * Ownership.  h_cluster_start() hands the caller an h_cluster, freed (with
 * all its processes and directories) by h_cluster_destroy().  Strings from
 * h_vsetd_url()/h_vsetd_log()/h_shard_dir() are owned by the cluster and
 * valid until the next h_vsetd_start() or h_cluster_destroy().
 * h_shard_connect() returns a redisContext the caller frees with redisFree().
 * Not thread-safe: drive a cluster from one thread.
 */
#ifndef VS_HARNESS_H
#define VS_HARNESS_H

#include <sys/types.h>

#include <hiredis/hiredis.h>

#define H_MAX_SHARDS 16

typedef struct h_cluster h_cluster;

/* Start nshards Redis servers and wait until each answers PING.  When
 * vsetd_args is not NULL, also start vsetd in front of them (as
 * h_vsetd_start); pass an empty list ({NULL}) for no extra arguments. */
int h_cluster_start(h_cluster **out, int nshards,
    const char *const *vsetd_args);

/* Kill every process of c (SIGCONT first for stopped ones, then SIGKILL),
 * remove its directories and free it.  NULL is a no-op. */
void h_cluster_destroy(h_cluster *c);

int h_nshards(const h_cluster *c);

/* ------------------------------------------------------------- vsetd */

/* Start vsetd with --listen tcp://127.0.0.1:0, one --shard per shard (in
 * index order) and then args (NULL-terminated, may be NULL), stderr and
 * stdout to h_vsetd_log(c).  Waits (at most 10 s) for the "listening on
 * tcp://127.0.0.1:PORT" line.  Fails if a vsetd of c is already running. */
int h_vsetd_start(h_cluster *c, const char *const *args);

/* Send sig (SIGTERM, SIGINT) to vsetd and wait at most timeout_ms for it to
 * exit; *status (may be NULL) gets the waitpid() status.  Returns 0 if it
 * exited in time; -1 if not (it is then SIGKILLed and reaped, and *status
 * describes that death) or if no vsetd was running. */
int h_vsetd_stop(h_cluster *c, int sig, int timeout_ms, int *status);

/* "tcp://127.0.0.1:PORT" of the running vsetd ("" when none). */
const char *h_vsetd_url(const h_cluster *c);
/* Path of the log file of the latest vsetd run (each run has its own). */
const char *h_vsetd_log(const h_cluster *c);
pid_t h_vsetd_pid(const h_cluster *c);

/* Print the last max_bytes of the vsetd log to stderr as TAP comments. */
void h_vsetd_log_tail(const h_cluster *c, size_t max_bytes);

/* ------------------------------------------------------------- shards */

int h_shard_port(const h_cluster *c, int i);
const char *h_shard_dir(const h_cluster *c, int i);

/* kill -9 shard i and reap it.  Its data is gone (no persistence). */
int h_shard_kill(h_cluster *c, int i);
/* SIGSTOP / SIGCONT shard i: it keeps its connections but stops answering. */
int h_shard_stop(h_cluster *c, int i);
int h_shard_cont(h_cluster *c, int i);
/* Start shard i again, same port and directory (kills it first if it is
 * still running) and wait until it answers PING. */
int h_shard_restart(h_cluster *c, int i);
/* Make every shard answer again: SIGCONT the stopped, restart the dead. */
int h_shards_heal(h_cluster *c);

/* A hiredis connection to shard i, commands bounded by timeout_ms.  NULL on
 * failure.  The caller frees it with redisFree(). */
redisContext *h_shard_connect(const h_cluster *c, int i, int timeout_ms);

/* The checks below share one cached connection per shard (dropped on any
 * error and whenever the shard is killed or restarted).
 * VCARD vsetd:<collection> on shard i: the count, or -1 on error. */
long long h_vcard(h_cluster *c, int i, const char *collection);

/* Whether shard i holds element id of collection (VEMB vsetd:<coll> id):
 * 1 yes, 0 no, -1 error. */
int h_vemb_present(h_cluster *c, int i, const char *collection,
    const char *id);

#endif
