/*
 * vb_engine.c - the load threads (see vb_engine.h for the two loops).
 *
 * Each worker keeps its own vb_result (histogram included) and the main
 * thread merges them after joining, so the hot path takes no lock; the only
 * shared writes are two atomic counters (request claims and progress).
 *
 * Phases: workers first run unrecorded (warm-up) until the main thread
 * publishes the window's start time and flips `phase`; then they run the
 * plan's window.  The main thread ends a timed window by raising `stop`;
 * requests in flight then finish and are recorded (their latency is real).
 */
#include <pthread.h>
#include <sys/resource.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "vb_direct.h"
#include "vb_engine.h"
#include "vs_time.h"
#include "vsetd.h"

#define LATE_US 1000

struct worker {
	struct vb_engine *e;
	size_t idx;
	pthread_t tid;
	int started;
	vs_client *client;           /* borrowed from e->clients */
	vb_direct *direct;           /* owned */
	vb_result res;
	uint64_t rng;
	uint64_t ins_seq, del_seq;   /* ids this worker inserted: [del, ins) */
	int64_t last_done_us;
	/* Per-request scratch, sized by the plan's batch. */
	vs_item *items;
	char (*idbuf)[48];
	const char **ids;
	const float **vecs;
};

struct vb_engine {
	const Vsetbench__V1__Plan *plan;
	const vb_dataset *ds;
	uint64_t agent_id;
	vs_client **clients;
	size_t nclients;
	struct worker *w;
	size_t nw;
	size_t batch;
	size_t truth_q;              /* queries with ground truth */
	/* Shared run state. */
	atomic_int phase;            /* 0 warm-up, 1 window */
	atomic_int stop;
	atomic_uint_fast64_t claimed;   /* requests handed out in the window */
	atomic_uint_fast64_t done;      /* for the progress line */
	atomic_int running;          /* workers that have not returned */
	int64_t start_us;            /* published before phase = 1 */
	int64_t end_us;              /* duration mode: window end */
};

static uint64_t
rnd(uint64_t *s)
{
	uint64_t z = (*s += UINT64_C(0x9e3779b97f4a7c15));

	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

static void
sleep_until(int64_t t_us)
{
	struct timespec ts;

	ts.tv_sec = t_us / 1000000;
	ts.tv_nsec = (long)(t_us % 1000000) * 1000;
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) != 0)
		;
}

/* ------------------------------------------------------------ operations */

enum op { OP_SEARCH, OP_INSERT, OP_DELETE, OP_GET };

static enum op
pick_op(struct worker *w)
{
	const Vsetbench__V1__Plan *p = w->e->plan;
	uint64_t total = (uint64_t)p->w_search + p->w_insert + p->w_delete +
	    p->w_get;
	uint64_t r;

	if (total == 0)
		return OP_SEARCH;
	r = rnd(&w->rng) % total;
	if (r < p->w_search)
		return OP_SEARCH;
	r -= p->w_search;
	if (r < p->w_insert)
		return OP_INSERT;
	r -= p->w_insert;
	return r < p->w_delete ? OP_DELETE : OP_GET;
}

/* |returned rows AND true top-k| for query qi. */
static void
count_recall(struct worker *w, size_t qi, const long *rows, size_t nrows)
{
	const Vsetbench__V1__Plan *p = w->e->plan;
	const uint32_t *truth = p->truth + qi * p->truth_k;
	size_t k = p->k < p->truth_k ? p->k : p->truth_k;
	size_t i, j;

	for (i = 0; i < nrows && i < k; i++)
		for (j = 0; j < k; j++)
			if (rows[i] >= 0 && (uint32_t)rows[i] == truth[j]) {
				w->res.recall_hits++;
				break;
			}
	w->res.recall_total += k;
}

/* seq: the request's index in the window, or -1 in the warm-up.  Window
 * searches walk the queries in order (query seq mod nq), so every run of
 * N * nq searches asks each query exactly N times and recall figures of
 * different targets cover the same queries. */
