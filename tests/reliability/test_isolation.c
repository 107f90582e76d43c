/*
 * test_isolation.c - what one caller does must not hurt another caller
 * (GitHub issue 12, findings 1, 2 and 10).
 *
 * Two kinds of caller share one vsetd in front of NSHARDS real Redis 8
 * shards holding NITEMS items:
 *   - caller X is hurried or hostile: BatchSearches of 40 queries, k 1000,
 *     with 1 ms deadlines (which used to open every healthy shard's
 *     breaker), Inserts of --max-batch items with 1 ms deadlines, and,
 *     while a shard is frozen (SIGSTOP), Searches with long deadlines that
 *     wait on it;
 *   - caller Y is normal: Searches and small Inserts with a 2000 ms
 *     deadline.
 * What Y relies on, checked per call:
 *   - every call answers within its deadline + the documented margin;
 *   - with every shard healthy: OK, not partial, every shard ok, every
 *     item written, during X's bursts and after them;
 *   - while a shard is frozen: a Search is OK and only the frozen shard may
 *     be missing; an Insert writes every item the healthy shards own.
 * And a shard skipped by its open breaker is reported failed with
 * UNAVAILABLE (protocol.md 6-7), in a Search's ShardSummary and in an
 * Insert's status, never timed out / DEADLINE_EXCEEDED.
 * Counts are printed as TAP comments ("# X: ... Y: ...").
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "rel_data.h"
#include "rel_rig.h"
#include "vsetd.h"

#define NSHARDS 3
#define VICTIM 1
#define NITEMS 3000
#define DIM 16
#define COLL "iso"
#define XCOLL "iso-x"           /* X's inserts go here: Y's data stays put */
#define K 10
#define BATCH_Q 40              /* X's BatchSearch: 40 queries of k 1000 */
#define BATCH_K 1000
#define MAX_BATCH 2000          /* the rig's --max-batch */
#define MAX_BATCH_ARG "2000"
#define HURRIED_MS 1            /* X's deadline */
#define X_LONG_MS 5000          /* X's Searches on the frozen shard */
#define Y_DEADLINE_MS 2000
#define MARGIN_MS 250           /* VS_REPLY_GRACE_MS: the documented margin */
#define NX_HURRIED 2            /* X threads sending bursts */
#define NX_LONG 2               /* X threads waiting on the frozen shard */
#define NY 2                    /* Y threads */
#define Y_ITEMS 4               /* per Y Insert */
#define BURST_MS 1500           /* regression 1: X's bursts last this long */
#define HEALTHY_MS 1500         /* property test: both phases */
#define FROZEN_MS 1500
#define MAX_Y 4096
#define RECOVER_MS 3000
#define THRESHOLD 3             /* VSD_BREAKER_THRESHOLD */
#define SKIP_BOUND_MS 200       /* a breaker skip answers "at once" */

struct state {
	struct rel_rig rig;
	struct rel_data *xd;         /* X's items (MAX_BATCH) */
	const float **qv;            /* BATCH_Q query vectors */
};

/* One Y call, checked after the run. */
struct ycall {
	int64_t start_ms, end_ms;
	int is_insert, rv, partial;
	uint32_t ok, total;
	int victim_missing;          /* the victim was not ok / its items */
	int other_missing;           /* a healthy shard or its items missing */
};

struct caller {
	pthread_t th;
	struct state *s;
	int idx;
	int mode;                    /* enum below */
	atomic_int *stop;
	/* X: counts by status code (VS_* < 32) */
	int by_code[32];
	int n;
	int connect_rv;
	/* Y */
	struct ycall *calls;
	int ny;
};

enum { X_HURRIED, X_LONG, Y_NORMAL };

