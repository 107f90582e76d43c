/*
 * test_shutdown.c - SIGTERM/SIGINT end vsetd cleanly (exit 0), promptly.
 *
 * Service managers rely on this: a stop must not hang on requests in
 * flight or on a shard that stopped answering, and must not crash (a crash
 * exits non-zero or by signal, which a supervisor reports as a failure).
 * Each test starts its own vsetd in front of the group's shards, since the
 * test ends it.  The bound on the exit (SHUTDOWN_MS) is generous: requests
 * in flight are themselves bounded by their deadlines.
 */
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <cmocka.h>

#include "harness.h"
#include "testutil.h"
#include "vsetd.h"

#define NSHARDS 2
#define DIM 8
#define COLL "shut"
#define NTHREADS 3
#define SHUTDOWN_MS 5000
#define CLIENT_TIMEOUT_MS 1000
#define MAX_REQUESTS 5000    /* per thread: bounds the stream */

struct shut {
	h_cluster *cl;
};

struct streamer {
	pthread_t th;
	const char *url;
	int index;
	int *stop;                   /* __atomic: set by the main thread */
	int ok, failed;              /* __atomic: read by the main thread */
};

static int
group_setup(void **state)
{
	struct shut *t;

	if ((t = calloc(1, sizeof(*t))) == NULL)
		return -1;
	if (h_cluster_start(&t->cl, NSHARDS, NULL) != 0) {
		free(t);
		return -1;
	}
	*state = t;
	return 0;
}

static int
group_teardown(void **state)
{
	struct shut *t = *state;

	h_vsetd_log_tail(t->cl, 1500);
	h_cluster_destroy(t->cl);
	free(t);
	return 0;
}

/* Whatever a test left behind: a vsetd still running, a frozen shard. */
static int
test_teardown(void **state)
{
	struct shut *t = *state;

	if (h_vsetd_pid(t->cl) > 0)
		h_vsetd_stop(t->cl, SIGKILL, SHUTDOWN_MS, NULL);
	return h_shards_heal(t->cl);
}

