/*
 * mover.h - the server side of online resharding (issue 10): the four
 * Reshard RPCs' work, which moves the ids that change owner when a shard
 * is appended to the layout or the last one is removed.  The record, the
 * phases and the fence are in topology.h; where routers send reads and
 * writes in each phase is phase_route.h.
 *
 * ---------------------------------------------------------------- Design
 *
 * Driven from outside, one bounded step at a time.  A move is long (a
 * million ids) and a router is a pool of workers answering calls within
 * deadlines, so the mover is not a thread of any router: its caller
 * (`vset reshard`, any client) calls ReshardStep again and again, each
 * step doing at most `batch` copies or deletions and returning well
 * within its deadline.  ALL progress lives in Redis, never in a router:
 * the phase in the record, the move in the hash vsetd:@move on shard 0
 * (move, target, old and new layouts, counters), each source shard's
 * listing and cursor.  Any router can serve any step, and a driver killed
 * at any point resumes by calling ReshardStart with the same move again
 * and stepping on.  Every step is idempotent: copies skip what is there,
 * deletions of absent ids do nothing, records are written only over the
 * epoch the writer saw (VSD_SCRIPT_TOPO_PUT, so two drivers never leave
 * two different records at one epoch: shard 0 is always written first and
 * decides which of them wins).
 *
 * Keys (all on the shards, all deleted when the move ends):
 *   vsetd:@move            shard 0: move add|remove, target host:port,
 *                          old, new (layouts), to_move, copied, skipped,
 *                          cleaned (counters for ReshardProgress)
 *   vsetd:@mvl:<coll>      a source: the ids of its key, listed once per
 *                          pass (VSD_SCRIPT_MOVE_LIST)
 *   vsetd:@mvc             a source: field <coll> = "<pass>:<next index>"
 *                          or "<pass>:done"; pass copy | clean | abort;
 *                          field "@n:"<coll> = its count of moving ids
 *                          (ReshardProgress.to_move)
 *   vsetd:@mv:<coll>       a destination: per id, a counter ("c"..id) and
 *                          a state ("s"..id: del | noattr), written by the
 *                          routers' DUAL writes (move_write.h)
 *
 * Listing.  Redis 8.0.2 has no cursor over a vector set, and one reply
 * with every id would exceed the reply caps (shard_reply.c).  So a script
 * on the source runs VRANDMEMBER key <VCARD> (every element once) and
 * RPUSHes the ids into vsetd:@mvl:<coll> next to it, in chunks of
 * VSD_MV_RPUSH_CHUNK (Lua's unpack() limit); the mover then pages through
 * that list with LRANGE from the cursor, and advances the cursor only
 * after the page's copies (or deletions) were acknowledged.
 *
 * The steps, by the record's phase:
 *   DUAL      for each (collection, source) pair: list, page, copy every
 *             id that moves (vsd_phase_moves) to its new owner; then
 *             write SWITCHED (epoch + 1) on every shard of the union.
 *   SWITCHED  list every pair AGAIN (ids written in DUAL must be cleaned
 *             too) and VREM the moving ids on their old owner: routers no
 *             longer write there (the epoch fence refuses a router still
 *             in DUAL); then write STABLE (epoch + 1, the new layout) on
 *             the new layout's shards, delete the mover's keys, and for a
 *             remove, the record, metadata and mover keys of the removed
 *             shard (reached over a connection of its own: a router
 *             started later does not know it).
 *   abort     (only in DUAL: nothing reads a new owner yet) writes STABLE
 *             with the old layout at epoch + 1; the steps that follow
 *             delete every vsetd key of the added shard, or for a remove,
 *             list the remaining shards and VREM the ids that would have
 *             moved onto them.
 *
 * Exact copies (elemcopy.h): VEMB key id RAW + VGETATTR on the source,
 * the vector rebuilt with vsd_raw_preimage(), VADD FP32 with the
 * collection's quantization, M and build EF, SETATTR when it has any.
 * REDUCE collections cannot be copied (VEMB answers the projected
 * vector): ReshardStart refuses with FAILED_PRECONDITION.
 *
 * The race with the routers' writes.  In DUAL a router writes a moving id
 * to its OLD owner first and, once that acknowledged, to the NEW owner,
 * through VSD_SCRIPT_MOVE_WRITE (move_write.h).  The mover copies from
 * the old owner to the new one at the same time.  A copy is three rounds:
 *   R1  on the destination: the id's counter and state, and whether it is
 *       there (present and not "noattr": nothing to do);
 *   R2  on the source: VEMB RAW and VGETATTR;
 *   R3  on the destination, VSD_SCRIPT_MOVE_COPY, atomically: if the
 *       counter is not the one R1 read, answer "retry" (the mover reads
 *       again, a bounded number of times, and otherwise leaves the cursor
 *       before this id for a later step); else if the id is present:
 *       "noattr" -> set the attributes read in R2 (a router created it
 *       from an Insert without attributes, which means "leave them as
 *       they are": they are the source's), else nothing; if absent:
 *       state "del" -> nothing (never resurrect a delete), else VADD.
 * Why this loses no write.  Take any router write W of the id.  Its new-
 * owner half runs after its old-owner half (the router waits for the
 * ack).  (1) If W's new-owner half ran before R1, R1's counter includes
 * it and its effect is on the destination already: a present id is left
 * alone (W was a VADD: full state, or noattr and fixed from a source that
 * has W too, since W's old-owner half ran even earlier); a VREM left
 * "del" and the copy skips.  (2) If W's new-owner half runs between R1
 * and R3, it bumped the counter: R3 answers "retry" and changes nothing.
 * (3) If it runs after R3, it applies on top of the copy, as it would on
 * the old owner: a VADD overwrites, a VREM removes, a VSETATTR now finds
 * the element.  In cases (2) and (3) W's old-owner half may or may not
 * have been seen by R2, but R3 either wrote nothing or W overwrites the
 * copy.  What R3 writes is thus always the source's state after every
 * write whose new-owner half came before R1, which R2 (after R1) saw.  So:
 * a delete is never resurrected; an insert with attributes is a full
 * state (the copy skips it); an insert without attributes on an absent id
 * gets the source's attributes; a VSETATTR on an absent id (it cannot
 * apply there) bumps the counter, so a copy read before it retries and
 * the next read sees it on the source.  A write a router never finished
 * (old owner written, new owner not: the call failed) is carried over by
 * the copy only when the id was absent on the new owner; such a write
 * was not acknowledged.
 *
 * Ownership: struct vsd_move_report and everything it points to live in
 * the call's arena (valid until the reply is packed).  Nothing here keeps
 * state between calls.
 */
