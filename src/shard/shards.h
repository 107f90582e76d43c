/*
 * shards.h - talking to the Redis shards: one worker's connections, and a
 * parallel, deadline-bounded round of commands over them.
 *
 * Each worker owns a struct vsd_links: one non-blocking hiredis context per
 * shard, used only by that worker's thread (hiredis contexts are not
 * thread-safe).  vsd_links_run() appends every command to its shard's
 * context, then drives all the sockets with one poll loop (ppoll(), or the
 * lane's event loop: vsd_links_set_wait) until every
 * reply is in or the deadline passes.  So a fan-out costs the slowest
 * shard's time, not the sum, and a stopped shard can hold a call no longer
 * than the deadline.
 *
 * Time bounds of a round, and what each one says about the shard:
 *   - the caller's deadline (deadline_us): links still waiting are
 *     dropped (a late reply would otherwise be read as the answer to the
 *     next command) and reported VSD_SHARD_TIMED_OUT, but the breaker
 *     hears nothing: a hurried caller says nothing about the shard;
 *   - the shard timeout (--shard-timeout-ms): a link that moved no byte
 *     for that long while replies were pending has failed, TIMED_OUT, and
 *     counts against the breaker (health.h), even when the caller's
 *     deadline is later.  So a frozen shard holds a worker at most that
 *     long (plus --wait-ms while only a WAIT reply is left);
 *   - the stall rule (health.h): once half of the workers have waited on
 *     an endpoint for over --shard-stall-ms with no byte from it, new rounds
 *     skip it at once and younger waiters give way (reads fail over to a
 *     replica; otherwise the shard is FAILED, "is not answering"), with
 *     no verdict for the breaker.
 * A refused or lost connection, a protocol error or an AUTH refusal fails
 * the shard at once and counts against the breaker.  A shard skipped
 * because its breaker is open is FAILED (UNAVAILABLE), whatever opened it.
 *
 * Replicas (--shard PRIMARY,REPLICA...): a read round uses the primary and
 * fails over to the next replica whose breaker admits it when the primary
 * is down or fails during the round; with --hedge-ms it also sends the same
 * commands to a replica once the primary has been silent that long, and
 * takes whichever answers first.  Write rounds go to the primary only and,
 * with --wait-replicas N, end with WAIT N --wait-ms; the acknowledged count
 * is reported in the shard's result.
 *
 * With a Redis password configured, every new connection starts with AUTH
 * (pipelined with the first commands; a refusal fails the shard with
 * Redis's message).
 *
 * Ownership: cmds and their argv belong to the caller.  Replies land in
 * cmds[i].reply and belong to the caller, who frees them with
 * vsd_cmds_free_replies() once done with them.
 */
#ifndef VSD_SHARDS_H
#define VSD_SHARDS_H

#include <hiredis/hiredis.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "health.h"

struct vsd_cmd {
	uint32_t shard;
	int argc;
	const char **argv;
	const size_t *argvlen;
	redisReply *reply;           /* NULL: no answer (see the shard result) */
};

enum vsd_shard_state {
	VSD_SHARD_UNUSED = 0,        /* no command went to this shard */
	VSD_SHARD_OK,                /* every reply arrived (some may be errors) */
	VSD_SHARD_FAILED,            /* connection refused/lost, protocol
	                              * error, breaker open, not answering */
	VSD_SHARD_TIMED_OUT,         /* replies missing at the caller's
	                              * deadline or the shard timeout */
};

struct vsd_shard_result {
	int state;
	int endpoint;                /* which answered: 0 primary, >0 replica */
	int wait_acked;              /* replicas that acked WAIT; -1: no WAIT */
	char error[200];
};

/* What a round does, for replica handling. */
enum vsd_run_kind {
	VSD_RUN_READ,                /* may fail over / hedge to replicas */
	VSD_RUN_WRITE,               /* primary only; then WAIT if configured */
};

struct vsd_links;

/* One worker's links; health is the shared array of breakers, one per
 * endpoint: health[shard * VSD_MAX_ENDPOINTS + endpoint].  Connections are
 * opened lazily.  Every round's per-shard outcome and latency is recorded
 * into stats (the worker's).  NULL if out of memory. */
struct vsd_stats;
struct vsd_links *vsd_links_new(const struct vsd_config *cfg,
    struct vsd_health *health, struct vsd_stats *stats);
void vsd_links_free(struct vsd_links *l);

/* Run cmds[0..n) on their shards in parallel until all answered or
 * deadline_us (CLOCK_MONOTONIC, vs_now_us()), each shard also bounded by
 * the shard timeout and the stall rule (above).  res must have nshards
 * entries; it is overwritten.  Commands to one shard are pipelined in
 * order. */
void vsd_links_run(struct vsd_links *l, struct vsd_cmd *cmds, size_t n,
    int kind, int64_t deadline_us, struct vsd_shard_result *res);

void vsd_cmds_free_replies(struct vsd_cmd *cmds, size_t n);

/* How a round waits for its sockets.  By default it calls ppoll() and
 * blocks its thread; a lane run on an event loop (net/worker.c) sets its
 * own, which yields to the loop until a socket is ready or until_us
 * (CLOCK_MONOTONIC, vs_now_us()) passes.  Same contract as ppoll(): set
 * pfd[i].revents, return how many are ready, 0 on timeout, -1 with errno.
 * The shard layer does not know what the hook does with the thread. */
struct pollfd;
typedef int (*vsd_links_wait_fn)(void *arg, struct pollfd *pfd,
    unsigned n, int64_t until_us);
void vsd_links_set_wait(struct vsd_links *l, vsd_links_wait_fn fn,
    void *arg);

#endif