static int
do_search(struct worker *w, int64_t seq)
{
	struct vb_engine *e = w->e;
	const Vsetbench__V1__Plan *p = e->plan;
	int record = seq >= 0;
	size_t qi, i, n = 0;
	const float *q;
	long rows[1024];
	int code, partial = 0;

	qi = record ? (size_t)seq % e->ds->nq : rnd(&w->rng) % e->ds->nq;
	q = e->ds->queries + qi * e->ds->dim;
	if (p->direct) {
		const vb_hit *hits;

		code = vb_direct_search(w->direct, q, e->ds->dim, p->k, p->ef,
		    p->filter, p->require_all, &hits, &n, &partial);
		for (i = 0; code == VS_OK && i < n && i < 1024; i++)
			rows[i] = vb_dataset_row(hits[i].id);
	} else {
		vs_search_params sp = { p->collection, q, e->ds->dim, p->k,
		    p->ef, p->require_all };
		vs_search_options so = { 0 };
		vs_search_result *r = NULL;

		/* The plain call unless a filter needs the extended one. */
		so.filter = p->filter;
		code = p->filter[0] != '\0' ?
		    vs_search_ex(w->client, &sp, &so, &r) :
		    vs_search(w->client, &sp, &r);
		if (code == VS_OK && r != NULL) {
			partial = r->partial;
			n = r->n_hits;
			for (i = 0; i < n && i < 1024; i++)
				rows[i] = vb_dataset_row(r->hits[i].id);
		}
		vs_search_result_free(r);
	}
	if (!record)
		return code;
	w->res.searches++;
	if (code == VS_OK && partial)
		w->res.partial++;
	if (code == VS_OK && qi < e->truth_q)
		count_recall(w, qi, rows, n < 1024 ? n : 1024);
	return code;
}

static int
do_write(struct worker *w, enum op op, int record)
{
	struct vb_engine *e = w->e;
	const Vsetbench__V1__Plan *p = e->plan;
	size_t i, row, failed = 0, b = e->batch;
	vs_write_result *wr = NULL;
	uint64_t seq;
	int code;

	for (i = 0; i < b; i++) {
		/* Deletes take this worker's oldest inserts; with none left
		 * they name fresh ids (a NOT_FOUND delete, still a request). */
		if (op == OP_INSERT)
			seq = w->ins_seq++;
		else if (w->del_seq < w->ins_seq)
			seq = w->del_seq++;
		else
			seq = w->ins_seq + (uint64_t)b + i;
		snprintf(w->idbuf[i], sizeof(w->idbuf[i]), "w%016llx-%zu-%llu",
		    (unsigned long long)e->agent_id, w->idx,
		    (unsigned long long)seq);
		w->ids[i] = w->idbuf[i];
		row = rnd(&w->rng) % e->ds->n;
		w->vecs[i] = e->ds->data + row * e->ds->dim;
		w->items[i] = (vs_item){ w->ids[i], w->vecs[i], e->ds->dim,
		    NULL };
	}
	if (p->direct) {
		code = op == OP_INSERT ?
		    vb_direct_add(w->direct, w->ids, w->vecs, b, e->ds->dim,
		    &failed) :
		    vb_direct_rem(w->direct, w->ids, b, &failed);
	} else {
		code = op == OP_INSERT ?
		    vs_insert(w->client, p->collection, w->items, b, &wr) :
		    vs_delete(w->client, p->collection, w->ids, b, &wr);
		failed = wr != NULL ? wr->failed : (code == VS_OK ? 0 : b);
		vs_write_result_free(wr);
	}
	if (record) {
		if (op == OP_INSERT)
			w->res.inserts++;
		else
			w->res.deletes++;
		w->res.items += b - (failed < b ? failed : b);
	}
	return code;
}

