/*
 * net.c - the event loops: vsetd's own SP-over-TCP server for tcp://
 * listeners and the --resp-listen door, the thread its workers (worker.c)
 * run on, and the timer that answers queued requests on time.
 *
 * Why not libnng for tcp://: nng 1.5.2 gives an application no say over
 * what a connection may buffer.  A half-sent frame holds its whole buffer
 * for ever (no read timeout), and replies to a client that never reads
 * them pile up without bound, so any client could pin vsetd's memory
 * (GitHub issue 12, findings 7 and 8).  Serving the wire protocol here
 * costs about 300 lines and puts every byte a connection holds under a
 * configured bound.  It also keeps nng's threads off the request path:
 * a tcp:// request is served by one loop thread from read to reply.
 *
 * The wire protocol (nng's SP over TCP, byte-compatible with any nng REQ
 * peer; docs/protocol.md):
 *   - each side sends 8 bytes first: 00 'S' 'P' 00, its protocol id
 *     (16 bits big-endian: REQ 0x30, REP 0x31), 16 zero bits.  A peer that
 *     is not REQ is closed;
 *   - then each message is a 64-bit big-endian length and that many bytes.
 *     A request starts with the REQ's backtrace: 32-bit big-endian words,
 *     the last (for a direct peer the only one) with its top bit set (the
 *     request id).  The reply carries the same words back.  Several
 *     requests may be in flight on one connection (one per REQ context);
 *     replies go back in any order.
 *
 * What a connection may hold (every bound is a flag, docs/operations.md):
 *   - one incomplete request of at most --max-message-bytes (+ backtrace);
 *     a larger length closes the connection, as nng does.  A request (or
 *     the handshake) that started must complete within
 *     --frame-timeout-ms, or the connection is closed and its buffer freed;
 *   - at most --max-conn-inflight requests queued or being worked on:
 *     beyond it the connection is not read (its requests wait in the
 *     kernel, and TCP pushes back on the client);
 *   - at most --max-conn-pending-bytes of replies it has not read: beyond
 *     it the connection is not read either; replies that make no progress
 *     for --frame-timeout-ms close it;
 *   - all connections together hold at most --max-buffered-bytes (requests
 *     being read, queued or worked on, and unsent replies).  When a reply
 *     would go over, the connection holding the most unsent replies (the
 *     slowest reader) is closed; a request is read only when its bytes
 *     fit, so healthy clients are slowed, never cut.
 *
 * Threads: --loops event loops (one by default), each an epoll thread
 * that owns its connections, its workers and its queue.  Loop 0 accepts
 * every connection and deals them out in turn (vsd_net_handoff: one
 * wake-up per connection, none per request).  A whole request goes to
 * the loop's queue (vsd_workers_submit); after each batch of events the
 * loop runs its workers (vsd_workers_run: fibers, worker.c), whose shard
 * sockets are in this same epoll (tags VSD_NET_TAG_WORKER), and writes
 * the replies they produced (vsd_net_replies) in the same iteration.  A
 * reply names its connection by id and generation, so a reply to a
 * connection closed meanwhile is just freed.  Replies from another thread
 * (none on the tcp:// path today) come through the list under `mu` and
 * the loop's eventfd, as do the nng bridge's requests (vsd_net_submit).
 * The --resp-listen connections (resp_net.c) live here too; over TLS
 * (tls://, resp_tls.c) their reads and writes go through OpenSSL
 * (vsd_conn_recv, vsd_conn_flush), their handshake is timed like an
 * incomplete request, and each counts VSD_TLS_CONN_BYTES against
 * --max-buffered-bytes from accept to close.
 * The loops also run for nng listeners: they run the workers, and answer
 * queued requests whose deadline passed before a worker took them
 * (vsd_workers_expired), so a request never waits past its deadline for a
 * worker.
 *
 * Shutdown: while draining, the listening socket is closed and each
 * request read gets UNAVAILABLE "server is shutting down"; at stop, every
 * reply still queued is written (bounded by VSD_NET_FLUSH_MS) before the
 * connections close, so every call that was received gets a status.
 */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <arpa/inet.h>

#include "envelope.h"
#include "log.h"
#include "net_priv.h"
#include "vs_time.h"

#define VSD_SP_PROTO_REQ 0x30
#define VSD_SP_PROTO_REP 0x31
#define VSD_SP_ID_LAST 0x80u         /* top bit of the request id word */

#define VSD_NET_TICK_MS 100          /* timeouts are checked this often */
#define VSD_NET_MAX_EVENTS 64
#define VSD_NET_IOV 64               /* replies per writev */
#define VSD_NET_BACKLOG 512
/* The kernel's send buffer of a connection, fixed (the kernel doubles
 * it): with autotuning, a client that reads nothing could make the kernel
 * hold up to net.ipv4.tcp_wmem's maximum (4 MiB) of replies per
 * connection, out of sight of --max-buffered-bytes. */
#define VSD_NET_SNDBUF (256 * 1024)
#define VSD_NET_ACCEPT_PAUSE_MS 100  /* after running out of descriptors */
/* Frames this large get their own mapping, so freeing one gives the
 * memory back to the system (malloc may keep it). */
#define VSD_NET_MMAP_MIN (128 * 1024)
/* After draining began, keep answering UNAVAILABLE at least this long, so
 * a client between two calls learns of the shutdown from a status rather
 * than a closed connection. */
#define VSD_NET_LINGER_MS 200
/* How long a refused connection's input is discarded before it closes. */
#define VSD_NET_REJECT_LINGER_MS 1000
/* At stop, how long queued replies may take to leave. */
#define VSD_NET_FLUSH_MS 1000

#define VSD_NET_TAG_LISTEN UINT64_MAX
#define VSD_NET_TAG_EVENT (UINT64_MAX - 1)
#define VSD_NET_TAG_RESP (UINT64_MAX - 2)

static void vsd_net_wake_loop(struct vsd_net *net);

/* The loop this thread runs, or NULL: a reply queued on its own loop's
 * thread needs no wake-up (the loop sends it in the same iteration). */
static _Thread_local struct vsd_net *vsd_net_cur;

/* ------------------------------------------------------------ memory */

