/*
 * listener.c - the nng bridge: one REP socket for tls+tcp://, ipc://,
 * ws:// and wss:// listeners, and its slots.
 *
 * nng delivers each request to a slot, an nng_ctx with its own nng_aio
 * and a small state machine, modeled on nng's demo/async:
 *
 *   IDLE  dormant, on the idle list, no receive posted.
 *   RECV  receiving (VSD_ARMED_SLOTS at a time).  A request over
 *         --max-inflight is refused at once with RESOURCE_EXHAUSTED
 *         (queueing it would only make it miss its deadline later);
 *         while draining it is refused with UNAVAILABLE; otherwise it
 *         joins the workers' queue (WORK) and the event loop is woken
 *         (worker.c: the workers are fibers on net.c's thread).
 *   WORK  a worker owns the slot; its reply comes back through
 *         vsd_listener_reply().
 *   SEND  the reply left (or failed: the message is then still on the aio
 *         and ours to free); back to IDLE, and another slot is armed.
 *
 * So this bridge costs a request two thread hand-offs (nng's callback
 * thread -> the loop, the loop -> nng's sender), where a tcp:// request
 * served by net.c costs none: that is why tcp:// is native
 * (docs/architecture.md, with the figures).
 *
 * The listener enforces --max-message-bytes (NNG_OPT_RECVMAXSZ): nng closes
 * the connection of a client that sends more, without telling us.
 *
 * This file serves tls+tcp://, ipc:// and ws:// listeners only: a tcp://
 * listener is served by net.c without libnng (no socket is opened here),
 * because only there can vsetd bound and time out what each connection
 * buffers (docs/operations.md).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/supplemental/tls/tls.h>

#include "envelope.h"
#include "log.h"
#include "server.h"
#include "vs_time.h"
#include "vs_file.h"

/* Slots beyond --max-inflight, so that requests beyond the limit are
 * received and refused rather than left waiting unseen in nng. */
#define VSD_EXTRA_SLOTS 64
/* Slots kept receiving. */
#define VSD_ARMED_SLOTS 8

/* Admit a request that just arrived: 1 if it may run (counted in
 * inflight), else 0 with *refusal set to the reply to send instead
 * (RESOURCE_EXHAUSTED or UNAVAILABLE; NULL if out of memory).  The
 * request is freed when refused. */
static int
vsd_listener_admit(struct vsd_server *srv, nng_msg *req, nng_msg **refusal)
{
	uint64_t id;
	int code, n;
	const char *why;

	if (atomic_load(&srv->draining)) {
		code = VSD_UNAVAILABLE;
		why = "server is shutting down";
		goto refuse;
	}
	n = atomic_fetch_add(&srv->inflight, 1) + 1;
	if (n <= srv->cfg->max_inflight) {
		*refusal = NULL;
		return 1;
	}
	atomic_fetch_sub(&srv->inflight, 1);
	code = VSD_RESOURCE_EXHAUSTED;
	why = "server busy: too many requests in flight (--max-inflight)";
refuse:
	/* request_id is read straight off the wire: no decoding */
	id = vsd_envelope_peek_id(nng_msg_body(req), nng_msg_len(req));
	nng_msg_free(req);
	*refusal = vsd_reply_status(id, code, why);
	return 0;
}

void
vsd_listener_arm(struct vsd_server *srv)
{
	struct vsd_slot *arm = NULL, *slot;

	pthread_mutex_lock(&srv->mu);
	while (!srv->stopping &&
	    srv->narmed < VSD_ARMED_SLOTS && srv->idle != NULL) {
		slot = srv->idle;
		srv->idle = slot->next;
		slot->state = VSD_SLOT_RECV;
		slot->next = arm;
		arm = slot;
		srv->narmed++;
	}
	pthread_mutex_unlock(&srv->mu);
	while (arm != NULL) {
		slot = arm;
		arm = slot->next;
		nng_ctx_recv(slot->ctx, slot->aio);
	}
}

/* The slot is done with its request: back to the idle list. */
static void
vsd_slot_rest(struct vsd_slot *slot)
{
	struct vsd_server *srv = slot->srv;

	pthread_mutex_lock(&srv->mu);
	slot->state = VSD_SLOT_IDLE;
	slot->next = srv->idle;
	srv->idle = slot;
	pthread_mutex_unlock(&srv->mu);
	vsd_listener_arm(srv);
}

static void
vsd_slot_send(struct vsd_slot *slot, nng_msg *reply)
{
	if (reply == NULL) {
		/* Out of memory: drop the request; the client times out. */
		vsd_slot_rest(slot);
		return;
	}
	slot->state = VSD_SLOT_SEND;
	nng_aio_set_msg(slot->aio, reply);
	nng_ctx_send(slot->ctx, slot->aio);
}

/* A queued slot's reply, from a worker or the reaper (job->reply): the
 * request is done with; send the reply on the slot's context. */
