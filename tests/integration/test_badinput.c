/*
 * test_badinput.c - bad requests get a precise error, and the server lives.
 *
 * Three ways in, because they exercise different code: the typed vs_ API
 * (well-formed messages with bad values), vs_call_raw (a well-formed
 * envelope around a bad payload, or to an unknown method) and a bare nng
 * REQ socket (bytes that are not an envelope at all, checked against the
 * ReplyEnvelope the server sends back).  Each error checks the status code
 * and that the message names the problem (a word a user would grep for),
 * and each test ends by checking that a normal search still works: one bad
 * client must not take the service down.
 *
 * vsetd runs with small limits (--max-message-bytes 65536, --max-k 100,
 * --max-dim 64, --max-batch 100) so the limits are cheap to cross.
 */
#include <ctype.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>

#include "harness.h"
#include "testutil.h"
#include "vs_hash.h"
#include "vsetd.h"
#include "vsetd.pb-c.h"

#define NSHARDS 2
#define NITEMS 30
#define DIM 16
#define COLL "bad"
#define MAX_MSG 65536
#define MAX_K 100
#define MAX_DIM 64
#define MAX_BATCH 100
#define RAW_TIMEOUT_MS 2000

#define M_INSERT "/vsetd.v1.VectorService/Insert"
#define M_DELETE "/vsetd.v1.VectorService/Delete"
#define M_SEARCH "/vsetd.v1.VectorService/Search"

struct bad {
	struct tu_fixture f;
	char ids[NITEMS][16];
	float vec[NITEMS][DIM];
};

static int
group_setup(void **state)
{
	static const char *const args[] = {
		"--max-message-bytes", "65536", "--max-k", "100",
		"--max-dim", "64", "--max-batch", "100", NULL,
	};
	vs_item items[NITEMS];
	struct bad *t;

	if ((t = tu_state_new(sizeof(*t), NSHARDS, args)) == NULL)
		return -1;
	tu_items_make(items, NITEMS, t->ids[0], sizeof(t->ids[0]), t->vec[0],
	    DIM, "b-%02d", 0x5eed0005);
	if (tu_insert_new(t->f.cli, COLL, items, NITEMS) != 0) {
		tu_state_free(t);
		return -1;
	}
	*state = t;
	return 0;
}

/* ------------------------------------------------------------ helpers */

/* The server still answers a normal search, fully. */
static void
assert_alive(struct bad *t)
{
	assert_int_equal(tu_search_ok(t->f.cli, COLL, t->vec[3], DIM), 10);
}

/* Whether word occurs in msg as a whole word (not inside a longer one). */
static int
has_word(const char *msg, const char *word)
{
	size_t n = strlen(word);
	const char *p;

	for (p = strcasestr(msg, word); p != NULL; p = strcasestr(p + 1, word)) {
		int before = p == msg || !(isalnum((unsigned char)p[-1]) ||
		    p[-1] == '_');
		int after = !(isalnum((unsigned char)p[n]) || p[n] == '_');

		if (before && after)
			return 1;
	}
	return 0;
}

#define EXPECT_ERR(rv, code, word) \
	expect_err((rv), (code), vs_errmsg(), (word), __LINE__)

/* rv must be code, and msg must name the problem (word). */
static void
expect_err(int rv, int code, const char *msg, const char *word, int line)
{
	fprintf(stderr, "# line %d: %s \"%s\"\n", line, vs_code_name(rv), msg);
	if (rv != code)
		fail_msg("line %d: got %s (\"%s\"), want %s", line,
		    vs_code_name(rv), msg, vs_code_name(code));
	if (!has_word(msg, word))
		fail_msg("line %d: message \"%s\" does not name \"%s\"", line,
		    msg, word);
}

/* Serialize m; the buffer is the caller's (free). */
static uint8_t *
pack(const ProtobufCMessage *m, size_t *len)
{
	uint8_t *buf;

	*len = protobuf_c_message_get_packed_size(m);
	buf = malloc(*len > 0 ? *len : 1);
	assert_non_null(buf);
	protobuf_c_message_pack(m, buf);
	return buf;
}