static uint8_t *
vsd_frame_alloc(struct vsd_net *net, size_t n)
{
	uint8_t *p;

	if (n >= VSD_NET_MMAP_MIN) {
		p = mmap(NULL, n, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED)
			return NULL;
	} else if ((p = malloc(n)) == NULL) {
		return NULL;
	}
	atomic_fetch_add(net->buffered, (long long)n);
	return p;
}

static void
vsd_frame_free(struct vsd_net *net, uint8_t *p, size_t n)
{
	if (p == NULL)
		return;
	if (n >= VSD_NET_MMAP_MIN)
		munmap(p, n);
	else
		free(p);
	atomic_fetch_sub(net->buffered, (long long)n);
}

/* Free an njob with whatever it still holds. */
void
vsd_njob_free(struct vsd_net *net, struct vsd_njob *nj)
{
	vsd_frame_free(net, nj->frame, nj->framelen);
	if (nj->cmd.mem != NULL) {
		atomic_fetch_sub(net->buffered, (long long)nj->cmd.memlen);
		vsd_resp_cmd_free(&nj->cmd);
	}
	if (nj->reply != NULL) {
		nng_msg_free(nj->reply);
		if (nj->total != 0)
			atomic_fetch_sub(net->buffered, (long long)nj->total);
	}
	free(nj);
}

/* ------------------------------------------------------------ connections */

struct vsd_conn *
vsd_conn_find(struct vsd_net *net, uint32_t id, uint32_t gen)
{
	if (id >= net->cap || net->conns[id] == NULL ||
	    net->conns[id]->gen != gen)
		return NULL;
	return net->conns[id];
}

void
vsd_conn_close(struct vsd_net *net, struct vsd_conn *c, const char *why)
{
	struct vsd_njob *nj, *next;

	if (why != NULL)
		vsd_warn("closing connection from %s: %s", c->peer, why);
	close(c->fd);
	for (nj = c->ohead; nj != NULL; nj = next) {
		next = nj->next;
		vsd_njob_free(net, nj);
	}
	vsd_frame_free(net, c->frame, c->framelen);
	if (c->resp)
		vsd_resp_conn_fini(net, c);
	if (c->tls != NULL) {
		vsd_tls_conn_free(c->tls);
		atomic_fetch_sub(net->buffered, VSD_TLS_CONN_BYTES);
	}
	if (c->mem_wait)
		net->nmemwait--;
	net->conns[c->id] = NULL;
	net->gens[c->id]++;
	net->nconns--;
	free(c);
}

/* Refuse the peer for breaking the protocol (or a limit it must know):
 * free everything, send FIN, and discard what it still sends for a
 * moment, so it reads EOF ("closed") rather than a reset. */
static void
vsd_conn_reject(struct vsd_net *net, struct vsd_conn *c, const char *why)
{
	struct vsd_njob *nj, *next;
	struct epoll_event ev;

	vsd_warn("closing connection from %s: %s", c->peer, why);
	for (nj = c->ohead; nj != NULL; nj = next) {
		next = nj->next;
		vsd_njob_free(net, nj);
	}
	c->ohead = c->otail = NULL;
	c->out_bytes = 0;
	vsd_frame_free(net, c->frame, c->framelen);
	c->frame = NULL;
	c->framelen = 0;
	if (c->mem_wait) {
		c->mem_wait = 0;
		net->nmemwait--;
	}
	shutdown(c->fd, SHUT_WR);
	c->state = VSD_CONN_REJECTED;
	c->partial_since = vs_now_us();
	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN;
	ev.data.u64 = c->id;
	if (epoll_ctl(net->ep, EPOLL_CTL_MOD, c->fd, &ev) == 0)
		c->events = EPOLLIN;
}

/* Watch what the connection can do now: read unless one of its bounds
 * says wait; write while replies are queued. */
void
vsd_conn_watch(struct vsd_net *net, struct vsd_conn *c)
{
	const struct vsd_config *cfg = net->srv->cfg;
	struct epoll_event ev;
	uint32_t want = 0;

	if (c->state == VSD_CONN_REJECTED)
		return;
	if (!c->mem_wait && c->inflight < cfg->max_conn_inflight &&
	    c->out_bytes <= cfg->max_conn_pending && !c->sess.quit)
		want |= EPOLLIN;
	if (c->ohead != NULL)
		want |= EPOLLOUT;
	if (c->tls != NULL) {
		/* a handshake or read must write first, a write read first */
		if (vsd_tls_wants_out(c->tls))
			want |= EPOLLOUT;
		if (vsd_tls_wants_in(c->tls) && c->ohead != NULL)
			want |= EPOLLIN;
	}
	if (want == c->events)
		return;
	memset(&ev, 0, sizeof(ev));
	ev.events = want;
	ev.data.u64 = c->id;
	if (epoll_ctl(net->ep, EPOLL_CTL_MOD, c->fd, &ev) == 0)
		c->events = want;
}

/* Write what the socket takes.  -1 if the connection was closed. */
static int
vsd_conn_flush(struct vsd_net *net, struct vsd_conn *c)
{
	struct iovec iov[2 * VSD_NET_IOV];
	struct vsd_njob *nj;
	ssize_t n;
	size_t left;
	int k;

	while (c->ohead != NULL) {
		k = 0;
		for (nj = c->ohead; nj != NULL && k < 2 * VSD_NET_IOV;
		    nj = nj->next) {
			size_t off = nj->off;

			if (off < nj->prefixlen) {
				iov[k].iov_base = nj->prefix + off;
				iov[k++].iov_len = nj->prefixlen - off;
				off = 0;
			} else {
				off -= nj->prefixlen;
			}
			iov[k].iov_base = (uint8_t *)nng_msg_body(nj->reply) +
			    off;
			iov[k++].iov_len = nng_msg_len(nj->reply) - off;
		}
		n = c->tls != NULL ? vsd_tls_writev(c->tls, iov, k) :
		    writev(c->fd, iov, k);
		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			if (errno == EINTR)
				continue;
			vsd_debug("writing to %s: %s", c->peer, strerror(errno));
			vsd_conn_close(net, c, NULL);
			return -1;
		}
		c->out_since = vs_now_us();
		left = (size_t)n;
		while (left > 0 && (nj = c->ohead) != NULL) {
			size_t rest = nj->total - nj->off;

			if (left < rest) {
				nj->off += left;
				break;
			}
			left -= rest;
			c->ohead = nj->next;
			if (c->ohead == NULL)
				c->otail = NULL;
			c->out_bytes -= nj->total;
			vsd_njob_free(net, nj);
		}
	}
	return c->resp ? vsd_resp_conn_flushed(net, c) : 0;
}

