/*
 * fz_target.c - see fz_target.h.
 *
 * The fake server is built the way main.c and worker.c build the real one
 * (config from an argv, limits from the config, one breaker per shard, one
 * worker with its links, results and arena), except that every breaker is
 * forced open with a probe "in flight": vsd_health_admit() then refuses
 * the shard forever and vsd_links_run() never connects.  So the fuzzer
 * reaches validation, routing, shard accounting and reply packing without
 * a network, deterministically.
 *
 * The checks are the contract a client sees (proto/vsetd/v1/vsetd.proto):
 * a reply always decodes, echoes the request id when there is one, carries
 * a status in the gRPC range, a status message when not OK, and a payload
 * of the method's response type whenever one is present.  With no shard
 * reachable no write (Insert, Delete) can succeed, a Search only as OK
 * flagged partial with no shard ok and no hits, and a write's per-item
 * results must still list every item, in order, as failed.
 */
#include <limits.h>
#include <math.h>
#include <nng/nng.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "envelope.h"
#include "fz_target.h"
#include "log.h"
#include "merge.h"
#include "view.h"
#include "server.h"
#include "shard_reply.h"
#include "vs_time.h"
#include "validate.h"
#include "vsetd.pb-c.h"
#include "wire_check.h"

/* Same size as worker.c's VSD_ARENA_CHUNK, so arena growth behaves the
 * same as in the server. */
#define FZ_ARENA_CHUNK (256 * 1024)
#define FZ_MAX_CODE 16               /* UNAUTHENTICATED, the last gRPC code */

/* abort() rather than assert(): checks must also hold in -DNDEBUG builds. */
#define FZ_CHECK(cond) do {                                              \
	if (!(cond)) {                                                   \
		fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__,   \
		    __LINE__, #cond);                                    \
		abort();                                                 \
	}                                                                \
} while (0)

/* Same, showing the reply that broke the check. */
#define FZ_CHECK_REPLY(cond, re) do {                                    \
	if (!(cond)) {                                                   \
		fprintf(stderr, "%s:%d: check failed: %s\nreply: id %llu, " \
		    "status %d \"%s\", payload %zu bytes\n", __FILE__,     \
		    __LINE__, #cond, (unsigned long long)(re)->request_id,  \
		    (re)->status != NULL ? (int)(re)->status->code : 0,     \
		    (re)->status != NULL ? (re)->status->message : "",      \
		    (re)->payload.len);                                     \
		abort();                                                 \
	}                                                                \
} while (0)

static struct vsd_config fz_cfg;
static struct vsd_server fz_srv;
static struct vsd_worker fz_w;
static size_t fz_nhealth;
static int fz_stats;                 /* fz_w.lane.stats initialised */
static int fz_ready;