/* An envelope for method around payload; the buffer is the caller's. */
static uint8_t *
pack_envelope(const char *method, const uint8_t *payload, size_t plen,
    uint64_t request_id, size_t *len)
{
	Vsetd__V1__RequestEnvelope env = VSETD__V1__REQUEST_ENVELOPE__INIT;

	env.method = (char *)method;
	env.payload.data = (uint8_t *)payload;
	env.payload.len = plen;
	env.deadline_ms = RAW_TIMEOUT_MS;
	env.request_id = request_id;
	return pack(&env.base, len);
}

/* Send buf as one message on a fresh REQ socket and decode the reply.
 * Returns 0 with *out (freed with vsetd__v1__reply_envelope__free_unpacked)
 * or the nng error (e.g. NNG_ETIMEDOUT) with *out NULL. */
static int
raw_call(struct bad *t, const void *buf, size_t len,
    Vsetd__V1__ReplyEnvelope **out)
{
	nng_socket s;
	void *rbuf = NULL;
	size_t rlen = 0;
	int rv;

	*out = NULL;
	if ((rv = nng_req0_open(&s)) != 0)
		return rv;
	nng_socket_set_ms(s, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE);
	nng_socket_set_ms(s, NNG_OPT_RECVTIMEO, RAW_TIMEOUT_MS);
	nng_socket_set_ms(s, NNG_OPT_SENDTIMEO, RAW_TIMEOUT_MS);
	if ((rv = nng_dial(s, h_vsetd_url(t->f.cl), NULL, 0)) != 0)
		goto out;
	if ((rv = nng_send(s, (void *)buf, len, 0)) != 0)
		goto out;
	if ((rv = nng_recv(s, &rbuf, &rlen, NNG_FLAG_ALLOC)) != 0)
		goto out;
	*out = vsetd__v1__reply_envelope__unpack(NULL, rlen, rbuf);
	nng_free(rbuf, rlen);
	if (*out == NULL)
		fail_msg("the server's reply is not a ReplyEnvelope");
out:
	nng_close(s);
	return rv;
}

/* A raw reply must carry code, a message naming word, and our id. */
static void
expect_env_err(const Vsetd__V1__ReplyEnvelope *env, uint64_t request_id,
    int code, const char *word, int line)
{
	assert_non_null(env);
	assert_non_null(env->status);
	expect_err((int)env->status->code, code, env->status->message, word,
	    line);
	assert_int_equal(env->request_id, request_id);
}

/* vs_call_raw, dropping whatever payload came back; returns the code. */
static int
call_raw(struct bad *t, const char *method, const void *req, size_t len)
{
	void *reply = NULL;
	size_t rlen = 0;
	int rv;

	rv = vs_call_raw(t->f.cli, method, req, len, &reply, &rlen);
	free(reply);
	return rv;
}

/* An InsertRequest with one item (id, v[0..dim)), serialized. */
static uint8_t *
pack_insert1(const char *coll, const char *id, const float *v, size_t dim,
    size_t *len)
{
	Vsetd__V1__InsertRequest req = VSETD__V1__INSERT_REQUEST__INIT;
	Vsetd__V1__Item it = VSETD__V1__ITEM__INIT;
	Vsetd__V1__Item *items[1] = { &it };

	it.id = (char *)id;
	it.vector = (float *)v;
	it.n_vector = dim;
	req.collection = (char *)coll;
	req.items = items;
	req.n_items = 1;
	return pack(&req.base, len);
}

static uint8_t *
pack_search(const char *coll, const float *v, size_t dim, uint32_t k,
    size_t *len)
{
	Vsetd__V1__SearchRequest req = VSETD__V1__SEARCH_REQUEST__INIT;

	req.collection = (char *)coll;
	req.vector = (float *)v;
	req.n_vector = dim;
	req.k = k;
	return pack(&req.base, len);
}

static int
insert1(struct bad *t, const char *coll, const char *id, const float *v,
    size_t dim)
{
	vs_item it = { id, v, dim, NULL };
	vs_write_result *r = NULL;
	int rv;

	rv = vs_insert(t->f.cli, coll, &it, 1, &r);
	vs_write_result_free(r);
	return rv;
}

static int
search_k(struct bad *t, const float *v, size_t dim, uint32_t k,
    size_t *nhits)
{
	vs_search_params p = { COLL, v, dim, k, 0, 0 };
	vs_search_result *r = NULL;
	int rv;

	rv = vs_search(t->f.cli, &p, &r);
	if (nhits != NULL)
		*nhits = r != NULL ? r->n_hits : 0;
	vs_search_result_free(r);
	return rv;
}

