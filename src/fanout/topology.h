/*
 * topology.h - which shards make up the deployment, agreed through Redis
 * itself, and how that changes online (issue 10, growing and shrinking).
 *
 * ---------------------------------------------------------------- Design
 *
 * Why.  An element's owner is jump_hash(id, N) over the ordered shard list
 * (route.h, vs_hash.h).  Appending a shard re-homes about 1/(N+1) of the
 * ids; removing the last one re-homes its ids onto the others.  Jump hash
 * is what makes this cheap (the minimum number of ids move, no table) and
 * also what constrains it: the bucket of an id among n+1 shards is either
 * its bucket among n or the new last one, never another old one, so a
 * shard can only be added or removed at the END of the list.  Removing a
 * shard in the middle would renumber every shard after it and move most
 * ids.  So a resize is always "append one" or "drop the last one", and the
 * old and the new layout share the prefix of min(N, N') shards.
 *
 * Several routers serve the same shards and a router may be started with
 * an old --shard list.  They must agree on the layout without a separate
 * coordination service, and a router that has not noticed a change must
 * never have a write acknowledged under the old layout.
 *
 * The record.  Every shard's Redis holds the same hash, like the
 * collection metadata (collection.h):
 *
 *   HGETALL vsetd:@topology
 *   version 1
 *   epoch   7                                 decimal u64, +1 per change
 *   shards  127.0.0.1:7001,127.0.0.1:7002,... the layout routers use
 *   phase   stable | dual | switched
 *   from    127.0.0.1:7001,...                only while not stable: the
 *                                             layout before the move
 *   move    add | remove                      only while not stable
 *
 * Addresses are the shards' PRIMARY host:port (an IPv6 host in brackets),
 * exactly as given to --shard; replicas are a router's own business.  The
 * record is untrusted input: vsd_topo_parse() accepts at most
 * VSD_TOPO_MAX_FIELDS fields, VSD_MAX_SHARDS addresses of at most
 * VSD_TOPO_MAX_ADDR bytes each (host of letters, digits, '.', '-', '_',
 * or '[' IPv6 ']'; port 1..65535 in plain decimal), an epoch in plain
 * decimal without sign or leading zeros, and a move that really is "one
 * appended" (add) or "the last one dropped" (remove) between from and
 * shards.  Unknown fields are ignored (for newer versions).  No record (or
 * no `epoch`) means epoch 0 with the --shard list as the layout: a
 * deployment that never resized writes nothing.
 *
 * Phases (as Qdrant does).  A move from layout OLD (from) to NEW (shards)
 * goes STABLE -> DUAL -> SWITCHED -> STABLE, the epoch growing by one at
 * each step.  What routers do, per phase, for an element id (the pure
 * table is phase_route.h; calls route by it through their view, view.h,
 * and dual.h):
 *
 *   phase     writes (VADD, VREM, VSETATTR)    searches ask
 *   stable    owner(id, NEW)                   every shard of NEW
 *   dual      owner(id, OLD) and owner(id,NEW) every shard of OLD
 *             (both, when they differ)
 *   switched  owner(id, NEW)                   every shard of NEW plus
 *                                              every shard of OLD (remove:
 *                                              the leaving shard); the
 *                                              merge drops ids seen twice
 *
 * Point reads (Get, GetAttributes, Exists, Links) ask one shard: dual the
 * old owner; switched the new owner, complete by then (every element was
 * copied to it before the switch).
 * Why this order: in DUAL the new owner receives every write of a moving
 * id, so once the mover has copied what existed before, the new owner is
 * complete; readers still read the old owner, which is complete too.
 * Only then (SWITCHED) do reads include the new owner, and the old copies
 * are deleted last: deleting source copies before reads include the new
 * shard loses hits (an element can leave the source between the two
 * shards' reads).  In SWITCHED an old copy may still be read; the merge
 * deduplicates by id and the copy is identical (exact copy, below) or
 * about to be deleted.
 *
 * The fence refuses stale routers at the data.  Every VADD/VREM/VSETATTR
 * runs in the fence script (fence.h), which compares the epoch the router
 * sends with the shard's `epoch` field, atomically with the write, and
 * answers -VSETDSTALE epoch <found> expected <sent> on any difference.
 * Because a phase change first writes the new epoch on EVERY shard (the
 * mover does that, in shard order, before it acts on the new phase), a
 * router still at epoch E cannot have a write acknowledged by any shard
 * that moved to E+1; the refused router reloads the record (reading every
 * shard it knows, highest valid epoch wins) and retries within the call's
 * deadline.  Searches are not scripted (a script would force VSIM onto
 * Redis's main thread): each shard's pipeline reads `HGET vsetd:@topology
 * epoch` right after its VSIM, and a search that finds an epoch other than
 * its own reloads and, if the layout changed, runs again or fails.
 * Because the epoch goes up by one per phase and a router adopts only a
 * record whose phase it can route, a router is never more than one phase
 * behind the data it writes.
 *
 * The mover (next step, not in this file) copies exactly and survives
 * kill -9:
 *   - it drives the phases by writing the record on every shard (one
 *     MULTI per shard: DEL + HSET of vsd_topo_to_fields(); every shard
 *     gets the new epoch before the mover acts on the new phase, so the
 *     order of shards does not matter for correctness);
 *   - in DUAL it lists each old shard's key and, for every id whose new
 *     owner (phase_route.h, vsd_phase_moves)
 *     differs, copies the element with a script on the new owner.
 *     Listing: Redis 8.0.2 has no cursor over a vector set (no VRANGE);
 *     `VRANDMEMBER key N` with N >= VCARD returns every element once,
 *     measured at 15 ms of the shard's main thread for 100,000 elements
 *     (dim 32, Q8), while a partial N is slower (26 ms for 1,000, 277 ms
 *     for 10,000): so list whole keys once per move and keep the list
 *     (or re-list after a restart; copies are idempotent).  The copy
 *     script:
 *     "VADD unless the id exists there or a tombstone says it was deleted
 *     during the move".  Deletes in DUAL write a tombstone (a small set
 *     per collection per shard, cleared at STABLE) next to the VREM, so a
 *     copy racing a delete cannot resurrect it;
 *   - exact copies (elemcopy.h, done and tested): VEMB RAW, rebuilt into
 *     a vector whose normalisation stores the same bytes, checked by
 *     emulating Redis's float operations; attributes (VGETATTR) travel
 *     with the element in the same VADD SETATTR; REDUCE collections are
 *     refused (FAILED_PRECONDITION);
 *   - progress lives in Redis, not in the process: the phase in the
 *     record, and per (collection, old shard) counters for `status`.
 *     Copy-if-absent is idempotent, so a mover killed at any point lists
 *     again and skips what the new owner already holds; deleting old
 *     copies in SWITCHED is idempotent too (VREM of an absent id);
 *   - abort is allowed while DUAL (nothing reads the new owner yet): write
 *     phase stable with shards = from at epoch+1, then delete the copies.
 *
 * Start-up (vsd_topo_startup): read the record from every --shard, within
 * a bounded time; reconcile (vsd_topo_reconcile): the highest valid epoch
 * wins when every other record is consistent with it (one layout a prefix
 * of the other); the --shard list must be a prefix of (or equal to) its
 * layout, or of its `from` list during a move; then the router adopts the
 * whole stored layout and epoch.  A contradiction (another address at the
 * same index) refuses to start, naming the index.
 *
 * Ownership: struct vsd_topo is a plain value (no pointers inside); the
 * caller owns it and may copy it.  Messages go to caller buffers.
 */