static void
assert_clean_exit(int rv, int status, int64_t ms)
{
	fprintf(stderr, "# vsetd exited after %lld ms, status 0x%x\n",
	    (long long)ms, status);
	assert_int_equal(rv, 0);
	if (WIFSIGNALED(status))
		fail_msg("vsetd died of signal %d", WTERMSIG(status));
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

/* Inserts and searches, alternating, until told to stop. */
static void *
stream(void *arg)
{
	struct streamer *s = arg;
	vs_client *cli = NULL;
	vs_search_result *r = NULL;
	vs_write_result *w = NULL;
	uint64_t seed = 0x5eed0100 + (uint64_t)s->index;
	char id[32];
	float v[DIM];
	vs_item it = { id, v, DIM, NULL };
	vs_search_params p = { COLL, v, DIM, 5, 0, 0 };
	int i;

	if (vs_connect(&cli, s->url, CLIENT_TIMEOUT_MS) != VS_OK)
		return NULL;
	for (i = 0; i < MAX_REQUESTS &&
	    !__atomic_load_n(s->stop, __ATOMIC_RELAXED); i++) {
		tu_rand_vec(&seed, v, DIM);
		snprintf(id, sizeof(id), "t%d-%d", s->index, i % 100);
		if (i % 2 == 0) {
			if (vs_insert(cli, COLL, &it, 1, &w) == VS_OK)
				__atomic_add_fetch(&s->ok, 1, __ATOMIC_RELAXED);
			else
				__atomic_add_fetch(&s->failed, 1,
				    __ATOMIC_RELAXED);
			vs_write_result_free(w);
			w = NULL;
		} else {
			if (vs_search(cli, &p, &r) == VS_OK)
				__atomic_add_fetch(&s->ok, 1, __ATOMIC_RELAXED);
			else
				__atomic_add_fetch(&s->failed, 1,
				    __ATOMIC_RELAXED);
			vs_search_result_free(r);
			r = NULL;
		}
	}
	vs_close(cli);
	return NULL;
}

static int
total_ok(const struct streamer *s)
{
	int i, n = 0;

	for (i = 0; i < NTHREADS; i++)
		n += __atomic_load_n(&s[i].ok, __ATOMIC_RELAXED);
	return n;
}

static void
test_sigterm_during_stream(void **state)
{
	struct shut *t = *state;
	struct streamer s[NTHREADS];
	int stop = 0;
	vs_client *late = NULL;
	char url[64];
	int64_t t0, end;
	int i, rv, status = -1, started = 0;

	assert_int_equal(h_vsetd_start(t->cl, NULL), 0);
	/* Our copy: the cluster forgets the URL once vsetd is stopped. */
	snprintf(url, sizeof(url), "%s", h_vsetd_url(t->cl));
	memset(s, 0, sizeof(s));
	for (i = 0; i < NTHREADS; i++) {
		s[i].url = url;
		s[i].index = i;
		s[i].stop = &stop;
		if (pthread_create(&s[i].th, NULL, stream, &s[i]) != 0)
			break;
		started++;
	}
	if (started < NTHREADS) {
		__atomic_store_n(&stop, 1, __ATOMIC_RELAXED);
		for (i = 0; i < started; i++)
			pthread_join(s[i].th, NULL);
		fail_msg("pthread_create failed");
	}

	/* Wait (bounded) until the stream is really flowing. */
	end = tu_now_ms() + 10000;
	while (total_ok(s) < 100 && tu_now_ms() < end)
		tu_sleep_ms(10);

	t0 = tu_now_ms();
	rv = h_vsetd_stop(t->cl, SIGTERM, SHUTDOWN_MS, &status);
	end = tu_now_ms() - t0;

	__atomic_store_n(&stop, 1, __ATOMIC_RELAXED);
	for (i = 0; i < NTHREADS; i++)
		pthread_join(s[i].th, NULL);
	fprintf(stderr, "# stream: %d ok before and around the stop\n",
	    total_ok(s));
	assert_true(total_ok(s) >= 100);
	assert_clean_exit(rv, status, end);

	/* And it is gone: nothing listens there any more. */
	rv = vs_connect(&late, url, 500);
	vs_close(late);
	assert_int_equal(rv, VS_UNAVAILABLE);
}

static void
test_sigint_idle(void **state)
{
	struct shut *t = *state;
	vs_client *cli = NULL;
	float v[DIM] = { 1, 0, 0, 0, 0, 0, 0, 0 };
	int64_t t0;
	int rv, status = -1;

	assert_int_equal(h_vsetd_start(t->cl, NULL), 0);
	assert_int_equal(vs_connect(&cli, h_vsetd_url(t->cl), 2000), VS_OK);
	assert_true(tu_search_ok(cli, COLL, v, DIM) >= 0);
	vs_close(cli);
	t0 = tu_now_ms();
	rv = h_vsetd_stop(t->cl, SIGINT, SHUTDOWN_MS, &status);
	assert_clean_exit(rv, status, tu_now_ms() - t0);
}

struct slow_call {
	char url[64];
	int rv;
};

static void *
slow_search(void *arg)
{
	struct slow_call *c = arg;
	float v[DIM] = { 0, 1, 0, 0, 0, 0, 0, 0 };
	vs_search_params p = { COLL, v, DIM, 5, 0, 0 };
	vs_search_result *r = NULL;
	vs_client *cli = NULL;

	c->rv = vs_connect(&cli, c->url, 2000);
	if (c->rv != VS_OK)
		return NULL;
	c->rv = vs_search(cli, &p, &r);
	vs_search_result_free(r);
	vs_close(cli);
	return NULL;
}

/* A stop while a request waits on a frozen shard: bounded by the
 * request's deadline at worst, and still exit 0. */
static void
test_sigterm_with_frozen_shard(void **state)
{
	struct shut *t = *state;
	struct slow_call c = { "", -1 };
	pthread_t th;
	int64_t t0, el;
	int rv, status = -1;

	assert_int_equal(h_vsetd_start(t->cl, NULL), 0);
	snprintf(c.url, sizeof(c.url), "%s", h_vsetd_url(t->cl));
	assert_int_equal(h_shard_stop(t->cl, 0), 0);
	assert_int_equal(pthread_create(&th, NULL, slow_search, &c), 0);
	/* Let the search reach the frozen shard (it waits for its deadline,
	 * 1000 ms by default). */
	tu_sleep_ms(200);
	t0 = tu_now_ms();
	rv = h_vsetd_stop(t->cl, SIGTERM, SHUTDOWN_MS, &status);
	el = tu_now_ms() - t0;
	pthread_join(th, NULL);
	fprintf(stderr, "# search in flight during the stop: %s\n",
	    vs_code_name(c.rv));
	assert_clean_exit(rv, status, el);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_sigterm_during_stream,
		    test_teardown),
		cmocka_unit_test_teardown(test_sigint_idle, test_teardown),
		cmocka_unit_test_teardown(test_sigterm_with_frozen_shard,
		    test_teardown),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
