/*
 * net_priv.h - what net.c and resp_net.c (its Redis-protocol connections)
 * share: the connection and job structs of the epoll thread, and the
 * helpers of net.c that resp_net.c calls.  Everything here is used only on
 * the net thread, except where a comment says otherwise.
 */
#ifndef VSD_NET_PRIV_H
#define VSD_NET_PRIV_H

#include <nng/nng.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "resp.h"
#include "resp_cmd.h"
#include "resp_tls.h"
#include "server.h"

#define VSD_SP_HS_LEN 8              /* 00 'S' 'P' 00, proto, 0 0 */
#define VSD_SP_LEN_BYTES 8           /* the frame's length prefix */
#define VSD_SP_ID_BYTES 4            /* one backtrace word */
#define VSD_SP_MAX_HOPS 8            /* nng's largest REQ/REP TTL */
#define VSD_SP_MAX_HDR (VSD_SP_MAX_HOPS * VSD_SP_ID_BYTES)

/* epoll tags of the loop: a connection's id (below 2^32), the special
 * tags of net.c (the top values), or a worker's socket (worker.c): this
 * bit, the worker's index from bit 32, the descriptor in the low 32. */
#define VSD_NET_TAG_WORKER (1ULL << 62)
#define VSD_NET_TAG_WORKER_SHIFT 32
#define VSD_NET_IS_WORKER_TAG(t) (((t) >> 62) == 1)

/* A native request, then its reply.  Owned by the net thread, except
 * while a worker runs it (between submit and vsd_net_reply). */
struct vsd_njob {
	struct vsd_job job;          /* first: a job is its njob */
	uint32_t conn, gen;          /* the connection it came on */
	uint8_t *frame;              /* the request frame (vsd_frame_alloc) */
	size_t framelen;
	/* the reply: length prefix + backtrace, then the envelope */
	uint8_t prefix[VSD_SP_LEN_BYTES + VSD_SP_MAX_HDR];
	size_t hdrlen, prefixlen;
	nng_msg *reply;
	size_t total, off;           /* reply frame bytes, bytes written */
	struct vsd_njob *next;       /* done list or output queue */
	/* RESP (resp_net.c): the command, and the connection's in-order
	 * list of commands whose replies are due */
	struct vsd_resp_cmd cmd;
	struct vsd_njob *pnext;
	int done;                    /* the reply is in (reply may be NULL) */
};

enum vsd_conn_state {
	VSD_CONN_HS,                 /* reading the peer's handshake */
	VSD_CONN_LEN,                /* reading a frame's length */
	VSD_CONN_BODY,               /* reading a frame */
	VSD_CONN_REJECTED            /* refused: FIN sent, input discarded
	                              * until the peer closes (so it sees
	                              * EOF rather than a reset) */
};

struct vsd_conn {
	int fd;
	uint32_t id, gen;
	int state;                   /* enum vsd_conn_state */
	uint8_t hs[VSD_SP_HS_LEN];
	uint8_t lenbuf[VSD_SP_LEN_BYTES];
	size_t got;                  /* bytes of hs, lenbuf or frame read */
	uint8_t *frame;              /* the request being read */
	size_t framelen;
	int64_t partial_since;       /* an incomplete frame/handshake began */
	int mem_wait;                /* length read, waiting for memory */
	int inflight;                /* its requests queued or worked on */
	struct vsd_njob *ohead, *otail;  /* replies not yet written */
	size_t out_bytes;
	int64_t out_since;           /* last write progress */
	uint32_t events;             /* what epoll watches */
	char peer[64];
	/* a --resp-listen connection (resp_net.c); state stays VSD_CONN_LEN */
	int resp;
	struct vsd_resp_session sess;
	uint8_t *rbuf;               /* bytes read, not yet parsed */
	size_t rlen, rcap;
	struct vsd_njob *phead, *ptail;  /* commands in order, until sent */
	/* --resp-listen tls://: its TLS session (resp_tls.h), or NULL;
	 * VSD_TLS_CONN_BYTES of --max-buffered-bytes are counted for it */
	struct vsd_tls_conn *tls;
};