int
fz_setup(void)
{
	/* getopt may permute argv: give it writable strings. */
	static char a0[] = "vsetd-fuzz", a1[] = "--shard",
	    a2[] = "127.0.0.1:1", a3[] = "--shard", a4[] = "127.0.0.1:1";
	char *argv[] = { a0, a1, a2, a3, a4, NULL };
	size_t h;
	int rv;

	if (fz_ready)
		return 0;
	if ((rv = vsd_config_parse(&fz_cfg, 5, argv)) != VSD_CONFIG_RUN) {
		fprintf(stderr, "fz_setup: config parse returned %d\n", rv);
		return -1;
	}
	FZ_CHECK(fz_cfg.nshards == FZ_NSHARDS);
	/* Quiet: a fuzzer runs millions of inputs; debug lines would
	 * dominate its time. */
	vsd_log_set_level(VSD_LOG_ERROR);

	memset(&fz_srv, 0, sizeof(fz_srv));
	fz_srv.cfg = &fz_cfg;
	fz_srv.limits.max_batch = fz_cfg.max_batch;
	fz_srv.limits.max_k = fz_cfg.max_k;
	fz_srv.limits.max_dim = fz_cfg.max_dim;
	fz_srv.limits.max_id_bytes = fz_cfg.max_id_bytes;
	pthread_mutex_init(&fz_srv.mu, NULL);
	/* One breaker per endpoint (primary and replicas), as main.c. */
	fz_nhealth = (size_t)fz_cfg.nshards * VSD_MAX_ENDPOINTS;
	fz_srv.health = calloc(fz_nhealth, sizeof(*fz_srv.health));
	if (fz_srv.health == NULL)
		goto fail;
	for (h = 0; h < fz_nhealth; h++) {
		struct vsd_health *hp = &fz_srv.health[h];

		vsd_health_init(hp, (uint32_t)h);
		/* Open until the far future with a probe pending: admit
		 * refuses, and nothing ever closes it (no probe runs). */
		pthread_mutex_lock(&hp->mu);
		hp->open_until_us = INT64_MAX / 2;
		hp->probing = 1;
		hp->consecutive = VSD_BREAKER_THRESHOLD;
		snprintf(hp->last_error, sizeof(hp->last_error),
		    "fuzz: shard disabled");
		pthread_mutex_unlock(&hp->mu);
	}

	memset(&fz_w, 0, sizeof(fz_w));
	fz_w.srv = &fz_srv;
	fz_w.lane.cfg = &fz_cfg;
	fz_w.lane.lim = &fz_srv.limits;
	fz_w.lane.health = fz_srv.health;
	vsd_arena_init(&fz_w.lane.arena, FZ_ARENA_CHUNK);
	if (vsd_stats_init(&fz_w.lane.stats, fz_cfg.nshards) != 0)
		goto fail;
	fz_stats = 1;
	fz_w.lane.links = vsd_links_new(&fz_cfg, fz_srv.health,
	    &fz_w.lane.stats);
	fz_w.lane.res = calloc(fz_cfg.nshards, sizeof(*fz_w.lane.res));
	if (fz_w.lane.links == NULL || fz_w.lane.res == NULL)
		goto fail;
	/* no topology record: a stable layout of the configured shards */
	vsd_view_start(NULL, fz_cfg.nshards);
	fz_ready = 1;
	return 0;
fail:
	fprintf(stderr, "fz_setup: out of memory\n");
	fz_ready = 1;           /* so teardown frees the partial state */
	fz_teardown();
	return -1;
}

static void fz_reply_teardown(void);

void
fz_teardown(void)
{
	size_t h;

	fz_reply_teardown();
	if (!fz_ready)
		return;
	vsd_links_free(fz_w.lane.links);
	free(fz_w.lane.res);
	if (fz_stats)
		vsd_stats_fini(&fz_w.lane.stats);
	fz_stats = 0;
	vsd_arena_fini(&fz_w.lane.arena);
	for (h = 0; fz_srv.health != NULL && h < fz_nhealth; h++)
		vsd_health_fini(&fz_srv.health[h]);
	free(fz_srv.health);
	pthread_mutex_destroy(&fz_srv.mu);
	vsd_config_fini(&fz_cfg);
	memset(&fz_w, 0, sizeof(fz_w));
	memset(&fz_srv, 0, sizeof(fz_srv));
	fz_ready = 0;
}

/* ------------------------------------------------------------ envelope */

/* Pack a reply carrying what the request decoded to, decode it again and
 * compare: the server's replies must survive a client's decoder. */
static void
fz_reply_roundtrip(const Vsetd__V1__RequestEnvelope *env)
{
	Vsetd__V1__ReplyEnvelope *re;
	int code = (int)(env->deadline_ms % (FZ_MAX_CODE + 1));
	size_t n, packed;
	uint8_t *buf;

	n = vsd_envelope_reply_size(env->request_id, code, env->method,
	    env->payload.data, env->payload.len);
	FZ_CHECK((buf = malloc(n != 0 ? n : 1)) != NULL);
	packed = vsd_envelope_reply_pack(env->request_id, code, env->method,
	    env->payload.data, env->payload.len, buf);
	FZ_CHECK(packed == n);
	re = vsetd__v1__reply_envelope__unpack(NULL, n, buf);
	FZ_CHECK(re != NULL);
	FZ_CHECK(re->request_id == env->request_id);
	FZ_CHECK(re->payload.len == env->payload.len);
	FZ_CHECK(env->payload.len == 0 ||
	    memcmp(re->payload.data, env->payload.data, env->payload.len) == 0);
	if (code == 0) {
		FZ_CHECK(re->status == NULL);
	} else {
		FZ_CHECK(re->status != NULL);
		FZ_CHECK((int)re->status->code == code);
		FZ_CHECK(strcmp(re->status->message, env->method) == 0);
	}
	vsetd__v1__reply_envelope__free_unpacked(re, NULL);
	free(buf);
}

