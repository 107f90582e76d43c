/*
 * server.h - the pieces of one running vsetd and how they meet.
 *
 *   listener.c  nng REP socket; a pool of slots, each an nng_ctx + nng_aio
 *               state machine (RECV -> WORK -> SEND -> RECV).  Callbacks
 *               only move messages; they never block.
 *   worker.c    a fixed pool of threads and the queue between the two.  A
 *               worker owns its shard connections (shards.h) and its arena.
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

enum vsd_slot_state { VSD_SLOT_RECV, VSD_SLOT_WORK, VSD_SLOT_SEND };

struct vsd_server;

struct vsd_slot {
	struct vsd_server *srv;
	nng_ctx ctx;
	nng_aio *aio;
	int state;
	nng_msg *msg;                /* the request, while WORK */
	int64_t recv_us;
	struct vsd_slot *next;       /* work queue link */
};

struct vsd_worker {
	struct vsd_server *srv;
	pthread_t thread;
	struct vsd_links *links;
	struct vsd_arena arena;
	struct vsd_shard_result *res;    /* nshards */
	struct vsd_stats stats;          /* this worker's counters */
};

struct vsd_server {
	const struct vsd_config *cfg;
	struct vsd_limits limits;
	struct vsd_health *health;       /* nshards, shared by workers */

	/* work queue: FIFO of slots in WORK state */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct vsd_slot *qhead, *qtail;
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
int vsd_workers_start(struct vsd_server *srv);
/* Hand a slot in WORK state to the pool (never blocks). */
void vsd_workers_submit(struct vsd_server *srv, struct vsd_slot *slot);
/* Let the workers finish the queue, then join them. */
void vsd_workers_stop(struct vsd_server *srv);

/* listener.c */
/* Open the socket and listener and start every slot.  *bound is the URL
 * actually bound (port 0 resolved), written into a buffer of boundlen. */
int vsd_listener_start(struct vsd_server *srv, char *bound, size_t boundlen);
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
