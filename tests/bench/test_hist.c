/*
 * test_hist.c - vs_hist: the error bound, exact merging, the wire format.
 *
 * The reference for every percentile is the exact order statistic of the
 * same random values, sorted; the histogram must land within the bound its
 * header promises (1/256 relative, well inside the 1%).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>

#include <cmocka.h>

#include "vs_hist.h"

#define NVALUES 200000

/* splitmix64: a fixed-seed generator so a failure can be replayed. */
static uint64_t
rnd(uint64_t *s)
{
	uint64_t z = (*s += UINT64_C(0x9e3779b97f4a7c15));

	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

/* Log-uniform over [1 us, 60 s]: every bucket range gets exercised. */
static uint64_t
rnd_latency(uint64_t *s)
{
	double u = (double)(rnd(s) >> 11) / 9007199254740992.0;

	return (uint64_t)exp(u * log(60e6));
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static uint64_t *
random_values(uint64_t seed, size_t n)
{
	uint64_t *v = malloc(n * sizeof(*v));
	size_t i;

	assert_non_null(v);
	for (i = 0; i < n; i++)
		v[i] = rnd_latency(&seed);
	return v;
}

static void
test_layout_contiguous(void **state)
{
	size_t i;

	(void)state;
	assert_int_equal(vs_hist_bucket_low(0), 0);
	for (i = 0; i + 1 < VS_HIST_NBUCKETS; i++) {
		assert_true(vs_hist_bucket_low(i) <= vs_hist_bucket_high(i));
		assert_int_equal(vs_hist_bucket_high(i) + 1,
		    vs_hist_bucket_low(i + 1));
		/* No bucket wider than 1/128 of its lowest value (past the
		 * exact region). */
		if (vs_hist_bucket_low(i) >= VS_HIST_EXACT)
			assert_true((vs_hist_bucket_high(i) -
			    vs_hist_bucket_low(i) + 1) * 128 <=
			    vs_hist_bucket_low(i));
	}
	assert_int_equal(vs_hist_bucket_high(VS_HIST_NBUCKETS - 1),
	    VS_HIST_TRACKABLE_MAX);
	assert_true(VS_HIST_TRACKABLE_MAX >= UINT64_C(60000000));
}

static void
test_value_in_its_bucket(void **state)
{
	uint64_t seed = 7, v;
	size_t i, b;

	(void)state;
	for (i = 0; i < 100000; i++) {
		v = rnd(&seed) % (VS_HIST_TRACKABLE_MAX + 1);
		if (i % 2)
			v = rnd_latency(&seed);
		b = vs_hist_bucket_of(v);
		assert_true(b < VS_HIST_NBUCKETS);
		assert_true(vs_hist_bucket_low(b) <= v);
		assert_true(v <= vs_hist_bucket_high(b));
	}
}

static void
test_percentiles_within_bound(void **state)
{
	static const double ps[] = { 1, 10, 25, 50, 75, 90, 99, 99.9, 99.99 };
	uint64_t *v = random_values(42, NVALUES), *sorted;
	vs_hist *h = malloc(sizeof(*h));
	double got, exact;
	size_t i, rank;

	(void)state;
	assert_non_null(h);
	vs_hist_reset(h);
	for (i = 0; i < NVALUES; i++)
		vs_hist_record(h, v[i]);
	sorted = v;
	qsort(sorted, NVALUES, sizeof(*sorted), cmp_u64);

	assert_int_equal(vs_hist_count(h), NVALUES);
	assert_int_equal(vs_hist_min(h), sorted[0]);
	assert_int_equal(vs_hist_max(h), sorted[NVALUES - 1]);
	assert_true(vs_hist_percentile(h, 100) == (double)sorted[NVALUES - 1]);
	assert_true(vs_hist_percentile(h, 0) == (double)sorted[0]);
	for (i = 0; i < sizeof(ps) / sizeof(ps[0]); i++) {
		rank = (size_t)ceil(ps[i] / 100.0 * NVALUES);
		exact = (double)sorted[rank - 1];
		got = vs_hist_percentile(h, ps[i]);
		if (fabs(got - exact) > exact / 256.0 + 1e-9)
			fail_msg("p%g: got %f, exact %f", ps[i], got, exact);
	}
	free(v);
	free(h);
}

static void
test_merge_equals_record_all(void **state)
{
	uint64_t *v = random_values(99, NVALUES);
	vs_hist *all = malloc(sizeof(*all)), *part = malloc(3 * sizeof(*part));
	size_t i;

	(void)state;
	assert_non_null(all);
	assert_non_null(part);
	vs_hist_reset(all);
	for (i = 0; i < 3; i++)
		vs_hist_reset(&part[i]);
	for (i = 0; i < NVALUES; i++) {
		vs_hist_record(all, v[i]);
		/* Uneven split: parts with different extremes. */
		vs_hist_record(&part[(v[i] * 2654435761u) % 3], v[i]);
	}
	vs_hist_merge(&part[0], &part[1]);
	vs_hist_merge(&part[0], &part[2]);
	assert_memory_equal(all, &part[0], sizeof(*all));
	assert_true(vs_hist_percentile(all, 99) ==
	    vs_hist_percentile(&part[0], 99));
	free(v);
	free(all);
	free(part);
}

static void
test_encode_roundtrip(void **state)
{
	uint64_t *v = random_values(5, 5000);
	vs_hist *h = malloc(sizeof(*h)), *d = malloc(sizeof(*d));
	uint8_t *buf;
	size_t n, i;

	(void)state;
	assert_non_null(h);
	assert_non_null(d);
	vs_hist_reset(h);
	for (i = 0; i < 5000; i++)
		vs_hist_record(h, v[i]);
	vs_hist_record(h, UINT64_C(1) << 40);   /* past the trackable max */
	n = vs_hist_encoded_size(h);
	buf = malloc(n);
	assert_non_null(buf);
	assert_int_equal(vs_hist_encode(h, buf, n - 1), 0);
	assert_int_equal(vs_hist_encode(h, buf, n), n);
	assert_int_equal(vs_hist_decode(d, buf, n), 0);
	assert_memory_equal(h, d, sizeof(*h));
	assert_true(vs_hist_percentile(d, 100) ==
	    (double)(UINT64_C(1) << 40));

	/* Every truncation and a trailing byte are rejected, and leave an
	 * empty histogram behind. */
	for (i = 0; i < n; i++) {
		assert_int_equal(vs_hist_decode(d, buf, i), -1);
		assert_int_equal(vs_hist_count(d), 0);
	}
	buf[0] = 'X';
	assert_int_equal(vs_hist_decode(d, buf, n), -1);
	free(buf);
	free(v);
	free(h);
	free(d);
}

static void
test_decode_rejects_inconsistent(void **state)
{
	vs_hist *h = malloc(sizeof(*h)), *d = malloc(sizeof(*d));
	uint8_t buf[64];
	size_t n;

	(void)state;
	assert_non_null(h);
	assert_non_null(d);
	vs_hist_reset(h);
	vs_hist_record(h, 10);
	vs_hist_record(h, 20);
	n = vs_hist_encode(h, buf, sizeof(buf));
	assert_true(n > 0);
	assert_int_equal(vs_hist_decode(d, buf, n), 0);
	/* buf[3] is the count (2): claim 3 values over buckets holding 2. */
	assert_int_equal(buf[3], 2);
	buf[3] = 3;
	assert_int_equal(vs_hist_decode(d, buf, n), -1);
	free(h);
	free(d);
}

static void
test_empty(void **state)
{
	vs_hist *h = malloc(sizeof(*h)), *d = malloc(sizeof(*d));
	uint8_t buf[32];
	size_t n;

	(void)state;
	assert_non_null(h);
	assert_non_null(d);
	vs_hist_reset(h);
	assert_int_equal(vs_hist_count(h), 0);
	assert_true(vs_hist_percentile(h, 50) == 0.0);
	assert_true(vs_hist_mean(h) == 0.0);
	n = vs_hist_encode(h, buf, sizeof(buf));
	assert_true(n > 0 && n < 16);
	assert_int_equal(vs_hist_decode(d, buf, n), 0);
	assert_memory_equal(h, d, sizeof(*h));
	/* Merging an empty histogram changes nothing. */
	vs_hist_record(h, 123);
	vs_hist_merge(h, d);
	assert_int_equal(vs_hist_count(h), 1);
	assert_int_equal(vs_hist_min(h), 123);
	free(h);
	free(d);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_layout_contiguous),
		cmocka_unit_test(test_value_in_its_bucket),
		cmocka_unit_test(test_percentiles_within_bound),
		cmocka_unit_test(test_merge_equals_record_all),
		cmocka_unit_test(test_encode_roundtrip),
		cmocka_unit_test(test_decode_rejects_inconsistent),
		cmocka_unit_test(test_empty),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