/* What a client does with reply bytes: decode, re-encode, decode again;
 * both decodes must agree. */
static void
fz_client_reply(const uint8_t *data, size_t size)
{
	Vsetd__V1__ReplyEnvelope *a, *b;
	uint8_t *buf;
	size_t n;

	if ((a = vsetd__v1__reply_envelope__unpack(NULL, size, data)) == NULL)
		return;
	n = vsetd__v1__reply_envelope__get_packed_size(a);
	FZ_CHECK((buf = malloc(n != 0 ? n : 1)) != NULL);
	FZ_CHECK(vsetd__v1__reply_envelope__pack(a, buf) == n);
	b = vsetd__v1__reply_envelope__unpack(NULL, n, buf);
	if (b == NULL) {
		/* protobuf-c 1.4.1 quirk, not ours: it keeps an unknown field
		 * whose key is field number 0 written as a non-minimal varint
		 * (80 00) but refuses the minimal key (00) it re-encodes it
		 * with (seed corpus/envelope/reply-unknown-field-0.bin).  Only
		 * a message with unknown fields (at the top or in status) may
		 * fail to decode again. */
		FZ_CHECK(a->base.n_unknown_fields > 0 || (a->status != NULL &&
		    a->status->base.n_unknown_fields > 0));
		goto out;
	}
	FZ_CHECK(b->request_id == a->request_id);
	FZ_CHECK((a->status == NULL) == (b->status == NULL));
	FZ_CHECK(a->status == NULL || (a->status->code == b->status->code &&
	    strcmp(a->status->message, b->status->message) == 0));
	FZ_CHECK(a->payload.len == b->payload.len);
	FZ_CHECK(a->payload.len == 0 ||
	    memcmp(a->payload.data, b->payload.data, a->payload.len) == 0);
	vsetd__v1__reply_envelope__free_unpacked(b, NULL);
out:
	vsetd__v1__reply_envelope__free_unpacked(a, NULL);
	free(buf);
}

void
fz_envelope_one(const uint8_t *data, size_t size)
{
	Vsetd__V1__RequestEnvelope *env;
	struct vsd_status st;
	uint64_t peeked;

	memset(&st, 0, sizeof(st));
	env = vsd_envelope_decode(data, size, &st);
	peeked = vsd_envelope_peek_id(data, size);
	if (env == NULL) {
		FZ_CHECK(st.code == VSD_INVALID_ARGUMENT);
		FZ_CHECK(st.msg[0] != '\0');
	} else {
		FZ_CHECK(env->method != NULL && env->method[0] != '\0');
		/* Refusals made before decoding (server busy, draining) use
		 * the peeked id: it must be the id the decoder sees. */
		FZ_CHECK(peeked == env->request_id);
		fz_reply_roundtrip(env);
		vsetd__v1__request_envelope__free_unpacked(env, NULL);
	}
	fz_client_reply(data, size);
}

/* ------------------------------------------------------------ dispatch */

/* The method of the service named by a full "/pkg.Service/Name", or
 * NULL.  Independent of dispatch.c's own table on purpose. */
static const ProtobufCMethodDescriptor *
fz_method(const char *full)
{
	const ProtobufCServiceDescriptor *sd =
	    &vsetd__v1__vector_service__descriptor;
	size_t n = strlen(sd->name);
	unsigned i;

	if (full[0] != '/' || strncmp(full + 1, sd->name, n) != 0 ||
	    full[n + 1] != '/')
		return NULL;
	for (i = 0; i < sd->n_methods; i++)
		if (strcmp(full + n + 2, sd->methods[i].name) == 0)
			return &sd->methods[i];
	return NULL;
}

static int
fz_is_data_method(const ProtobufCMethodDescriptor *md)
{
	return md->input == &vsetd__v1__insert_request__descriptor ||
	    md->input == &vsetd__v1__delete_request__descriptor ||
	    md->input == &vsetd__v1__search_request__descriptor;
}

/* Item count and id of item i of a write request, by input type. */
static size_t
fz_write_count(const ProtobufCMessage *in)
{
	if (in->descriptor == &vsetd__v1__insert_request__descriptor)
		return ((const Vsetd__V1__InsertRequest *)in)->n_items;
	return ((const Vsetd__V1__DeleteRequest *)in)->n_ids;
}