/* A connection loop 0 accepted for another loop (net.c). */
struct vsd_handoff {
	int fd;
	int resp;                    /* a --resp-listen connection */
	char peer[64];
	struct vsd_handoff *next;
};

/* One event loop: its thread, epoll, connections, workers and queue. */
struct vsd_net {
	struct vsd_server *srv;
	int idx;                     /* in srv->nets */
	int ep, efd;
	/* the listening sockets: loop 0 only (it accepts, and hands
	 * connections out round robin); -1 elsewhere */
	int lfd;
	int rfd;                     /* --resp-listen socket, or -1 */
	uint32_t next_conn;          /* loop 0: where the next one goes */
	struct vsd_tls *rtls;        /* --resp-listen tls://, or NULL;
	                              * loop 0's, shared (SSL_CTX is) */
	pthread_t thread;
	int running;
	atomic_int stop;
	atomic_llong *buffered;      /* the server's: every loop's bytes */

	/* Under mu: replies handed back from another thread (none today:
	 * workers reply on their loop), the jobs queued for this loop's
	 * workers, and connections handed over by loop 0. */
	pthread_mutex_t mu;
	struct vsd_njob *dhead, *dtail;
	struct vsd_job *qhead, *qtail;
	int64_t qdue_us;             /* earliest due_us queued, or 0 */
	struct vsd_handoff *hhead;
	int quiet;                   /* under srv->mu: stopping, and done */

	struct vsd_worker *workers;  /* this loop's, in srv->workers */
	int nworkers;

	struct vsd_conn **conns;     /* by id; NULL = free */
	uint32_t *gens;              /* generation of each id */
	uint32_t nconns, cap;
	int nmemwait;
	int64_t accept_paused_until;
	int64_t drain_us;            /* when draining was first seen */
};

/* net.c */
struct vsd_conn *vsd_conn_find(struct vsd_net *net, uint32_t id,
    uint32_t gen);
void vsd_conn_close(struct vsd_net *net, struct vsd_conn *c,
    const char *why);
void vsd_conn_watch(struct vsd_net *net, struct vsd_conn *c);
/* Queue a reply (takes nj); the connection may be closed on return. */
void vsd_conn_send(struct vsd_net *net, struct vsd_conn *c,
    struct vsd_njob *nj);
/* Bind and listen on tcp://HOST:PORT (tcp4://, tcp6://) into *fd. */
int vsd_net_bind(const char *url, int *fd);
int vsd_net_shed(struct vsd_net *net, size_t need);
/* read(2) from the connection, through TLS if it has it. */
ssize_t vsd_conn_recv(struct vsd_conn *c, void *buf, size_t n);
/* The connection has work no socket event will announce: a TLS
 * handshake or read waiting to write, or decrypted bytes held. */
int vsd_conn_tls_busy(const struct vsd_conn *c);
void vsd_njob_free(struct vsd_net *net, struct vsd_njob *nj);

/* resp_net.c */
/* Read and run what a RESP connection sent, as far as its bounds allow. */
void vsd_resp_conn_read(struct vsd_net *net, struct vsd_conn *c);
/* A worker's reply for a RESP command came back (nj->reply set, may be
 * NULL): send every reply now due, in command order. */
void vsd_resp_conn_reply(struct vsd_net *net, struct vsd_conn *c,
    struct vsd_njob *nj);
/* Free what a closing RESP connection holds (the read buffer, replies
 * waiting for an earlier one); jobs still with workers free themselves
 * when they come back to a closed connection. */
void vsd_resp_conn_fini(struct vsd_net *net, struct vsd_conn *c);
/* After a flush emptied the output: close a connection that asked to
 * (QUIT, protocol error) once nothing is left.  -1 if closed. */
int vsd_resp_conn_flushed(struct vsd_net *net, struct vsd_conn *c);
/* The reply for a job answered without running (expired, shutdown):
 * a status envelope, or a RESP error for a RESP command. */
nng_msg *vsd_job_status(const struct vsd_job *job, int code,
    const char *msg);
/* Bind --resp-listen HOST:PORT (or tls://HOST:PORT, which also makes
 * net->rtls from the --tls-* files) into net->rfd. */
int vsd_resp_bind(struct vsd_net *net, const char *spec);

#endif
