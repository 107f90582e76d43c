/*
 * test_health.c - the per-endpoint breaker and the stall rule (health.h),
 * on explicit clock values (no sleeping, no timing).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "health.h"

#define MS 1000                 /* microseconds */
#define T0 (1000 * 1000 * MS)   /* an arbitrary clock origin */
#define STALL_US (250 * MS)     /* --shard-stall-ms's default */

static int
setup(void **state)
{
	struct vsd_health *h = calloc(1, sizeof(*h));

	if (h == NULL)
		return -1;
	vsd_health_init(h, 42);
	*state = h;
	return 0;
}

static int
teardown(void **state)
{
	vsd_health_fini(*state);
	free(*state);
	return 0;
}

/* Three failures open it; a skip says why; after the backoff one call
 * probes, and a success closes it. */
static void
test_breaker_opens_and_probes(void **state)
{
	struct vsd_health *h = *state;
	char why[200];
	int i;

	for (i = 0; i < VSD_BREAKER_THRESHOLD; i++) {
		assert_int_equal(vsd_health_admit(h, T0, why, sizeof(why)),
		    VSD_ADMIT_OK);
		vsd_health_failure(h, T0, "127.0.0.1:1: Connection refused");
	}
	assert_int_equal(vsd_health_admit(h, T0 + MS, why, sizeof(why)),
	    VSD_ADMIT_SKIP);
	assert_non_null(strstr(why, "circuit open after 3 failures"));
	assert_non_null(strstr(why, "Connection refused"));
	/* After the longest jittered backoff: one probe, the rest skip. */
	assert_int_equal(vsd_health_admit(h, T0 + VSD_BACKOFF_MIN_US * 2, why,
	    sizeof(why)), VSD_ADMIT_PROBE);
	assert_int_equal(vsd_health_admit(h, T0 + VSD_BACKOFF_MIN_US * 2, why,
	    sizeof(why)), VSD_ADMIT_SKIP);
	vsd_health_success(h);
	assert_int_equal(vsd_health_admit(h, T0 + VSD_BACKOFF_MIN_US * 2, why,
	    sizeof(why)), VSD_ADMIT_OK);
}

/* A probe that ends with no verdict (the caller's deadline) neither
 * closes nor re-opens the breaker: the next call probes. */
static void
test_release_lets_the_next_call_probe(void **state)
{
	struct vsd_health *h = *state;
	int64_t later = T0 + VSD_BACKOFF_MIN_US * 2;
	uint32_t consecutive;
	char why[200];
	int i, open;

	for (i = 0; i < VSD_BREAKER_THRESHOLD; i++)
		vsd_health_failure(h, T0, "silent");
	assert_int_equal(vsd_health_admit(h, later, why, sizeof(why)),
	    VSD_ADMIT_PROBE);
	vsd_health_release(h);
	vsd_health_peek(h, &open, &consecutive);
	assert_int_equal(open, 1);
	assert_int_equal(consecutive, VSD_BREAKER_THRESHOLD);
	assert_int_equal(vsd_health_admit(h, later, why, sizeof(why)),
	    VSD_ADMIT_PROBE);
}

/* Fewer than three failures in a row never open it. */
static void
test_success_resets_the_count(void **state)
{
	struct vsd_health *h = *state;
	char why[200];
	int i;

	for (i = 0; i < 10; i++) {
		vsd_health_failure(h, T0, "x");
		vsd_health_failure(h, T0, "x");
		vsd_health_success(h);
	}
	assert_int_equal(vsd_health_admit(h, T0, why, sizeof(why)),
	    VSD_ADMIT_OK);
}

/* The stall rule: quorum waiters silent past STALL_US close the
 * endpoint to new rounds, and younger waiters give way; the quorum oldest
 * stay. */
/* A reply whose bytes arrived (a success) but that an op then found
 * malformed counts as a failure of the same streak: three such replies
 * open the breaker, and a failed probe doubles the backoff. */
