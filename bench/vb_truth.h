/*
 * vb_truth.h - exact cosine top-K of each query: the ground truth that
 * --recall compares vsetd's answers with.
 *
 * Brute force over every data row (nq * n * dim multiply-adds; Fashion-MNIST
 * with 1,000 queries over 60,000 rows is ~47 G, tens of seconds on two
 * cores), so results are cached on disk, keyed by the dataset's checksum,
 * nq and k: $XDG_CACHE_HOME/vset-bench/ (or ~/.cache/vset-bench/, or the
 * directory given).  A cache file that does not match is recomputed.
 */
#ifndef VB_TRUTH_H
#define VB_TRUTH_H

#include <stddef.h>
#include <stdint.h>

#include "vb_dataset.h"

/* Fill out[nq * k] (caller-allocated, nq = ds->nq) with the data row
 * numbers of each query's k nearest rows by cosine similarity, best first
 * (ties by row number).  k <= ds->n.  cache_dir NULL = the default; "" =
 * no cache.  *cached tells whether the file answered.  0 or -1. */
int vb_truth_get(const vb_dataset *ds, size_t k, const char *cache_dir,
    uint32_t *out, int *cached);

#endif