static int
group_setup(void **st)
{
	static const char *const args[] = { "--max-batch", MAX_BATCH_ARG,
	    NULL };
	struct state *s;
	size_t i;

	if (rel_rig_new(st, sizeof(*s), "iso", NSHARDS, NULL, NULL, args) != 0)
		return -1;
	s = *st;
	s->rig.d = rel_data_new("y", NITEMS, DIM, NSHARDS, 0x150);
	s->xd = rel_data_new("x", MAX_BATCH, DIM, NSHARDS, 0x15017);
	s->qv = calloc(BATCH_Q, sizeof(*s->qv));
	if (s->rig.d == NULL || s->xd == NULL || s->qv == NULL)
		return -1;
	for (i = 0; i < BATCH_Q; i++)
		s->qv[i] = s->rig.d->vec + i * DIM;
	return rel_rig_load(&s->rig, COLL, 5000);
}

static int
group_teardown(void **st)
{
	struct state *s = *st;

	if (s != NULL) {
		rel_data_free(s->xd);
		free(s->qv);
	}
	return rel_rig_teardown(st);
}

static void
count(struct caller *c, int rv)
{
	c->by_code[rv >= 0 && rv < 32 ? rv : 31]++;
	c->n++;
}

/* X, hurried: 1 ms BatchSearches of 40 x k 1000, 1 ms Searches, and 1 ms
 * Inserts of --max-batch items, in turn. */
static void
x_hurried_one(struct caller *c, vs_client *cli, int i)
{
	vs_search_result **rs = NULL, *r = NULL;
	vs_write_result *wr = NULL;
	vs_search_params sp;
	int rv;

	vs_set_timeout(cli, HURRIED_MS);
	switch (i % 4) {
	case 0:
	case 1:
		rel_search_params(&sp, c->s->rig.d, COLL, 0, BATCH_K);
		rv = vs_search_batch(cli, &sp, NULL, c->s->qv, BATCH_Q, &rs);
		if (rv == VS_OK)
			vs_search_results_free(rs, BATCH_Q);
		break;
	case 2:
		rel_search_params(&sp, c->s->rig.d, COLL, (size_t)i, BATCH_K);
		rv = vs_search(cli, &sp, &r);
		vs_search_result_free(r);
		break;
	default:
		rv = vs_insert(cli, XCOLL, c->s->xd->items, MAX_BATCH, &wr);
		vs_write_result_free(wr);
		break;
	}
	count(c, rv);
}

/* X, waiting: Searches with a long deadline (they wait on a frozen
 * shard as long as vsetd lets them). */
static void
x_long_one(struct caller *c, vs_client *cli, int i)
{
	vs_search_result *r = NULL;
	vs_search_params sp;

	vs_set_timeout(cli, X_LONG_MS);
	rel_search_params(&sp, c->s->rig.d, COLL, (size_t)i, K);
	count(c, vs_search(cli, &sp, &r));
	vs_search_result_free(r);
}

/* Y: a Search, then an Insert of Y_ITEMS of its own items, in turn. */
static void
y_one(struct caller *c, vs_client *cli, int i)
{
	const struct rel_data *d = c->s->rig.d;
	struct ycall *y = &c->calls[c->ny++];
	vs_search_result *r = NULL;
	vs_write_result *wr = NULL;
	vs_search_params sp;
	size_t j, base;

	memset(y, 0, sizeof(*y));
	vs_set_timeout(cli, Y_DEADLINE_MS);
	y->is_insert = i % 2;
	y->start_ms = tp_now_ms();
	if (!y->is_insert) {
		rel_search_params(&sp, d, COLL, (size_t)i, K);
		y->rv = vs_search(cli, &sp, &r);
		y->end_ms = tp_now_ms();
		if (r != NULL) {
			y->partial = r->partial;
			y->ok = r->shards.ok;
			y->total = r->shards.total;
			for (j = 0; j < r->n_shard_errors; j++) {
				if (r->shard_errors[j].shard == VICTIM)
					y->victim_missing = 1;
				else
					y->other_missing = 1;
			}
			if (r->n_hits != K)
				y->other_missing = 1;
		}
		vs_search_result_free(r);
		return;
	}
	base = ((size_t)i * Y_ITEMS) % (d->n - Y_ITEMS);
	y->rv = vs_insert(cli, COLL, d->items + base, Y_ITEMS, &wr);
	y->end_ms = tp_now_ms();
	if (wr == NULL || wr->n_items != Y_ITEMS) {
		y->other_missing = 1;
	} else {
		y->ok = wr->shards.ok;
		y->total = wr->shards.total;
		for (j = 0; j < Y_ITEMS; j++) {
			int done = wr->items[j].outcome == VS_WRITE_ADDED ||
			    wr->items[j].outcome == VS_WRITE_UPDATED;

			if (done)
				continue;
			if (d->owner[base + j] == VICTIM)
				y->victim_missing = 1;
			else
				y->other_missing = 1;
		}
		y->partial = y->victim_missing || y->other_missing;
	}
	vs_write_result_free(wr);
}

