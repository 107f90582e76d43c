/*
 * vs_internal.h - private to libvsetd-client.
 *
 * The library has two layers:
 *   vs_transport.c  a protobuf-c ProtobufCService whose invoke() carries a
 *                   request in a RequestEnvelope and hands the decoded
 *                   reply to the stub's closure: over nng REQ, or for
 *                   tcp:// over vs_sp.c's blocking sockets (no nng);
 *   vs_client.c     the vs_ API: converts between plain C structs and the
 *                   generated messages, and calls the generated stubs;
 *   vs_reshard.c    the same for the Reshard* calls (online resharding).
 * Errors travel between them through the thread-local last error below.
 */
#ifndef VS_INTERNAL_H
#define VS_INTERNAL_H

#include <protobuf-c/protobuf-c.h>
#include <nng/nng.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "vsetd.h"

/* How long a client waits past the deadline it sent: the server answers by
 * its deadline, and this covers the transit and a busy client machine. */
#define VS_REPLY_GRACE_MS 250

/* A request context and its aio, kept for reuse between calls. */
struct vs_chan {
	nng_ctx ctx;
	nng_aio *aio;
	struct vs_chan *next;
};

/* An idle tcp:// connection of the thin transport (vs_sp.c). */
struct vs_sp_conn {
	int fd;
	struct vs_sp_conn *next;
};

/* Bytes of a host name or address in a URL (the DNS limit, plus room). */
#define VS_HOST_MAX 256
#define VS_PORT_MAX 8
#define VS_URL_MAX 300

struct vs_client {
	ProtobufCService service;    /* must be first: stubs get &c->service */
	int sp;                      /* 1: tcp:// over vs_sp.c, no nng */
	nng_socket sock;             /* sp == 0 */
	nng_dialer dialer;
	int timeout_ms;
	pthread_mutex_t mu;          /* guards idle and sp_idle */
	struct vs_chan *idle;        /* free channels; vs_close frees them */
	struct vs_sp_conn *sp_idle;  /* sp: idle connections (vs_sp_free) */
	_Atomic uint32_t sp_next_id;
	char url[VS_URL_MAX];        /* for messages */
	char sp_host[VS_HOST_MAX], sp_port[VS_PORT_MAX];
};

/* The thin tcp:// transport (vs_sp.c).  vs_sp_connect: dial once, so that
 * vs_connect reports a server that is not there; 0 or a status code.
 * vs_sp_call: one request (a packed RequestEnvelope) and its reply body
 * (malloc'd, the caller frees), or NULL with the error recorded. */
int vs_sp_connect(struct vs_client *c);
uint8_t *vs_sp_call(struct vs_client *c, const uint8_t *req, size_t len,
    size_t *reply_len);
void vs_sp_free(struct vs_client *c);

/* Take a channel (reused, or opened) / give it back.  A channel whose call
 * failed is closed instead of kept, so no stale reply can reach the next
 * call on it. */
struct vs_chan *vs_chan_get(struct vs_client *c);
void vs_chan_put(struct vs_client *c, struct vs_chan *ch, int reusable);
void vs_chans_free(struct vs_client *c);

/* Record this thread's last status (message is copied, may be NULL). */
void vs_set_error(int code, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void vs_clear_error(void);

/* Initialise c->service so the generated vsetd__v1__vector_service__* stubs
 * route through nng.  The closure is called with the decoded response, or
 * NULL when there is none; the status is then in vs_errcode(). */
void vs_transport_init(struct vs_client *c);

/* One raw round trip: send env-wrapped req to method, return the reply
 * envelope (caller frees with vsetd__v1__reply_envelope__free_unpacked) or
 * NULL with the error recorded. */
struct Vsetd__V1__ReplyEnvelope *vs_transport_call(struct vs_client *c,
    const char *method, const uint8_t *req, size_t req_len);

/*
 * One typed call without the generated stubs: pack req, one transport
 * round trip to "/vsetd.v1.VectorService/<method>", unpack the reply with
 * out_desc.  The reply message is the caller's (free with
 * protobuf_c_message_free_unpacked(m, NULL)); NULL on any error, with the
 * last error set.  Used by the surface calls (vs_client.c) and the
 * resharding calls (vs_reshard.c).
 */
ProtobufCMessage *vs_rpc(struct vs_client *c, const char *method,
    const ProtobufCMessage *req, const ProtobufCMessageDescriptor *out_desc);

#endif
