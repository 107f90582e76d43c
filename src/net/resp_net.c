/*
 * resp_net.c - the Redis-protocol connections of the epoll thread
 * (--resp-listen).  net.c accepts them on a second listening socket and
 * hands their input here; they share everything else with the tcp://
 * connections: the thread, the workers' queue, --max-buffered-bytes, the
 * frame timeout, --max-conn-inflight and --max-conn-pending-bytes.
 *
 * A connection's bytes go into one read buffer that grows (doubling) up
 * to --max-message-bytes plus a little: a command that would be larger is
 * a protocol error (resp.c refuses it from its declared lengths, before
 * the bytes arrive), answered with "-ERR Protocol error: ..." and the
 * connection closed after the replies before it, as Redis does.  A
 * command that started must complete within --frame-timeout-ms.
 *
 * Order: Redis clients pipeline and match replies by position, but the
 * workers finish in any order.  Every command gets an njob on the
 * connection's list (phead..ptail) in the order it was read; commands
 * answered on this thread (resp_cmd.c: PING, HELLO, AUTH...) are done at
 * once, data commands when their worker hands the reply back.  Replies
 * leave only from the head of the list, so they go out in command order.
 *
 * TLS (--resp-listen tls://HOST:PORT, resp_tls.c): the same connection
 * with an SSL object between the socket and the read buffer (and the
 * writes of net.c).  The handshake runs here, before the first read, and
 * is timed by --frame-timeout-ms like an incomplete command; a peer whose
 * handshake fails (plaintext, a refused certificate) is closed.  Decrypted
 * bytes OpenSSL holds raise no epoll event, so wherever the code reads
 * again "if bytes are buffered" it also asks vsd_conn_tls_busy().
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "net_priv.h"
#include "vs_status.h"
#include "vs_time.h"

#define VSD_RESP_RBUF_MIN (16 * 1024)
/* Room past --max-message-bytes for a command's framing (the array and
 * length lines) and the start of the next one. */
#define VSD_RESP_RBUF_SLACK (64 * 1024)
#define VSD_RESP_URL_MAX 320
#define VSD_RESP_TLS_SCHEME "tls://"

static void
vsd_resp_pipe_add(struct vsd_conn *c, struct vsd_njob *nj)
{
	nj->pnext = NULL;
	if (c->ptail != NULL)
		c->ptail->pnext = nj;
	else
		c->phead = nj;
	c->ptail = nj;
}

/* Send the replies now due, from the head of the list.  -1 if closed. */
static int
vsd_resp_pipe_flush(struct vsd_net *net, struct vsd_conn *c)
{
	uint32_t id = c->id, gen = c->gen;
	struct vsd_njob *nj;
	struct vsd_resp_buf b;

	while ((nj = c->phead) != NULL && nj->done) {
		c->phead = nj->pnext;
		if (c->phead == NULL)
			c->ptail = NULL;
		if (nj->reply == NULL) {
			/* out of memory for the reply: the client must not
			 * get the next reply in its place */
			memset(&b, 0, sizeof(b));
			vsd_resp_error(&b, "OOM out of memory for the reply");
			if ((nj->reply = vsd_resp_msg(&b)) == NULL) {
				vsd_njob_free(net, nj);
				vsd_conn_close(net, c, "out of memory");
				return -1;
			}
		}
		vsd_conn_send(net, c, nj);
		if ((c = vsd_conn_find(net, id, gen)) == NULL)
			return -1;
	}
	return 0;
}

void
vsd_resp_conn_reply(struct vsd_net *net, struct vsd_conn *c,
    struct vsd_njob *nj)
{
	uint32_t id = c->id, gen = c->gen;

	nj->done = 1;
	if (vsd_resp_pipe_flush(net, c) != 0 ||
	    (c = vsd_conn_find(net, id, gen)) == NULL ||
	    vsd_resp_conn_flushed(net, c) != 0)
		return;
	if ((c->rlen > 0 || vsd_conn_tls_busy(c)) && !c->sess.quit)
		vsd_resp_conn_read(net, c);     /* commands read (or held
		                                 * decrypted by TLS) but not
		                                 * yet run: their turn may be
		                                 * now, and no event will say
		                                 * so */
	else
		vsd_conn_watch(net, c);
}

void
vsd_resp_conn_fini(struct vsd_net *net, struct vsd_conn *c)
{
	struct vsd_njob *nj, *next;

	for (nj = c->phead; nj != NULL; nj = next) {
		next = nj->pnext;
		if (nj->done)           /* else a worker has it */
			vsd_njob_free(net, nj);
	}
	c->phead = c->ptail = NULL;
	if (c->rbuf != NULL) {
		free(c->rbuf);
		atomic_fetch_sub(net->buffered, (long long)c->rcap);
		c->rbuf = NULL;
		c->rlen = c->rcap = 0;
	}
}

int
vsd_resp_conn_flushed(struct vsd_net *net, struct vsd_conn *c)
{
	if (c->sess.quit && c->ohead == NULL && c->phead == NULL) {
		vsd_conn_close(net, c, NULL);
		return -1;
	}
	return 0;
}