/* Get a random loaded row back: vs_get (Get), or VEMB on its shard. */
static int
do_get(struct worker *w, int record)
{
	struct vb_engine *e = w->e;
	vs_element *el = NULL;
	int code;

	vb_dataset_id(rnd(&w->rng) % e->ds->n, w->idbuf[0],
	    sizeof(w->idbuf[0]));
	if (e->plan->direct) {
		code = vb_direct_get(w->direct, w->idbuf[0]);
	} else {
		code = vs_get(w->client, e->plan->collection, w->idbuf[0], 0,
		    &el);
		vs_element_free(el);
	}
	if (record)
		w->res.gets++;
	return code;
}

/* seq: index in the window (recorded), or -1 in the warm-up. */
static void
one_request(struct worker *w, int64_t t0, int64_t seq)
{
	enum op op = pick_op(w);
	int record = seq >= 0;
	int64_t t1;
	int code;

	if (op == OP_SEARCH)
		code = do_search(w, seq);
	else if (op == OP_GET)
		code = do_get(w, record);
	else
		code = do_write(w, op, record);
	t1 = vs_now_us();
	atomic_fetch_add_explicit(&w->e->done, 1, memory_order_relaxed);
	if (!record)
		return;
	if (code < 0 || code >= VB_NCODES)
		code = VS_UNKNOWN;
	w->res.codes[code]++;
	w->res.requests++;
	vs_hist_record(&w->res.hist, (uint64_t)(t1 > t0 ? t1 - t0 : 0));
	w->last_done_us = t1;
}

/* ------------------------------------------------------------ loops */

/* Claim the next request of the window; -1 when the window is over. */
static int64_t
claim(struct worker *w)
{
	struct vb_engine *e = w->e;
	const Vsetbench__V1__Plan *p = e->plan;
	uint64_t i;

	if (atomic_load_explicit(&e->stop, memory_order_relaxed))
		return -1;
	i = atomic_fetch_add_explicit(&e->claimed, 1, memory_order_relaxed);
	if (p->requests != 0 && i >= p->requests)
		return -1;
	return (int64_t)i;
}

static void *
worker_main(void *arg)
{
	struct worker *w = arg;
	struct vb_engine *e = w->e;
	const Vsetbench__V1__Plan *p = e->plan;
	double period_us = p->rate > 0 ? 1e6 / p->rate : 0;
	int64_t i, due, now;

	while (!atomic_load_explicit(&e->phase, memory_order_acquire)) {
		if (atomic_load_explicit(&e->stop, memory_order_relaxed))
			goto out;
		now = vs_now_us();
		one_request(w, now, -1);
		/* Open loop: warm up at about the planned rate, not flat out,
		 * so the window does not start behind a backlog. */
		if (period_us > 0)
			sleep_until(now + (int64_t)(period_us * (double)e->nw));
	}
	while ((i = claim(w)) >= 0) {
		if (period_us == 0) {
			one_request(w, vs_now_us(), i);
			continue;
		}
		due = e->start_us + (int64_t)((double)i * period_us);
		if (p->duration_ms != 0 && due >= e->end_us)
			break;
		now = vs_now_us();
		if (now < due)
			sleep_until(due);
		else if (now - due > LATE_US)
			w->res.late++;
		one_request(w, due, i);
	}
out:
	atomic_fetch_sub(&e->running, 1);
	return NULL;
}

/* ------------------------------------------------------------ lifecycle */