/* Where id would live, for "nothing was written" checks. */
static int
present(struct bad *t, const char *coll, const char *id)
{
	return h_vemb_present(t->f.cl,
	    (int)vs_shard_of(id, strlen(id), NSHARDS), coll, id);
}

/* ------------------------------------------------------------ tests */

static void
test_not_an_envelope(void **state)
{
	struct bad *t = *state;
	Vsetd__V1__ReplyEnvelope *env = NULL;
	uint8_t garbage[64];
	size_t i;

	/* 0xff... is a varint that never ends: no protobuf parser takes it. */
	for (i = 0; i < sizeof(garbage); i++)
		garbage[i] = (uint8_t)(0xff - (i % 3));
	assert_int_equal(raw_call(t, garbage, sizeof(garbage), &env), 0);
	/* Nothing could be decoded, so there is no request id to echo. */
	expect_env_err(env, 0, VS_INVALID_ARGUMENT, "envelope", __LINE__);
	vsetd__v1__reply_envelope__free_unpacked(env, NULL);
	assert_alive(t);
}

static void
test_truncated_envelope(void **state)
{
	struct bad *t = *state;
	Vsetd__V1__ReplyEnvelope *env = NULL;
	uint8_t *payload, *buf;
	size_t plen, len;

	payload = pack_search(COLL, t->vec[0], DIM, 5, &plen);
	buf = pack_envelope(M_SEARCH, payload, plen, 0, &len);
	/* Cut inside the payload field: its length prefix now promises more
	 * bytes than there are. */
	assert_int_equal(raw_call(t, buf, len / 2 + 8, &env), 0);
	expect_env_err(env, 0, VS_INVALID_ARGUMENT, "envelope", __LINE__);
	vsetd__v1__reply_envelope__free_unpacked(env, NULL);
	free(buf);

	/* The same through vs_call_raw: a good envelope, cut payload (the
	 * vector's packed bytes end early). */
	EXPECT_ERR(call_raw(t, M_SEARCH, payload, plen - 5),
	    VS_INVALID_ARGUMENT, "SearchRequest");
	free(payload);
	assert_alive(t);
}

static void
test_garbage_payload(void **state)
{
	static const uint8_t garbage[] = { 0xff, 0xff, 0xff, 0xff, 0xff,
	    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01 };
	struct bad *t = *state;
	Vsetd__V1__ReplyEnvelope *env = NULL;
	uint8_t *buf;
	size_t len;

	EXPECT_ERR(call_raw(t, M_INSERT, garbage, sizeof(garbage)),
	    VS_INVALID_ARGUMENT, "InsertRequest");
	EXPECT_ERR(call_raw(t, M_DELETE, garbage, sizeof(garbage)),
	    VS_INVALID_ARGUMENT, "DeleteRequest");
	EXPECT_ERR(call_raw(t, M_SEARCH, garbage, sizeof(garbage)),
	    VS_INVALID_ARGUMENT, "SearchRequest");

	buf = pack_envelope(M_SEARCH, garbage, sizeof(garbage), 77, &len);
	assert_int_equal(raw_call(t, buf, len, &env), 0);
	expect_env_err(env, 77, VS_INVALID_ARGUMENT, "SearchRequest",
	    __LINE__);
	vsetd__v1__reply_envelope__free_unpacked(env, NULL);
	free(buf);
	assert_alive(t);
}

static void
test_unknown_method(void **state)
{
	struct bad *t = *state;
	Vsetd__V1__ReplyEnvelope *env = NULL;
	uint8_t *payload, *buf;
	size_t plen, len;

	payload = pack_search(COLL, t->vec[0], DIM, 5, &plen);
	EXPECT_ERR(call_raw(t, "/vsetd.v1.VectorService/Upsert", payload,
	    plen), VS_UNIMPLEMENTED, "/vsetd.v1.VectorService/Upsert");
	EXPECT_ERR(call_raw(t, "Search", payload, plen), VS_UNIMPLEMENTED,
	    "Search");

	buf = pack_envelope("/other.v9.Service/Search", payload, plen,
	    0x123456789abcULL, &len);
	assert_int_equal(raw_call(t, buf, len, &env), 0);
	expect_env_err(env, 0x123456789abcULL, VS_UNIMPLEMENTED,
	    "/other.v9.Service/Search", __LINE__);
	vsetd__v1__reply_envelope__free_unpacked(env, NULL);
	free(buf);
	free(payload);
	assert_alive(t);
}