static void *
caller_loop(void *arg)
{
	struct caller *c = arg;
	vs_client *cli = NULL;
	int i;

	if ((c->connect_rv = rel_connect(&cli, c->s->rig.v.url,
	    Y_DEADLINE_MS)) != VS_OK)
		return NULL;
	for (i = 0; !atomic_load(c->stop); i++) {
		if (c->mode == Y_NORMAL) {
			if (c->ny >= MAX_Y)
				break;
			y_one(c, cli, i * NY + c->idx);
		} else if (c->mode == X_LONG) {
			x_long_one(c, cli, i);
		} else {
			x_hurried_one(c, cli, i + c->idx);
		}
	}
	vs_close(cli);
	return NULL;
}

static int
start_caller(struct caller *c, struct state *s, int mode, int idx,
    atomic_int *stop)
{
	memset(c, 0, sizeof(*c));
	c->s = s;
	c->mode = mode;
	c->idx = idx;
	c->stop = stop;
	if (mode == Y_NORMAL &&
	    (c->calls = calloc(MAX_Y, sizeof(*c->calls))) == NULL)
		return -1;
	return pthread_create(&c->th, NULL, caller_loop, c);
}

static void
print_x(const char *what, const struct caller *x, int n)
{
	int i, c, tot[32] = { 0 }, all = 0;
	char line[512];
	size_t off;

	for (i = 0; i < n; i++)
		for (c = 0; c < 32; c++) {
			tot[c] += x[i].by_code[c];
			all += x[i].by_code[c];
		}
	off = (size_t)snprintf(line, sizeof(line), "# X (%s): %d calls:", what,
	    all);
	for (c = 0; c < 32 && off < sizeof(line); c++)
		if (tot[c] > 0)
			off += (size_t)snprintf(line + off, sizeof(line) - off,
			    " %s %d", vs_code_name(c), tot[c]);
	fprintf(stderr, "%s\n", line);
}

/* Check Y's calls: frozen_from..frozen_to (0, 0: never) is when the
 * victim was stopped.  Prints and returns the number of bad calls. */
static int
check_y(const char *what, const struct caller *y, int64_t frozen_from,
    int64_t frozen_to)
{
	int i, bad = 0, full = 0, partial = 0;
	int64_t max_ms = 0;

	for (i = 0; i < y->ny; i++) {
		const struct ycall *c = &y->calls[i];
		int64_t dur = c->end_ms - c->start_ms;
		int frozen = frozen_to > 0 && c->start_ms < frozen_to &&
		    c->end_ms > frozen_from;
		const char *why = NULL;

		if (dur > max_ms)
			max_ms = dur;
		if (dur > Y_DEADLINE_MS + MARGIN_MS)
			why = "late";
		else if (c->other_missing)
			why = "a healthy shard's part missing";
		else if (!frozen && (c->partial || c->victim_missing ||
		    c->ok != c->total))
			why = "partial with every shard healthy";
		else if (!c->is_insert && c->rv != VS_OK)
			why = "search failed";
		else if (c->is_insert && c->rv != VS_OK && !c->victim_missing)
			why = "insert failed";
		if (why != NULL) {
			if (bad++ < 10)
				fprintf(stderr, "# Y %s call %d (%s): %s, %s "
				    "after %lld ms (%u of %u shards ok)\n",
				    what, i, c->is_insert ? "insert" : "search",
				    why, vs_code_name(c->rv), (long long)dur,
				    c->ok, c->total);
			continue;
		}
		if (c->partial || c->victim_missing)
			partial++;
		else
			full++;
	}
	fprintf(stderr, "# Y (%s): %d calls: %d full, %d partial (frozen "
	    "shard only), %d bad; slowest %lld ms\n", what, y->ny, full,
	    partial, bad, (long long)max_ms);
	return bad;
}

