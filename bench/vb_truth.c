/*
 * vb_truth.c - brute-force cosine top-K, threaded, with an on-disk cache.
 *
 * Rows are normalised once into a copy so that the inner loop is a plain
 * dot product the compiler can vectorise.  Queries are split across
 * threads; each keeps its own top-K by insertion (K is small).
 *
 * Cache file: "VBGT0001", then n, nq, k as little-endian uint32, the
 * dataset checksum as little-endian uint64, then nq*k little-endian
 * uint32.  Written to a temporary name and renamed, so concurrent runs
 * never read half a file.
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vb_truth.h"

#define TRUTH_THREADS 2

struct truth_job {
	const float *data;        /* normalised rows */
	const float *queries;     /* normalised queries */
	size_t n, dim, k;
	size_t q0, q1;            /* this thread's queries */
	uint32_t *out;
};

static float *
normalised(const float *v, size_t rows, size_t dim)
{
	float *o = malloc(rows * dim * sizeof(float) + 1);
	size_t i, j;
	double s;

	if (o == NULL)
		return NULL;
	for (i = 0; i < rows; i++) {
		s = 0;
		for (j = 0; j < dim; j++)
			s += (double)v[i * dim + j] * v[i * dim + j];
		/* A zero row has no direction: it stays zero and scores 0. */
		s = s > 0 ? 1.0 / sqrt(s) : 0.0;
		for (j = 0; j < dim; j++)
			o[i * dim + j] = (float)(v[i * dim + j] * s);
	}
	return o;
}

/* Eight independent partial sums: without -ffast-math the compiler may not
 * reorder one float sum, and this layout lets it use SIMD lanes anyway. */
static float
dot(const float *a, const float *b, size_t n)
{
	float acc[8] = { 0 };
	size_t i, l;

	for (i = 0; i + 8 <= n; i += 8)
		for (l = 0; l < 8; l++)
			acc[l] += a[i + l] * b[i + l];
	for (; i < n; i++)
		acc[0] += a[i] * b[i];
	return ((acc[0] + acc[4]) + (acc[1] + acc[5])) +
	    ((acc[2] + acc[6]) + (acc[3] + acc[7]));
}

static void *
truth_thread(void *arg)
{
	struct truth_job *j = arg;
	float *best = malloc(j->k * sizeof(float));
	uint32_t *row = malloc(j->k * sizeof(uint32_t));
	const float *q;
	size_t qi, i, m, filled;
	float s;

	if (best == NULL || row == NULL)
		goto out;
	for (qi = j->q0; qi < j->q1; qi++) {
		q = j->queries + qi * j->dim;
		filled = 0;
		for (i = 0; i < j->n; i++) {
			s = dot(q, j->data + i * j->dim, j->dim);
			if (filled == j->k && s <= best[filled - 1])
				continue;   /* ties keep the lower row */
			m = filled < j->k ? filled++ : filled - 1;
			while (m > 0 && best[m - 1] < s) {
				best[m] = best[m - 1];
				row[m] = row[m - 1];
				m--;
			}
			best[m] = s;
			row[m] = (uint32_t)i;
		}
		memcpy(j->out + qi * j->k, row, j->k * sizeof(uint32_t));
	}
out:
	free(best);
	free(row);
	return NULL;
}

static int
compute(const vb_dataset *ds, size_t k, uint32_t *out)
{
	struct truth_job jobs[TRUTH_THREADS];
	pthread_t tid[TRUTH_THREADS];
	float *data = NULL, *queries = NULL;
	size_t t, started = 0;
	int rv = -1;

	data = normalised(ds->data, ds->n, ds->dim);
	queries = normalised(ds->queries, ds->nq, ds->dim);
	if (data == NULL || queries == NULL)
		goto out;
	for (t = 0; t < TRUTH_THREADS; t++) {
		jobs[t] = (struct truth_job){ data, queries, ds->n, ds->dim,
		    k, ds->nq * t / TRUTH_THREADS,
		    ds->nq * (t + 1) / TRUTH_THREADS, out };
		if (pthread_create(&tid[t], NULL, truth_thread, &jobs[t]) != 0)
			break;
		started++;
	}
	for (t = 0; t < started; t++)
		pthread_join(tid[t], NULL);
	if (started == TRUTH_THREADS)
		rv = 0;
out:
	free(data);
	free(queries);
	return rv;
}

/* ------------------------------------------------------------ cache */