ssize_t
vsd_conn_recv(struct vsd_conn *c, void *buf, size_t n)
{
	return c->tls != NULL ? vsd_tls_read(c->tls, buf, n) :
	    read(c->fd, buf, n);
}

int
vsd_conn_tls_busy(const struct vsd_conn *c)
{
	return c->tls != NULL && (!vsd_tls_handshake_done(c->tls) ||
	    vsd_tls_wants_out(c->tls) || vsd_tls_pending(c->tls));
}

/* Close the connections holding the most unsent replies until need more
 * bytes fit under --max-buffered-bytes.  Nobody is closed, and -1 is
 * returned, when closing every holder of replies would not make room: the
 * bytes are then held by requests being worked on, which free themselves,
 * and closing would only cut clients for nothing. */
int
vsd_net_shed(struct vsd_net *net, size_t need)
{
	const struct vsd_config *cfg = net->srv->cfg;
	struct vsd_conn *worst;
	size_t held, out = 0;
	char why[160];
	uint32_t i;

	held = (size_t)atomic_load(net->buffered) + need;
	if (held <= cfg->max_buffered)
		return 0;
	for (i = 0; i < net->cap; i++)
		if (net->conns[i] != NULL)
			out += net->conns[i]->out_bytes;
	if (held - out > cfg->max_buffered)
		return -1;
	while ((size_t)atomic_load(net->buffered) + need > cfg->max_buffered) {
		worst = NULL;
		for (i = 0; i < net->cap; i++)
			if (net->conns[i] != NULL &&
			    net->conns[i]->out_bytes > 0 && (worst == NULL ||
			    net->conns[i]->out_bytes > worst->out_bytes))
				worst = net->conns[i];
		if (worst == NULL)
			return -1;
		snprintf(why, sizeof(why), "it holds the most unread replies "
		    "(%zu bytes) while vsetd holds more than "
		    "--max-buffered-bytes %zu", worst->out_bytes,
		    cfg->max_buffered);
		vsd_conn_close(net, worst, why);
	}
	return 0;
}

/* Queue a reply frame for the connection, write what fits, and keep the
 * total bound.  Takes nj. */
void
vsd_conn_send(struct vsd_net *net, struct vsd_conn *c, struct vsd_njob *nj)
{
	uint32_t id = c->id, gen = c->gen;
	uint64_t flen;
	int i;

	flen = nj->hdrlen + nng_msg_len(nj->reply);
	for (i = 0; i < VSD_SP_LEN_BYTES; i++)
		nj->prefix[i] = (uint8_t)(flen >> (8 * (VSD_SP_LEN_BYTES - 1 - i)));
	nj->prefixlen = c->resp ? 0 : VSD_SP_LEN_BYTES + nj->hdrlen;
	nj->total = nj->prefixlen + nng_msg_len(nj->reply);
	nj->off = 0;
	nj->next = NULL;
	atomic_fetch_add(net->buffered, (long long)nj->total);
	if (c->ohead == NULL) {
		c->ohead = nj;
		c->out_since = vs_now_us();
	} else {
		c->otail->next = nj;
	}
	c->otail = nj;
	c->out_bytes += nj->total;
	if (vsd_conn_flush(net, c) != 0)
		return;
	vsd_net_shed(net, 0);
	if ((c = vsd_conn_find(net, id, gen)) != NULL)
		vsd_conn_watch(net, c);
}

/* Answer a request on the net thread (a refusal), with status only. */
static void
vsd_conn_refuse(struct vsd_net *net, struct vsd_conn *c, struct vsd_njob *nj,
    int code, const char *why)
{
	nj->reply = vsd_reply_status(nj->job.request_id, code, why);
	vsd_frame_free(net, nj->frame, nj->framelen);
	nj->frame = NULL;
	if (nj->reply == NULL) {
		vsd_njob_free(net, nj);
		return;
	}
	vsd_conn_send(net, c, nj);
}

/* A whole request frame was read.  -1 if the connection was closed. */
static int
vsd_conn_frame(struct vsd_net *net, struct vsd_conn *c)
{
	struct vsd_server *srv = net->srv;
	uint32_t id = c->id, gen = c->gen;
	struct vsd_njob *nj;
	uint32_t deadline_ms;
	size_t hdr = 0;
	int last = 0;

	c->partial_since = 0;
	/* the backtrace: words up to and including the one with the top bit */
	while (!last && hdr + VSD_SP_ID_BYTES <= c->framelen &&
	    hdr < VSD_SP_MAX_HDR) {
		last = (c->frame[hdr] & VSD_SP_ID_LAST) != 0;
		hdr += VSD_SP_ID_BYTES;
	}
	if (!last) {
		vsd_conn_reject(net, c, "malformed request: no SP request id "
		    "(backtrace) before the message");
		return -1;
	}
	if ((nj = calloc(1, sizeof(*nj))) == NULL) {
		vsd_conn_close(net, c, "out of memory");
		return -1;
	}
	nj->conn = c->id;
	nj->gen = c->gen;
	nj->frame = c->frame;
	nj->framelen = c->framelen;
	c->frame = NULL;
	c->framelen = 0;
	memcpy(nj->prefix + VSD_SP_LEN_BYTES, nj->frame, hdr);
	nj->hdrlen = hdr;
	nj->job.kind = VSD_JOB_NATIVE;
	nj->job.reply = vsd_net_reply;
	nj->job.body = nj->frame + hdr;
	nj->job.len = nj->framelen - hdr;
	nj->job.recv_us = vs_now_us();
	vsd_envelope_peek(nj->job.body, nj->job.len, &nj->job.request_id,
	    &deadline_ms);
	nj->job.due_us = vsd_request_due_us(srv->cfg, deadline_ms,
	    nj->job.recv_us);

	if (atomic_load(&srv->draining)) {
		vsd_conn_refuse(net, c, nj, VSD_UNAVAILABLE,
		    "server is shutting down");
		return vsd_conn_find(net, id, gen) ? 0 : -1;
	}
	if (atomic_fetch_add(&srv->inflight, 1) + 1 > srv->cfg->max_inflight) {
		atomic_fetch_sub(&srv->inflight, 1);
		vsd_conn_refuse(net, c, nj, VSD_RESOURCE_EXHAUSTED, "server "
		    "busy: too many requests in flight (--max-inflight)");
		return vsd_conn_find(net, id, gen) ? 0 : -1;
	}
	c->inflight++;
	vsd_workers_submit(net, &nj->job);
	return 0;
}

