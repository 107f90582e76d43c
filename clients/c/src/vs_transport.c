/*
 * vs_transport.c - protobuf-c RPC over nng REQ/REP (and, for tcp://,
 * over vs_sp.c's blocking sockets: same envelopes, no nng threads).
 *
 * protobuf-c generates, for `service VectorService`, stubs that call
 * service->invoke(service, method_index, input, closure, data).  This file
 * supplies that invoke: it packs the input, wraps it in a RequestEnvelope
 * naming "/vsetd.v1.VectorService/<Method>" and the deadline, sends it on a
 * fresh nng context of the client's REQ socket, waits for the ReplyEnvelope
 * and passes the unpacked response to the closure.  The response is freed
 * when the closure returns: closures copy what they keep.
 *
 * Why a context per call: an nng REQ context holds one request at a time,
 * so a context per call makes one vs_client safe to share between threads
 * at the cost of an allocation.
 *
 * The last error is thread-local so concurrent callers never see each
 * other's errors.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vs_internal.h"
#include "vsetd.pb-c.h"

static _Thread_local int vs_last_code;
static _Thread_local char vs_last_msg[512];

void
vs_set_error(int code, const char *fmt, ...)
{
	va_list ap;

	vs_last_code = code;
	if (fmt == NULL) {
		vs_last_msg[0] = '\0';
		return;
	}
	va_start(ap, fmt);
	vsnprintf(vs_last_msg, sizeof(vs_last_msg), fmt, ap);
	va_end(ap);
}

void
vs_clear_error(void)
{
	vs_last_code = VS_OK;
	vs_last_msg[0] = '\0';
}

const char *
vs_errmsg(void)
{
	return vs_last_msg;
}

int
vs_errcode(void)
{
	return vs_last_code;
}

/* nng error -> status for the caller.  A timeout while waiting for the
 * reply is the caller's deadline; anything about the connection means the
 * server is not reachable. */
static int
vs_nng_code(int rv)
{
	switch (rv) {
	case NNG_ETIMEDOUT:
		return VS_DEADLINE_EXCEEDED;
	case NNG_ENOMEM:
		return VS_RESOURCE_EXHAUSTED;
	case NNG_ECLOSED:
	case NNG_ECANCELED:
		return VS_CANCELLED;
	default:
		return VS_UNAVAILABLE;
	}
}

struct vs_chan *
vs_chan_get(struct vs_client *c)
{
	struct vs_chan *ch;
	int rv;

	pthread_mutex_lock(&c->mu);
	ch = c->idle;
	if (ch != NULL)
		c->idle = ch->next;
	pthread_mutex_unlock(&c->mu);
	if (ch != NULL)
		return ch;
	if ((ch = calloc(1, sizeof(*ch))) == NULL) {
		vs_set_error(VS_RESOURCE_EXHAUSTED, "out of memory");
		return NULL;
	}
	if ((rv = nng_ctx_open(&ch->ctx, c->sock)) != 0 ||
	    (rv = nng_aio_alloc(&ch->aio, NULL, NULL)) != 0) {
		vs_set_error(vs_nng_code(rv), "opening request context: %s",
		    nng_strerror(rv));
		if (nng_ctx_id(ch->ctx) > 0)
			nng_ctx_close(ch->ctx);
		free(ch);
		return NULL;
	}
	return ch;
}

static void
vs_chan_close(struct vs_chan *ch)
{
	nng_aio_free(ch->aio);
	nng_ctx_close(ch->ctx);
	free(ch);
}

void
vs_chan_put(struct vs_client *c, struct vs_chan *ch, int reusable)
{
	if (!reusable) {
		vs_chan_close(ch);
		return;
	}
	pthread_mutex_lock(&c->mu);
	ch->next = c->idle;
	c->idle = ch;
	pthread_mutex_unlock(&c->mu);
}

void
vs_chans_free(struct vs_client *c)
{
	struct vs_chan *ch, *next;

	for (ch = c->idle; ch != NULL; ch = next) {
		next = ch->next;
		vs_chan_close(ch);
	}
	c->idle = NULL;
}

/* The reply envelope of bytes[0..len): NULL with the error recorded. */
static Vsetd__V1__ReplyEnvelope *
vs_reply_unpack(const uint8_t *bytes, size_t len)
{
	Vsetd__V1__ReplyEnvelope *reply;

	reply = vsetd__v1__reply_envelope__unpack(NULL, len, bytes);
	if (reply == NULL) {
		vs_set_error(VS_INTERNAL, "undecodable reply envelope "
		    "(%zu bytes)", len);
		return NULL;
	}
	if (reply->status != NULL && (int)reply->status->code != VS_OK)
		vs_set_error((int)reply->status->code, "%s",
		    reply->status->message);
	else
		vs_clear_error();
	return reply;
}