/* Finding 1: X's 1 ms bursts on healthy shards never cost Y anything. */
static void
test_hurried_caller_opens_no_breaker(void **st)
{
	struct state *s = *st;
	struct caller x[NX_HURRIED], y[NY];
	atomic_int stop_x = 0, stop_y = 0;
	int i, bad = 0;

	for (i = 0; i < NY; i++)
		assert_int_equal(start_caller(&y[i], s, Y_NORMAL, i, &stop_y),
		    0);
	for (i = 0; i < NX_HURRIED; i++)
		assert_int_equal(start_caller(&x[i], s, X_HURRIED, i,
		    &stop_x), 0);
	tp_sleep_ms(BURST_MS);
	atomic_store(&stop_x, 1);
	for (i = 0; i < NX_HURRIED; i++)
		pthread_join(x[i].th, NULL);
	/* afterwards too: no breaker was left open */
	tp_sleep_ms(BURST_MS / 3);
	atomic_store(&stop_y, 1);
	for (i = 0; i < NY; i++)
		pthread_join(y[i].th, NULL);

	print_x("1 ms bursts, healthy shards", x, NX_HURRIED);
	for (i = 0; i < NY; i++)
		bad += check_y("during and after the bursts", &y[i], 0, 0);
	for (i = 0; i < NX_HURRIED; i++) {
		assert_int_equal(x[i].connect_rv, VS_OK);
		assert_true(x[i].n > 0);
	}
	for (i = 0; i < NY; i++) {
		assert_int_equal(y[i].connect_rv, VS_OK);
		assert_true(y[i].ny >= 4);
		free(y[i].calls);
	}
	assert_int_equal(bad, 0);
}

/* The property: X hurried and hostile, first with every shard healthy,
 * then with one frozen; Y's calls all succeed within their deadlines. */
static void
test_two_callers(void **st)
{
	struct state *s = *st;
	struct caller x[NX_HURRIED + NX_LONG], y[NY];
	atomic_int stop_x = 0, stop_long = 0, stop_y = 0;
	int64_t frozen_from, frozen_to;
	int i, bad = 0;

	assert_true(rel_rig_wait_full(&s->rig, COLL, K, RECOVER_MS) >= 0);
	for (i = 0; i < NY; i++)
		assert_int_equal(start_caller(&y[i], s, Y_NORMAL, i, &stop_y),
		    0);
	for (i = 0; i < NX_HURRIED; i++)
		assert_int_equal(start_caller(&x[i], s, X_HURRIED, i,
		    &stop_x), 0);
	tp_sleep_ms(HEALTHY_MS);

	frozen_from = tp_now_ms();
	if (tp_redis_stop(&s->rig.shard[VICTIM]) != 0)
		fail_msg("SIGSTOP");
	for (i = NX_HURRIED; i < NX_HURRIED + NX_LONG; i++)
		if (start_caller(&x[i], s, X_LONG, i, &stop_long) != 0) {
			tp_redis_cont(&s->rig.shard[VICTIM]);
			fail_msg("pthread_create");
		}
	tp_sleep_ms(FROZEN_MS);
	atomic_store(&stop_y, 1);
	for (i = 0; i < NY; i++)
		pthread_join(y[i].th, NULL);
	atomic_store(&stop_x, 1);
	atomic_store(&stop_long, 1);
	frozen_to = tp_now_ms();
	assert_int_equal(tp_redis_cont(&s->rig.shard[VICTIM]), 0);
	for (i = 0; i < NX_HURRIED + NX_LONG; i++)
		pthread_join(x[i].th, NULL);

	print_x("hurried and hostile", x, NX_HURRIED);
	print_x("long deadlines on the frozen shard", x + NX_HURRIED,
	    NX_LONG);
	for (i = 0; i < NY; i++)
		bad += check_y("healthy, then one shard frozen", &y[i],
		    frozen_from, frozen_to);
	for (i = 0; i < NY; i++) {
		assert_int_equal(y[i].connect_rv, VS_OK);
		assert_true(y[i].ny >= 4);
		free(y[i].calls);
	}
	assert_int_equal(bad, 0);
	assert_true(rel_rig_wait_full(&s->rig, COLL, K, RECOVER_MS) >= 0);
}

