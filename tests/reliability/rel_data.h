/*
 * rel_data.h - deterministic test data and client helpers for the fault
 * tests.
 *
 * Design.  Every test loads the same kind of data: n items "<prefix>-NNNNN"
 * with seeded pseudo-random vectors, so a failure reproduces run after run.
 * The owner shard of each id is computed with the server's own function
 * (vs_shard_of), so tests know where an item must live without asking
 * vsetd.
 *
 * Ownership.  rel_data_new() returns a set the caller frees with
 * rel_data_free(); its items[] point into it.  rel_connect() hands out a
 * client the caller closes with vs_close().
 */
#ifndef REL_DATA_H
#define REL_DATA_H

#include <stddef.h>
#include <stdint.h>

#include "vsetd.h"

struct rel_data {
	size_t n, dim;
	char (*ids)[24];
	float *vec;                  /* n * dim */
	vs_item *items;
	uint32_t *owner;             /* shard of each id */
};

struct rel_data *rel_data_new(const char *prefix, size_t n, size_t dim,
    uint32_t nshards, uint64_t seed);
void rel_data_free(struct rel_data *d);

/* vs_connect with timeout_ms; prints
 * the error as a TAP comment.  VS_* code. */
int rel_connect(vs_client **out, const char *url, int timeout_ms);

/* Insert all items in batches of 100; 0 when every item was added or
 * updated, -1 otherwise (printed). */
int rel_data_load(vs_client *c, const char *coll, const struct rel_data *d);

/* *sp zeroed, then a top-k search of coll for item i % d->n's vector
 * (sp points into d: d must outlive the call). */
void rel_search_params(vs_search_params *sp, const struct rel_data *d,
    const char *coll, size_t i, uint32_t k);

/* The q-quantile (0..1) of v[0..n) by nearest rank; sorts v. */
double rel_quantile(double *v, size_t n, double q);
/* Deterministic pseudo-random vector (splitmix64 state *seed). */
void rel_rand_vec(uint64_t *seed, float *v, size_t dim);

#endif