/* The length prefix was read: check it and get the frame's memory.
 * 1 = go on reading, 0 = wait for memory, -1 = closed. */
static int
vsd_conn_length(struct vsd_net *net, struct vsd_conn *c)
{
	const struct vsd_config *cfg = net->srv->cfg;
	uint32_t id = c->id, gen = c->gen;
	uint64_t len = 0;
	char why[160];
	int i, rv;

	for (i = 0; i < VSD_SP_LEN_BYTES; i++)
		len = (len << 8) | c->lenbuf[i];
	if (len < VSD_SP_ID_BYTES ||
	    len > (uint64_t)cfg->max_message_bytes + VSD_SP_MAX_HDR) {
		snprintf(why, sizeof(why), "a request of %llu bytes (more than "
		    "--max-message-bytes %zu, or no request id)",
		    (unsigned long long)len, cfg->max_message_bytes);
		vsd_conn_reject(net, c, why);
		return -1;
	}
	rv = vsd_net_shed(net, (size_t)len);
	if (vsd_conn_find(net, id, gen) == NULL)
		return -1;              /* it was the slowest reader itself */
	if (rv != 0) {
		if (!c->mem_wait) {
			c->mem_wait = 1;
			net->nmemwait++;
		}
		return 0;
	}
	if ((c->frame = vsd_frame_alloc(net, (size_t)len)) == NULL) {
		vsd_conn_close(net, c, "out of memory for a request");
		return -1;
	}
	if (c->mem_wait) {
		c->mem_wait = 0;
		net->nmemwait--;
	}
	c->framelen = (size_t)len;
	c->got = 0;
	c->state = VSD_CONN_BODY;
	return 1;
}

/* The peer's handshake was read.  -1 if closed. */
static int
vsd_conn_handshake(struct vsd_net *net, struct vsd_conn *c)
{
	static const uint8_t magic[4] = { 0, 'S', 'P', 0 };
	unsigned proto = ((unsigned)c->hs[4] << 8) | c->hs[5];
	char why[128];

	if (memcmp(c->hs, magic, sizeof(magic)) != 0 || c->hs[6] != 0 ||
	    c->hs[7] != 0) {
		vsd_conn_reject(net, c, "not an SP (nng) peer: bad handshake");
		return -1;
	}
	if (proto != VSD_SP_PROTO_REQ) {
		snprintf(why, sizeof(why), "peer speaks SP protocol 0x%x, "
		    "not REQ (0x%x)", proto, VSD_SP_PROTO_REQ);
		vsd_conn_reject(net, c, why);
		return -1;
	}
	c->partial_since = 0;
	c->state = VSD_CONN_LEN;
	c->got = 0;
	return 0;
}

/* A rejected connection: drop its input until EOF. */
static void
vsd_conn_discard(struct vsd_net *net, struct vsd_conn *c)
{
	uint8_t sink[16384];
	ssize_t n;

	while ((n = read(c->fd, sink, sizeof(sink))) > 0)
		;
	if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK &&
	    errno != EINTR))
		vsd_conn_close(net, c, NULL);
}

/* Read what the connection sent, as far as its bounds allow. */
static void
vsd_conn_read(struct vsd_net *net, struct vsd_conn *c)
{
	const struct vsd_config *cfg = net->srv->cfg;
	uint32_t id = c->id, gen = c->gen;
	uint8_t *dst;
	size_t want;
	ssize_t n;
	int rv;

	if (c->resp) {
		vsd_resp_conn_read(net, c);
		return;
	}
	if (c->state == VSD_CONN_REJECTED) {
		vsd_conn_discard(net, c);
		return;
	}
	for (;;) {
		if (c->mem_wait) {
			if ((rv = vsd_conn_length(net, c)) <= 0)
				break;
		}
		if (c->state != VSD_CONN_BODY && c->state != VSD_CONN_HS &&
		    c->got == 0 && (c->inflight >= cfg->max_conn_inflight ||
		    c->out_bytes > cfg->max_conn_pending))
			break;          /* between frames: its bounds say wait */
		switch (c->state) {
		case VSD_CONN_HS:
			dst = c->hs + c->got;
			want = VSD_SP_HS_LEN - c->got;
			break;
		case VSD_CONN_LEN:
			dst = c->lenbuf + c->got;
			want = VSD_SP_LEN_BYTES - c->got;
			break;
		default:
			dst = c->frame + c->got;
			want = c->framelen - c->got;
			break;
		}
		n = read(c->fd, dst, want);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n <= 0) {
			if (n < 0)
				vsd_debug("reading from %s: %s", c->peer,
				    strerror(errno));
			vsd_conn_close(net, c, NULL);
			return;
		}
		if (c->got == 0 && c->state == VSD_CONN_LEN)
			c->partial_since = vs_now_us();
		c->got += (size_t)n;
		if ((size_t)n < want)
			continue;
		switch (c->state) {
		case VSD_CONN_HS:
			rv = vsd_conn_handshake(net, c);
			break;
		case VSD_CONN_LEN:
			rv = vsd_conn_length(net, c);
			if (rv == 0)
				goto out;
			rv = rv > 0 ? 0 : -1;
			break;
		default:
			rv = vsd_conn_frame(net, c);
			if (rv == 0) {
				c->state = VSD_CONN_LEN;
				c->got = 0;
			}
			break;
		}
		if (rv != 0)
			return;
	}
out:
	if ((c = vsd_conn_find(net, id, gen)) != NULL)
		vsd_conn_watch(net, c);
}

/* Take a new connection on this loop: its state, and its place in the
 * loop's epoll.  Takes fd (closed on failure). */
