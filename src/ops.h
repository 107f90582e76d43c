/*
 * ops.h - the RPC methods.  One file per method (op_insert.c, op_delete.c,
 * op_search.c); helpers they share are in op_common.c.
 *
 * An op runs on a worker.  It validates the request (before touching any
 * shard), builds the Redis commands, runs them with vsd_links_run(), and
 * fills call->st and call->resp.  Everything it allocates comes from
 * call->w->arena (freed after the reply is sent); Redis replies stay in
 * call->cmds until dispatch has packed the response, because response
 * strings point into them.
 */
#ifndef VSD_OPS_H
#define VSD_OPS_H

#include <protobuf-c/protobuf-c.h>

#include "server.h"
#include "status.h"
#include "vsetd.pb-c.h"

struct vsd_call {
	struct vsd_worker *w;
	const struct vsd_server *srv;
	const struct vsd_limits *lim;
	int64_t deadline_us;         /* stop waiting on shards at this time */
	struct vsd_status st;
	ProtobufCMessage *resp;      /* packed even when st.code != OK */
	struct vsd_cmd *cmds;        /* replies freed by dispatch */
	size_t ncmds;
};

typedef void vsd_op_fn(struct vsd_call *call, const ProtobufCMessage *req);

vsd_op_fn vsd_op_insert;
vsd_op_fn vsd_op_delete;
vsd_op_fn vsd_op_search;
vsd_op_fn vsd_op_batch_search;          /* op_search.c */
vsd_op_fn vsd_op_create_collection;     /* op_collection.c */
vsd_op_fn vsd_op_describe_collection;
vsd_op_fn vsd_op_list_collections;
vsd_op_fn vsd_op_drop_collection;
vsd_op_fn vsd_op_get;                   /* op_element.c */
vsd_op_fn vsd_op_get_attributes;
vsd_op_fn vsd_op_set_attributes;
vsd_op_fn vsd_op_exists;
vsd_op_fn vsd_op_links;
vsd_op_fn vsd_op_count;                 /* op_aggregate.c */
vsd_op_fn vsd_op_info;
vsd_op_fn vsd_op_random_members;

/* op_common.c */
/* Arena memory for this call; on failure NULL, with call->st already
 * RESOURCE_EXHAUSTED. */
void *vsd_call_alloc(struct vsd_call *call, size_t size);
/* "vsetd:<collection>" in the arena. */
const char *vsd_call_key(struct vsd_call *call, const char *collection,
    size_t *len);
/* Status code for a Redis error reply: conditions of the shard itself
 * (LOADING, BUSY, NOAUTH, READONLY...) are UNAVAILABLE; OOM is
 * RESOURCE_EXHAUSTED; WRONGTYPE is FAILED_PRECONDITION; an unknown command
 * is UNIMPLEMENTED; any other error is about the request: INVALID_ARGUMENT. */
int vsd_redis_error_code(const char *err);
/* Count the shards this round used into s and list their errors (arena). */
int vsd_call_shards(struct vsd_call *call, Vsetd__V1__ShardSummary *s,
    Vsetd__V1__ShardError ***errs, size_t *nerrs);
/* Code for a command that got no reply, from its shard's result. */
int vsd_shard_state_code(int state);
/* Run the writes in call->cmds (one per item); fill per-item results. */
int vsd_call_write_results(struct vsd_call *call, char *const *ids,
    size_t n, int is_delete, Vsetd__V1__ItemResult ***out,
    uint32_t *counts /* [5], by enum WriteOutcome - 1 */);

#endif
