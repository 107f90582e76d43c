/*
 * test_envelope.c - the framing round trips: what a client packs, the
 * server decodes; what the server packs, a client decodes; and malformed
 * bytes are refused, not crashed on.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "envelope.h"

static size_t
pack_request(const char *method, const uint8_t *payload, size_t plen,
    uint32_t deadline, uint64_t id, uint8_t *out)
{
	Vsetd__V1__RequestEnvelope env = VSETD__V1__REQUEST_ENVELOPE__INIT;

	env.method = (char *)method;
	env.payload.data = (uint8_t *)payload;
	env.payload.len = plen;
	env.deadline_ms = deadline;
	env.request_id = id;
	return vsetd__v1__request_envelope__pack(&env, out);
}

static void
test_request_round_trip(void **state)
{
	uint8_t buf[256], payload[] = { 1, 2, 3, 0, 255 };
	Vsetd__V1__RequestEnvelope *env;
	struct vsd_status st;
	size_t n;

	(void)state;
	n = pack_request("/vsetd.v1.VectorService/Search", payload,
	    sizeof(payload), 250, 0x123456789abcULL, buf);
	env = vsd_envelope_decode(buf, n, &st);
	assert_non_null(env);
	assert_string_equal(env->method, "/vsetd.v1.VectorService/Search");
	assert_int_equal(env->payload.len, sizeof(payload));
	assert_memory_equal(env->payload.data, payload, sizeof(payload));
	assert_int_equal(env->deadline_ms, 250);
	assert_int_equal(env->request_id, 0x123456789abcULL);
	assert_int_equal(vsd_envelope_peek_id(buf, n), 0x123456789abcULL);
	vsetd__v1__request_envelope__free_unpacked(env, NULL);
}

static void
test_reply_round_trip(void **state)
{
	uint8_t payload[] = { 9, 8, 7 }, *buf;
	Vsetd__V1__ReplyEnvelope *r;
	size_t n;

	(void)state;
	/* OK: no status on the wire, payload intact */
	n = vsd_envelope_reply_size(42, VSD_OK, "ignored", payload, 3);
	buf = malloc(n);
	assert_int_equal(vsd_envelope_reply_pack(42, VSD_OK, "ignored",
	    payload, 3, buf), n);
	r = vsetd__v1__reply_envelope__unpack(NULL, n, buf);
	assert_non_null(r);
	assert_int_equal(r->request_id, 42);
	assert_null(r->status);
	assert_memory_equal(r->payload.data, payload, 3);
	vsetd__v1__reply_envelope__free_unpacked(r, NULL);
	free(buf);

	/* an error: code and message, no payload */
	n = vsd_envelope_reply_size(7, VSD_INVALID_ARGUMENT, "k is 0", NULL, 0);
	buf = malloc(n);
	vsd_envelope_reply_pack(7, VSD_INVALID_ARGUMENT, "k is 0", NULL, 0, buf);
	r = vsetd__v1__reply_envelope__unpack(NULL, n, buf);
	assert_non_null(r);
	assert_non_null(r->status);
	assert_int_equal(r->status->code, VSETD__V1__CODE__INVALID_ARGUMENT);
	assert_string_equal(r->status->message, "k is 0");
	assert_int_equal(r->payload.len, 0);
	vsetd__v1__reply_envelope__free_unpacked(r, NULL);
	free(buf);
}

static void
test_malformed(void **state)
{
	uint8_t garbage[] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	uint8_t buf[256];
	struct vsd_status st;
	size_t n, cut;

	(void)state;
	assert_null(vsd_envelope_decode(garbage, sizeof(garbage), &st));
	assert_int_equal(st.code, VSD_INVALID_ARGUMENT);
	assert_non_null(strstr(st.msg, "malformed"));
	assert_int_equal(vsd_envelope_peek_id(garbage, sizeof(garbage)), 0);

	/* every truncation of a valid envelope: refused or decoded, and
	 * peek_id never reads past the end (ASan would tell) */
	n = pack_request("/vsetd.v1.VectorService/Insert",
	    (const uint8_t *)"xyz", 3, 10, 99, buf);
	for (cut = 0; cut < n; cut++) {
		uint8_t *copy = malloc(cut ? cut : 1);
		Vsetd__V1__RequestEnvelope *env;

		memcpy(copy, buf, cut);
		env = vsd_envelope_decode(copy, cut, &st);
		if (env != NULL)
			vsetd__v1__request_envelope__free_unpacked(env, NULL);
		(void)vsd_envelope_peek_id(copy, cut);
		free(copy);
	}

	/* no method */
	n = pack_request("", NULL, 0, 0, 1, buf);
	assert_null(vsd_envelope_decode(buf, n, &st));
	assert_non_null(strstr(st.msg, "no method"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_request_round_trip),
		cmocka_unit_test(test_reply_round_trip),
		cmocka_unit_test(test_malformed),
	};

	return cmocka_run_group_tests_name("envelope", tests, NULL, NULL);
}