static const char *
fz_write_id(const ProtobufCMessage *in, size_t i)
{
	if (in->descriptor == &vsetd__v1__insert_request__descriptor)
		return ((const Vsetd__V1__InsertRequest *)in)->items[i]->id;
	return ((const Vsetd__V1__DeleteRequest *)in)->ids[i];
}

/* A write response's items: every request item, in order, failed (no
 * shard is reachable), on a shard that exists. */
static void
fz_check_writes(const ProtobufCMessage *in, size_t nres,
    Vsetd__V1__ItemResult **res, const Vsetd__V1__ShardSummary *sum)
{
	size_t i;

	FZ_CHECK(nres == fz_write_count(in));
	for (i = 0; i < nres; i++) {
		FZ_CHECK(strcmp(res[i]->id, fz_write_id(in, i)) == 0);
		FZ_CHECK(res[i]->outcome ==
		    VSETD__V1__WRITE_OUTCOME__WRITE_FAILED);
		FZ_CHECK(res[i]->code != VSETD__V1__CODE__OK);
		FZ_CHECK(res[i]->shard < FZ_NSHARDS);
	}
	FZ_CHECK(sum != NULL && sum->ok == 0 && sum->total <= FZ_NSHARDS);
}

/* A reply payload must be the method's response type and agree with the
 * request (called for every OK reply and every non-empty payload). */
static void
fz_check_payload(const ProtobufCMethodDescriptor *md,
    const ProtobufCMessage *in, const ProtobufCBinaryData *payload)
{
	ProtobufCMessage *out;

	out = protobuf_c_message_unpack(md->output, NULL, payload->len,
	    payload->data);
	FZ_CHECK(out != NULL);
	if (out->descriptor == &vsetd__v1__insert_response__descriptor) {
		const Vsetd__V1__InsertResponse *r = (const void *)out;

		FZ_CHECK(in->descriptor == &vsetd__v1__insert_request__descriptor);
		fz_check_writes(in, r->n_results, r->results, r->shards);
		FZ_CHECK(r->failed == r->n_results && r->added == 0 &&
		    r->updated == 0);
	} else if (out->descriptor == &vsetd__v1__delete_response__descriptor) {
		const Vsetd__V1__DeleteResponse *r = (const void *)out;

		FZ_CHECK(in->descriptor == &vsetd__v1__delete_request__descriptor);
		fz_check_writes(in, r->n_results, r->results, r->shards);
		FZ_CHECK(r->failed == r->n_results && r->deleted == 0 &&
		    r->not_found == 0);
	} else if (out->descriptor == &vsetd__v1__search_response__descriptor) {
		const Vsetd__V1__SearchResponse *r = (const void *)out;

		/* No shard answered: no hit can come from anywhere. */
		FZ_CHECK(r->n_results == 0 && r->partial);
	}
	protobuf_c_message_free_unpacked(out, NULL);
}

/* The breakers as fz_setup() left them: an op that was refused a shard
 * must not report on it (success, failure or release of a probe it never
 * owned), and nothing may have connected. */
static void
fz_check_breakers(void)
{
	size_t h;

	for (h = 0; h < fz_nhealth; h++) {
		struct vsd_health *hp = &fz_srv.health[h];
		int64_t until;
		int probing;

		pthread_mutex_lock(&hp->mu);
		until = hp->open_until_us;
		probing = hp->probing;
		pthread_mutex_unlock(&hp->mu);
		if (until != INT64_MAX / 2 || probing != 1) {
			fprintf(stderr, "breaker %zu (shard %zu endpoint %zu) "
			    "changed: open_until_us %lld, probing %d\n", h,
			    h / VSD_MAX_ENDPOINTS, h % VSD_MAX_ENDPOINTS,
			    (long long)until, probing);
			abort();
		}
	}
}

/* One request message through vsd_dispatch(), as worker.c runs it, and
 * its reply checked against an independent decode of the request. */
