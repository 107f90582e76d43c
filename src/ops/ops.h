/*
 * ops.h - the RPC methods.  One file per method (op_insert.c, op_delete.c,
 * op_search.c); helpers they share are in op_common.c.
 *
 * An op runs on a worker's lane (call.h).  It validates the request
 * (before touching any shard), builds the Redis commands, runs them in
 * rounds (round.h), and fills call->st and call->resp.  This is the lowest
 * layer that knows the RPC messages (protobuf-c); everything below it
 * (fanout/, shard/) sees only call.h.  Everything it allocates comes from
 * call->w->arena (freed after the reply is sent); Redis replies stay in
 * call->cmds until dispatch has packed the response, because response
 * strings point into them.
 */
#ifndef VSD_OPS_H
#define VSD_OPS_H

#include <protobuf-c/protobuf-c.h>

#include "call.h"
#include "status.h"
#include "vsetd.pb-c.h"

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
vsd_op_fn vsd_op_reshard_start;           /* op_reshard.c */
vsd_op_fn vsd_op_reshard_step;
vsd_op_fn vsd_op_reshard_status;
vsd_op_fn vsd_op_reshard_abort;

/* op_common.c */
/* Count the shards this round used into s and list their errors (arena). */
int vsd_call_shards(struct vsd_call *call, Vsetd__V1__ShardSummary *s,
    Vsetd__V1__ShardError ***errs, size_t *nerrs);
/* Run the writes in call->cmds (one per item); fill per-item results. */
int vsd_call_write_results(struct vsd_call *call, char *const *ids,
    size_t n, int is_delete, Vsetd__V1__ItemResult ***out,
    uint32_t *counts /* [5], by enum WriteOutcome - 1 */);

/* A ShardSummary of the last round, in the arena (NULL if out of
 * memory, with st set). */
Vsetd__V1__ShardSummary *vsd_round_summary(struct vsd_call *call);

struct vsd_coll_params;
/* op_collection.c: CollectionParams <-> struct vsd_coll_params
 * (collection.h).  from_msg checks the message against lim. */
int vsd_coll_params_from_msg(const Vsetd__V1__CollectionParams *m,
    const struct vsd_limits *lim, struct vsd_coll_params *p,
    struct vsd_status *st);
void vsd_coll_params_to_msg(const struct vsd_coll_params *p,
    Vsetd__V1__CollectionParams *m);

#endif