static void
put32(uint8_t *b, uint32_t v)
{
	b[0] = (uint8_t)v;
	b[1] = (uint8_t)(v >> 8);
	b[2] = (uint8_t)(v >> 16);
	b[3] = (uint8_t)(v >> 24);
}

static uint32_t
get32(const uint8_t *b)
{
	return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 |
	    (uint32_t)b[3] << 24;
}

static void
make_header(uint8_t hdr[28], const vb_dataset *ds, size_t k)
{
	memcpy(hdr, "VBGT0001", 8);
	put32(hdr + 8, (uint32_t)ds->n);
	put32(hdr + 12, (uint32_t)ds->nq);
	put32(hdr + 16, (uint32_t)k);
	put32(hdr + 20, (uint32_t)ds->checksum);
	put32(hdr + 24, (uint32_t)(ds->checksum >> 32));
}

static int
cache_path(char *buf, size_t len, const char *dir, const vb_dataset *ds,
    size_t k)
{
	const char *base;
	char d[3000];

	if (dir != NULL && dir[0] == '\0')
		return -1;
	if (dir != NULL)
		snprintf(d, sizeof(d), "%s", dir);
	else if ((base = getenv("XDG_CACHE_HOME")) != NULL && base[0] != '\0')
		snprintf(d, sizeof(d), "%s/vset-bench", base);
	else if ((base = getenv("HOME")) != NULL && base[0] != '\0')
		snprintf(d, sizeof(d), "%s/.cache/vset-bench", base);
	else
		return -1;
	/* mkdir -p of the last two levels is enough for both defaults. */
	if (dir == NULL) {
		char parent[3000];
		char *slash;

		snprintf(parent, sizeof(parent), "%s", d);
		if ((slash = strrchr(parent, '/')) != NULL) {
			*slash = '\0';
			(void)mkdir(parent, 0755);
		}
	}
	if (mkdir(d, 0755) != 0 && errno != EEXIST)
		return -1;
	snprintf(buf, len, "%s/truth-%016llx-%zu-%zu.bin", d,
	    (unsigned long long)ds->checksum, ds->nq, k);
	return 0;
}

static int
cache_read(const char *path, const vb_dataset *ds, size_t k, uint32_t *out)
{
	uint8_t hdr[28], want[28], *buf = NULL;
	size_t i, n = ds->nq * k;
	FILE *f;
	int rv = -1;

	if ((f = fopen(path, "rb")) == NULL)
		return -1;
	make_header(want, ds, k);
	if (fread(hdr, 1, sizeof(hdr), f) != sizeof(hdr) ||
	    memcmp(hdr, want, sizeof(hdr)) != 0)
		goto out;
	if ((buf = malloc(n * 4 + 1)) == NULL ||
	    fread(buf, 1, n * 4, f) != n * 4)
		goto out;
	for (i = 0; i < n; i++) {
		out[i] = get32(buf + 4 * i);
		if (out[i] >= ds->n)
			goto out;
	}
	rv = 0;
out:
	free(buf);
	fclose(f);
	return rv;
}

static void
cache_write(const char *path, const vb_dataset *ds, size_t k,
    const uint32_t *truth)
{
	uint8_t hdr[28], b[4];
	char tmp[4200];
	size_t i;
	FILE *f;
	int ok = 1;

	snprintf(tmp, sizeof(tmp), "%s.%ld.tmp", path, (long)getpid());
	if ((f = fopen(tmp, "wb")) == NULL)
		return;         /* a cache is an optimisation: carry on */
	make_header(hdr, ds, k);
	ok = fwrite(hdr, 1, sizeof(hdr), f) == sizeof(hdr);
	for (i = 0; ok && i < ds->nq * k; i++) {
		put32(b, truth[i]);
		ok = fwrite(b, 1, 4, f) == 4;
	}
	if (fclose(f) != 0)
		ok = 0;
	if (!ok || rename(tmp, path) != 0)
		unlink(tmp);
}

int
vb_truth_get(const vb_dataset *ds, size_t k, const char *cache_dir,
    uint32_t *out, int *cached)
{
	char path[4096];
	int have_path;

	*cached = 0;
	if (k == 0 || k > ds->n)
		return -1;
	have_path = cache_path(path, sizeof(path), cache_dir, ds, k) == 0;
	if (have_path && cache_read(path, ds, k, out) == 0) {
		*cached = 1;
		return 0;
	}
	if (compute(ds, k, out) != 0)
		return -1;
	if (have_path)
		cache_write(path, ds, k, out);
	return 0;
}