static void
vsd_net_adopt(struct vsd_net *net, int fd, int resp, const char *peer)
{
	struct epoll_event ev;
	struct vsd_conn *c, **nc;
	uint32_t *ng, id, ncap;

	for (id = 0; id < net->cap && net->conns[id] != NULL; id++)
		;
	if (id == net->cap) {
		ncap = net->cap ? 2 * net->cap : 64;
		nc = realloc(net->conns, ncap * sizeof(*nc));
		if (nc != NULL)
			net->conns = nc;
		ng = realloc(net->gens, ncap * sizeof(*ng));
		if (ng != NULL)
			net->gens = ng;
		if (nc == NULL || ng == NULL)
			goto fail;
		memset(nc + net->cap, 0, (ncap - net->cap) * sizeof(*nc));
		memset(ng + net->cap, 0, (ncap - net->cap) * sizeof(*ng));
		net->cap = ncap;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL)
		goto fail;
	if (resp && net->rtls != NULL) {
		/* its record buffers count like any request bytes; a
		 * connection that does not fit is not taken (no other client
		 * is cut to make room for it) */
		if ((size_t)atomic_load(net->buffered) + VSD_TLS_CONN_BYTES >
		    net->srv->cfg->max_buffered) {
			vsd_warn("refusing a TLS connection: no room under "
			    "--max-buffered-bytes %zu",
			    net->srv->cfg->max_buffered);
			free(c);
			goto fail;
		}
		if ((c->tls = vsd_tls_conn_new(net->rtls, fd)) == NULL) {
			vsd_warn("refusing a TLS connection: out of memory");
			free(c);
			goto fail;
		}
		atomic_fetch_add(net->buffered, VSD_TLS_CONN_BYTES);
	}
	c->fd = fd;
	c->id = id;
	c->gen = net->gens[id];
	c->state = resp ? VSD_CONN_LEN : VSD_CONN_HS;
	/* the SP or TLS handshake is timed from now */
	c->partial_since = resp && c->tls == NULL ? 0 : vs_now_us();
	c->resp = resp;
	if (resp)
		vsd_resp_session_init(&c->sess, net->srv->cfg,
		    ((((uint64_t)c->gen << 32) | id) *
		    (uint64_t)net->srv->nloops + (uint64_t)net->idx) + 1);
	snprintf(c->peer, sizeof(c->peer), "%s", peer);
	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN;
	ev.data.u64 = id;
	if (epoll_ctl(net->ep, EPOLL_CTL_ADD, fd, &ev) != 0) {
		if (c->tls != NULL) {
			vsd_tls_conn_free(c->tls);
			atomic_fetch_sub(net->buffered, VSD_TLS_CONN_BYTES);
		}
		free(c);
		goto fail;
	}
	c->events = EPOLLIN;
	net->conns[id] = c;
	net->nconns++;
	return;
fail:
	close(fd);
}

/* Loop 0 accepted a connection for another loop: queue it there. */
static void
vsd_net_handoff(struct vsd_net *to, int fd, int resp, const char *peer)
{
	struct vsd_handoff *h;

	if ((h = calloc(1, sizeof(*h))) == NULL) {
		close(fd);
		return;
	}
	h->fd = fd;
	h->resp = resp;
	snprintf(h->peer, sizeof(h->peer), "%s", peer);
	pthread_mutex_lock(&to->mu);
	h->next = to->hhead;    /* order does not matter: each is its own */
	to->hhead = h;
	pthread_mutex_unlock(&to->mu);
	vsd_net_wake_loop(to);
}

/* The connections loop 0 handed to this loop. */
static void
vsd_net_handoffs(struct vsd_net *net)
{
	struct vsd_handoff *h, *next;

	pthread_mutex_lock(&net->mu);
	h = net->hhead;
	net->hhead = NULL;
	pthread_mutex_unlock(&net->mu);
	for (; h != NULL; h = next) {
		next = h->next;
		if (atomic_load(&net->stop))
			close(h->fd);
		else
			vsd_net_adopt(net, h->fd, h->resp, h->peer);
		free(h);
	}
}

/* Loop 0 only: accept every pending connection, and deal them out to the
 * loops in turn (one wake-up per connection, none per request). */
static void
vsd_net_accept(struct vsd_net *net, int lfd)
{
	int resp = lfd == net->rfd;
	static const uint8_t hs[VSD_SP_HS_LEN] = { 0, 'S', 'P', 0, 0,
	    VSD_SP_PROTO_REP, 0, 0 };
	struct vsd_server *srv = net->srv;
	struct sockaddr_storage ss;
	struct vsd_net *to;
	socklen_t sl;
	char host[INET6_ADDRSTRLEN + 1], port[8], peer[64];
	int fd, one = 1, sndbuf = VSD_NET_SNDBUF;

	for (;;) {
		sl = sizeof(ss);
		fd = accept4(lfd, (struct sockaddr *)&ss, &sl,
		    SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno == EMFILE || errno == ENFILE ||
			    errno == ENOBUFS || errno == ENOMEM) {
				vsd_warn("accept: %s; pausing %d ms",
				    strerror(errno), VSD_NET_ACCEPT_PAUSE_MS);
				net->accept_paused_until = vs_now_us() +
				    VSD_NET_ACCEPT_PAUSE_MS * 1000;
				epoll_ctl(net->ep, EPOLL_CTL_DEL, lfd, NULL);
			}
			return;
		}
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
		if (!resp && write(fd, hs, sizeof(hs)) !=
		    (ssize_t)sizeof(hs)) {
			close(fd);
			continue;
		}
		if (getnameinfo((struct sockaddr *)&ss, sl, host, sizeof(host),
		    port, sizeof(port), NI_NUMERICHOST | NI_NUMERICSERV) == 0)
			snprintf(peer, sizeof(peer), "%s:%s", host, port);
		else
			snprintf(peer, sizeof(peer), "?");
		to = srv->nets[net->next_conn++ % (uint32_t)srv->nloops];
		if (to == net)
			vsd_net_adopt(net, fd, resp, peer);
		else
			vsd_net_handoff(to, fd, resp, peer);
	}
}

/* ------------------------------------------------------------ replies */