static void
vsd_slot_job_reply(struct vsd_server *srv, struct vsd_job *job,
    nng_msg *reply)
{
	struct vsd_slot *slot = (struct vsd_slot *)job;

	(void)srv;
	nng_msg_free(slot->msg);
	slot->msg = NULL;
	vsd_listener_reply(slot, reply);
}

/* The slot's request as a queued job, with its deadline peeked. */
static void
vsd_slot_job(struct vsd_slot *slot)
{
	struct vsd_job *job = &slot->job;
	uint32_t deadline_ms;

	job->kind = VSD_JOB_SLOT;
	job->reply = vsd_slot_job_reply;
	job->body = nng_msg_body(slot->msg);
	job->len = nng_msg_len(slot->msg);
	job->recv_us = slot->recv_us;
	vsd_envelope_peek(job->body, job->len, &job->request_id, &deadline_ms);
	job->due_us = vsd_request_due_us(slot->srv->cfg, deadline_ms,
	    job->recv_us);
}

static void
vsd_slot_cb(void *arg)
{
	struct vsd_slot *slot = arg;
	struct vsd_server *srv = slot->srv;
	nng_msg *msg, *refusal;
	int rv;

	rv = nng_aio_result(slot->aio);
	switch (slot->state) {
	case VSD_SLOT_RECV:
		pthread_mutex_lock(&srv->mu);
		srv->narmed--;
		pthread_mutex_unlock(&srv->mu);
		if (rv != 0) {
			if (rv == NNG_ECLOSED || rv == NNG_ECANCELED)
				return;                 /* shutting down */
			vsd_slot_rest(slot);
			return;
		}
		msg = nng_aio_get_msg(slot->aio);
		nng_aio_set_msg(slot->aio, NULL);
		slot->recv_us = vs_now_us();
		vsd_listener_arm(srv);          /* a replacement */
		if (!vsd_listener_admit(srv, msg, &refusal)) {
			vsd_slot_send(slot, refusal);
			return;
		}
		slot->msg = msg;
		slot->state = VSD_SLOT_WORK;
		vsd_slot_job(slot);
		vsd_net_submit(srv, &slot->job);        /* wakes a loop */
		return;
	case VSD_SLOT_SEND:
		if (rv != 0) {
			msg = nng_aio_get_msg(slot->aio);
			nng_aio_set_msg(slot->aio, NULL);
			if (msg != NULL)
				nng_msg_free(msg);
			if (rv == NNG_ECLOSED || rv == NNG_ECANCELED)
				return;
		}
		vsd_slot_rest(slot);
		return;
	default:
		vsd_err("slot callback in state %d", slot->state);
		return;
	}
}

void
vsd_listener_reply(struct vsd_slot *slot, nng_msg *reply)
{
	atomic_fetch_sub(&slot->srv->inflight, 1);
	vsd_slot_send(slot, reply);
}

/* tls+tcp:// and wss:// listeners: our certificate and key, and
 * optionally a CA to verify (or require) client certificates. */
static int
vsd_listener_tls(struct vsd_server *srv)
{
	const struct vsd_config *cfg = srv->cfg;
	nng_tls_config *tls = NULL;
	char *cert = NULL, *key = NULL;
	int rv = -1, e;

	if ((cert = vs_read_file(cfg->tls_cert)) == NULL) {
		vsd_err("cannot read --tls-cert %s", cfg->tls_cert);
		goto out;
	}
	if ((key = vs_read_file(cfg->tls_key)) == NULL) {
		vsd_err("cannot read --tls-key %s", cfg->tls_key);
		goto out;
	}
	if ((e = nng_tls_config_alloc(&tls, NNG_TLS_MODE_SERVER)) != 0 ||
	    (e = nng_tls_config_own_cert(tls, cert, key, NULL)) != 0) {
		vsd_err("TLS certificate/key: %s", nng_strerror(e));
		goto out;
	}
	if (cfg->tls_ca != NULL &&
	    (e = nng_tls_config_ca_file(tls, cfg->tls_ca)) != 0) {
		vsd_err("--tls-ca %s: %s", cfg->tls_ca, nng_strerror(e));
		goto out;
	}
	if ((e = nng_tls_config_auth_mode(tls, cfg->tls_verify_clients ?
	    NNG_TLS_AUTH_MODE_REQUIRED : (cfg->tls_ca != NULL ?
	    NNG_TLS_AUTH_MODE_OPTIONAL : NNG_TLS_AUTH_MODE_NONE))) != 0 ||
	    (e = nng_listener_set_ptr(srv->listener, NNG_OPT_TLS_CONFIG,
	    tls)) != 0) {
		vsd_err("TLS setup: %s", nng_strerror(e));
		goto out;
	}
	rv = 0;
out:
	if (tls != NULL)
		nng_tls_config_free(tls);       /* the listener holds its own */
	free(cert);
	free(key);
	return rv;
}

/* The URL actually bound (vsd_url_bound). */
static void
vsd_bound_url(struct vsd_server *srv, char *bound, size_t boundlen)
{
	int port = 0;

	if (nng_listener_get_int(srv->listener, NNG_OPT_TCP_BOUND_PORT,
	    &port) != 0)
		port = 0;               /* ipc://: no port */
	vsd_url_bound(srv->cfg->listen, port, bound, boundlen);
}

