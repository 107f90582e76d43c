/*
 * sentinel.h - shards named by their Redis Sentinel master
 * (--shard sentinel://HOST:PORT[,HOST:PORT...]/MASTER_NAME): who their
 * primary and replicas are now, followed through failovers.
 *
 * Why: Sentinel already watches primaries, elects a new one and announces
 * it; vsetd follows it instead of reinventing it, so a dead primary costs
 * writes a few seconds, not a person and a restart.
 *
 * How:
 *   - at start, vsd_sentinels_start() asks the Sentinels (each in turn,
 *     each bounded by VSD_SENTINEL_IO_MS) for every sentinel shard's
 *     primary (SENTINEL get-master-addr-by-name) and replicas (SENTINEL
 *     replicas, without those flagged s_down or o_down, and without new
 *     ones flagged disconnected: one in use stays, since the replica being
 *     promoted looks like that just before +switch-master; one whose link
 *     to a dead primary is down stays, since reads need it then), and
 *     fills cfg->shards[s].ep[]
 *     before any worker starts.  No answer, an unknown master name or a
 *     refused AUTH: vsetd does not start, and the message says why for
 *     each Sentinel;
 *   - then one thread follows them: it subscribes to +switch-master on
 *     every Sentinel and asks again at once when one is announced (from
 *     the announcing Sentinel first), every VSD_SENTINEL_POLL_MS anyway,
 *     and whenever a worker reports that a primary failed or refused a
 *     write (vsd_sentinel_suspect()).  An answer whose config epoch is
 *     older than the one in use is ignored (a Sentinel that has not heard
 *     of the failover yet).
 *   - a new primary or replica set is published with a new generation
 *     number: workers compare it before each round (vsd_sentinel_gen())
 *     and, when it changed, drop their connections to the shard and take
 *     a copy of the new endpoints (vsd_sentinel_copy()).  The shard's
 *     breakers are closed at the change (they judged other servers).
 *
 * Every reply from a Sentinel is untrusted: shapes are checked, sizes
 * bounded (VSD_SENTINEL_MAX_LIST entries, host names < VSD_HOST_MAX), and
 * anything else is ignored with a warning.
 *
 * Thread safety: vsd_sentinel_gen/copy/suspect/view may be called from any
 * thread.  Ownership: the struct belongs to main.c (stop frees it); copies
 * made by vsd_sentinel_copy() belong to the caller
 * (vsd_sentinel_addr_free()).
 */
#ifndef VSD_SENTINEL_H
#define VSD_SENTINEL_H

#include <stdint.h>

#include <hiredis/hiredis.h>

#include "config.h"
#include "health.h"

#define VSD_SENTINEL_IO_MS 500       /* connect, and each reply */
#define VSD_SENTINEL_POLL_MS 1000    /* the backstop poll */
#define VSD_SENTINEL_MAX_LIST 64     /* replicas looked at in one answer */
#define VSD_HOST_MAX 256

struct vsd_sentinels;

/* What one Sentinel said about a master: [0] the primary, then replicas;
 * config epoch (0: unknown). */
struct vsd_sentinel_answer {
	char host[VSD_MAX_ENDPOINTS][VSD_HOST_MAX];
	int port[VSD_MAX_ENDPOINTS];
	int nep;
	uint64_t epoch;
};

/* The checks on Sentinel's answers (exposed for the unit tests).
 * parse_master: the reply to SENTINEL get-master-addr-by-name, which must
 * be exactly [host, port] with a host of printable bytes (no space, quote,
 * backslash or comma, < VSD_HOST_MAX bytes) and a port 1..65535: 0 with
 * *a = that primary alone, or -1.  parse_replicas: appends to *a (up to
 * VSD_MAX_ENDPOINTS in all, at most VSD_SENTINEL_MAX_LIST entries looked
 * at, each a flat key/value array) the replicas of a SENTINEL replicas
 * reply that may serve reads (see above; known: the endpoints in use, or
 * NULL); anything malformed is skipped. */
int vsd_sentinel_parse_master(const redisReply *r,
    struct vsd_sentinel_answer *a);
void vsd_sentinel_parse_replicas(const redisReply *r,
    struct vsd_sentinel_answer *a, const struct vsd_sentinel_answer *known);

/* Resolve every sentinel:// shard of cfg (filling its ep[]/nep), then
 * start following them.  health: the breakers (main.c's array).  *out is
 * NULL when cfg has no sentinel shard.  0, or -1 after logging why. */
int vsd_sentinels_start(struct vsd_config *cfg, struct vsd_health *health,
    struct vsd_sentinels **out);
void vsd_sentinels_stop(struct vsd_sentinels *sn);

/* The generation of shard s's endpoints (0: not a sentinel shard). */
uint64_t vsd_sentinel_gen(struct vsd_sentinels *sn, uint32_t s);
/* Copy shard s's endpoints into *out (hosts strdup'ed; free with
 * vsd_sentinel_addr_free); *gen gets their generation.  0, or -1 (out of
 * memory: *out untouched). */
int vsd_sentinel_copy(struct vsd_sentinels *sn, uint32_t s,
    struct vsd_shard_addr *out, uint64_t *gen);
void vsd_sentinel_addr_free(struct vsd_shard_addr *a);
/* Shard s's primary failed or refused a write: ask the Sentinels now. */
void vsd_sentinel_suspect(struct vsd_sentinels *sn, uint32_t s);

/* For stats: shard s's current endpoints as "host:port" (primary) and
 * "host:port,host:port" (replicas), the failovers seen since start and
 * the wall-clock time of the last one (ms since the epoch, 0: none).
 * Returns 0, or -1 for a shard that is not a sentinel shard. */
struct vsd_sentinel_view {
	char primary[VSD_HOST_MAX + 8];
	char replicas[(VSD_HOST_MAX + 8) * (VSD_MAX_ENDPOINTS - 1)];
	uint64_t failovers;
	int64_t last_failover_ms;
};
int vsd_sentinel_view(struct vsd_sentinels *sn, uint32_t s,
    struct vsd_sentinel_view *v);

#endif