void
vsd_net_reply(struct vsd_server *srv, struct vsd_job *job, nng_msg *reply)
{
	struct vsd_net *net = job->loop;
	struct vsd_njob *nj = (struct vsd_njob *)job;
	uint64_t one = 1;
	int wake;

	/* the request is done with: its memory goes at once */
	vsd_frame_free(net, nj->frame, nj->framelen);
	nj->frame = NULL;
	nj->reply = reply;
	nj->next = NULL;
	atomic_fetch_sub(&srv->inflight, 1);
	pthread_mutex_lock(&net->mu);
	/* on the loop (a worker's fiber, the reaper) the loop sends it
	 * right after: no wake-up */
	wake = net->dhead == NULL && vsd_net_cur != net;
	if (net->dtail != NULL)
		net->dtail->next = nj;
	else
		net->dhead = nj;
	net->dtail = nj;
	pthread_mutex_unlock(&net->mu);
	if (wake && write(net->efd, &one, sizeof(one)) < 0)
		vsd_debug("waking the net thread: %s", strerror(errno));
}

static void
vsd_net_wake_loop(struct vsd_net *net)
{
	uint64_t one = 1;

	if (write(net->efd, &one, sizeof(one)) < 0)
		vsd_debug("waking loop %d: %s", net->idx, strerror(errno));
}

void
vsd_net_wake(struct vsd_server *srv)
{
	int i;

	for (i = 0; i < srv->nloops; i++)
		vsd_net_wake_loop(srv->nets[i]);
}

void
vsd_net_submit(struct vsd_server *srv, struct vsd_job *job)
{
	struct vsd_net *net;

	if (srv->nets == NULL)
		return;         /* stopped: the slot's client times out */
	net = srv->nets[atomic_fetch_add(&srv->next_loop, 1) %
	    (unsigned)srv->nloops];
	vsd_workers_submit(net, job);
	vsd_net_wake_loop(net);
}

/* Replies the workers produced: to their connections, if still open. */
static void
vsd_net_replies(struct vsd_net *net)
{
	struct vsd_njob *nj, *next;
	struct vsd_conn *c;

	pthread_mutex_lock(&net->mu);
	nj = net->dhead;
	net->dhead = net->dtail = NULL;
	pthread_mutex_unlock(&net->mu);
	for (; nj != NULL; nj = next) {
		next = nj->next;
		if ((c = vsd_conn_find(net, nj->conn, nj->gen)) == NULL) {
			vsd_njob_free(net, nj);
			continue;
		}
		c->inflight--;
		if (c->resp) {
			vsd_resp_conn_reply(net, c, nj);
			continue;
		}
		if (nj->reply == NULL || c->state == VSD_CONN_REJECTED) {
			vsd_njob_free(net, nj);         /* out of memory */
			vsd_conn_watch(net, c);
			continue;
		}
		vsd_conn_send(net, c, nj);
	}
}

/* Queued requests whose deadline passed before a worker took them. */
static int64_t
vsd_net_reap(struct vsd_net *net, int64_t now)
{
	struct vsd_job *job, *next;
	int64_t next_due;
	char why[128];

	job = vsd_workers_expired(net, now, &next_due);
	for (; job != NULL; job = next) {
		next = job->next;
		snprintf(why, sizeof(why), "deadline passed while the request "
		    "waited for a worker (%lld us)",
		    (long long)(now - job->recv_us));
		vsd_job_reply(net->srv, job, vsd_job_status(job,
		    VSD_DEADLINE_EXCEEDED, why));
	}
	return next_due;
}

/* Every VSD_NET_TICK_MS: incomplete frames and unread replies that ran
 * out of time, and requests waiting for memory. */
static void
vsd_net_tick(struct vsd_net *net, int64_t now)
{
	int64_t limit = (int64_t)net->srv->cfg->frame_timeout_ms * 1000;
	struct vsd_conn *c;
	char why[160];
	uint32_t i;

	for (i = 0; i < net->cap; i++) {
		if ((c = net->conns[i]) == NULL)
			continue;
		if (c->state == VSD_CONN_REJECTED) {
			if (now - c->partial_since >
			    VSD_NET_REJECT_LINGER_MS * 1000L)
				vsd_conn_close(net, c, NULL);
			continue;
		}
		if (c->partial_since != 0 && now - c->partial_since > limit) {
			snprintf(why, sizeof(why), "%s incomplete for more "
			    "than --frame-timeout-ms %d (%zu of %zu bytes)",
			    c->state == VSD_CONN_HS ? "handshake" :
			    c->tls != NULL && !vsd_tls_handshake_done(c->tls) ?
			    "TLS handshake" : "request",
			    net->srv->cfg->frame_timeout_ms,
			    c->state == VSD_CONN_BODY ? c->got : 0,
			    c->framelen);
			vsd_conn_close(net, c, why);
		} else if (c->ohead != NULL && now - c->out_since > limit) {
			snprintf(why, sizeof(why), "%zu bytes of replies "
			    "unread for more than --frame-timeout-ms %d",
			    c->out_bytes, net->srv->cfg->frame_timeout_ms);
			vsd_conn_close(net, c, why);
		} else if (c->mem_wait) {
			vsd_conn_read(net, c);
		}
	}
}

/* ------------------------------------------------------------ the loop */

/* Close the listening socket once draining began. */
static void
vsd_net_draining(struct vsd_net *net, int64_t now)
{
	if (net->drain_us != 0 || !atomic_load(&net->srv->draining))
		return;
	net->drain_us = now;
	if (net->lfd >= 0) {
		/* Connections the kernel completed but we have not accepted
		 * would be reset by the close, after their clients sent a
		 * request: take them first, so they are answered. */
		vsd_net_accept(net, net->lfd);
		close(net->lfd);
		net->lfd = -1;
	}
	if (net->rfd >= 0) {
		vsd_net_accept(net, net->rfd);
		close(net->rfd);
		net->rfd = -1;
	}
}

static int
vsd_net_out_empty(struct vsd_net *net)
{
	uint32_t i;

	for (i = 0; i < net->cap; i++)
		if (net->conns[i] != NULL && net->conns[i]->ohead != NULL)
			return 0;
	return 1;
}