#ifndef VSD_TOPOLOGY_H
#define VSD_TOPOLOGY_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"

#define VSD_TOPO_KEY "vsetd:@topology"
#define VSD_TOPO_VERSION 1
/* host (at most 253 bytes, or a bracketed IPv6 address) ':' port */
#define VSD_TOPO_MAX_HOST 255
#define VSD_TOPO_MAX_ADDR (VSD_TOPO_MAX_HOST + 1 + 5)
/* A record has 6 fields today; newer versions may add some, but not
 * without bound. */
#define VSD_TOPO_MAX_FIELDS 32
/* The largest list field: every address plus its comma. */
#define VSD_TOPO_MAX_LIST ((size_t)VSD_MAX_SHARDS * (VSD_TOPO_MAX_ADDR + 1))
/* Largest epoch string: 20 digits of a u64. */
#define VSD_TOPO_MAX_EPOCH_LEN 20
/* Exit status of a router that refuses its --shard list. */
#define VSD_EXIT_TOPOLOGY 3
/* Start-up reads each shard's record within this time. */
#define VSD_TOPO_READ_MS 1000

enum vsd_topo_phase {
	VSD_PHASE_STABLE = 0,
	VSD_PHASE_DUAL,
	VSD_PHASE_SWITCHED,
};

enum vsd_topo_move {
	VSD_MOVE_NONE = 0,
	VSD_MOVE_ADD,                /* shards = from + one appended */
	VSD_MOVE_REMOVE,             /* shards = from without its last */
};

