/*
 * test_hash.c - the routing function is a contract: these outputs were
 * computed by an independent implementation of the algorithm documented in
 * docs/architecture.md (Python, arbitrary-precision integers).  If one
 * changes, every deployment's data is on the wrong shard.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "vs_hash.h"

static const struct {
	const char *id;
	uint64_t h;
	uint32_t of2, of3, of10;
} vectors[] = {
	{ "", 0xefd01f60ba992926ULL, 1, 1, 1 },
	{ "a", 0x82a2a958a9bece5bULL, 1, 1, 5 },
	{ "doc:1", 0x85fb41767a3fa4c6ULL, 0, 2, 4 },
	{ "user-42", 0xa39532c7ab051e8dULL, 1, 1, 6 },
	{ "\xc3\xa9l\xc3\xa9" "ment", 0xe971aa476301fa35ULL, 1, 1, 5 },
	{ "0123456789abcdef", 0x9fe524d33625dec6ULL, 1, 1, 7 },
};

static void
test_fixed_vectors(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
		const char *id = vectors[i].id;

		assert_int_equal(vs_hash64(id, strlen(id)), vectors[i].h);
		assert_int_equal(vs_shard_of(id, strlen(id), 2), vectors[i].of2);
		assert_int_equal(vs_shard_of(id, strlen(id), 3), vectors[i].of3);
		assert_int_equal(vs_shard_of(id, strlen(id), 10), vectors[i].of10);
	}
}

static void
test_one_shard_owns_all(void **state)
{
	char id[32];
	int i;

	(void)state;
	for (i = 0; i < 1000; i++) {
		snprintf(id, sizeof(id), "id%d", i);
		assert_int_equal(vs_shard_of(id, strlen(id), 1), 0);
	}
}

/* Balanced enough, and growing 3 -> 4 shards moves about 1/4 of the ids,
 * only ever to the new shard: the property that made us pick jump hash. */
static void
test_balance_and_minimal_movement(void **state)
{
	uint32_t counts[3] = { 0 }, a, b;
	int i, moved = 0, n = 30000;
	char id[32];

	(void)state;
	for (i = 0; i < n; i++) {
		snprintf(id, sizeof(id), "id%d", i);
		a = vs_shard_of(id, strlen(id), 3);
		b = vs_shard_of(id, strlen(id), 4);
		assert_true(a < 3);
		counts[a]++;
		if (a != b) {
			assert_int_equal(b, 3);
			moved++;
		}
	}
	for (i = 0; i < 3; i++)
		assert_in_range(counts[i], n / 3 - n / 50, n / 3 + n / 50);
	assert_in_range(moved, n / 4 - n / 50, n / 4 + n / 50);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fixed_vectors),
		cmocka_unit_test(test_one_shard_owns_all),
		cmocka_unit_test(test_balance_and_minimal_movement),
	};

	return cmocka_run_group_tests_name("hash", tests, NULL, NULL);
}
