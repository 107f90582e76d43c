/*
 * mover_priv.h - what the mover's files share (mover.c: the RPCs and the
 * record; mover_io.c: rounds, scans, the collections, direct connections;
 * mover_copy.c: the passes over (collection, source) pairs).  The design
 * is in mover.h.
 *
 * Ownership: struct vsd_mv and everything it points to is in the call's
 * arena; a redisContext from vsd_mv_direct() is the caller's (redisFree).
 */
#ifndef VSD_MOVER_PRIV_H
#define VSD_MOVER_PRIV_H

#include <stddef.h>
#include <stdint.h>

#include <hiredis/hiredis.h>

#include "collection.h"
#include "mover.h"
#include "phase_route.h"
#include "round.h"
#include "topology.h"

/* Ids per RPUSH in the listing script (Lua's unpack() stops near 8000). */
#define VSD_MV_RPUSH_CHUNK 1000
/* Listed ids read per LRANGE. */
#define VSD_MV_PAGE 1024
/* ... when only counting the ids that move. */
#define VSD_MV_COUNT_PAGE 4096
/* vsetd:@mvc's field of a pair's count: this + the collection. */
#define VSD_MV_COUNT_FIELD "@n:"
/* Reads and copies of one id when routers keep writing it. */
#define VSD_MV_COPY_TRIES 3
/* What a step asks its driver to wait after such a contended id. */
#define VSD_MV_RETRY_AFTER_MS 100
/* SCAN ... COUNT (a shard may hold many keys that are not vsetd's: each
 * step lists the collections, about 100 rounds per million keys), and the
 * most SCAN rounds one call runs. */
#define VSD_MV_SCAN_COUNT "10000"
#define VSD_MV_SCAN_MAX_ROUNDS 10000
/* Connections of the mover's own (a shard the router does not route to):
 * at most this long for connect and for each command. */
#define VSD_MV_DIRECT_MAX_MS 2000
#define VSD_MV_ERRLEN 300

enum vsd_mv_pass {
	VSD_PASS_COPY,               /* DUAL: copy moving ids to new owners */
	VSD_PASS_CLEAN,              /* SWITCHED: VREM them on old owners */
	VSD_PASS_ABORT,              /* after an aborted remove: VREM the
	                              * copies on the would-be new owners */
};

struct vsd_mv_coll {
	const char *name;
	struct vsd_coll_params p;
	int found;                   /* some shard holds its metadata */
	uint8_t *missing;            /* per shard of the scan: no metadata */
};

/* One found key of a SCAN. */
struct vsd_mv_key {
	uint32_t shard;
	const char *k;
	size_t len;
};

/* One call's view of the move. */
struct vsd_mv {
	struct vsd_call *call;
	struct vsd_topo *t;          /* the record (highest epoch) */
	uint64_t seen[VSD_MAX_SHARDS + 1]; /* each shard's epoch (0: none) */
	uint32_t nall;               /* shards of t's union */
	int have_move;               /* vsetd:@move exists */
	int move;                    /* enum vsd_topo_move, open move's */
	struct vsd_topo_addr target; /* added or removed shard */
	struct vsd_topo *mt;         /* the move's layouts: from = old,
	                              * shards = new (valid with have_move) */
	struct vsd_move_progress prog;
	struct vsd_mv_coll *colls;
	size_t ncolls;
	uint32_t ncoll_shards;       /* shards the collections were read on */
	int64_t stop_us;             /* start no new page after this */
	struct vsd_move_report *rep;
};

/* mover_io.c */
/* The address of union index s ("?" if unknown). */
const char *vsd_mv_addr(const struct vsd_mv *mv, uint32_t s);
/* Let this call's rounds address shards 0..n-1 (registered with
 * vsd_view_register): the per-shard arrays of a round are sized by the
 * call's view (call.h), which predates the mover's registrations. */
void vsd_mv_widen(struct vsd_mv *mv, uint32_t n);
/* UNAVAILABLE (or DEADLINE_EXCEEDED) set: shard s did not answer. */
int vsd_mv_no_answer(struct vsd_mv *mv, uint32_t s);
/* vsd_fence_run() of cmds[0..n) until the call's deadline, then every
 * command must have a reply: else UNAVAILABLE naming the shard. */
int vsd_mv_run(struct vsd_mv *mv, struct vsd_cmd *cmds, size_t n, int kind);
/* A reply that is an error: UNAVAILABLE / FAILED_PRECONDITION naming the
 * shard and what (the code set), else VSD_OK. */
int vsd_mv_reply_err(struct vsd_mv *mv, const struct vsd_cmd *c,
    const char *what);
/* A reply of the wrong shape from shard s: counted against its health;
 * UNAVAILABLE set naming it. */
int vsd_mv_proto(struct vsd_mv *mv, uint32_t s, const char *what);
/* Keys matching pattern on shards[0..n): *keys in the arena. */
int vsd_mv_scan(struct vsd_mv *mv, const uint32_t *shards, uint32_t n,
    const char *pattern, struct vsd_mv_key **keys, size_t *nkeys);
/* UNLINK keys[0..n) (each on its shard). */
int vsd_mv_unlink(struct vsd_mv *mv, const struct vsd_mv_key *keys,
    size_t n);
/* The collections (metadata on any of shards 0..n-1), with shard 0's
 * parameters and which shards miss them.  *orphan (may be NULL): the
 * first data key without metadata anywhere, or NULL. */
int vsd_mv_load_colls(struct vsd_mv *mv, uint32_t n, const char **orphan);
/* Copy each collection's metadata (same generation) to the shards of
 * 0..n-1 that miss it (copy-if-absent). */
int vsd_mv_sync_meta(struct vsd_mv *mv);
/* A blocking connection to addr, AUTH'd like the shards', commands
 * bounded by what is left of the call (at most VSD_MV_DIRECT_MAX_MS). */
int vsd_mv_direct(struct vsd_mv *mv, const char *addr, redisContext **out);
/* SCAN addr for "vsetd:*" and UNLINK each key keep() answers 0 for
 * (keep NULL: every key), until the keyspace was walked or the step's
 * time is up (*complete 0).  keep() answers 1 to keep a key, 2 to keep it
 * and report it: *kept (may be NULL) gets the first such (arena copy). */
int vsd_mv_direct_wipe(struct vsd_mv *mv, redisContext *rc,
    int (*keep)(const char *k, size_t len), int *complete,
    const char **kept);
/* ms since the Unix epoch. */
uint64_t vsd_mv_unix_ms(void);

/* mover_copy.c */
/* One pass over its pairs within *budget ids and the step's time;
 * *all_done when every pair is done.  l: the move's layouts. */
int vsd_mv_pass(struct vsd_mv *mv, int pass, const struct vsd_phase_layout *l,
    uint32_t *budget, int *all_done);
/* Only count the pairs done (ReshardStatus). */
int vsd_mv_pass_count(struct vsd_mv *mv, int pass,
    const struct vsd_phase_layout *l, uint32_t *total, uint32_t *done);
/* Add to the counters of vsetd:@move. */
int vsd_mv_count(struct vsd_mv *mv, uint64_t to_move, uint64_t copied,
    uint64_t skipped, uint64_t cleaned);

#endif