#ifndef VSD_MOVER_H
#define VSD_MOVER_H

#include <stddef.h>
#include <stdint.h>

#include "call.h"
#include "topology.h"

#define VSD_MOVE_KEY "vsetd:@move"
#define VSD_MV_MARKS_PREFIX "vsetd:@mv:"
#define VSD_MV_LIST_PREFIX "vsetd:@mvl:"
#define VSD_MV_CURSOR_KEY "vsetd:@mvc"
/* Every mover key above but vsetd:@move (deleted last). */
#define VSD_MV_KEYS_PATTERN "vsetd:@mv[:lc]*"
/* The routers' heartbeats (beacon.h), on shard 0. */
#define VSD_ROUTERS_KEY "vsetd:@routers"
/* ReshardStep's batch when the request says 0.  A step's copies (or
 * deletions) hold the shards' main threads: at 256 the worst window of
 * searches during a move reached 217-388 ms and some searches came back
 * partial (a shard busier than --shard-stall-ms); at 32 the worst was
 * 69-76 ms and none was partial, for a move about 30% slower
 * (docs/benchmarks.md, "Online resharding"). */
#define VSD_MOVE_DEFAULT_BATCH 32
/* ReshardStatus lists routers heard from in this window. */
#define VSD_ROUTER_LIVE_MS 10000
/* ... and forgets those silent for longer than this. */
#define VSD_ROUTER_FORGET_MS (3600 * 1000)
#define VSD_MOVE_STEP_LEN 640
#define VSD_ROUTER_ID_LEN 300

struct vsd_move_progress {
	uint64_t to_move, copied, skipped, cleaned;
	uint32_t sources_total, sources_copied, sources_cleaned;
};

struct vsd_move_router {
	char id[VSD_ROUTER_ID_LEN];
	uint64_t epoch;
	uint64_t seen_ms_ago;
};

/* What every Reshard RPC answers (ReshardResponse). */
struct vsd_move_report {
	uint64_t epoch;
	int phase;                   /* enum vsd_topo_phase */
	int move;                    /* enum vsd_topo_move; NONE: none open */
	const struct vsd_topo_addr *shards;
	uint32_t nshards;
	const struct vsd_topo_addr *from;
	uint32_t nfrom;
	struct vsd_move_progress prog;
	int done;                    /* stable and nothing left to clean */
	char step[VSD_MOVE_STEP_LEN];
	struct vsd_move_router *routers;   /* Status only */
	size_t nrouters;
	uint32_t retry_after_ms;
};

/*
 * The four RPCs (proto/vsetd/v1/vsetd.proto, Reshard*).  Each returns
 * VSD_OK with *rep filled, or the code with call->st set (the message
 * names the problem).  start: move is VSD_MOVE_ADD with shard (host:port)
 * or VSD_MOVE_REMOVE with shard "" and expect_last ("" any).  step:
 * batch 0 = VSD_MOVE_DEFAULT_BATCH, capped by the call's max_batch.
 */
int vsd_move_start(struct vsd_call *call, int move, const char *shard,
    const char *expect_last, struct vsd_move_report *rep);
int vsd_move_step(struct vsd_call *call, uint32_t batch,
    struct vsd_move_report *rep);
int vsd_move_status(struct vsd_call *call, struct vsd_move_report *rep);
int vsd_move_abort(struct vsd_call *call, struct vsd_move_report *rep);

/* "vsetd:@mv:<collection>" (the destination's marks) in the arena; NULL
 * when out of memory. */
const char *vsd_mv_marks_key(struct vsd_call *call, const char *collection,
    size_t *len);

#endif
