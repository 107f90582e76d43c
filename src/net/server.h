/*
 * server.h - the pieces of one running vsetd and how they meet.
 *
 *   net.c       the event loop: one epoll thread that serves tcp://
 *               listeners itself (the SP wire protocol, no libnng) and
 *               --resp-listen, with bounded buffers and timeouts, runs
 *               the workers, and answers queued requests whose deadline
 *               passed before a worker took them (for every transport).
 *   worker.c    --workers fibers (fiber.h) on that thread, each with its
 *               own shard connections (shards.h) and arena: a request is
 *               run and answered on the loop, with no hand-off.
 *   listener.c  the nng bridge for tls+tcp://, ipc:// and ws://: a REP
 *               socket and a pool of slots (nng_ctx + nng_aio state
 *               machines, IDLE -> RECV -> WORK -> SEND -> IDLE).  A slot
 *               queues its request for the workers (waking the loop), up
 *               to --max-inflight, and refuses the rest at once.
 *               Callbacks only move messages; they never block.
 *   dispatch.c  (rpc/dispatch.h) envelope -> method -> op -> reply
 *               envelope, on a worker's lane.
 *
 * The server struct is created by main.c and lives for the process; every
 * member is owned by it and torn down in vsd_server_stop().
 */
#ifndef VSD_SERVER_H
#define VSD_SERVER_H

#include <nng/nng.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "call.h"
#include "config.h"
#include "dispatch.h"
#include "fiber.h"
#include "health.h"
#include "shards.h"
#include "stats.h"
#include "validate.h"

enum vsd_slot_state {
	VSD_SLOT_IDLE,               /* dormant, on the server's idle list */
	VSD_SLOT_RECV, VSD_SLOT_WORK, VSD_SLOT_SEND
};

/* A worker's state, on the loop's thread only (see worker.c). */
enum vsd_worker_state {
	VSD_WORKER_IDLE,             /* no job; its fiber is suspended */
	VSD_WORKER_READY,            /* to be resumed */
	VSD_WORKER_RUNNING,          /* its fiber runs */
	VSD_WORKER_WAITING           /* in a round's wait, for events */
};

struct vsd_server;
struct vsd_net;
struct vsd_resp_cmd;

/* Where a queued request came from, so its reply finds its way back. */
enum vsd_job_kind {
	VSD_JOB_SLOT,                /* an nng overflow slot (listener.c) */
	VSD_JOB_NATIVE               /* a native tcp:// connection (net.c) */
};

/* A request waiting in the workers' queue or being run.  Embedded in its
 * owner (a slot, or net.c's native job), which owns the request bytes. */
struct vsd_job {
	int kind;                    /* enum vsd_job_kind */
	struct vsd_job *prev, *next; /* the queue, under vsd_server.mu */
	const uint8_t *body;         /* the RequestEnvelope bytes */
	size_t len;
	int64_t recv_us;             /* when the last byte arrived */
	int64_t due_us;              /* its deadline (as dispatch.c counts
	                              * it): answered DEADLINE_EXCEEDED by
	                              * net.c if still queued then */
	uint64_t request_id;         /* the envelope's, peeked */
	struct vsd_net *loop;        /* the event loop that runs it and,
	                              * for net.c's own, answers it */
	/* A RESP command (--resp-listen, resp_cmd.c) instead of an
	 * envelope: proto is 2 or 3, rcmd the parsed command (body unused);
	 * 0 for an RPC. */
	int proto;
	const struct vsd_resp_cmd *rcmd;
	/* Where the reply goes, set by the job's owner (the transport:
	 * listener.c for a slot, net.c for a native or RESP request); takes
	 * reply, which may be NULL = out of memory.  The pool calls it
	 * through vsd_job_reply(), so worker.c needs no transport. */
	void (*reply)(struct vsd_server *srv, struct vsd_job *job,
	    nng_msg *reply);
};

struct vsd_slot {
	struct vsd_job job;          /* first: a job is its slot */
	struct vsd_server *srv;
	nng_ctx ctx;
	nng_aio *aio;
	int state;
	nng_msg *msg;                /* the request, while WORK */
	int64_t recv_us;
	struct vsd_slot *next;       /* idle list link */
};

struct vsd_worker {
	struct vsd_server *srv;
	struct vsd_net *net;             /* the loop it runs on */
	int idx;                         /* in net->workers */
	struct vsd_lane lane;            /* links, arena, results, counters */
	struct vsd_fiber fib;            /* the stack its requests run on */
	int state;                       /* enum vsd_worker_state */
	struct vsd_job *job;             /* the one it runs, or NULL */
	/* while WAITING: the round's sockets (revents filled by
	 * vsd_workers_event), how many are ready, and until when */
	struct pollfd *pfd;
	unsigned npfd;
	int nready;
	int64_t until_us;
};