int
vb_engine_prepare(vb_engine **out, const Vsetbench__V1__Plan *plan,
    const vb_dataset *ds, uint64_t agent_id, char *err, size_t errlen)
{
	vb_engine *e;
	size_t i, b;
	int rv;

	*out = NULL;
	if ((e = calloc(1, sizeof(*e))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	e->plan = plan;
	e->ds = ds;
	e->agent_id = agent_id;
	e->nw = plan->concurrency ? plan->concurrency : 1;
	b = e->batch = plan->batch ? plan->batch : 1;
	if (ds->nq == 0 || ds->n == 0) {
		snprintf(err, errlen, "dataset has no rows or no queries");
		goto fail;
	}
	if (plan->truth_k != 0 && plan->n_truth % plan->truth_k == 0)
		e->truth_q = plan->n_truth / plan->truth_k;
	if (e->truth_q > ds->nq)
		e->truth_q = ds->nq;
	if ((e->w = calloc(e->nw, sizeof(*e->w))) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	if (!plan->direct) {
		e->nclients = plan->sockets ? plan->sockets : e->nw;
		if (e->nclients > e->nw)
			e->nclients = e->nw;
		if ((e->clients = calloc(e->nclients,
		    sizeof(*e->clients))) == NULL) {
			snprintf(err, errlen, "out of memory");
			goto fail;
		}
		for (i = 0; i < e->nclients; i++) {
			if ((rv = vs_connect(&e->clients[i], plan->server_url,
			    (int)plan->timeout_ms)) != VS_OK) {
				snprintf(err, errlen, "connecting to %s: %s",
				    plan->server_url, vs_errmsg());
				goto fail;
			}
		}
	}
	for (i = 0; i < e->nw; i++) {
		struct worker *w = &e->w[i];

		w->e = e;
		w->idx = i;
		w->rng = plan->seed ^ agent_id ^ (UINT64_C(0x9e37) * (i + 1));
		w->items = calloc(b, sizeof(*w->items));
		w->idbuf = calloc(b, sizeof(*w->idbuf));
		w->ids = calloc(b, sizeof(*w->ids));
		w->vecs = calloc(b, sizeof(*w->vecs));
		if (w->items == NULL || w->idbuf == NULL || w->ids == NULL ||
		    w->vecs == NULL) {
			snprintf(err, errlen, "out of memory");
			goto fail;
		}
		if (plan->direct) {
			if (vb_direct_open(&w->direct, plan->shards,
			    plan->n_shards, plan->collection,
			    (int)plan->timeout_ms, err, errlen) != 0)
				goto fail;
		} else {
			w->client = e->clients[i % e->nclients];
		}
	}
	*out = e;
	return 0;
fail:
	vb_engine_free(e);
	return -1;
}

void
vb_engine_free(vb_engine *e)
{
	size_t i;

	if (e == NULL)
		return;
	for (i = 0; e->w != NULL && i < e->nw; i++) {
		vb_direct_close(e->w[i].direct);
		free(e->w[i].items);
		free(e->w[i].idbuf);
		free(e->w[i].ids);
		free(e->w[i].vecs);
	}
	for (i = 0; e->clients != NULL && i < e->nclients; i++)
		if (e->clients[i] != NULL)
			vs_close(e->clients[i]);
	free(e->clients);
	free(e->w);
	free(e);
}

void
vb_result_merge(vb_result *dst, const vb_result *src)
{
	size_t i;

	vs_hist_merge(&dst->hist, &src->hist);
	if (src->elapsed_us > dst->elapsed_us)
		dst->elapsed_us = src->elapsed_us;
	dst->requests += src->requests;
	for (i = 0; i < VB_NCODES; i++)
		dst->codes[i] += src->codes[i];
	dst->partial += src->partial;
	dst->searches += src->searches;
	dst->inserts += src->inserts;
	dst->deletes += src->deletes;
	dst->gets += src->gets;
	dst->items += src->items;
	dst->recall_hits += src->recall_hits;
	dst->recall_total += src->recall_total;
	dst->late += src->late;
	dst->cpu_s += src->cpu_s;
}

static double
self_cpu_s(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru) != 0)
		return 0;
	return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
	    (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

static void
progress_line(vb_engine *e, int64_t now, uint64_t *last_done,
    int64_t *last_t)
{
	uint64_t d = atomic_load_explicit(&e->done, memory_order_relaxed);
	double dt = (double)(now - *last_t) / 1e6;
	int phase = atomic_load_explicit(&e->phase, memory_order_relaxed);

	fprintf(stderr, "\r\033[K[agent] %s %6.1f s  %10llu req  %9.0f req/s",
	    phase ? "run   " : "warmup",
	    phase ? (double)(now - e->start_us) / 1e6 : 0.0,
	    (unsigned long long)d, dt > 0 ? (double)(d - *last_done) / dt : 0);
	*last_done = d;
	*last_t = now;
}

int
vb_engine_run(vb_engine *e, vb_result *res, int progress, char *err,
    size_t errlen)
{
	const Vsetbench__V1__Plan *p = e->plan;
	int64_t t0, hard_end, now, next_tick, last_t, wake;
	double cpu0 = self_cpu_s();
	uint64_t last_done = 0;
	size_t i;
	int rv = -1;

	memset(res, 0, sizeof(*res));
	vs_hist_reset(&res->hist);
	atomic_store(&e->phase, 0);
	atomic_store(&e->stop, 0);
	atomic_store(&e->claimed, 0);
	atomic_store(&e->done, 0);
	atomic_store(&e->running, (int)e->nw);
	for (i = 0; i < e->nw; i++) {
		struct worker *w = &e->w[i];

		memset(&w->res, 0, sizeof(w->res));
		vs_hist_reset(&w->res.hist);
		w->last_done_us = 0;
		if (pthread_create(&w->tid, NULL, worker_main, w) != 0) {
			snprintf(err, errlen, "cannot start thread %zu", i);
			atomic_fetch_sub(&e->running, (int)(e->nw - i));
			atomic_store(&e->stop, 1);
			goto join;
		}
		w->started = 1;
	}
	t0 = vs_now_us();
	hard_end = t0 + (int64_t)(p->max_ms ? p->max_ms : 600000) * 1000;
	last_t = t0;
	next_tick = t0 + 500000;
	/* Warm-up, then publish the window (start before phase, so a worker
	 * that sees phase 1 also sees the start). */
	while ((now = vs_now_us()) < t0 + (int64_t)p->warmup_ms * 1000) {
		wake = t0 + (int64_t)p->warmup_ms * 1000;
		if (progress && next_tick < wake)
			wake = next_tick;
		sleep_until(wake);
		if (progress && vs_now_us() >= next_tick) {
			progress_line(e, vs_now_us(), &last_done, &last_t);
			next_tick += 500000;
		}
	}
	cpu0 = self_cpu_s();
	e->start_us = vs_now_us();
	e->end_us = e->start_us + (int64_t)p->duration_ms * 1000;
	atomic_store_explicit(&e->phase, 1, memory_order_release);
	/* The window: until its end (duration), or until every request was
	 * claimed and answered (count), and never past the hard stop. */
	for (;;) {
		now = vs_now_us();
		if (now >= hard_end)
			break;
		if (p->duration_ms != 0 && now >= e->end_us)
			break;
		if (atomic_load(&e->running) == 0)
			break;          /* count mode: every request answered */
		wake = now + 20000;
		if (p->duration_ms != 0 && e->end_us < wake)
			wake = e->end_us;
		sleep_until(wake);
		if (progress && vs_now_us() >= next_tick) {
			progress_line(e, vs_now_us(), &last_done, &last_t);
			next_tick += 500000;
		}
	}
	atomic_store(&e->stop, 1);
	rv = 0;
join:
	for (i = 0; i < e->nw; i++) {
		struct worker *w = &e->w[i];
		int64_t el;

		if (!w->started)
			continue;
		pthread_join(w->tid, NULL);
		w->started = 0;
		el = w->last_done_us - e->start_us;
		if (w->last_done_us != 0 && el > 0)
			w->res.elapsed_us = (uint64_t)el;
		vb_result_merge(res, &w->res);
	}
	res->cpu_s = self_cpu_s() - cpu0;
	if (progress)
		fprintf(stderr, "\r\033[K");
	return rv;
}
