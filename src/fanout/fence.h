/*
 * fence.h - the shard refuses a write made under an old view of the world.
 *
 * Why.  Every vsetd caches a collection's parameters for a second
 * (collection.h), and several vsetd serve the same shards.  Without a
 * fence, a router whose cache predates a DropCollection + re-create by
 * another router wrote into the new set with the old parameters: a dim-4
 * VADD created the new key with dimension 4 while the metadata said 8, and
 * every valid insert to that shard failed from then on.  Redis checks
 * nothing vsetd does not ask it to check, so the shard itself must compare
 * what the router believes with what is true, atomically with the write.
 *
 * What.  Every data write (VADD, VREM, VSETATTR) is sent inside one Lua
 * script, the fence, which first checks two things and then runs the
 * command:
 *
 *   EVALSHA <sha> 3 <meta key> vsetd:@topology <data key>
 *           <expected generation> <expected epoch> <CMD> <args after key>
 *
 *   - the collection's generation: field `gen` of the metadata hash
 *     (collection.h).  A hash without `gen` (a collection created before
 *     generations existed) is generation "0"; no hash at all is "none".
 *   - the topology epoch: field `epoch` of the hash vsetd:@topology on
 *     that shard; no hash (or no field) is epoch "0".  The router sends
 *     the epoch it routes by (topology.h, vsd_topo_epoch()); a router
 *     still routing by an old layout is refused exactly like a stale
 *     generation, and reloads the record (vsd_topo_after_stale).
 *
 *   On a mismatch the script writes nothing and answers the error
 *
 *     -VSETDSTALE generation <found> expected <sent>
 *     -VSETDSTALE epoch <found> expected <sent>
 *
 *   CMD is checked against the list VADD, VREM, VSETATTR; its own error
 *   (WRONGTYPE, dimension mismatch...) comes back unchanged (pcall).
 *
 * A refused router forgets its cached parameters, reloads them and tries
 * again, at most VSD_FENCE_MAX_TRIES times within the call's deadline
 * (op_insert.c, op_delete.c); then it answers what is now true.
 *
 * Scripts are sent as EVALSHA (the SHA-1 is computed here once).  A shard
 * that answers NOSCRIPT (restarted, SCRIPT FLUSH) gets the same commands
 * again as EVAL, which also caches the script there (vsd_fence_run).
 *
 * The metadata's creation also goes through a script (collection.c):
 * "write the hash unless it exists, and answer what is there", so two
 * routers creating the same collection at once agree on one generation.
 *
 * Ownership: everything built lives in the call's arena; script texts and
 * SHA-1s are static.
 */
#ifndef VSD_FENCE_H
#define VSD_FENCE_H

#include <stddef.h>
#include <stdint.h>

#include "fence_lua.h"
#include "call.h"
#include "round.h"

#define VSD_TOPOLOGY_KEY "vsetd:@topology"
/* The filter check's scratch vector set: created and deleted inside one
 * script, so no client ever sees it ('@' keeps it off collection names). */
#define VSD_FILTER_CHECK_KEY "vsetd:@filtercheck"
#define VSD_FENCE_STALE "VSETDSTALE"
/* Load + write attempts of one call when the shard says stale. */
#define VSD_FENCE_MAX_TRIES 3
/* A fenced command has this many more arguments than the bare one. */
#define VSD_FENCE_EXTRA_ARGS 7

/*
 * cmd := the fence around inner (a command "CMD key args...": its argv[1]
 * is the data key), expecting generation gen (not copied) on shard.
 * 0, or -1 when out of memory.
 */
int vsd_fence_wrap(struct vsd_call *call, const struct vsd_argv *inner,
    const char *metakey, size_t metalen, const char *gen, uint32_t shard,
    struct vsd_cmd *cmd);

/* 1 when r is the fence's refusal. */
int vsd_fence_is_stale(const redisReply *r);

/*
 * vsd_round_run(), then once more as EVAL for every EVALSHA that came
 * back NOSCRIPT (their replies replace the NOSCRIPT errors; the shard
 * results of the two runs are merged).
 */
void vsd_fence_run(struct vsd_call *call, struct vsd_cmd *cmds, size_t n,
    int kind, int64_t deadline_us);

/*
 * One fenced write of element id of collection (SetAttributes), on the
 * shard(s) the call's view routes it to (dual.h): the generation from
 * the cache or an HGETALL round, the fenced command, and the
 * reload-and-retry on a stale answer.  Afterwards the command and its
 * reply (the outcome, dual.h) are call->cmds[0].  VSD_OK, or the code set
 * (metadata could not be read; out of memory).
 */
int vsd_fence_write_one(struct vsd_call *call, const char *collection,
    const struct vsd_argv *inner, const char *id);

#endif
