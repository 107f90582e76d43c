/*
 * server.h - the pieces of one running vsetd and how they meet.
 *
 *   worker.c    a fixed pool of threads.  Each worker receives requests
 *               itself on its own nng_ctx (the fast path: nng's receive
 *               wakes the worker directly), answers them with its own
 *               shard connections (shards.h) and arena, and sends the
 *               reply from the same thread.
 *   listener.c  the nng REP socket, and the overflow: a pool of slots
 *               (nng_ctx + nng_aio state machines, IDLE -> RECV -> WORK ->
 *               SEND -> IDLE) armed only while every worker is busy.  They
 *               queue requests up to --max-inflight and refuse the rest at
 *               once.  Callbacks only move messages; they never block.
 *   dispatch.c  envelope -> method -> op -> reply envelope, on a worker.
 *
 * The server struct is created by main.c and lives for the process; every
 * member is owned by it and torn down in vsd_server_stop().
 */
#ifndef VSD_SERVER_H
#define VSD_SERVER_H

#include <nng/nng.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "arena.h"
#include "config.h"
#include "health.h"
#include "shards.h"
#include "stats.h"
#include "validate.h"

enum vsd_slot_state {
	VSD_SLOT_IDLE,               /* dormant, on the server's idle list */
	VSD_SLOT_RECV, VSD_SLOT_WORK, VSD_SLOT_SEND
};

/* A worker's receive state, under vsd_server.mu (see worker.c). */
enum vsd_worker_state {
	VSD_WORKER_BUSY,             /* running a request or the queue */
	VSD_WORKER_ARMING,           /* about to post its own receive */
	VSD_WORKER_POSTED,           /* blocked in its own receive */
	VSD_WORKER_KICKED            /* its receive is being cancelled */
};

struct vsd_server;

struct vsd_slot {
	struct vsd_server *srv;
	nng_ctx ctx;
	nng_aio *aio;
	int state;
	nng_msg *msg;                /* the request, while WORK */
	int64_t recv_us;
	struct vsd_slot *next;       /* work queue or idle list link */
};

struct vsd_worker {
	struct vsd_server *srv;
	pthread_t thread;
	struct vsd_links *links;
	struct vsd_arena arena;
	struct vsd_shard_result *res;    /* nshards */
	struct vsd_stats stats;          /* this worker's counters */
	nng_ctx ctx;                     /* its own REP context */
	nng_aio *raio;                   /* receive, no callback */
	nng_aio *saio;                   /* send, no callback */
	int state;                       /* enum vsd_worker_state */
};

struct vsd_server {
	const struct vsd_config *cfg;
	struct vsd_limits limits;
	struct vsd_health *health;       /* nshards, shared by workers */

	/* Under mu: the overflow queue (FIFO of slots in WORK state), the
	 * idle slots, and how many workers wait in their own receive. */
	pthread_mutex_t mu;
	struct vsd_slot *qhead, *qtail;
	struct vsd_slot *idle;           /* slots in IDLE state */
	int narmed;                      /* slots in RECV state */
	int nidle;                       /* workers ARMING or POSTED */
	int stopping;                    /* workers exit when queue drains */
	struct vsd_worker *workers;
	int nworkers;

	atomic_int inflight;             /* accepted, not yet replied */
	atomic_int draining;             /* refuse new requests */

	nng_socket sock;
	nng_listener listener;
	struct vsd_slot *slots;
	int nslots;
	char bound[512];                 /* the URL actually listened on */
	int64_t started_us;

	/* observability (stats_survey.c, stats_http.c) */
	nng_socket survey_sock;
	pthread_t survey_thread;
	int survey_running;
	void *http;                      /* nng_http_server * */
};

/* worker.c */
/* Start the workers; the socket must be open (vsd_listener_open). */
int vsd_workers_start(struct vsd_server *srv);
/* Queue a slot in WORK state for the pool and wake a worker waiting in
 * its own receive (never blocks). */
void vsd_workers_submit(struct vsd_server *srv, struct vsd_slot *slot);
/* Let the workers finish the queue, then join them. */
void vsd_workers_stop(struct vsd_server *srv);

/* listener.c */
/* Open the socket and the listener (not yet listening) and allocate the
 * overflow slots, all IDLE. */
int vsd_listener_open(struct vsd_server *srv);
/* Start listening.  *bound is the URL actually bound (port 0 resolved),
 * written into a buffer of boundlen. */
int vsd_listener_start(struct vsd_server *srv, char *bound, size_t boundlen);
/* Admit a request that just arrived: 1 if it may run (counted in
 * inflight), else 0 with *refusal set to the reply to send instead
 * (RESOURCE_EXHAUSTED or UNAVAILABLE; NULL if out of memory).  The
 * request is freed when refused. */
int vsd_listener_admit(struct vsd_server *srv, nng_msg *req,
    nng_msg **refusal);
/* While every worker is busy, keep a few overflow slots receiving. */
void vsd_listener_arm(struct vsd_server *srv);
/* Send a reply for a slot in WORK state; takes ownership of reply. */
void vsd_listener_reply(struct vsd_slot *slot, nng_msg *reply);
void vsd_listener_stop(struct vsd_server *srv);

/* dispatch.c: answer one request; returns the reply message (NULL only if
 * out of memory, then the request is dropped and the client times out). */
nng_msg *vsd_dispatch(struct vsd_worker *w, const nng_msg *req,
    int64_t recv_us);
/* Build a reply envelope carrying only a status (rejections). */
nng_msg *vsd_reply_status(uint64_t request_id, int code, const char *msg);

#endif