/* tcp:// without nng (vs_sp.c). */
static Vsetd__V1__ReplyEnvelope *
vs_transport_sp(struct vs_client *c, const Vsetd__V1__RequestEnvelope *env)
{
	Vsetd__V1__ReplyEnvelope *reply = NULL;
	size_t len = vsetd__v1__request_envelope__get_packed_size(env), n = 0;
	uint8_t *buf, *body = NULL;

	if ((buf = malloc(len ? len : 1)) == NULL) {
		vs_set_error(VS_RESOURCE_EXHAUSTED, "out of memory");
		return NULL;
	}
	vsetd__v1__request_envelope__pack(env, buf);
	if ((body = vs_sp_call(c, buf, len, &n)) != NULL)
		reply = vs_reply_unpack(body, n);
	free(body);
	free(buf);
	return reply;
}

Vsetd__V1__ReplyEnvelope *
vs_transport_call(struct vs_client *c, const char *method,
    const uint8_t *req, size_t req_len)
{
	Vsetd__V1__RequestEnvelope env = VSETD__V1__REQUEST_ENVELOPE__INIT;
	Vsetd__V1__ReplyEnvelope *reply = NULL;
	struct vs_chan *ch = NULL;
	nng_msg *msg = NULL;
	int rv, ok = 0;
	size_t len;

	env.method = (char *)method;
	env.payload.data = (uint8_t *)req;
	env.payload.len = req_len;
	env.deadline_ms = (uint32_t)c->timeout_ms;
	if (c->sp)
		return vs_transport_sp(c, &env);
	len = vsetd__v1__request_envelope__get_packed_size(&env);

	if ((rv = nng_msg_alloc(&msg, len)) != 0) {
		vs_set_error(VS_RESOURCE_EXHAUSTED, "allocating request: %s",
		    nng_strerror(rv));
		goto out;
	}
	vsetd__v1__request_envelope__pack(&env, nng_msg_body(msg));
	if ((ch = vs_chan_get(c)) == NULL)
		goto out;
	/* The send only queues (REQ has no backpressure to wait on); the
	 * timeout that matters is the receive's: deadline plus grace. */
	nng_aio_set_timeout(ch->aio, c->timeout_ms + VS_REPLY_GRACE_MS);
	nng_aio_set_msg(ch->aio, msg);
	nng_ctx_send(ch->ctx, ch->aio);
	nng_aio_wait(ch->aio);
	if ((rv = nng_aio_result(ch->aio)) != 0) {
		/* On failure the message is still ours. */
		vs_set_error(vs_nng_code(rv), "sending to server: %s",
		    nng_strerror(rv));
		goto out;
	}
	msg = NULL;
	nng_aio_set_timeout(ch->aio, c->timeout_ms + VS_REPLY_GRACE_MS);
	nng_ctx_recv(ch->ctx, ch->aio);
	nng_aio_wait(ch->aio);
	if ((rv = nng_aio_result(ch->aio)) != 0) {
		vs_set_error(vs_nng_code(rv), "no reply from server: %s",
		    nng_strerror(rv));
		goto out;
	}
	msg = nng_aio_get_msg(ch->aio);
	nng_aio_set_msg(ch->aio, NULL);
	ok = 1;         /* the context finished its exchange: reusable */
	reply = vs_reply_unpack(nng_msg_body(msg), nng_msg_len(msg));
out:
	if (msg != NULL)
		nng_msg_free(msg);
	if (ch != NULL)
		vs_chan_put(c, ch, ok);
	return reply;
}

static void
vs_invoke(ProtobufCService *service, unsigned method_index,
    const ProtobufCMessage *input, ProtobufCClosure closure,
    void *closure_data)
{
	struct vs_client *c = (struct vs_client *)service;
	const ProtobufCMethodDescriptor *m;
	Vsetd__V1__ReplyEnvelope *reply = NULL;
	ProtobufCMessage *output = NULL;
	uint8_t *buf = NULL;
	char method[256];
	size_t len;

	m = &service->descriptor->methods[method_index];
	snprintf(method, sizeof(method), "/%s/%s", service->descriptor->name,
	    m->name);
	len = protobuf_c_message_get_packed_size(input);
	if ((buf = malloc(len ? len : 1)) == NULL) {
		vs_set_error(VS_RESOURCE_EXHAUSTED, "out of memory");
		goto out;
	}
	protobuf_c_message_pack(input, buf);
	if ((reply = vs_transport_call(c, method, buf, len)) == NULL)
		goto out;
	/* A non-OK status may still carry a payload (per-item write results). */
	if (reply->payload.len > 0 || reply->status == NULL ||
	    (int)reply->status->code == VS_OK) {
		output = protobuf_c_message_unpack(m->output, NULL,
		    reply->payload.len, reply->payload.data);
		if (output == NULL) {
			vs_set_error(VS_INTERNAL, "undecodable %s reply payload",
			    m->name);
			goto out;
		}
	}
out:
	closure(output, closure_data);
	if (output != NULL)
		protobuf_c_message_free_unpacked(output, NULL);
	if (reply != NULL)
		vsetd__v1__reply_envelope__free_unpacked(reply, NULL);
	free(buf);
}

static void
vs_destroy(ProtobufCService *service)
{
	(void)service;  /* the vs_client owns the memory; vs_close frees it */
}

void
vs_transport_init(struct vs_client *c)
{
	c->service.descriptor = &vsetd__v1__vector_service__descriptor;
	c->service.invoke = vs_invoke;
	c->service.destroy = vs_destroy;
}
