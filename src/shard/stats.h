/*
 * stats.h - what vsetd counts, and how it is read.
 *
 * Each worker owns a struct vsd_stats and records into it after every
 * request (by front end, method and status, with latency; the front end is
 * the RPC listeners or the Redis-protocol door) and every shard round (per
 * shard: answered, failed, timed out, latency).  A per-worker mutex makes
 * the record and the snapshot safe; it is only ever contended by a reader,
 * so recording stays cheap.  Readers (the stats survey, /metrics) merge all
 * workers into a struct vsd_stats_total with vsd_stats_snapshot() (server.h): the
 * histograms (src/common/vs_hist.h) merge exactly.
 *
 * Ownership: the server owns the workers' stats (vsd_stats_init/_fini);
 * a snapshot is allocated by vsd_stats_snapshot and freed by
 * vsd_stats_total_free.
 */
#ifndef VSD_STATS_H
#define VSD_STATS_H

#include <pthread.h>
#include <stdint.h>

#include "vs_hist.h"

#define VSD_STATS_CODES 17
#define VSD_STATS_METHODS 32     /* method slots; the last is "other" */
#define VSD_STATS_OTHER (VSD_STATS_METHODS - 1)

/* Where a request came in (the `frontend` label of /metrics). */
enum vsd_frontend {
	VSD_FRONTEND_RPC,            /* the RPC listeners (--listen) */
	VSD_FRONTEND_RESP,           /* the Redis-protocol door (--resp-listen) */
	VSD_FRONTENDS
};

struct vsd_method_stats {
	uint64_t codes[VSD_STATS_CODES];
	vs_hist lat;
};

struct vsd_shard_stats {
	uint64_t ok, errors, timeouts;
	vs_hist lat;
};

struct vsd_stats {
	pthread_mutex_t mu;
	/* VSD_FRONTENDS x VSD_STATS_METHODS: [fe * VSD_STATS_METHODS + m] */
	struct vsd_method_stats *methods;
	struct vsd_shard_stats *shards;      /* cap; nshards in use */
	uint32_t nshards;                    /* grows under mu (table.h) */
	uint32_t cap;
};

struct vsd_stats_total {
	struct vsd_method_stats methods[VSD_STATS_METHODS];  /* all front ends */
	struct vsd_method_stats fe[VSD_FRONTENDS][VSD_STATS_METHODS];
	struct vsd_shard_stats *shards;
	uint32_t nshards;
};

int vsd_stats_init(struct vsd_stats *s, uint32_t nshards);
void vsd_stats_fini(struct vsd_stats *s);

/* method: index into the dispatch table, or VSD_STATS_OTHER.  An RPC. */
void vsd_stats_request(struct vsd_stats *s, int method, int code,
    int64_t latency_us);
/* The same for a request from front end fe (enum vsd_frontend). */
void vsd_stats_request_from(struct vsd_stats *s, int fe, int method,
    int code, int64_t latency_us);
/* state: enum vsd_shard_state; latency counted for answered rounds. */
void vsd_stats_shard(struct vsd_stats *s, uint32_t shard, int state,
    int64_t latency_us);

void vsd_stats_total_free(struct vsd_stats_total *t);

#endif