static void *
vsd_net_main(void *arg)
{
	struct vsd_net *net = arg;
	struct epoll_event evs[VSD_NET_MAX_EVENTS];
	struct epoll_event ev;
	int64_t now, next_tick = 0, next_due, stop_us = 0, wait_us;
	struct vsd_conn *c;
	struct vsd_job *job, *jnext;
	uint64_t cnt;
	int i, n, timeout;

	vsd_net_cur = net;
	for (;;) {
		now = vs_now_us();
		vsd_net_draining(net, now);
		if (atomic_load(&net->stop)) {
			if (stop_us == 0) {
				stop_us = now;
				/* nothing may stay unanswered in the queue */
				for (job = vsd_workers_take_all(net);
				    job != NULL; job = jnext) {
					jnext = job->next;
					vsd_job_reply(net->srv, job,
					    vsd_job_status(job,
					    VSD_UNAVAILABLE,
					    "server is shutting down"));
				}
				vsd_net_replies(net);
			}
			if (now - stop_us > VSD_NET_FLUSH_MS * 1000L ||
			    (vsd_net_out_empty(net) && (net->drain_us == 0 ||
			    now - net->drain_us >= VSD_NET_LINGER_MS * 1000L)))
				break;
		}
		if (net->accept_paused_until != 0 &&
		    now >= net->accept_paused_until) {
			net->accept_paused_until = 0;
			memset(&ev, 0, sizeof(ev));
			ev.events = EPOLLIN;
			ev.data.u64 = VSD_NET_TAG_LISTEN;
			if (net->lfd >= 0)
				epoll_ctl(net->ep, EPOLL_CTL_ADD, net->lfd, &ev);
			ev.data.u64 = VSD_NET_TAG_RESP;
			if (net->rfd >= 0)
				epoll_ctl(net->ep, EPOLL_CTL_ADD, net->rfd, &ev);
		}
		next_due = vsd_net_reap(net, now);
		if (net->nconns > 0 || stop_us != 0) {
			if (next_tick == 0 || now >= next_tick) {
				vsd_net_tick(net, now);
				next_tick = now + VSD_NET_TICK_MS * 1000L;
			}
			wait_us = next_tick - now;
		} else {
			next_tick = 0;
			wait_us = -1;
		}
		if (next_due != 0 && (wait_us < 0 || next_due - now < wait_us))
			wait_us = next_due - now;
		if (net->accept_paused_until != 0 && (wait_us < 0 ||
		    net->accept_paused_until - now < wait_us))
			wait_us = net->accept_paused_until - now;
		if ((next_due = vsd_workers_next_wake(net)) != 0) {
			if (next_due < now)
				next_due = now;
			if (wait_us < 0 || next_due - now < wait_us)
				wait_us = next_due - now;
		}
		timeout = wait_us < 0 ? -1 : (int)((wait_us + 999) / 1000);

		n = epoll_wait(net->ep, evs, VSD_NET_MAX_EVENTS, timeout);
		if (n < 0 && errno != EINTR) {
			vsd_err("epoll_wait: %s", strerror(errno));
			break;
		}
		for (i = 0; i < n; i++) {
			uint64_t tag = evs[i].data.u64;

			if (tag == VSD_NET_TAG_EVENT) {
				if (read(net->efd, &cnt, sizeof(cnt)) < 0)
					vsd_debug("eventfd: %s",
					    strerror(errno));
				vsd_net_replies(net);
				vsd_net_handoffs(net);
				continue;
			}
			if (tag == VSD_NET_TAG_LISTEN) {
				if (net->lfd >= 0)
					vsd_net_accept(net, net->lfd);
				continue;
			}
			if (tag == VSD_NET_TAG_RESP) {
				if (net->rfd >= 0)
					vsd_net_accept(net, net->rfd);
				continue;
			}
			if (VSD_NET_IS_WORKER_TAG(tag)) {
				vsd_workers_event(net, tag, evs[i].events);
				continue;
			}
			if ((c = net->conns[tag]) == NULL)
				continue;
			if ((evs[i].events & (EPOLLHUP | EPOLLERR)) &&
			    c->state != VSD_CONN_REJECTED) {
				/* reset (or closed both ways): nothing can
				 * be answered any more */
				vsd_conn_close(net, c, NULL);
				continue;
			}
			if ((evs[i].events & EPOLLIN) && c->tls != NULL &&
			    vsd_tls_wants_in(c->tls) && c->ohead != NULL) {
				/* a TLS write that waited to read first */
				if (vsd_conn_flush(net, c) != 0)
					continue;
			}
			if (evs[i].events & EPOLLOUT) {
				if (vsd_conn_flush(net, c) != 0)
					continue;
				vsd_conn_watch(net, c);
				/* RESP commands already read (or a TLS
				 * handshake or read that waited to write) may
				 * wait for this; no read event will say so */
				if (c->resp && (c->rlen > 0 ||
				    vsd_conn_tls_busy(c)) &&
				    !(evs[i].events & EPOLLIN))
					vsd_conn_read(net, c);
			}
			if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
				vsd_conn_read(net, c);  /* REJECTED: to EOF */
		}
		/* the requests read above, and the workers whose sockets
		 * are ready or whose time is up; then their replies */
		vsd_workers_run(net);
		vsd_net_replies(net);
	}
	return NULL;
}

/* ------------------------------------------------------------ setup */

/* tcp://HOST:PORT, tcp4://, tcp6://, [v6] hosts; "" or "*" = any. */
int
vsd_net_bind(const char *url, int *out)
{
	struct addrinfo hints, *res = NULL, *ai;
	char host[300], *colon;
	const char *rest;
	int fd = -1, one = 1, e, rv = -1;

	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	if (strncmp(url, "tcp4://", 7) == 0) {
		hints.ai_family = AF_INET;
		rest = url + 7;
	} else if (strncmp(url, "tcp6://", 7) == 0) {
		hints.ai_family = AF_INET6;
		rest = url + 7;
	} else {
		hints.ai_family = AF_UNSPEC;
		rest = url + 6;
	}
	if (strlen(rest) >= sizeof(host) ||
	    (colon = strrchr(strcpy(host, rest), ':')) == NULL) {
		vsd_err("bad --listen \"%s\": want tcp://HOST:PORT", url);
		return -1;
	}
	*colon = '\0';
	if (host[0] == '[' && colon[-1] == ']') {
		colon[-1] = '\0';
		memmove(host, host + 1, strlen(host + 1) + 1);
	}
	if ((e = getaddrinfo(host[0] == '\0' || strcmp(host, "*") == 0 ?
	    NULL : host, colon + 1, &hints, &res)) != 0) {
		vsd_err("bad --listen \"%s\": %s", url, gai_strerror(e));
		return -1;
	}
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK |
		    SOCK_CLOEXEC, ai->ai_protocol);
		if (fd < 0)
			continue;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 &&
		    listen(fd, VSD_NET_BACKLOG) == 0)
			break;
		e = errno;
		close(fd);
		fd = -1;
		errno = e;
	}
	if (fd < 0) {
		vsd_err("cannot listen on %s: %s", url, strerror(errno));
		goto out;
	}
	*out = fd;
	rv = 0;
