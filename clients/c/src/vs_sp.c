/*
 * vs_sp.c - the tcp:// transport without libnng: nng's REQ/REP wire
 * protocol (SP over TCP) spoken on plain blocking sockets, in the
 * caller's own thread (issue 13).
 *
 * Why.  Through libnng a call hands its request to nng's task and poller
 * threads and its reply back again: about 30 us and 65 us of client CPU
 * per search on this 2-vCPU VM, measured against a raw SP client (14-18
 * us).  The request itself is one write and the reply one read; a thread
 * that does them itself costs one wake-up.  Other transports (tls+tcp://,
 * ipc://, ws://) keep libnng (vs_transport.c), and VS_TRANSPORT=nng in
 * the environment puts tcp:// back on it too (to compare, or to fall
 * back).
 *
 * The wire (docs/protocol.md; nng's sp/transport/tcp and reqrep0):
 *   - each side first sends 8 bytes: 00 'S' 'P' 00, its protocol id (u16
 *     big-endian: REQ 0x30, REP 0x31), two zero bytes;
 *   - a message is a u64 big-endian length, then the SP header (for a
 *     request straight to its REP peer, one u32: the request id, high bit
 *     set) and the body; the reply starts with the same id.
 *
 * As nng's REQ: one request in flight per connection.  Unlike it: no
 * resend, ever (the caller decides; writes are idempotent), and a
 * connection whose call failed in any way is closed, not reused, so a
 * late reply can never be read as the answer to a later call.  Idle
 * connections wait in a pool (struct vs_client), so callers on several
 * threads each get their own; one that the server closed meanwhile
 * (restart) is noticed before sending and replaced, so nothing is sent
 * twice.
 *
 * Every wait is bounded: the dial by the client's timeout, a call by its
 * deadline plus VS_REPLY_GRACE_MS (poll before each read and write).
 *
 * Ownership: a struct vs_sp_conn belongs to the pool or to the one call
 * using it; the reply buffer is the caller's (free()).
 */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "vs_internal.h"
#include "vsetd.pb-c.h"

#define VS_SP_HEADER_LEN 8
#define VS_SP_PROTO_REQ 0x30
#define VS_SP_PROTO_REP 0x31
#define VS_SP_LEN_BYTES 8
#define VS_SP_ID_BYTES 4
#define VS_SP_ID_BIT 0x80000000u
/* The largest reply accepted; a server never sends more than its
 * --max-message-bytes (docs/operations.md, "Limits"). */
#define VS_SP_MAX_REPLY ((uint64_t)64 << 20)

static int64_t
vs_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Wait until fd is ready for events or the deadline: 1 ready, 0 timed
 * out, -1 error (errno). */
static int
vs_sp_wait(int fd, short events, int64_t deadline_ms)
{
	struct pollfd p = { .fd = fd, .events = events };
	int64_t left;
	int rv;

	for (;;) {
		if ((left = deadline_ms - vs_now_ms()) < 0)
			left = 0;
		rv = poll(&p, 1, (int)left);
		if (rv >= 0 || errno != EINTR)
			return rv > 0 ? 1 : rv;
	}
}