/* One address: "host:port" as in the record (NUL-terminated). */
struct vsd_topo_addr {
	char s[VSD_TOPO_MAX_ADDR + 1];
};

/* A layout; heap-sized (about 270 KB at VSD_MAX_SHARDS): allocate it. */
struct vsd_topo {
	uint64_t epoch;
	int phase;                   /* enum vsd_topo_phase */
	int move;                    /* enum vsd_topo_move; NONE iff stable */
	uint32_t nshards;
	uint32_t nfrom;              /* 0 when stable */
	struct vsd_topo_addr shards[VSD_MAX_SHARDS];
	struct vsd_topo_addr from[VSD_MAX_SHARDS];
};

/* "stable", "dual", "switched" (NULL for another value). */
const char *vsd_topo_phase_name(int phase);

/*
 * Parse one address (host:port, IPv6 host in brackets) of len bytes into
 * out.  0, or -1 with a message in err.
 */
int vsd_topo_parse_addr(const char *s, size_t len, struct vsd_topo_addr *out,
    char *err, size_t errlen);

/*
 * Parse a comma-separated list of addresses (at most VSD_MAX_SHARDS, at
 * least 1, no duplicates) into out[0..*n).  0, or -1 with err set.
 */
int vsd_topo_parse_list(const char *s, size_t len, struct vsd_topo_addr *out,
    uint32_t *n, char *err, size_t errlen);

/*
 * Parse a record given as nfields (field, value) pairs (an HGETALL
 * answer): field[i] of flen[i] bytes, value[i] of vlen[i] bytes.
 * nfields == 0 (no hash) is not a record: returns 1 and leaves out as
 * epoch 0 with no shards.  Otherwise 0 with *out filled, or -1 with a
 * message in err naming the field and the problem.
 */
int vsd_topo_parse(const char *const *field, const size_t *flen,
    const char *const *value, const size_t *vlen, size_t nfields,
    struct vsd_topo *out, char *err, size_t errlen);

/* 1 when a and b are the same record (epoch, phase, move, lists). */
int vsd_topo_equal(const struct vsd_topo *a, const struct vsd_topo *b);

/*
 * Check a layout's own consistency (what vsd_topo_parse also checks): the
 * move matches phase and lists.  0, or -1 with err set.
 */
int vsd_topo_check(const struct vsd_topo *t, char *err, size_t errlen);

/*
 * Format the list a[0..n) as "addr,addr,..." into buf of size.  Length
 * written, or 0 when it does not fit (buf then holds "").
 */
size_t vsd_topo_format_list(const struct vsd_topo_addr *a, uint32_t n,
    char *buf, size_t size);

/* Fields of a record as written: version, epoch, shards, phase, and
 * from, move while a move is under way. */
#define VSD_TOPO_RECORD_FIELDS 6

/* Buffers for vsd_topo_to_fields() (the caller owns them). */
struct vsd_topo_text {
	char version[4];
	char epoch[VSD_TOPO_MAX_EPOCH_LEN + 1];
	char *shards;                /* VSD_TOPO_MAX_LIST bytes */
	char *from;                  /* VSD_TOPO_MAX_LIST bytes */
};

/*
 * The record of t as field/value pairs for HSET (after DEL: a stable
 * record has no from/move): field[i], value[i] for i < the returned
 * count, the values pointing into txt.  0 when t fails vsd_topo_check()
 * (err set).  Parsing the pairs back gives t again.
 */
size_t vsd_topo_to_fields(const struct vsd_topo *t, struct vsd_topo_text *txt,
    const char *field[VSD_TOPO_RECORD_FIELDS],
    const char *value[VSD_TOPO_RECORD_FIELDS], char *err, size_t errlen);

/*
 * One shard's answer at start-up or on a reload.
 */
enum vsd_topo_answer {
	VSD_TOPO_UNREACHABLE = 0,    /* no answer in time (ignored) */
	VSD_TOPO_ABSENT,             /* answered: no record (epoch 0) */
	VSD_TOPO_RECORD,             /* answered with a valid record */
	VSD_TOPO_MALFORMED,          /* answered with a record that fails
	                              * vsd_topo_parse (err says why) */
};

