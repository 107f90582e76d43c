/* test_validate.c - what a client may send, and the messages it gets. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "validate.h"

static const struct vsd_limits lim = {
	.max_batch = 4, .max_k = 100, .max_dim = 8, .max_id_bytes = 16,
};

static void
test_collection(void **state)
{
	struct vsd_status st;
	char big[VSD_MAX_COLLECTION_BYTES + 2];

	(void)state;
	assert_int_equal(vsd_check_collection("docs-v1.2:en_US", &st), VSD_OK);
	assert_int_equal(vsd_check_collection("", &st), VSD_INVALID_ARGUMENT);
	assert_non_null(strstr(st.msg, "empty"));
	assert_int_equal(vsd_check_collection("a b", &st), VSD_INVALID_ARGUMENT);
	assert_non_null(strstr(st.msg, "offset 1"));
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(vsd_check_collection(big, &st), VSD_INVALID_ARGUMENT);
	big[VSD_MAX_COLLECTION_BYTES] = '\0';
	assert_int_equal(vsd_check_collection(big, &st), VSD_OK);
}

static void
test_id(void **state)
{
	struct vsd_status st;

	(void)state;
	assert_int_equal(vsd_check_id("doc:1", &lim, "items[0].id", &st), VSD_OK);
	assert_int_equal(vsd_check_id("\xc3\xa9t\xc3\xa9", &lim, "id", &st), VSD_OK);
	assert_int_equal(vsd_check_id("", &lim, "items[2].id", &st),
	    VSD_INVALID_ARGUMENT);
	assert_string_equal(st.msg, "items[2].id is empty");
	/* 16 bytes is the limit; 17 is over */
	assert_int_equal(vsd_check_id("0123456789abcdef", &lim, "id", &st), VSD_OK);
	assert_int_equal(vsd_check_id("0123456789abcdefg", &lim, "id", &st),
	    VSD_INVALID_ARGUMENT);
	assert_non_null(strstr(st.msg, "17 bytes"));
	/* bad UTF-8: lone continuation, overlong, surrogate, truncated */
	assert_int_equal(vsd_check_id("a\x80", &lim, "id", &st), VSD_INVALID_ARGUMENT);
	assert_non_null(strstr(st.msg, "UTF-8 at byte 1"));
	assert_int_equal(vsd_check_id("\xc0\xaf", &lim, "id", &st), VSD_INVALID_ARGUMENT);
	assert_int_equal(vsd_check_id("\xed\xa0\x80", &lim, "id", &st), VSD_INVALID_ARGUMENT);
	assert_int_equal(vsd_check_id("\xe2\x82", &lim, "id", &st), VSD_INVALID_ARGUMENT);
}

static void
test_vector(void **state)
{
	struct vsd_status st;
	float ok[3] = { 1, 0, -2.5f };
	float bad[3] = { 1, 0, 0 };

	(void)state;
	assert_int_equal(vsd_check_vector(ok, 3, 0, &lim, "vector", &st), VSD_OK);
	assert_int_equal(vsd_check_vector(ok, 3, 3, &lim, "vector", &st), VSD_OK);
	assert_int_equal(vsd_check_vector(ok, 0, 0, &lim, "vector", &st),
	    VSD_INVALID_ARGUMENT);
	assert_int_equal(vsd_check_vector(ok, 3, 4, &lim, "items[1].vector", &st),
	    VSD_INVALID_ARGUMENT);
	assert_non_null(strstr(st.msg, "items[1].vector has dimension 3"));
	assert_non_null(strstr(st.msg, "mixed"));
	bad[2] = NAN;
	assert_int_equal(vsd_check_vector(bad, 3, 0, &lim, "vector", &st),
	    VSD_INVALID_ARGUMENT);
	assert_string_equal(st.msg, "vector[2] is NaN");
	bad[1] = -INFINITY;
	assert_int_equal(vsd_check_vector(bad, 3, 0, &lim, "vector", &st),
	    VSD_INVALID_ARGUMENT);
	assert_string_equal(st.msg, "vector[1] is Inf");
	{
		float big[9] = { 0 };

		assert_int_equal(vsd_check_vector(big, 9, 0, &lim, "vector", &st),
		    VSD_INVALID_ARGUMENT);
		assert_non_null(strstr(st.msg, "limit is 8"));
	}
}

static void
test_k_and_batch(void **state)
{
	struct vsd_status st;

	(void)state;
	assert_int_equal(vsd_check_k(0, &lim, &st), VSD_OK);    /* default */
	assert_int_equal(vsd_check_k(100, &lim, &st), VSD_OK);
	assert_int_equal(vsd_check_k(101, &lim, &st), VSD_INVALID_ARGUMENT);
	assert_non_null(strstr(st.msg, "k is 101"));
	assert_int_equal(vsd_check_batch(4, &lim, "items", &st), VSD_OK);
	assert_int_equal(vsd_check_batch(0, &lim, "items", &st),
	    VSD_INVALID_ARGUMENT);
	assert_int_equal(vsd_check_batch(5, &lim, "ids", &st),
	    VSD_INVALID_ARGUMENT);
	assert_non_null(strstr(st.msg, "ids has 5 entries"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_collection),
		cmocka_unit_test(test_id),
		cmocka_unit_test(test_vector),
		cmocka_unit_test(test_k_and_batch),
	};

	return cmocka_run_group_tests_name("validate", tests, NULL, NULL);
}
