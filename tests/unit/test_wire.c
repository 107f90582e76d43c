/*
 * test_wire.c - the pre-decode checks: NUL bytes in strings, repeated-field
 * counts, unknown fields and malformed bytes are refused before protobuf-c
 * allocates anything; ordinary requests pass.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "vsetd.pb-c.h"
#include "wire_check.h"

/* Pack an InsertRequest of n items (ids "i0".."i<n-1>", dim 3). */
static uint8_t *
insert_bytes(size_t n, const char *id0, const char *coll, size_t *len)
{
	Vsetd__V1__InsertRequest req = VSETD__V1__INSERT_REQUEST__INIT;
	Vsetd__V1__Item *items = calloc(n, sizeof(*items));
	Vsetd__V1__Item **ptrs = calloc(n, sizeof(*ptrs));
	char (*ids)[16] = calloc(n, sizeof(*ids));
	float v[3] = { 1, 2, 3 };
	uint8_t *buf;
	size_t i;

	for (i = 0; i < n; i++) {
		vsetd__v1__item__init(&items[i]);
		snprintf(ids[i], sizeof(ids[i]), "i%zu", i);
		items[i].id = i == 0 && id0 != NULL ? (char *)id0 : ids[i];
		items[i].vector = v;
		items[i].n_vector = 3;
		ptrs[i] = &items[i];
	}
	req.collection = (char *)coll;
	req.items = ptrs;
	req.n_items = n;
	*len = vsetd__v1__insert_request__get_packed_size(&req);
	buf = malloc(*len);
	vsetd__v1__insert_request__pack(&req, buf);
	free(items);
	free(ptrs);
	free(ids);
	return buf;
}

static void
test_ordinary_passes(void **state)
{
	struct vsd_status st;
	uint8_t *b;
	size_t n;

	(void)state;
	b = insert_bytes(100, NULL, "docs", &n);
	assert_int_equal(vsd_wire_check(&vsetd__v1__insert_request__descriptor,
	    b, n, 100, "payload", &st), VSD_OK);
	free(b);
}

/* A NUL inside a string: protobuf-c would hand over a truncated C string.
 * Patch one byte of the encoded id "iX" / collection to 0. */
static void
test_nul_in_strings(void **state)
{
	struct vsd_status st;
	uint8_t *b, *p;
	size_t n;

	(void)state;
	b = insert_bytes(1, "aXb", "docs", &n);
	p = memmem(b, n, "aXb", 3);
	assert_non_null(p);
	p[1] = 0;
	assert_int_equal(vsd_wire_check(&vsetd__v1__insert_request__descriptor,
	    b, n, 10, "payload", &st), VSD_INVALID_ARGUMENT);
	assert_non_null(strstr(st.msg, "payload: Item.id contains a NUL"));
	free(b);

	b = insert_bytes(1, NULL, "doXs", &n);
	p = memmem(b, n, "doXs", 4);
	p[2] = 0;
	assert_int_equal(vsd_wire_check(&vsetd__v1__insert_request__descriptor,
	    b, n, 10, "payload", &st), VSD_INVALID_ARGUMENT);
	assert_non_null(strstr(st.msg, "InsertRequest.collection contains a NUL"));
	free(b);
}

static void
test_repeated_limit(void **state)
{
	struct vsd_status st;
	uint8_t *b;
	size_t n;

	(void)state;
	b = insert_bytes(11, NULL, "docs", &n);
	assert_int_equal(vsd_wire_check(&vsetd__v1__insert_request__descriptor,
	    b, n, 10, "payload", &st), VSD_INVALID_ARGUMENT);
	assert_non_null(strstr(st.msg, "InsertRequest.items has more than 10"));
	assert_int_equal(vsd_wire_check(&vsetd__v1__insert_request__descriptor,
	    b, n, 11, "payload", &st), VSD_OK);
	free(b);
}

static void
test_unknown_fields_and_malformed(void **state)
{
	struct vsd_status st;
	size_t i, n = 0;
	uint8_t *b = malloc(3 * (VSD_WIRE_MAX_UNKNOWN + 1));

	(void)state;
	/* field 99, varint 0: tag 0x98 0x06, value 0x00 */
	for (i = 0; i <= VSD_WIRE_MAX_UNKNOWN; i++) {
		b[n++] = 0x98;
		b[n++] = 0x06;
		b[n++] = 0x00;
	}
	assert_int_equal(vsd_wire_check(&vsetd__v1__search_request__descriptor,
	    b, n - 3, 10, "payload", &st), VSD_OK);     /* exactly the limit */
	assert_int_equal(vsd_wire_check(&vsetd__v1__search_request__descriptor,
	    b, n, 10, "payload", &st), VSD_INVALID_ARGUMENT);
	assert_non_null(strstr(st.msg, "unknown fields"));
	/* a length running past the end; a bad wire type; field 0 */
	b[0] = 0x0a;            /* field 1, length-delimited */
	b[1] = 0x7f;            /* 127 bytes: more than there are */
	assert_int_equal(vsd_wire_check(&vsetd__v1__search_request__descriptor,
	    b, 2, 10, "payload", &st), VSD_INVALID_ARGUMENT);
	assert_non_null(strstr(st.msg, "malformed payload: not a valid vsetd.v1.SearchRequest"));
	b[0] = 0x0f;            /* wire type 7 */
	assert_int_equal(vsd_wire_check(&vsetd__v1__search_request__descriptor,
	    b, 1, 10, "payload", &st), VSD_INVALID_ARGUMENT);
	b[0] = 0x00;            /* field number 0 */
	b[1] = 0x00;
	assert_int_equal(vsd_wire_check(&vsetd__v1__search_request__descriptor,
	    b, 2, 10, "payload", &st), VSD_INVALID_ARGUMENT);
	free(b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ordinary_passes),
		cmocka_unit_test(test_nul_in_strings),
		cmocka_unit_test(test_repeated_limit),
		cmocka_unit_test(test_unknown_fields_and_malformed),
	};

	return cmocka_run_group_tests_name("wire", tests, NULL, NULL);
}