/* A bare envelope works end to end: the raw path is not broken itself. */
static void
test_raw_good_request(void **state)
{
	struct bad *t = *state;
	Vsetd__V1__ReplyEnvelope *env = NULL;
	Vsetd__V1__SearchResponse *resp;
	uint8_t *payload, *buf;
	size_t plen, len;

	payload = pack_search(COLL, t->vec[4], DIM, 5, &plen);
	buf = pack_envelope(M_SEARCH, payload, plen, 4242, &len);
	assert_int_equal(raw_call(t, buf, len, &env), 0);
	assert_non_null(env);
	assert_int_equal(env->request_id, 4242);
	if (env->status != NULL)
		assert_int_equal(env->status->code, VS_OK);
	resp = vsetd__v1__search_response__unpack(NULL, env->payload.len,
	    env->payload.data);
	assert_non_null(resp);
	assert_int_equal(resp->n_results, 5);
	assert_string_equal(resp->results[0]->id, t->ids[4]);
	vsetd__v1__search_response__free_unpacked(resp, NULL);
	vsetd__v1__reply_envelope__free_unpacked(env, NULL);
	free(buf);
	free(payload);
}

static void
test_wrong_dimension(void **state)
{
	struct bad *t = *state;
	float big[MAX_DIM + 1];
	size_t i;

	/* The collection has dimension DIM: another one is refused, and the
	 * element is not created. */
	EXPECT_ERR(insert1(t, COLL, "wrongdim", t->vec[0], DIM / 2),
	    VS_INVALID_ARGUMENT, "dimension");
	assert_int_equal(present(t, COLL, "wrongdim"), 0);
	EXPECT_ERR(search_k(t, t->vec[0], DIM / 2, 5, NULL),
	    VS_INVALID_ARGUMENT, "dimension");

	/* Beyond --max-dim, and no dimension at all. */
	for (i = 0; i < MAX_DIM + 1; i++)
		big[i] = 0.5f;
	EXPECT_ERR(insert1(t, "bigdim", "x", big, MAX_DIM + 1),
	    VS_INVALID_ARGUMENT, "dimension");
	EXPECT_ERR(search_k(t, big, MAX_DIM + 1, 5, NULL),
	    VS_INVALID_ARGUMENT, "dimension");
	EXPECT_ERR(insert1(t, COLL, "nodim", big, 0), VS_INVALID_ARGUMENT,
	    "vector");
	EXPECT_ERR(search_k(t, big, 0, 5, NULL), VS_INVALID_ARGUMENT,
	    "vector");
	/* The limit itself is fine. */
	assert_int_equal(insert1(t, "bigdim", "x", big, MAX_DIM), VS_OK);
	assert_alive(t);
}

static void
test_mixed_dimension(void **state)
{
	struct bad *t = *state;
	vs_item items[3] = {
		{ "mix-0", NULL, DIM, NULL },
		{ "mix-1", NULL, DIM, NULL },
		{ "mix-2", NULL, DIM - 1, NULL },
	};
	vs_write_result *r = NULL;
	int i, rv;

	for (i = 0; i < 3; i++)
		items[i].vector = t->vec[i];
	rv = vs_insert(t->f.cli, "mixed", items, 3, &r);
	vs_write_result_free(r);
	EXPECT_ERR(rv, VS_INVALID_ARGUMENT, "dimensions");
	/* The whole batch is refused before any shard sees it. */
	for (i = 0; i < 3; i++)
		assert_int_equal(present(t, "mixed", items[i].id), 0);
	assert_alive(t);
}