/* Finding 10: a shard skipped by its open breaker is failed/UNAVAILABLE. */
static void
test_breaker_skip_is_unavailable(void **st)
{
	struct state *s = *st;
	const struct rel_data *d = s->rig.d;
	vs_search_result *res;
	vs_write_result *wr = NULL;
	vs_search_params sp;
	int64_t t, dur;
	int i, rv;
	size_t v;

	assert_true(rel_rig_wait_full(&s->rig, COLL, K, RECOVER_MS) >= 0);
	tp_redis_kill(&s->rig.shard[VICTIM]);
	vs_set_timeout(s->rig.cli, Y_DEADLINE_MS);
	for (i = 0; i < THRESHOLD; i++) {
		rel_search_params(&sp, d, COLL, (size_t)i, K);
		res = NULL;
		assert_int_equal(vs_search(s->rig.cli, &sp, &res), VS_OK);
		assert_int_equal(res->shards.failed, 1);
		vs_search_result_free(res);
	}
	/* Open now: skipped at once, failed, UNAVAILABLE. */
	rel_search_params(&sp, d, COLL, 0, K);
	res = NULL;
	t = tp_now_ms();
	assert_int_equal(vs_search(s->rig.cli, &sp, &res), VS_OK);
	dur = tp_now_ms() - t;
	fprintf(stderr, "# skipped shard: search in %lld ms: %s\n",
	    (long long)dur, res->n_shard_errors > 0 ?
	    res->shard_errors[0].message : "");
	assert_true(dur < SKIP_BOUND_MS);
	assert_int_equal(res->partial, 1);
	assert_int_equal(res->shards.failed, 1);
	assert_int_equal(res->shards.timed_out, 0);
	assert_int_equal(res->n_shard_errors, 1);
	assert_int_equal(res->shard_errors[0].shard, VICTIM);
	assert_int_equal(res->shard_errors[0].code, VS_UNAVAILABLE);
	assert_non_null(strstr(res->shard_errors[0].message, "circuit open"));
	vs_search_result_free(res);

	/* An Insert to it: the item failed UNAVAILABLE, and so is the call. */
	for (v = 0; v < d->n && d->owner[v] != VICTIM; v++)
		;
	assert_true(v < d->n);
	rv = vs_insert(s->rig.cli, COLL, &d->items[v], 1, &wr);
	fprintf(stderr, "# skipped shard: insert %s: %s\n", vs_code_name(rv),
	    vs_errmsg());
	assert_int_equal(rv, VS_UNAVAILABLE);
	assert_non_null(wr);
	assert_int_equal(wr->items[0].outcome, VS_WRITE_FAILED);
	assert_int_equal(wr->items[0].code, VS_UNAVAILABLE);
	assert_int_equal(wr->shards.failed, 1);
	assert_int_equal(wr->shards.timed_out, 0);
	vs_write_result_free(wr);

	assert_true(tp_proc_alive(&s->rig.v.p));
	assert_int_equal(tp_vsetd_term(&s->rig.v, 5000), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hurried_caller_opens_no_breaker),
		cmocka_unit_test(test_two_callers),
		cmocka_unit_test(test_breaker_skip_is_unavailable),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