nng_msg *
vsd_job_status(const struct vsd_job *job, int code, const char *msg)
{
	struct vsd_resp_buf b;

	if (job->proto == 0)
		return vsd_reply_status(job->request_id, code, msg);
	memset(&b, 0, sizeof(b));
	vsd_resp_error(&b, "ERR %s: %s", vs_code_name(code), msg);
	return vsd_resp_msg(&b);
}

/* A command answered here: a done njob with its reply. */
static int
vsd_resp_answer(struct vsd_net *net, struct vsd_conn *c,
    struct vsd_resp_buf *b)
{
	struct vsd_njob *nj;

	if ((nj = calloc(1, sizeof(*nj))) == NULL) {
		vsd_resp_buf_free(b);
		return -1;
	}
	nj->conn = c->id;
	nj->gen = c->gen;
	nj->reply = vsd_resp_msg(b);
	nj->done = 1;
	vsd_resp_pipe_add(c, nj);
	(void)net;
	return 0;
}

/* One parsed command (takes cmd).  -1 if out of memory. */
static int
vsd_resp_command(struct vsd_net *net, struct vsd_conn *c,
    struct vsd_resp_cmd *cmd)
{
	struct vsd_server *srv = net->srv;
	struct vsd_resp_buf b;
	struct vsd_njob *nj;

	memset(&b, 0, sizeof(b));
	if (cmd->argc == 0) {                   /* an empty line */
		vsd_resp_cmd_free(cmd);
		return 0;
	}
	if (vsd_resp_local(&c->sess, srv->cfg, srv->started_us, cmd, &b) ==
	    VSD_RESP_ANSWERED) {
		vsd_resp_cmd_free(cmd);
		return vsd_resp_answer(net, c, &b);
	}
	if (atomic_load(&srv->draining)) {
		vsd_resp_cmd_free(cmd);
		vsd_resp_error(&b, "ERR server is shutting down");
		return vsd_resp_answer(net, c, &b);
	}
	if (atomic_fetch_add(&srv->inflight, 1) + 1 > srv->cfg->max_inflight) {
		atomic_fetch_sub(&srv->inflight, 1);
		vsd_resp_cmd_free(cmd);
		vsd_resp_error(&b, "ERR server busy: too many requests in "
		    "flight (--max-inflight)");
		return vsd_resp_answer(net, c, &b);
	}
	if ((nj = calloc(1, sizeof(*nj))) == NULL) {
		atomic_fetch_sub(&srv->inflight, 1);
		vsd_resp_cmd_free(cmd);
		return -1;
	}
	nj->conn = c->id;
	nj->gen = c->gen;
	nj->cmd = *cmd;
	atomic_fetch_add(net->buffered, (long long)cmd->memlen);
	nj->job.kind = VSD_JOB_NATIVE;
	nj->job.reply = vsd_net_reply;
	nj->job.proto = c->sess.proto;
	nj->job.rcmd = &nj->cmd;
	nj->job.recv_us = vs_now_us();
	nj->job.due_us = vsd_request_due_us(srv->cfg, 0, nj->job.recv_us);
	vsd_resp_pipe_add(c, nj);
	c->inflight++;
	vsd_workers_submit(net, &nj->job);
	return 0;
}

/* Parse and run the complete commands buffered.  -1 if closed. */
static int
vsd_resp_parse_all(struct vsd_net *net, struct vsd_conn *c)
{
	const struct vsd_config *cfg = net->srv->cfg;
	struct vsd_resp_cmd cmd;
	struct vsd_resp_buf b;
	size_t off = 0;
	char err[160];
	long n;
	int rv = 0, incomplete = 0;

	while (off < c->rlen && !c->sess.quit &&
	    c->inflight < cfg->max_conn_inflight &&
	    c->out_bytes <= cfg->max_conn_pending) {
		n = vsd_resp_parse(c->rbuf + off, c->rlen - off,
		    cfg->max_message_bytes, &cmd, err, sizeof(err));
		if (n == VSD_RESP_NEED) {
			incomplete = 1;
			break;
		}
		if (n == VSD_RESP_ERROR) {
			vsd_warn("closing RESP connection from %s: %s",
			    c->peer, err);
			memset(&b, 0, sizeof(b));
			vsd_resp_error(&b, "ERR %s", err);
			c->sess.quit = 1;
			off = c->rlen;
			if (vsd_resp_answer(net, c, &b) != 0)
				rv = -1;
			break;
		}
		off += (size_t)n;
		if (vsd_resp_command(net, c, &cmd) != 0) {
			rv = -1;
			break;
		}
		/* send what is due now, so out_bytes (the loop's bound) is
		 * current; the connection may close (a write failed, or it
		 * was shed as the slowest reader) */
		if (c->phead != NULL && c->phead->done &&
		    vsd_resp_pipe_flush(net, c) != 0)
			return -1;
	}
	if (off > 0) {
		memmove(c->rbuf, c->rbuf + off, c->rlen - off);
		c->rlen -= off;
	}
	/* only a command that started and is not complete is timed: whole
	 * commands waiting for the connection's bounds are not its fault */
	c->partial_since = !incomplete ? 0 :
	    c->partial_since != 0 ? c->partial_since : vs_now_us();
	if (rv != 0) {
		vsd_conn_close(net, c, "out of memory");
		return -1;
	}
	return vsd_resp_pipe_flush(net, c);
}