int
vsd_listener_open(struct vsd_server *srv)
{
	const struct vsd_config *cfg = srv->cfg;
	int i, rv;

	if (srv->native)
		return 0;               /* net.c serves tcp:// */
	if ((rv = nng_rep0_open(&srv->sock)) != 0) {
		vsd_err("opening REP socket: %s", nng_strerror(rv));
		return -1;
	}
	if ((rv = nng_listener_create(&srv->listener, srv->sock,
	    cfg->listen)) != 0) {
		vsd_err("bad --listen \"%s\": %s", cfg->listen, nng_strerror(rv));
		return -1;
	}
	if ((rv = nng_listener_set_size(srv->listener, NNG_OPT_RECVMAXSZ,
	    cfg->max_message_bytes)) != 0) {
		vsd_err("setting the message size limit: %s", nng_strerror(rv));
		return -1;
	}
	if (vsd_listen_is_tls(cfg->listen) && vsd_listener_tls(srv) != 0)
		return -1;
	srv->nslots = cfg->max_inflight + VSD_EXTRA_SLOTS;
	if ((srv->slots = calloc((size_t)srv->nslots, sizeof(*srv->slots))) == NULL)
		return -1;
	for (i = 0; i < srv->nslots; i++) {
		struct vsd_slot *slot = &srv->slots[i];

		slot->srv = srv;
		if ((rv = nng_aio_alloc(&slot->aio, vsd_slot_cb, slot)) != 0 ||
		    (rv = nng_ctx_open(&slot->ctx, srv->sock)) != 0) {
			vsd_err("opening context %d: %s", i, nng_strerror(rv));
			return -1;
		}
		slot->state = VSD_SLOT_IDLE;
		slot->next = srv->idle;
		srv->idle = slot;
	}
	return 0;
}

int
vsd_listener_start(struct vsd_server *srv, char *bound, size_t boundlen)
{
	int rv;

	if (srv->native)
		return 0;
	if ((rv = nng_listener_start(srv->listener, 0)) != 0) {
		vsd_err("cannot listen on %s: %s", srv->cfg->listen,
		    nng_strerror(rv));
		return -1;
	}
	vsd_bound_url(srv, bound, boundlen);
	vsd_listener_arm(srv);
	return 0;
}

/* nng_close() on a helper thread, so a close that never finishes (seen
 * with nng 1.5.2 when clients keep sending during shutdown: it waits on
 * something internal forever) cannot keep the process from exiting. */
struct vsd_closer {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	nng_socket sock;
	int done;
};

static void *
vsd_closer_main(void *arg)
{
	struct vsd_closer *c = arg;

	nng_close(c->sock);
	pthread_mutex_lock(&c->mu);
	c->done = 1;
	pthread_cond_signal(&c->cv);
	pthread_mutex_unlock(&c->mu);
	return NULL;
}

/* 1 if the socket closed within ms. */
static int
vsd_close_bounded(nng_socket sock, int ms)
{
	static struct vsd_closer c;  /* outlives us if the close never ends */
	struct timespec until;
	pthread_t th;
	int done;

	pthread_mutex_init(&c.mu, NULL);
	pthread_cond_init(&c.cv, NULL);
	c.sock = sock;
	c.done = 0;
	if (pthread_create(&th, NULL, vsd_closer_main, &c) != 0) {
		nng_close(sock);
		return 1;
	}
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += ms / 1000;
	until.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&c.mu);
	while (!c.done)
		if (pthread_cond_timedwait(&c.cv, &c.mu, &until) != 0)
			break;
	done = c.done;
	pthread_mutex_unlock(&c.mu);
	if (done)
		pthread_join(th, NULL);
	else
		pthread_detach(th);
	return done;
}

void
vsd_listener_stop(struct vsd_server *srv)
{
	int i;

	if (srv->native)
		return;
	/* No new connections; cancel every slot's pending receive or send
	 * and wait for its callback (which does not resubmit on
	 * NNG_ECANCELED); after that no callback of ours can run again, so
	 * the slots can be freed whatever the socket close does. */
	nng_listener_close(srv->listener);
	for (i = 0; srv->slots != NULL && i < srv->nslots; i++)
		if (srv->slots[i].aio != NULL)
			nng_aio_stop(srv->slots[i].aio);
	if (!vsd_close_bounded(srv->sock, 1000))
		vsd_warn("closing the socket did not finish within 1 s "
		    "(nng 1.5.2); exiting without waiting for it");
	for (i = 0; srv->slots != NULL && i < srv->nslots; i++) {
		if (srv->slots[i].aio != NULL)
			nng_aio_free(srv->slots[i].aio);
		if (srv->slots[i].msg != NULL)
			nng_msg_free(srv->slots[i].msg);
	}
	free(srv->slots);
	srv->slots = NULL;
}