static void
fz_dispatch_msg(const uint8_t *data, size_t size)
{
	const ProtobufCMethodDescriptor *md;
	Vsetd__V1__RequestEnvelope *env;
	Vsetd__V1__ReplyEnvelope *re;
	struct vsd_status wst;
	ProtobufCMessage *in = NULL;
	nng_msg *req, *reply;

	FZ_CHECK(nng_msg_alloc(&req, size) == 0);
	if (size != 0)
		memcpy(nng_msg_body(req), data, size);
	reply = vsd_dispatch(&fz_w.lane, req, vs_now_us());
	nng_msg_free(req);
	vsd_arena_reset(&fz_w.lane.arena);
	fz_check_breakers();

	/* NULL means out of memory; the fuzzer's inputs are far too small
	 * for that to be legitimate. */
	FZ_CHECK(reply != NULL);
	re = vsetd__v1__reply_envelope__unpack(NULL, nng_msg_len(reply),
	    nng_msg_body(reply));
	FZ_CHECK(re != NULL);
	nng_msg_free(reply);

	/* A status is only sent for failures, and always says why. */
	FZ_CHECK_REPLY(re->status == NULL || (re->status->code > 0 &&
	    re->status->code <= FZ_MAX_CODE &&
	    re->status->message[0] != '\0'), re);

	env = vsetd__v1__request_envelope__unpack(NULL, size, data);
	if (env == NULL || env->method[0] == '\0' ||
	    vsd_wire_check(&vsetd__v1__request_envelope__descriptor, data,
	    size, 0, "request envelope", &wst) != VSD_OK) {
		/* Not decodable, no method, or refused before decoding (a NUL
		 * in a string, too many unknown fields): INVALID_ARGUMENT,
		 * echoing whatever request id the bytes carry. */
		FZ_CHECK_REPLY(re->status != NULL &&
		    re->status->code == VSETD__V1__CODE__INVALID_ARGUMENT, re);
		FZ_CHECK_REPLY(re->request_id == vsd_envelope_peek_id(data,
		    size) && re->payload.len == 0, re);
		goto out;
	}
	FZ_CHECK_REPLY(re->request_id == env->request_id, re);
	if ((md = fz_method(env->method)) == NULL) {
		FZ_CHECK_REPLY(re->status != NULL &&
		    re->status->code == VSETD__V1__CODE__UNIMPLEMENTED, re);
		FZ_CHECK_REPLY(re->payload.len == 0, re);
		goto out;
	}
	in = protobuf_c_message_unpack(md->input, NULL, env->payload.len,
	    env->payload.data);
	if (in == NULL) {
		/* A slow machine may run out the deadline first; a method
		 * of the proto that this server lacks is refused before its
		 * payload is read. */
		FZ_CHECK_REPLY(re->status != NULL &&
		    (re->status->code == VSETD__V1__CODE__INVALID_ARGUMENT ||
		    re->status->code == VSETD__V1__CODE__DEADLINE_EXCEEDED ||
		    re->status->code == VSETD__V1__CODE__UNIMPLEMENTED), re);
		FZ_CHECK_REPLY(re->payload.len == 0, re);
		goto out;
	}
	/* The data methods need shards, and none is reachable: none of them
	 * may claim success.  (Other methods, say a health check, may.) */
	if (fz_is_data_method(md) && re->status == NULL) {
		/* Only a Search may be OK with no shard: flagged partial,
		 * with no shard counted ok (protocol.md 7, issue 12 #11). */
		Vsetd__V1__SearchResponse *sr = NULL;

		FZ_CHECK_REPLY(md->input ==
		    &vsetd__v1__search_request__descriptor, re);
		sr = vsetd__v1__search_response__unpack(NULL,
		    re->payload.len, re->payload.data);
		FZ_CHECK_REPLY(sr != NULL && sr->partial && sr->shards !=
		    NULL && sr->shards->ok == 0 && sr->n_results == 0, re);
		vsetd__v1__search_response__free_unpacked(sr, NULL);
	}
	if (re->status == NULL || re->payload.len != 0)
		fz_check_payload(md, in, &re->payload);
out:
	if (in != NULL)
		protobuf_c_message_free_unpacked(in, NULL);
	if (env != NULL)
		vsetd__v1__request_envelope__free_unpacked(env, NULL);
	vsetd__v1__reply_envelope__free_unpacked(re, NULL);
}

