/*
 * rel_data.c - seeded items and bulk loading for the fault tests.
 *
 * Design note.  Loading goes through vsetd (not straight into Redis) so
 * that the data is laid out exactly as the server routes it; a load that
 * is not fully acknowledged fails the test's setup rather than producing
 * confusing "missing hit" failures later.
 */
#include "rel_data.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vs_hash.h"

struct rel_data *
rel_data_new(const char *prefix, size_t n, size_t dim, uint32_t nshards,
    uint64_t seed)
{
	struct rel_data *d;
	size_t i;

	if ((d = calloc(1, sizeof(*d))) == NULL)
		return NULL;
	d->n = n;
	d->dim = dim;
	d->ids = calloc(n, sizeof(*d->ids));
	d->vec = calloc(n * dim, sizeof(*d->vec));
	d->items = calloc(n, sizeof(*d->items));
	d->owner = calloc(n, sizeof(*d->owner));
	if (d->ids == NULL || d->vec == NULL || d->items == NULL ||
	    d->owner == NULL) {
		rel_data_free(d);
		return NULL;
	}
	for (i = 0; i < n; i++) {
		snprintf(d->ids[i], sizeof(d->ids[i]), "%s-%05zu", prefix, i);
		rel_rand_vec(&seed, d->vec + i * dim, dim);
		d->items[i].id = d->ids[i];
		d->items[i].vector = d->vec + i * dim;
		d->items[i].dim = dim;
		d->items[i].attrs_json = NULL;
		d->owner[i] = vs_shard_of(d->ids[i], strlen(d->ids[i]),
		    nshards);
	}
	return d;
}

void
rel_data_free(struct rel_data *d)
{
	if (d == NULL)
		return;
	free(d->ids);
	free(d->vec);
	free(d->items);
	free(d->owner);
	free(d);
}

int
rel_connect(vs_client **out, const char *url, int timeout_ms)
{
	int rv;

	if ((rv = vs_connect(out, url, timeout_ms)) != VS_OK)
		fprintf(stderr, "# vs_connect %s: %s %s\n", url,
		    vs_code_name(rv), vs_errmsg());
	return rv;
}

int
rel_data_load(vs_client *c, const char *coll, const struct rel_data *d)
{
	vs_write_result *wr = NULL;
	size_t off, n;
	int rv;

	for (off = 0; off < d->n; off += n) {
		n = d->n - off < 100 ? d->n - off : 100;
		if ((rv = vs_insert(c, coll, d->items + off, n, &wr)) != VS_OK ||
		    wr == NULL || wr->added + wr->updated != n) {
			fprintf(stderr, "# load %s at %zu: %s %s\n", coll, off,
			    vs_code_name(rv), vs_errmsg());
			vs_write_result_free(wr);
			return -1;
		}
		vs_write_result_free(wr);
		wr = NULL;
	}
	return 0;
}

void
rel_search_params(vs_search_params *sp, const struct rel_data *d,
    const char *coll, size_t i, uint32_t k)
{
	memset(sp, 0, sizeof(*sp));
	sp->collection = coll;
	sp->vector = d->vec + (i % d->n) * d->dim;
	sp->dim = d->dim;
	sp->k = k;
}

/* ------------------------------------------------------------ numbers */

static int
rel_cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

double
rel_quantile(double *v, size_t n, double q)
{
	size_t rank;

	if (n == 0)
		return 0.0;
	qsort(v, n, sizeof(*v), rel_cmp_double);
	/* Nearest rank: the smallest value with at least q*n values <= it. */
	rank = (size_t)(q * (double)n + 0.999999);
	if (rank < 1)
		rank = 1;
	if (rank > n)
		rank = n;
	return v[rank - 1];
}

void
rel_rand_vec(uint64_t *seed, float *v, size_t dim)
{
	size_t i;
	uint64_t z;

	for (i = 0; i < dim; i++) {
		z = (*seed += 0x9e3779b97f4a7c15ULL);
		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
		z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
		z ^= z >> 31;
		v[i] = (float)((double)(z >> 11) / 9007199254740992.0) * 2.0f -
		    1.0f;
	}
}