static void
test_bad_replies_open_the_breaker(void **state)
{
	struct vsd_health *h = *state;
	char why[200];
	int64_t t;
	int i;

	for (i = 0; i < VSD_BREAKER_THRESHOLD; i++) {
		assert_int_equal(vsd_health_admit(h, T0, why, sizeof(why)),
		    VSD_ADMIT_OK);
		vsd_health_success(h);
		vsd_health_bad_reply(h, T0, "protocol error: score nan");
	}
	assert_int_equal(vsd_health_admit(h, T0 + MS, why, sizeof(why)),
	    VSD_ADMIT_SKIP);
	assert_non_null(strstr(why, "protocol error: score nan"));
	/* The probe answers, but badly again: still open, longer backoff. */
	t = T0 + VSD_BACKOFF_MIN_US * 2;
	assert_int_equal(vsd_health_admit(h, t, why, sizeof(why)),
	    VSD_ADMIT_PROBE);
	vsd_health_success(h);
	vsd_health_bad_reply(h, t, "protocol error: score nan");
	assert_int_equal(vsd_health_admit(h, t + VSD_BACKOFF_MIN_US * 6 / 5 +
	    MS, why, sizeof(why)), VSD_ADMIT_SKIP);
	/* A good reply in between resets the streak. */
	t += VSD_BACKOFF_MAX_US * 2;
	assert_int_equal(vsd_health_admit(h, t, why, sizeof(why)),
	    VSD_ADMIT_PROBE);
	vsd_health_success(h);
	vsd_health_success(h);
	vsd_health_bad_reply(h, t, "protocol error: score nan");
	assert_int_equal(vsd_health_admit(h, t, why, sizeof(why)),
	    VSD_ADMIT_OK);
}

static void
test_stall_rule(void **state)
{
	struct vsd_health *h = *state;
	struct vsd_waiter w[4];
	int64_t now = T0 + STALL_US + 10 * MS;
	int n, i;

	memset(w, 0, sizeof(w));
	vsd_health_wait_begin(h, &w[0], T0);
	vsd_health_wait_begin(h, &w[1], T0 + MS);
	vsd_health_wait_begin(h, &w[2], T0 + 2 * MS);
	vsd_health_wait_begin(h, &w[3], now - MS);    /* just started */

	/* three stalled waiters, quorum 2: closed to new rounds */
	assert_int_equal(vsd_health_stalled(h, NULL, now, STALL_US, 2,
	    &n), 1);
	assert_int_equal(n, 3);
	/* the two oldest stay, the younger ones give way */
	assert_int_equal(vsd_health_stalled(h, &w[0], now, STALL_US, 2,
	    &n), 0);
	assert_int_equal(vsd_health_stalled(h, &w[1], now, STALL_US, 2,
	    &n), 0);
	assert_int_equal(vsd_health_stalled(h, &w[2], now, STALL_US, 2,
	    &n), 1);
	assert_int_equal(vsd_health_stalled(h, &w[3], now, STALL_US, 2,
	    &n), 1);
	/* progress (bytes) makes a waiter fresh again: one stalled left */
	vsd_health_wait_progress(&w[0], now);
	vsd_health_wait_progress(&w[1], now);
	assert_int_equal(vsd_health_stalled(h, NULL, now, STALL_US, 2,
	    &n), 0);
	assert_int_equal(n, 1);
	/* waiters that left do not count */
	for (i = 0; i < 4; i++)
		vsd_health_wait_end(h, &w[i]);
	assert_int_equal(vsd_health_stalled(h, NULL, now + T0, STALL_US,
	    1, &n), 0);
	assert_int_equal(n, 0);
	vsd_health_wait_end(h, &w[0]);          /* twice is harmless */
}

/* A healthy shard: many waiters, all with recent progress, never
 * stalled, however long they have been on the list. */
static void
test_busy_but_answering_is_not_stalled(void **state)
{
	struct vsd_health *h = *state;
	struct vsd_waiter w[8];
	int64_t now = T0;
	int n, i, step;

	memset(w, 0, sizeof(w));
	for (i = 0; i < 8; i++)
		vsd_health_wait_begin(h, &w[i], now);
	for (step = 0; step < 100; step++) {
		now += 10 * MS;
		for (i = 0; i < 8; i++)
			vsd_health_wait_progress(&w[i], now - (i + 1) * MS);
		assert_int_equal(vsd_health_stalled(h, NULL, now,
		    STALL_US, 1, &n), 0);
	}
	for (i = 0; i < 8; i++)
		vsd_health_wait_end(h, &w[i]);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_breaker_opens_and_probes,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_release_lets_the_next_call_probe, setup, teardown),
		cmocka_unit_test_setup_teardown(test_success_resets_the_count,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_replies_open_the_breaker,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_stall_rule, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_busy_but_answering_is_not_stalled, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