/* data as the payload of a well-formed envelope for method md. */
static void
fz_dispatch_payload(const ProtobufCMethodDescriptor *md, const uint8_t *data,
    size_t size, uint64_t request_id)
{
	Vsetd__V1__RequestEnvelope env = VSETD__V1__REQUEST_ENVELOPE__INIT;
	const char *service = vsetd__v1__vector_service__descriptor.name;
	char method[256];
	uint8_t *buf;
	size_t n;

	snprintf(method, sizeof(method), "/%s/%s", service, md->name);
	env.method = method;
	env.payload.data = (uint8_t *)data;
	env.payload.len = size;
	env.request_id = request_id;
	n = vsetd__v1__request_envelope__get_packed_size(&env);
	FZ_CHECK((buf = malloc(n)) != NULL);
	FZ_CHECK(vsetd__v1__request_envelope__pack(&env, buf) == n);
	fz_dispatch_msg(buf, n);
	free(buf);
}

void
fz_dispatch_one(const uint8_t *data, size_t size)
{
	const ProtobufCServiceDescriptor *sd =
	    &vsetd__v1__vector_service__descriptor;
	unsigned i;

	FZ_CHECK(fz_ready);
	fz_dispatch_msg(data, size);
	for (i = 0; i < sd->n_methods; i++)
		fz_dispatch_payload(&sd->methods[i], data, size,
		    0x8000000000000000ull | (uint64_t)(size * 131 + i));
}

/* --------------------------------------------------------------- reply */

#define FZ_REPLY_SHARDS 3
#define FZ_REPLY_HEADER 3
#define FZ_REPLY_MAX_PIECE 64
#define FZ_REPLY_EPSILON 0.25

/* Small limits, so the fuzzer reaches every cap with small inputs: 16
 * KiB per reply (4 x 4 KiB messages), 1024 elements per array, ids of 64
 * bytes. */
static struct vsd_config fz_rcfg;
static struct vsd_limits fz_rlim;
static int fz_rready;

static int
fz_reply_setup(void)
{
	static char a0[] = "vsetd-fuzz", a1[] = "--shard", a2[] = "127.0.0.1:1",
	    a3[] = "--max-message-bytes", a4[] = "4096", a5[] = "--max-k",
	    a6[] = "16", a7[] = "--max-id-bytes", a8[] = "64",
	    a9[] = "--max-dim", a10[] = "64", a11[] = "--max-batch",
	    a12[] = "16";
	char *argv[] = { a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11,
	    a12, NULL };

	if (fz_rready)
		return 0;
	if (vsd_config_parse(&fz_rcfg, 13, argv) != VSD_CONFIG_RUN)
		return -1;
	vsd_log_set_level(VSD_LOG_ERROR);
	fz_rlim.max_batch = fz_rcfg.max_batch;
	fz_rlim.max_k = fz_rcfg.max_k;
	fz_rlim.max_dim = fz_rcfg.max_dim;
	fz_rlim.max_id_bytes = fz_rcfg.max_id_bytes;
	fz_rready = 1;
	return 0;
}

static void
fz_reply_teardown(void)
{
	if (!fz_rready)
		return;
	vsd_config_fini(&fz_rcfg);
	fz_rready = 0;
}

/* What the client gets: the merged hits as a SearchResponse, packed and
 * decoded again. */
static void
fz_reply_pack(const struct vsd_hit *hits, size_t top)
{
	Vsetd__V1__SearchResponse resp = VSETD__V1__SEARCH_RESPONSE__INIT, *back;
	Vsetd__V1__SearchHit hm[FZ_REPLY_SHARDS * FZ_REPLY_MAX_K];
	Vsetd__V1__SearchHit *hp[FZ_REPLY_SHARDS * FZ_REPLY_MAX_K];
	uint8_t *buf;
	size_t i, n;

	for (i = 0; i < top; i++) {
		vsetd__v1__search_hit__init(&hm[i]);
		hm[i].id = (char *)hits[i].id;
		hm[i].score = hits[i].score;
		hm[i].shard = hits[i].shard;
		hp[i] = &hm[i];
	}
	resp.results = hp;
	resp.n_results = top;
	n = vsetd__v1__search_response__get_packed_size(&resp);
	FZ_CHECK((buf = malloc(n != 0 ? n : 1)) != NULL);
	FZ_CHECK(vsetd__v1__search_response__pack(&resp, buf) == n);
	back = vsetd__v1__search_response__unpack(NULL, n, buf);
	FZ_CHECK(back != NULL);
	FZ_CHECK(back->n_results == top);
	for (i = 0; i < top; i++) {
		FZ_CHECK(strcmp(back->results[i]->id, hits[i].id) == 0);
		FZ_CHECK(back->results[i]->score == hits[i].score);
	}
	vsetd__v1__search_response__free_unpacked(back, NULL);
	free(buf);
}

