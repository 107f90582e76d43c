/*
 * shards.h - talking to the Redis shards: one worker's connections, and a
 * parallel, deadline-bounded round of commands over them.
 *
 * Each worker owns a struct vsd_links: one non-blocking hiredis context per
 * shard, used only by that worker's thread (hiredis contexts are not
 * thread-safe).  vsd_links_run() appends every command to its shard's
 * context, then drives all the sockets with one ppoll() loop until every
 * reply is in or the deadline passes.  So a fan-out costs the slowest
 * shard's time, not the sum, and a stopped shard can hold a call no longer
 * than the deadline.
 *
 * A shard that times out or fails has its connection dropped (a late reply
 * would otherwise be read as the answer to the next command) and reports to
 * the shared circuit breaker (health.h).
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
	VSD_SHARD_FAILED,            /* connection refused/lost, breaker open */
	VSD_SHARD_TIMED_OUT,         /* replies missing at the deadline */
};

struct vsd_shard_result {
	int state;
	char error[200];
};

struct vsd_links;

/* One worker's links; health is the shared array of nshards breakers.
 * Connections are opened lazily.  NULL if out of memory. */
struct vsd_links *vsd_links_new(const struct vsd_config *cfg,
    struct vsd_health *health);
void vsd_links_free(struct vsd_links *l);

/* Run cmds[0..n) on their shards in parallel until all answered or
 * deadline_us (CLOCK_MONOTONIC, vs_now_us()).  res must have nshards
 * entries; it is overwritten.  Commands to one shard are pipelined in
 * order. */
void vsd_links_run(struct vsd_links *l, struct vsd_cmd *cmds, size_t n,
    int64_t deadline_us, struct vsd_shard_result *res);

void vsd_cmds_free_replies(struct vsd_cmd *cmds, size_t n);

#endif