/* Write all of buf: 0, or a status code with the error recorded. */
static int
vs_sp_write(struct vs_client *c, int fd, const void *buf, size_t len,
    int64_t deadline_ms)
{
	const uint8_t *p = buf;
	ssize_t n;
	int rv;

	while (len > 0) {
		if ((rv = vs_sp_wait(fd, POLLOUT, deadline_ms)) <= 0)
			goto fail;
		n = send(fd, p, len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (n < 0) {
			rv = -1;
			goto fail;
		}
		p += n;
		len -= (size_t)n;
	}
	return VS_OK;
fail:
	if (rv == 0) {
		vs_set_error(VS_DEADLINE_EXCEEDED, "%s: timed out sending the "
		    "request", c->url);
		return VS_DEADLINE_EXCEEDED;
	}
	vs_set_error(VS_UNAVAILABLE, "%s: sending: %s", c->url,
	    strerror(errno));
	return VS_UNAVAILABLE;
}

/* Read exactly len bytes: 0, or a status code with the error recorded. */
static int
vs_sp_read(struct vs_client *c, int fd, void *buf, size_t len,
    int64_t deadline_ms, const char *what)
{
	uint8_t *p = buf;
	ssize_t n;
	int rv;

	while (len > 0) {
		if ((rv = vs_sp_wait(fd, POLLIN, deadline_ms)) == 0) {
			vs_set_error(VS_DEADLINE_EXCEEDED, "%s: no %s before "
			    "the deadline", c->url, what);
			return VS_DEADLINE_EXCEEDED;
		}
		n = rv < 0 ? -1 : recv(fd, p, len, MSG_DONTWAIT);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (n <= 0) {
			vs_set_error(VS_UNAVAILABLE, "%s: connection lost "
			    "reading the %s%s%s", c->url, what,
			    n < 0 ? ": " : "", n < 0 ? strerror(errno) : "");
			return VS_UNAVAILABLE;
		}
		p += n;
		len -= (size_t)n;
	}
	return VS_OK;
}

static void
vs_put_be(uint8_t *p, uint64_t v, int bytes)
{
	int i;

	for (i = bytes - 1; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

static uint64_t
vs_get_be(const uint8_t *p, int bytes)
{
	uint64_t v = 0;
	int i;

	for (i = 0; i < bytes; i++)
		v = v << 8 | p[i];
	return v;
}

/* Connect to one address within the deadline: the fd, or -1. */
static int
vs_sp_dial_one(const struct addrinfo *ai, int64_t deadline_ms)
{
	int fd, one = 1, err = 0;
	socklen_t len = sizeof(err);

	fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC |
	    SOCK_NONBLOCK, ai->ai_protocol);
	if (fd < 0)
		return -1;
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
		if (errno != EINPROGRESS ||
		    vs_sp_wait(fd, POLLOUT, deadline_ms) <= 0 ||
		    getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 ||
		    err != 0) {
			if (err != 0)
				errno = err;
			else if (errno == EINPROGRESS)
				errno = ETIMEDOUT;
			close(fd);
			return -1;
		}
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

/* A new connection, handshake done: 0 with *out, or a status code. */
static int
vs_sp_dial(struct vs_client *c, int64_t deadline_ms, struct vs_sp_conn **out)
{
	static const uint8_t magic[4] = { 0, 'S', 'P', 0 };
	struct addrinfo hints, *res = NULL, *ai;
	uint8_t hs[VS_SP_HEADER_LEN], peer[VS_SP_HEADER_LEN];
	struct vs_sp_conn *k;
	int fd = -1, rv, code;

	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	if ((rv = getaddrinfo(c->sp_host, c->sp_port, &hints, &res)) != 0) {
		vs_set_error(VS_UNAVAILABLE, "cannot connect to %s: %s",
		    c->url, gai_strerror(rv));
		return VS_UNAVAILABLE;
	}
	for (ai = res; ai != NULL && fd < 0; ai = ai->ai_next)
		fd = vs_sp_dial_one(ai, deadline_ms);
	freeaddrinfo(res);
	if (fd < 0) {
		vs_set_error(VS_UNAVAILABLE, "cannot connect to %s: %s",
		    c->url, strerror(errno));
		return VS_UNAVAILABLE;
	}
	memcpy(hs, magic, sizeof(magic));
	vs_put_be(hs + 4, VS_SP_PROTO_REQ, 2);
	vs_put_be(hs + 6, 0, 2);
	if ((code = vs_sp_write(c, fd, hs, sizeof(hs), deadline_ms)) != 0 ||
	    (code = vs_sp_read(c, fd, peer, sizeof(peer), deadline_ms,
	    "SP handshake")) != 0)
		goto fail;
	if (memcmp(peer, magic, sizeof(magic)) != 0 ||
	    vs_get_be(peer + 6, 2) != 0 ||
	    vs_get_be(peer + 4, 2) != VS_SP_PROTO_REP) {
		/* A peer that is not an nng REP socket cannot serve us. */
		vs_set_error(VS_UNAVAILABLE, "%s: the peer is not an SP REP "
		    "endpoint (handshake %02x%02x%02x%02x%02x%02x%02x%02x)",
		    c->url, peer[0], peer[1], peer[2], peer[3], peer[4],
		    peer[5], peer[6], peer[7]);
		code = VS_UNAVAILABLE;
		goto fail;
	}
	if ((k = calloc(1, sizeof(*k))) == NULL) {
		vs_set_error(VS_RESOURCE_EXHAUSTED, "out of memory");
		code = VS_RESOURCE_EXHAUSTED;
		goto fail;
	}
	k->fd = fd;
	*out = k;
	return VS_OK;
fail:
	close(fd);
	return code;
}

/* An idle connection the server closed meanwhile is readable (EOF) or
 * holds bytes nobody asked for: either way it is of no further use. */
static int
vs_sp_stale(const struct vs_sp_conn *k)
{
	struct pollfd p = { .fd = k->fd, .events = POLLIN };

	return poll(&p, 1, 0) != 0;
}

static void
vs_sp_close(struct vs_sp_conn *k)
{
	close(k->fd);
	free(k);
}

/* A connection for one call: from the pool, or dialled. */
static int
vs_sp_get(struct vs_client *c, int64_t deadline_ms, struct vs_sp_conn **out)
{
	struct vs_sp_conn *k;

	for (;;) {
		pthread_mutex_lock(&c->mu);
		if ((k = c->sp_idle) != NULL)
			c->sp_idle = k->next;
		pthread_mutex_unlock(&c->mu);
		if (k == NULL)
			return vs_sp_dial(c, deadline_ms, out);
		if (!vs_sp_stale(k)) {
			*out = k;
			return VS_OK;
		}
		vs_sp_close(k);
	}
}

static void
vs_sp_put(struct vs_client *c, struct vs_sp_conn *k)
{
	pthread_mutex_lock(&c->mu);
	k->next = c->sp_idle;
	c->sp_idle = k;
	pthread_mutex_unlock(&c->mu);
}

int
vs_sp_connect(struct vs_client *c)
{
	struct vs_sp_conn *k;
	int code;

	if ((code = vs_sp_get(c, vs_now_ms() + c->timeout_ms, &k)) != 0)
		return code;
	vs_sp_put(c, k);
	return VS_OK;
}

void
vs_sp_free(struct vs_client *c)
{
	struct vs_sp_conn *k, *next;

	for (k = c->sp_idle; k != NULL; k = next) {
		next = k->next;
		vs_sp_close(k);
	}
	c->sp_idle = NULL;
}

uint8_t *
vs_sp_call(struct vs_client *c, const uint8_t *req, size_t len,
    size_t *reply_len)
{
	int64_t deadline = vs_now_ms() + c->timeout_ms + VS_REPLY_GRACE_MS;
	uint8_t head[VS_SP_LEN_BYTES + VS_SP_ID_BYTES], *body = NULL;
	struct vs_sp_conn *k = NULL;
	uint32_t id;
	uint64_t n;
	int ok = 0;

	id = VS_SP_ID_BIT | (atomic_fetch_add(&c->sp_next_id, 1) &
	    ~VS_SP_ID_BIT);
	if (vs_sp_get(c, deadline, &k) != 0)
		goto out;
	vs_put_be(head, len + VS_SP_ID_BYTES, VS_SP_LEN_BYTES);
	vs_put_be(head + VS_SP_LEN_BYTES, id, VS_SP_ID_BYTES);
	if (vs_sp_write(c, k->fd, head, sizeof(head), deadline) != 0 ||
	    vs_sp_write(c, k->fd, req, len, deadline) != 0 ||
	    vs_sp_read(c, k->fd, head, sizeof(head), deadline, "reply") != 0)
		goto out;
	n = vs_get_be(head, VS_SP_LEN_BYTES);
	if (n < VS_SP_ID_BYTES || n > VS_SP_MAX_REPLY ||
	    vs_get_be(head + VS_SP_LEN_BYTES, VS_SP_ID_BYTES) != id) {
		/* One request at a time on a connection that never outlives a
		 * failed call: any other id is a broken peer. */
		vs_set_error(VS_UNAVAILABLE, "%s: protocol error: a reply of "
		    "%llu bytes for request id %08x (sent %08x)", c->url,
		    (unsigned long long)n, (unsigned)vs_get_be(head +
		    VS_SP_LEN_BYTES, VS_SP_ID_BYTES), (unsigned)id);
		goto out;
	}
	n -= VS_SP_ID_BYTES;
	if ((body = malloc(n ? n : 1)) == NULL) {
		vs_set_error(VS_RESOURCE_EXHAUSTED, "out of memory");
		goto out;
	}
	if (vs_sp_read(c, k->fd, body, n, deadline, "reply") != 0) {
		free(body);
		body = NULL;
		goto out;
	}
	*reply_len = n;
	ok = 1;
out:
	if (k != NULL) {
		if (ok)
			vs_sp_put(c, k);
		else
			vs_sp_close(k);
	}
	return body;
}