struct vsd_server {
	const struct vsd_config *cfg;
	struct vsd_limits limits;
	struct vsd_health *health;       /* nshards, shared by workers */

	/* Under mu: the idle slots; each loop's quiet flag (its workers
	 * idle and its queue empty once stopping), announced on qcv. */
	pthread_mutex_t mu;
	pthread_cond_t qcv;
	struct vsd_slot *idle;           /* slots in IDLE state */
	int narmed;                      /* slots in RECV state */
	int stopping;                    /* no new work; quiet when done */
	struct vsd_worker *workers;      /* every loop's, loop by loop */
	int nworkers;

	atomic_int inflight;             /* accepted, not yet replied */
	atomic_int draining;             /* refuse new requests */

	int native;                      /* --listen is tcp://: net.c serves it,
	                                  * no nng socket is opened */
	/* net.c's event loops (always running; at least one) */
	struct vsd_net **nets;
	int nloops;
	atomic_uint next_loop;           /* the nng bridge's round robin */
	atomic_llong buffered;           /* request and reply bytes held by
	                                  * every loop (--max-buffered-bytes) */
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
/* Make the workers (lanes and fibers; they run on net.c's thread, after
 * vsd_net_open). */
int vsd_workers_start(struct vsd_server *srv);
/* Queue a job for the workers; never blocks.  The job's owner keeps it
 * until its reply is handed back (vsd_job_reply).  A caller other than
 * the loop's thread must then vsd_net_wake(), so a worker takes it.
 * Returns 1 when the job is now the one due first. */
int vsd_workers_submit(struct vsd_net *net, struct vsd_job *job);
/* On the loop's thread: give queued jobs to idle workers and resume
 * every worker that is ready (an event, or its wait timed out), until
 * none is. */
void vsd_workers_run(struct vsd_net *net);
/* On the loop's thread: an epoll event tagged VSD_NET_TAG_WORKER. */
void vsd_workers_event(struct vsd_net *net, uint64_t tag, uint32_t events);
/* When vsd_workers_run must run next (CLOCK_MONOTONIC us; 0 = only on
 * an event). */
int64_t vsd_workers_next_wake(struct vsd_net *net);
/* Remove the queued jobs whose due_us <= now into a list (linked by next)
 * and return it; *next_due gets the earliest due_us left (0 if none). */
struct vsd_job *vsd_workers_expired(struct vsd_net *net, int64_t now,
    int64_t *next_due);
/* Remove every queued job (stopping) into a list linked by next. */
struct vsd_job *vsd_workers_take_all(struct vsd_net *net);
/* Hand a job's reply back to where the job came from, job->reply (takes
 * reply, which may be NULL = out of memory, and ends the job's life as a
 * job). */
void vsd_job_reply(struct vsd_server *srv, struct vsd_job *job,
    nng_msg *reply);
/* Stop taking new work and wait until the workers finished the queue
 * (the loop still runs them). */
void vsd_workers_stop(struct vsd_server *srv);
/* Free the workers, once the loop's thread is joined. */
void vsd_workers_free(struct vsd_server *srv);

/* listener.c */
/* Open the socket and the listener (not yet listening) and allocate the
 * slots, all IDLE. */
int vsd_listener_open(struct vsd_server *srv);
/* Start listening.  *bound is the URL actually bound (port 0 resolved),
 * written into a buffer of boundlen. */
int vsd_listener_start(struct vsd_server *srv, char *bound, size_t boundlen);
/* Keep a few slots receiving. */
void vsd_listener_arm(struct vsd_server *srv);
/* Send a reply for a slot in WORK state; takes ownership of reply. */
void vsd_listener_reply(struct vsd_slot *slot, nng_msg *reply);
void vsd_listener_stop(struct vsd_server *srv);

/* net.c: the event loops (--loops threads).  open makes them and binds a
 * tcp:// --listen (srv->native) and --resp-listen on loop 0; start runs
 * the threads (always: they run the workers and answer expired queued
 * jobs) and writes the bound URL for a native listener; stop flushes the
 * replies, closes every connection and joins. */
int vsd_net_open(struct vsd_server *srv);
int vsd_net_start(struct vsd_server *srv, char *bound, size_t boundlen);
void vsd_net_stop(struct vsd_server *srv);
/* Wake every loop (draining or stopping began).  Never blocks. */
void vsd_net_wake(struct vsd_server *srv);
/* From a thread that is not a loop (the nng bridge): give the job to a
 * loop (round robin) and wake it. */
void vsd_net_submit(struct vsd_server *srv, struct vsd_job *job);
/* A native job's reply, from a worker or the reaper (takes reply). */
void vsd_net_reply(struct vsd_server *srv, struct vsd_job *job,
    nng_msg *reply);

/* worker.c: every worker's counters merged into one snapshot (NULL if out
 * of memory); freed with vsd_stats_total_free(). */
struct vsd_stats_total *vsd_stats_snapshot(struct vsd_server *srv);

#endif