/* Make room to read: grow the buffer within the bounds.  1 = room,
 * 0 = wait for memory, -1 = closed. */
static int
vsd_resp_room(struct vsd_net *net, struct vsd_conn *c)
{
	const struct vsd_config *cfg = net->srv->cfg;
	size_t max = cfg->max_message_bytes + VSD_RESP_RBUF_SLACK;
	size_t ncap;
	uint8_t *nb;
	uint32_t id = c->id, gen = c->gen;
	int rv;

	if (c->rbuf != NULL && c->rlen < c->rcap)
		return 1;
	ncap = c->rcap ? 2 * c->rcap : VSD_RESP_RBUF_MIN;
	if (ncap > max)
		ncap = max;
	if (ncap <= c->rcap) {
		/* cannot happen: resp.c refuses a command this large */
		vsd_conn_close(net, c, "RESP command larger than "
		    "--max-message-bytes");
		return -1;
	}
	rv = vsd_net_shed(net, ncap - c->rcap);
	if (vsd_conn_find(net, id, gen) == NULL)
		return -1;
	if (rv != 0) {
		if (!c->mem_wait) {
			c->mem_wait = 1;
			net->nmemwait++;
		}
		return 0;
	}
	if (c->mem_wait) {
		c->mem_wait = 0;
		net->nmemwait--;
	}
	if ((nb = realloc(c->rbuf, ncap)) == NULL) {
		vsd_conn_close(net, c, "out of memory for a request");
		return -1;
	}
	atomic_fetch_add(net->buffered, (long long)(ncap - c->rcap));
	c->rbuf = nb;
	c->rcap = ncap;
	return 1;
}

/* Go on with a TLS handshake.  1 = done, 0 = wait, -1 = closed. */
static int
vsd_resp_tls_handshake(struct vsd_net *net, struct vsd_conn *c)
{
	char err[200], why[260];
	int rv;

	if (c->tls == NULL || vsd_tls_handshake_done(c->tls))
		return 1;
	if ((rv = vsd_tls_handshake(c->tls, err, sizeof(err))) < 0) {
		/* plaintext to a TLS door, a certificate refused, ... */
		snprintf(why, sizeof(why), "TLS handshake failed: %s", err);
		vsd_conn_close(net, c, why);
		return -1;
	}
	if (rv == 0) {
		vsd_conn_watch(net, c);
		return 0;
	}
	c->partial_since = 0;           /* from now on, commands are timed */
	return 1;
}

void
vsd_resp_conn_read(struct vsd_net *net, struct vsd_conn *c)
{
	const struct vsd_config *cfg = net->srv->cfg;
	uint32_t id = c->id, gen = c->gen;
	ssize_t n;
	int rv;

	if (vsd_resp_tls_handshake(net, c) <= 0)
		return;
	for (;;) {
		if (vsd_resp_parse_all(net, c) != 0)
			return;
		if (c->sess.quit || c->inflight >= cfg->max_conn_inflight ||
		    c->out_bytes > cfg->max_conn_pending)
			break;          /* its bounds say wait */
		if ((rv = vsd_resp_room(net, c)) < 0)
			return;
		if (rv == 0)
			break;
		n = vsd_conn_recv(c, c->rbuf + c->rlen, c->rcap - c->rlen);
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
		c->rlen += (size_t)n;
	}
	if ((c = vsd_conn_find(net, id, gen)) != NULL &&
	    vsd_resp_conn_flushed(net, c) == 0)
		vsd_conn_watch(net, c);
}

int
vsd_resp_bind(struct vsd_net *net, const char *spec)
{
	const char *hostport = spec;
	char url[VSD_RESP_URL_MAX];

	if (strncmp(spec, VSD_RESP_TLS_SCHEME, strlen(VSD_RESP_TLS_SCHEME)) ==
	    0) {
		hostport = spec + strlen(VSD_RESP_TLS_SCHEME);
		if ((net->rtls = vsd_tls_new(net->srv->cfg)) == NULL)
			return -1;
	}
	if (strstr(hostport, "://") != NULL) {
		vsd_err("bad --resp-listen \"%s\": want HOST:PORT or "
		    "tls://HOST:PORT", spec);
		return -1;
	}
	snprintf(url, sizeof(url), "tcp://%s", hostport);
	if (vsd_net_bind(url, &net->rfd) != 0)
		return -1;
	vsd_info("serving the Redis protocol%s on %s",
	    net->rtls != NULL ? " over TLS" : "", hostport);
	return 0;
}