static void
test_non_finite(void **state)
{
	struct bad *t = *state;
	Vsetd__V1__ReplyEnvelope *env = NULL;
	uint8_t *payload, *buf;
	float v[DIM];
	size_t plen, len;

	memcpy(v, t->vec[0], sizeof(v));
	v[5] = NAN;
	EXPECT_ERR(insert1(t, COLL, "nan", v, DIM), VS_INVALID_ARGUMENT,
	    "NaN");
	EXPECT_ERR(search_k(t, v, DIM, 5, NULL), VS_INVALID_ARGUMENT, "NaN");
	/* And through a bare socket, to see the code on the wire. */
	payload = pack_insert1(COLL, "nan", v, DIM, &plen);
	buf = pack_envelope(M_INSERT, payload, plen, 99, &len);
	assert_int_equal(raw_call(t, buf, len, &env), 0);
	expect_env_err(env, 99, VS_INVALID_ARGUMENT, "NaN", __LINE__);
	vsetd__v1__reply_envelope__free_unpacked(env, NULL);
	free(buf);
	free(payload);

	v[5] = INFINITY;
	EXPECT_ERR(insert1(t, COLL, "inf", v, DIM), VS_INVALID_ARGUMENT,
	    "Inf");
	v[5] = -INFINITY;
	EXPECT_ERR(insert1(t, COLL, "inf", v, DIM), VS_INVALID_ARGUMENT,
	    "Inf");
	EXPECT_ERR(search_k(t, v, DIM, 5, NULL), VS_INVALID_ARGUMENT, "Inf");
	assert_int_equal(present(t, COLL, "nan"), 0);
	assert_int_equal(present(t, COLL, "inf"), 0);
	assert_alive(t);
}

static void
test_bad_ids(void **state)
{
	struct bad *t = *state;
	const char *del[1];
	vs_write_result *r = NULL;
	char id[1026];
	int rv;

	EXPECT_ERR(insert1(t, COLL, "", t->vec[0], DIM), VS_INVALID_ARGUMENT,
	    "id");
	memset(id, 'x', 1025);
	id[1025] = '\0';
	EXPECT_ERR(insert1(t, COLL, id, t->vec[0], DIM), VS_INVALID_ARGUMENT,
	    "id");
	assert_int_equal(present(t, COLL, id), 0);
	del[0] = "";
	rv = vs_delete(t->f.cli, COLL, del, 1, &r);
	vs_write_result_free(r);
	r = NULL;
	EXPECT_ERR(rv, VS_INVALID_ARGUMENT, "ids");

	/* 1024 bytes is the limit, inclusive. */
	id[1024] = '\0';
	assert_int_equal(insert1(t, COLL, id, t->vec[0], DIM), VS_OK);
	assert_int_equal(present(t, COLL, id), 1);
	del[0] = id;
	assert_int_equal(vs_delete(t->f.cli, COLL, del, 1, &r), VS_OK);
	assert_int_equal(r->deleted, 1);
	vs_write_result_free(r);
	assert_alive(t);
}

static void
test_k_limits(void **state)
{
	struct bad *t = *state;
	size_t n = 0;

	assert_int_equal(search_k(t, t->vec[0], DIM, 0, &n), VS_OK);
	assert_int_equal(n, 10);             /* k=0 means 10 */
	assert_int_equal(search_k(t, t->vec[0], DIM, MAX_K, &n), VS_OK);
	assert_int_equal(n, NITEMS);         /* fewer items than k */
	EXPECT_ERR(search_k(t, t->vec[0], DIM, MAX_K + 1, NULL),
	    VS_INVALID_ARGUMENT, "k");
	EXPECT_ERR(search_k(t, t->vec[0], DIM, UINT32_MAX, NULL),
	    VS_INVALID_ARGUMENT, "k");
	assert_alive(t);
}

static void
test_empty_collection_name(void **state)
{
	struct bad *t = *state;
	vs_search_params p = { "", NULL, DIM, 5, 0, 0 };
	const char *ids[1] = { "b-00" };
	vs_search_result *sr = NULL;
	vs_write_result *r = NULL;
	int rv;

	EXPECT_ERR(insert1(t, "", "x", t->vec[0], DIM), VS_INVALID_ARGUMENT,
	    "collection");
	p.vector = t->vec[0];
	rv = vs_search(t->f.cli, &p, &sr);
	vs_search_result_free(sr);
	EXPECT_ERR(rv, VS_INVALID_ARGUMENT, "collection");
	rv = vs_delete(t->f.cli, "", ids, 1, &r);
	vs_write_result_free(r);
	EXPECT_ERR(rv, VS_INVALID_ARGUMENT, "collection");
	assert_alive(t);
}