/* Outcome of vsd_topo_reconcile. */
enum vsd_topo_verdict {
	VSD_TOPO_NONE = 0,           /* no shard holds a record: use the
	                              * --shard list at epoch 0 */
	VSD_TOPO_ADOPT,              /* out = the stored topology */
	VSD_TOPO_REFUSE,             /* contradiction: err says which */
};

/*
 * Decide the topology from what the shards of the --shard list answered:
 * answer[i], rec[i] (read when answer is RECORD) and rec_err[i] (read
 * when MALFORMED: why) for i < ncli, and the list's primaries
 * cli[0..ncli).
 *   - any MALFORMED record: REFUSE (naming the shard and the problem);
 *   - no RECORD at all: NONE;
 *   - else the record R with the highest epoch; every other RECORD must
 *     be consistent with it (identical at the same epoch; at a lower
 *     epoch, its layout and R's are prefixes of one another): else REFUSE;
 *   - the --shard list must agree with R's layout (or with its `from`
 *     during a move, whichever is longer) at every index they share, and
 *     be no longer than it: else REFUSE naming the first differing index;
 *   - ADOPT, *out = R.
 * *nabsent := how many shards answered without a record while others have
 * one (a shard restarted empty): the fence refuses writes there until the
 * record is copied back, so the caller warns.
 */
int vsd_topo_reconcile(const struct vsd_topo_addr *cli, uint32_t ncli,
    const int *answer, const struct vsd_topo *const *rec,
    const char *const *rec_err, struct vsd_topo *out, uint32_t *nabsent,
    char *err, size_t errlen);


/* "host:port" of a --shard's primary, as the record spells it (an IPv6
 * host in brackets).  0, or -1 when it does not fit. */
int vsd_topo_addr_of(const struct vsd_endpoint *ep, struct vsd_topo_addr *out);

/*
 * One shard's HGETALL answer (NULL: none) as an enum vsd_topo_answer,
 * *t filled for RECORD; why (whylen bytes) says what is wrong for
 * MALFORMED.  Checks the reply's shape before vsd_topo_parse().
 */
struct redisReply;
int vsd_topo_from_reply(const struct redisReply *r, struct vsd_topo *t,
    char *why, size_t whylen);

/*
 * Start-up: read the record from every shard of cfg (blocking, at most
 * timeout_ms per shard, with cfg's Redis AUTH), reconcile, log the
 * outcome, and adopt: shards of the stored layouts beyond cfg's list are
 * appended to cfg->shards (primary only), the shard table is set up
 * (shard/table.h) and the first view is the record's (view.h).  0, or
 * VSD_EXIT_TOPOLOGY after printing why to stderr, or 1 when out of
 * memory.
 */
int vsd_topo_startup(struct vsd_config *cfg, int timeout_ms);

/* ------------------------------------------- while serving (topology_run.c)
 */
struct vsd_call;
struct vsd_cmd;
/* The call's epoch (its view's, view.h) as a decimal string in the
 * call's arena (NULL: out of memory): the fence's expected-epoch
 * argument. */
const char *vsd_topo_epoch_arg(struct vsd_call *call);
/* cmd := HGET vsetd:@topology epoch, on shard (searches pipeline it right
 * after their VSIMs).  0, or -1 when out of memory. */
int vsd_topo_epoch_cmd(struct vsd_call *call, struct vsd_cmd *cmd,
    uint32_t shard);
/*
 * After a fenced write round came back stale (call->cmds): when a shard
 * refused our epoch, reload the record from every shard and adopt it if
 * this router can route by it.  VSD_OK: retry the write (also when only
 * a generation was stale); else the status set (UNAVAILABLE "topology
 * changed to epoch N ...: restart vsetd").  Runs a round: the previous
 * round's replies are freed.
 */
int vsd_topo_after_stale(struct vsd_call *call);
/*
 * After a search round holding vsd_topo_epoch_cmd() replies (call->cmds):
 * 0 when no shard shows an epoch above ours; 1 when one did and the
 * reload adopted it (run the search again: the round's replies are gone);
 * -1 with the status set when the new layout cannot be routed, or
 * !may_retry / no time is left.
 */
int vsd_topo_after_read(struct vsd_call *call, int may_retry);

#endif