out:
	freeaddrinfo(res);
	return rv;
}

/* One loop's epoll and eventfd (and, for loop 0, the listening
 * sockets).  0 or -1; what was made is freed by vsd_net_free. */
static int
vsd_net_make(struct vsd_server *srv, int idx)
{
	struct epoll_event ev;
	struct vsd_net *net;

	if ((net = calloc(1, sizeof(*net))) == NULL)
		return -1;
	srv->nets[idx] = net;
	net->srv = srv;
	net->idx = idx;
	net->buffered = &srv->buffered;
	net->lfd = net->ep = net->efd = net->rfd = -1;
	pthread_mutex_init(&net->mu, NULL);
	if ((net->ep = epoll_create1(EPOLL_CLOEXEC)) < 0 ||
	    (net->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0) {
		vsd_err("epoll/eventfd: %s", strerror(errno));
		return -1;
	}
	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN;
	ev.data.u64 = VSD_NET_TAG_EVENT;
	if (epoll_ctl(net->ep, EPOLL_CTL_ADD, net->efd, &ev) != 0)
		return -1;
	if (idx != 0)
		return 0;
	if (srv->cfg->resp_listen != NULL) {
		if (vsd_resp_bind(net, srv->cfg->resp_listen) != 0)
			return -1;
		ev.data.u64 = VSD_NET_TAG_RESP;
		if (epoll_ctl(net->ep, EPOLL_CTL_ADD, net->rfd, &ev) != 0)
			return -1;
	}
	if (!srv->native)
		return 0;
	if (vsd_net_bind(srv->cfg->listen, &net->lfd) != 0)
		return -1;
	ev.data.u64 = VSD_NET_TAG_LISTEN;
	return epoll_ctl(net->ep, EPOLL_CTL_ADD, net->lfd, &ev);
}

int
vsd_net_open(struct vsd_server *srv)
{
	const char *url = srv->cfg->listen;
	int i;

	srv->native = strncmp(url, "tcp://", 6) == 0 ||
	    strncmp(url, "tcp4://", 7) == 0 || strncmp(url, "tcp6://", 7) == 0;
	srv->nloops = srv->cfg->loops > 0 ? srv->cfg->loops : 1;
	if ((srv->nets = calloc((size_t)srv->nloops, sizeof(*srv->nets))) ==
	    NULL)
		return -1;
	for (i = 0; i < srv->nloops; i++) {
		if (vsd_net_make(srv, i) != 0)
			return -1;
		srv->nets[i]->rtls = srv->nets[0]->rtls;
	}
	return 0;
}

int
vsd_net_start(struct vsd_server *srv, char *bound, size_t boundlen)
{
	struct vsd_net *net = srv->nets[0];
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	int i, port = 0;

	if (srv->native) {
		if (getsockname(net->lfd, (struct sockaddr *)&ss, &sl) == 0)
			port = ntohs(ss.ss_family == AF_INET6 ?
			    ((struct sockaddr_in6 *)&ss)->sin6_port :
			    ((struct sockaddr_in *)&ss)->sin_port);
		vsd_url_bound(srv->cfg->listen, port, bound, boundlen);
	}
	for (i = 0; i < srv->nloops; i++) {
		net = srv->nets[i];
		if (pthread_create(&net->thread, NULL, vsd_net_main, net) !=
		    0) {
			vsd_err("starting event loop %d failed", i);
			return -1;
		}
		net->running = 1;
	}
	return 0;
}

/* Close what a joined (or never started) loop still holds, and free it. */
static void
vsd_net_free(struct vsd_net *net)
{
	struct vsd_njob *nj, *next;
	struct vsd_handoff *h, *hnext;
	uint8_t sink[4096];
	uint32_t i;

	/* Unread requests are read and dropped first, so the close is a
	 * FIN, not a reset that could destroy replies the client has not
	 * read yet. */
	for (i = 0; i < net->cap; i++) {
		if (net->conns[i] == NULL)
			continue;
		while (read(net->conns[i]->fd, sink, sizeof(sink)) > 0)
			;
		vsd_conn_close(net, net->conns[i], NULL);
	}
	for (nj = net->dhead; nj != NULL; nj = next) {
		next = nj->next;
		vsd_njob_free(net, nj);
	}
	for (h = net->hhead; h != NULL; h = hnext) {
		hnext = h->next;
		close(h->fd);
		free(h);
	}
	if (net->lfd >= 0)
		close(net->lfd);
	if (net->rfd >= 0)
		close(net->rfd);
	if (net->idx == 0)
		vsd_tls_free(net->rtls);        /* the loops share it */
	if (net->ep >= 0)
		close(net->ep);
	if (net->efd >= 0)
		close(net->efd);
	pthread_mutex_destroy(&net->mu);
	free(net->conns);
	free(net->gens);
	free(net);
}

void
vsd_net_stop(struct vsd_server *srv)
{
	int i;

	if (srv->nets == NULL)
		return;
	for (i = 0; i < srv->nloops; i++)
		if (srv->nets[i] != NULL && srv->nets[i]->running)
			atomic_store(&srv->nets[i]->stop, 1);
	for (i = 0; i < srv->nloops; i++)
		if (srv->nets[i] != NULL && srv->nets[i]->running) {
			vsd_net_wake_loop(srv->nets[i]);
			pthread_join(srv->nets[i]->thread, NULL);
			srv->nets[i]->running = 0;
		}
	/* loop 0 last: the others share its TLS context */
	for (i = srv->nloops - 1; i >= 0; i--)
		if (srv->nets[i] != NULL)
			vsd_net_free(srv->nets[i]);
	free(srv->nets);
	srv->nets = NULL;
	srv->nloops = 0;
}