static void
test_batch_limits(void **state)
{
	struct bad *t = *state;
	static char ids[MAX_BATCH + 1][16];
	vs_item items[MAX_BATCH + 1];
	vs_write_result *r = NULL;
	int i, rv;

	for (i = 0; i < MAX_BATCH + 1; i++) {
		snprintf(ids[i], sizeof(ids[i]), "batch-%03d", i);
		items[i].id = ids[i];
		items[i].vector = t->vec[i % NITEMS];
		items[i].dim = DIM;
		items[i].attrs_json = NULL;
	}
	rv = vs_insert(t->f.cli, "batch", items, MAX_BATCH + 1, &r);
	vs_write_result_free(r);
	r = NULL;
	EXPECT_ERR(rv, VS_INVALID_ARGUMENT, "items");
	assert_int_equal(present(t, "batch", ids[0]), 0);
	rv = vs_insert(t->f.cli, "batch", items, 0, &r);
	vs_write_result_free(r);
	r = NULL;
	EXPECT_ERR(rv, VS_INVALID_ARGUMENT, "items");
	rv = vs_insert(t->f.cli, "batch", items, MAX_BATCH, &r);
	assert_int_equal(rv, VS_OK);
	assert_int_equal(r->added, MAX_BATCH);
	vs_write_result_free(r);
	assert_alive(t);
}

/* Over --max-message-bytes nng drops the connection without a reply: the
 * caller sees an error by its deadline, the server carries on, and the
 * same client works again once nng has redialled. */
static void
test_oversized_message(void **state)
{
	enum { N = 1200 };           /* ~1200 * 80 bytes > 65536 */
	struct bad *t = *state;
	static char ids[N][16];
	static vs_item items[N];
	Vsetd__V1__ReplyEnvelope *env = NULL;
	vs_write_result *r = NULL;
	vs_client *fresh = NULL;
	uint8_t *junk;
	int64_t t0, el;
	int i, rv;

	for (i = 0; i < N; i++) {
		snprintf(ids[i], sizeof(ids[i]), "big-%04d", i);
		items[i].id = ids[i];
		items[i].vector = t->vec[i % NITEMS];
		items[i].dim = DIM;
		items[i].attrs_json = NULL;
	}
	vs_set_timeout(t->f.cli, 1000);
	t0 = tu_now_ms();
	rv = vs_insert(t->f.cli, "big", items, N, &r);
	el = tu_now_ms() - t0;
	vs_write_result_free(r);
	fprintf(stderr, "# oversized insert: %s after %lld ms: %s\n",
	    vs_code_name(rv), (long long)el, vs_errmsg());
	assert_int_not_equal(rv, VS_OK);
	assert_int_equal(present(t, "big", ids[0]), 0);
	vs_set_timeout(t->f.cli, TU_TIMEOUT_MS);

	/* Raw: 100 KB of junk; no reply (timeout) or a closed pipe. */
	junk = calloc(1, 100000);
	assert_non_null(junk);
	rv = raw_call(t, junk, 100000, &env);
	free(junk);
	fprintf(stderr, "# oversized raw message: %s\n", nng_strerror(rv));
	assert_int_not_equal(rv, 0);
	assert_null(env);

	/* A new client at once, and the old one (it redials by itself). */
	assert_int_equal(vs_connect(&fresh, h_vsetd_url(t->f.cl), 2000),
	    VS_OK);
	assert_int_equal(tu_search_ok(fresh, COLL, t->vec[3], DIM), 10);
	vs_close(fresh);
	assert_alive(t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_not_an_envelope),
		cmocka_unit_test(test_truncated_envelope),
		cmocka_unit_test(test_garbage_payload),
		cmocka_unit_test(test_unknown_method),
		cmocka_unit_test(test_raw_good_request),
		cmocka_unit_test(test_wrong_dimension),
		cmocka_unit_test(test_mixed_dimension),
		cmocka_unit_test(test_non_finite),
		cmocka_unit_test(test_bad_ids),
		cmocka_unit_test(test_k_limits),
		cmocka_unit_test(test_empty_collection_name),
		cmocka_unit_test(test_batch_limits),
		cmocka_unit_test(test_oversized_message),
	};

	return cmocka_run_group_tests(tests, group_setup,
	    tu_group_teardown);
}
