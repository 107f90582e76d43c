/*
 * call.h - one request's run over the shards, as the fan-out layer sees
 * it: where its memory comes from, which connections it uses, what it
 * answers.  No RPC or transport type appears here, so route, rounds,
 * merge, collection metadata, capabilities and the fence build and test
 * without nng or protobuf (the layers are in src/meson.build).
 *
 * A struct vsd_lane is one thread's means of running calls: its shard
 * connections, arena, per-shard results and counters.  worker.c embeds
 * one in each worker and owns everything in it; a call borrows it.
 *
 * An op (ops.h) fills call->st and call->resp.  Everything it allocates
 * comes from call->w->arena (freed after the reply is sent); Redis replies
 * stay in call->cmds until the reply is packed, because response strings
 * point into them.
 */
#ifndef VSD_CALL_H
#define VSD_CALL_H

#include <stddef.h>
#include <stdint.h>

#include "arena.h"
#include "config.h"
#include "stats.h"
#include "status.h"
#include "validate.h"
#include "view.h"

/* The RPC response, opaque here: ops.h gives it its protobuf-c type. */
struct ProtobufCMessage;
/* The shard layer's (shards.h, health.h), by pointer only: a caller of
 * dispatch (rpc/) needs no hiredis. */
struct vsd_cmd;
struct vsd_health;
struct vsd_links;
struct vsd_shard_result;

struct vsd_lane {
	const struct vsd_config *cfg;    /* the process's, read-only */
	const struct vsd_limits *lim;    /* the process's, read-only */
	struct vsd_health *health;       /* nshards, shared by every lane */
	struct vsd_links *links;         /* owned by the lane's thread */
	struct vsd_arena arena;
	struct vsd_shard_result *res;    /* nshards */
	struct vsd_stats stats;          /* this lane's counters */
};

struct vsd_call {
	struct vsd_lane *w;
	const struct vsd_limits *lim;
	/* The layout this call routes by, taken when it starts and again
	 * after a reload (view.h); view.nall shards are in use. */
	struct vsd_view view;
	int64_t deadline_us;         /* stop waiting on shards at this time */
	struct vsd_status st;
	struct ProtobufCMessage *resp;   /* packed even when st.code != OK */
	struct vsd_cmd *cmds;        /* replies freed by dispatch */
	size_t ncmds;
};

/* Start a call on lane w: zeroed, with the current view. */
void vsd_call_init(struct vsd_call *call, struct vsd_lane *w);
/* End a call: free the replies of its last round (call->cmds), which the
 * packed response no longer needs.  The arena is the lane owner's. */
void vsd_call_release(struct vsd_call *call);
/* Arena memory for this call; on failure NULL, with call->st already
 * RESOURCE_EXHAUSTED. */
void *vsd_call_alloc(struct vsd_call *call, size_t size);
/* "vsetd:<collection>" in the arena (route.h). */
const char *vsd_call_key(struct vsd_call *call, const char *collection,
    size_t *len);
/* Status code for a Redis error reply: conditions of the shard itself
 * (LOADING, BUSY, NOAUTH, READONLY...) are UNAVAILABLE; OOM is
 * RESOURCE_EXHAUSTED; WRONGTYPE is FAILED_PRECONDITION; an unknown command
 * is UNIMPLEMENTED; any other error is about the request: INVALID_ARGUMENT. */
int vsd_redis_error_code(const char *err);
/* Code for a command that got no reply, from its shard's result. */
int vsd_shard_state_code(int state);
/* A shard's reply broke the protocol (wrong type or shape): mark the
 * shard FAILED for this call with "protocol error: <why>" (the first error
 * of a shard is the one kept), count it against the endpoint's health, and
 * return VSD_UNAVAILABLE. */
int vsd_reply_protocol_error(struct vsd_call *call, uint32_t shard,
    const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
