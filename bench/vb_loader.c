/*
 * vb_loader.c - parallel bulk load (see vb_loader.h).
 *
 * Callers claim batches of rows from a shared atomic cursor, so the rows
 * are loaded once each whatever the concurrency.  The timeout for a batch
 * is generous (at least 30 s): a batch of a few hundred VADDs on a large
 * graph takes a while, and a load is a throughput test, not a latency one.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "vb_direct.h"
#include "vb_loader.h"
#include "vs_time.h"
#include "vsetd.h"

#define LOAD_MIN_TIMEOUT_MS 30000

struct loader {
	const Vsetbench__V1__Plan *plan;
	const vb_dataset *ds;
	size_t batch;
	int timeout_ms;
	atomic_size_t cursor;
	atomic_uint_fast64_t items, failed, requests;
	atomic_int running;
};

struct load_thread {
	struct loader *l;
	pthread_t tid;
	vs_client *client;
	vb_direct *direct;
	char err[256];
};

static void *
load_main(void *arg)
{
	struct load_thread *t = arg;
	struct loader *l = t->l;
	size_t b = l->batch, i, n, first, failed;
	vs_item *items = calloc(b, sizeof(*items));
	char (*idb)[32] = calloc(b, sizeof(*idb));
	const char **ids = calloc(b, sizeof(*ids));
	const float **vecs = calloc(b, sizeof(*vecs));
	vs_write_result *wr;
	int code;

	if (items == NULL || idb == NULL || ids == NULL || vecs == NULL) {
		snprintf(t->err, sizeof(t->err), "out of memory");
		goto out;
	}
	for (;;) {
		first = atomic_fetch_add(&l->cursor, b);
		if (first >= l->ds->n)
			break;
		n = l->ds->n - first < b ? l->ds->n - first : b;
		for (i = 0; i < n; i++) {
			vb_dataset_id(first + i, idb[i], sizeof(idb[i]));
			ids[i] = idb[i];
			vecs[i] = l->ds->data + (first + i) * l->ds->dim;
			items[i] = (vs_item){ ids[i], vecs[i], l->ds->dim,
			    NULL };
		}
		if (l->plan->direct) {
			code = vb_direct_add(t->direct, ids, vecs, n,
			    l->ds->dim, &failed);
		} else {
			wr = NULL;
			code = vs_insert(t->client, l->plan->collection, items,
			    n, &wr);
			failed = wr != NULL ? wr->failed : (code ? n : 0);
			if (code != VS_OK && t->err[0] == '\0')
				snprintf(t->err, sizeof(t->err), "%s: %s",
				    vs_code_name(code), vs_errmsg());
			vs_write_result_free(wr);
		}
		if (code != VS_OK && t->err[0] == '\0')
			snprintf(t->err, sizeof(t->err), "batch at row %zu: "
			    "%s", first, vs_code_name(code));
		atomic_fetch_add(&l->requests, 1);
		atomic_fetch_add(&l->items, n - failed);
		atomic_fetch_add(&l->failed, failed);
	}
out:
	atomic_fetch_sub(&l->running, 1);
	free(items);
	free(idb);
	free(ids);
	free(vecs);
	return NULL;
}

int
vb_load(const Vsetbench__V1__Plan *plan, const vb_dataset *ds,
    size_t batch, size_t concurrency, int progress, vb_load_stats *st,
    char *err, size_t errlen)
{
	struct load_thread *t = NULL;
	struct loader l;
	size_t i, started = 0;
	int64_t t0, t1;
	struct timespec ts = { 0, 200 * 1000000L };
	int rv = -1;

	memset(st, 0, sizeof(*st));
	memset(&l, 0, sizeof(l));
	l.plan = plan;
	l.ds = ds;
	l.batch = batch ? batch : 100;
	l.timeout_ms = (int)plan->timeout_ms > LOAD_MIN_TIMEOUT_MS ?
	    (int)plan->timeout_ms : LOAD_MIN_TIMEOUT_MS;
	if (concurrency == 0)
		concurrency = 1;
	if ((t = calloc(concurrency, sizeof(*t))) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	for (i = 0; i < concurrency; i++) {
		t[i].l = &l;
		if (plan->direct) {
			if (vb_direct_open(&t[i].direct, plan->shards,
			    plan->n_shards, plan->collection, l.timeout_ms, err,
			    errlen) != 0)
				goto out;
		} else if (vs_connect(&t[i].client, plan->server_url,
		    l.timeout_ms) != VS_OK) {
			snprintf(err, errlen, "connecting to %s: %s",
			    plan->server_url, vs_errmsg());
			goto out;
		}
	}
	atomic_store(&l.running, (int)concurrency);
	t0 = vs_now_us();
	for (i = 0; i < concurrency; i++) {
		if (pthread_create(&t[i].tid, NULL, load_main, &t[i]) != 0) {
			snprintf(err, errlen, "cannot start a thread");
			atomic_fetch_sub(&l.running, (int)(concurrency - i));
			/* The started ones finish the whole load. */
			break;
		}
		started++;
	}
	while (atomic_load(&l.running) > 0) {
		nanosleep(&ts, NULL);
		if (progress) {
			double s = (double)(vs_now_us() - t0) / 1e6;
			uint64_t n = atomic_load(&l.items);

			fprintf(stderr, "\r\033[K[load] %llu/%zu items  "
			    "%.0f items/s", (unsigned long long)n, ds->n,
			    s > 0 ? (double)n / s : 0.0);
		}
	}
	for (i = 0; i < started; i++)
		pthread_join(t[i].tid, NULL);
	t1 = vs_now_us();
	if (progress)
		fprintf(stderr, "\r\033[K");
	st->items = atomic_load(&l.items);
	st->failed = atomic_load(&l.failed);
	st->requests = atomic_load(&l.requests);
	st->seconds = (double)(t1 - t0) / 1e6;
	for (i = 0; i < started; i++)
		if (t[i].err[0] != '\0') {
			fprintf(stderr, "vset-bench: load: %s\n", t[i].err);
			break;
		}
	rv = started == concurrency ? 0 : -1;
out:
	for (i = 0; t != NULL && i < concurrency; i++) {
		vb_direct_close(t[i].direct);
		if (t[i].client != NULL)
			vs_close(t[i].client);
	}
	free(t);
	return rv;
}