void
fz_reply_one(const uint8_t *data, size_t size)
{
	struct vsd_hit hits[FZ_REPLY_SHARDS * FZ_REPLY_MAX_K];
	redisReply *replies[FZ_REPLY_SHARDS] = { NULL };
	struct vsd_vsim_shape shape;
	redisContext ctx;
	redisReader *rd;
	size_t nshards, k, piece, pos, got = 0, nhits = 0, top, i, j;
	int epsilon, failed = 0;
	char msg[256], why[160];
	struct vsd_status st;
	void *reply;

	FZ_CHECK(fz_reply_setup() == 0);
	if (size < FZ_REPLY_HEADER)
		return;
	nshards = 1 + (data[0] & 3) % FZ_REPLY_SHARDS;
	shape.stride = (data[0] & 4) ? 3 : 2;
	epsilon = (data[0] & 8) != 0;
	k = 1 + data[1] % FZ_REPLY_MAX_K;
	piece = 1 + data[2] % FZ_REPLY_MAX_PIECE;
	shape.count = (uint32_t)k;
	shape.lim = &fz_rlim;

	FZ_CHECK((rd = redisReaderCreate()) != NULL);
	vsd_reply_reader_limit(rd, &fz_rcfg);
	memset(&ctx, 0, sizeof(ctx));
	ctx.reader = rd;
	/* Feed piece by piece, taking replies as they complete, as
	 * shards.c does after each read. */
	for (pos = FZ_REPLY_HEADER; pos < size && got < nshards && !failed;
	    pos += piece) {
		size_t n = size - pos < piece ? size - pos : piece;

		if (redisReaderFeed(rd, (const char *)data + pos, n) !=
		    REDIS_OK || vsd_reply_buffer_check(&ctx, &fz_rcfg, msg,
		    sizeof(msg)) != 0) {
			failed = 1;
			break;
		}
		while (got < nshards) {
			if (redisReaderGetReply(rd, &reply) != REDIS_OK) {
				vsd_reply_error_text(rd->errstr, msg,
				    sizeof(msg));
				FZ_CHECK(strncmp(msg, "protocol error: ", 16) ==
				    0);
				failed = 1;
				break;
			}
			if (reply == NULL)
				break;
			replies[got++] = reply;
		}
	}
	/* A shard whose reply did not arrive (or broke the reader) adds
	 * nothing; an error reply is the request's problem, not a hit. */
	for (i = 0; i < got; i++) {
		size_t before = nhits;

		if (replies[i]->type == REDIS_REPLY_ERROR)
			continue;
		if (vsd_vsim_parse(replies[i], &shape, (uint32_t)i, hits,
		    &nhits, why, sizeof(why)) != 0) {
			FZ_CHECK(nhits == before);
			FZ_CHECK(why[0] != '\0');
			continue;
		}
		FZ_CHECK(nhits - before <= k);
	}
	FZ_CHECK(nhits <= nshards * k);
	top = vsd_merge_topk(hits, nhits, k);
	if (epsilon)
		while (top > 0 && hits[top - 1].score < 1 - FZ_REPLY_EPSILON)
			top--;
	FZ_CHECK(top <= k && top <= nhits);
	for (i = 0; i < top; i++) {
		FZ_CHECK(isfinite(hits[i].score));
		FZ_CHECK(hits[i].score >= -VSD_SCORE_SLACK &&
		    hits[i].score <= 1 + VSD_SCORE_SLACK);
		FZ_CHECK(hits[i].id != NULL && strlen(hits[i].id) ==
		    hits[i].id_len);
		FZ_CHECK(vsd_check_id(hits[i].id, &fz_rlim, "id", &st) ==
		    VSD_OK);
		FZ_CHECK(hits[i].shard < nshards);
		if (i > 0)
			FZ_CHECK(vsd_hit_cmp(&hits[i - 1], &hits[i]) < 0);
		for (j = 0; j < i; j++)
			FZ_CHECK(hits[j].id_len != hits[i].id_len ||
			    memcmp(hits[j].id, hits[i].id, hits[i].id_len) != 0);
	}
	fz_reply_pack(hits, top);
	for (i = 0; i < got; i++)
		freeReplyObject(replies[i]);
	redisReaderFree(rd);
}
